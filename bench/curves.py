"""Learning curves of trained explainers: the unit file ``learning_curve.csv`` beside a run's record.

A method that trains (PETER, PEPLER) writes one row per finished epoch, in training order, and lists the file
in the record's ``units`` (with its ``unit_sha256``) like every unit file, so ``xrbench validate`` checks its
hash; the metrics never read it. The leaderboards read it back: the HTML page draws one small plot per
method, the Markdown says which methods have one. Format (UTF-8, a header line)::

    stage,epoch,train_loss,valid_loss,lr,seconds
    main,1,6.8123,6.5011,1.0,41.2

``stage`` names a training stage (``main``; PEPLER: ``prompt`` then ``full``), ``epoch`` counts from 1 within
its stage, ``valid_loss`` is empty without validation, ``seconds`` is the epoch's wall time. Columns after
these (e.g. a loss's parts) are kept and ignored by the plots. Unlike the other unit files it holds no data
of the dataset (losses only), so ``xrbench submit`` copies it into a board with the record.
"""
from __future__ import annotations

import csv
import hashlib
import io
import logging
import math
import operator
from pathlib import Path
from typing import Any, Iterable, Sequence

from .data.io import atomic_write_bytes
from .errors import DataError

CURVE_FILE = "learning_curve.csv"
COLUMNS = ("stage", "epoch", "train_loss", "valid_loss", "lr", "seconds")

log = logging.getLogger("xrbench")


def _number(v: Any) -> str:
    """A number as CSV text that reads back to the same float (empty for None)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        raise ValueError(f"{v!r} is not a number")
    if isinstance(v, int):
        return str(v)
    return repr(float(v))


def write_learning_curve(folder: Path, rows: list[dict]) -> str:
    """Write ``rows`` (one dict per finished epoch, in training order, with the keys of ``COLUMNS``; extra
    keys become extra columns, in the order they first appear) to ``folder/learning_curve.csv`` atomically
    (a killed run never leaves half a file); return the unit file name, for the record's ``units``.

    ValueError when a row breaks the format (what :func:`read_learning_curve` would refuse)."""
    extra: list[str] = []
    for r in rows:
        extra += [k for k in r if k not in COLUMNS and k not in extra]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*COLUMNS, *extra])
    for i, r in enumerate(rows, start=1):
        missing = [k for k in COLUMNS if k != "valid_loss" and r.get(k) is None]
        if missing:
            raise ValueError(f"learning curve row {i} lacks {', '.join(missing)}")
        out = [str(r["stage"]), str(operator.index(r["epoch"])), *(_number(r.get(k)) for k in COLUMNS[2:])]
        out += [v if isinstance(v, str) else _number(v) for v in (r.get(k) for k in extra)]
        w.writerow(out)
    data = buf.getvalue().encode("utf-8")
    try:
        parse_learning_curve(data, "learning curve rows")
    except DataError as exc:
        raise ValueError(str(exc)) from None
    atomic_write_bytes(Path(folder) / CURVE_FILE, data)
    return CURVE_FILE


def _float(text: str, name: str, where: str, line: int, empty_ok: bool = False) -> float | None:
    if text.strip() == "" and empty_ok:
        return None
    try:
        return float(text)
    except ValueError:
        raise DataError(f"{name} {text!r} is not a number", path=where, line=line) from None


def _extra(text: str) -> float | str | None:
    if text.strip() == "":
        return None
    try:
        return float(text)
    except ValueError:
        return text


def parse_learning_curve(data: bytes, where: str = "<learning curve>") -> list[dict[str, Any]]:
    """The rows of a learning curve file's bytes (see :func:`read_learning_curve`)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 ({exc.reason})", path=where) from None
    try:
        table = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise DataError(f"not CSV ({exc})", path=where) from None
    if not table or [h.strip() for h in table[0][:len(COLUMNS)]] != list(COLUMNS):
        raise DataError(f"the header must start with {','.join(COLUMNS)}", path=where, line=1)
    head = [h.strip() for h in table[0]]
    rows = []
    for n, cells in enumerate(table[1:], start=2):
        if not cells:
            continue  # a blank line
        if len(cells) != len(head):
            raise DataError(f"{len(cells)} cells, the header has {len(head)}", path=where, line=n)
        stage = cells[0].strip()
        if not stage:
            raise DataError("empty stage", path=where, line=n)
        try:
            epoch = int(cells[1])
        except ValueError:
            raise DataError(f"epoch {cells[1]!r} is not a whole number", path=where, line=n) from None
        row: dict[str, Any] = {"stage": stage, "epoch": epoch}
        for k in COLUMNS[2:]:
            row[k] = _float(cells[head.index(k)], k, where, n, empty_ok=(k == "valid_loss"))
        row.update({k: _extra(v) for k, v in zip(head[len(COLUMNS):], cells[len(COLUMNS):])})
        rows.append(row)
    _check(rows, where)
    return rows


def _check(rows: Sequence[dict[str, Any]], where: str) -> None:
    """Epochs count from 1 and rise within a stage; a stage, once left, does not come back."""
    seen: list[str] = []
    last = 0
    for i, r in enumerate(rows, start=1):
        if not seen or r["stage"] != seen[-1]:
            if r["stage"] in seen:
                raise DataError(f"stage {r['stage']!r} comes back after {seen[-1]!r} (row {i})", path=where)
            seen.append(r["stage"])
            last = 0
        if r["epoch"] < 1 or r["epoch"] <= last:
            raise DataError(f"epoch {r['epoch']} of stage {r['stage']!r} does not follow epoch {last} "
                            f"(row {i}; epochs count from 1 and rise within a stage)", path=where)
        last = r["epoch"]


def read_learning_curve(path: Path) -> list[dict[str, Any]]:
    """The rows of ``path``: ``stage`` (str), ``epoch`` (int), ``train_loss``, ``lr``, ``seconds`` (floats),
    ``valid_loss`` (float or None), and any extra column (float, text, or None when empty).

    DataError, naming the file and line, when it is unreadable or breaks the format."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"unreadable learning curve ({exc.strerror or exc})", path=path) from None
    return parse_learning_curve(data, str(path))


def record_curve(folder: Path, units: Iterable[str], unit_sha256: dict[str, str],
                 label: str = "") -> list[dict[str, Any]] | None:
    """The learning curve of the record in ``folder`` when its ``units`` list one: None when not, and None
    with one warning when the file is missing, changed after the run (its sha256 is not the record's) or
    malformed, so that a leaderboard is still written without that curve."""
    if CURVE_FILE not in units:
        return None
    path = Path(folder) / CURVE_FILE
    try:
        data = path.read_bytes()
        digest = unit_sha256.get(CURVE_FILE)
        if digest is not None and hashlib.sha256(data).hexdigest() != digest:
            raise DataError("changed after the run (its sha256 is not the record's unit_sha256)", path=path)
        rows = parse_learning_curve(data, str(path))
    except (OSError, DataError) as exc:
        why = str(exc) if isinstance(exc, DataError) else f"{path}: unreadable ({exc.strerror or exc})"
        log.warning("learning curve left out%s: %s", f" ({label})" if label else "", why)
        return None
    if not rows:
        log.warning("learning curve left out%s: %s: no epochs", f" ({label})" if label else "", path)
        return None
    return rows


def finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)

"""``xrbench validate PATH...``: is a record (or every record under a folder) well formed and reproducible?

Checks, each problem one line ``PATH: <what is wrong>`` on stdout:

(a) the record against ``record.schema.json`` (JSON Schema draft 2020-12), naming the JSON path of the
    failing field; a record of schema 1 is migrated first (:func:`xrbench.records.migrate`);
(b) every unit file the record names exists and, when the record has ``unit_sha256``, still has that hash;
(c) the metrics and intervals recompute from the unit files to 1e-9 (a dry rescore: nothing is written);
    skipped when (b) found a problem, the recomputation of a tampered file saying nothing more;
(d) the dataset's file hash, the split hash and (causal task) the generated-data hash match what this
    xrbench produces for that dataset, split and seed (datasets are never downloaded here).

Committed records (a leaderboard's ``runs/``) carry no unit files, except a learning curve
(``learning_curve.csv``, :mod:`xrbench.curves`): when none of a record's other unit files exist and the
record lies under a folder named ``leaderboards``, (c) is skipped with a note ("units not committed: checked
the record only"), not a problem, and (b) only checks the hash of a learning curve that is there;
``--records-only`` skips (b) and (c) for every record. When the dataset is not available (d) is skipped with
a note; ``--no-data-check`` skips it (generating a causal task's data fits a model: minutes). Notes go to
stderr, one line per kind of note.
"""
from __future__ import annotations

import json
import math
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import orjson

from .curves import CURVE_FILE
from .errors import XRBenchError
from .records import RECORD_FILE, RunRecord, migrate

SCHEMA_FILE = "record.schema.json"
TOLERANCE = 1e-9  # (c): relative and absolute
#: unit files a leaderboard commits beside its records (they hold no data of the dataset): hash-checked there
COMMITTED_UNITS = frozenset({CURVE_FILE})


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The record schema, shipped as package data (with a fallback to the file beside this module)."""
    try:
        from importlib.resources import files
        text = files("xrbench").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError, TypeError):
        text = Path(__file__).with_name(SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def schema_problems(d: Any) -> list[str]:
    """``<JSON path>: <message>`` for every way the (migrated) record ``d`` breaks the schema."""
    from jsonschema import Draft202012Validator

    out = []
    for e in sorted(Draft202012Validator(schema()).iter_errors(d), key=lambda e: (e.json_path, e.message)):
        if e.validator == "required" and isinstance(e.instance, dict):
            out += [f"{e.json_path}.{k}: required field missing" for k in e.validator_value if k not in e.instance]
        else:
            msg = e.message if len(e.message) <= 160 else e.message[:157] + "..."
            out.append(f"{e.json_path}: {msg}")
    return out


def record_paths(paths: Iterable[str]) -> list[Path]:
    """The record files named by ``paths`` (files as given; folders: every record.json under them)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            out.append(p)
        elif p.is_dir():
            found = sorted(Path(root) / RECORD_FILE for root, _d, files in os.walk(p) if RECORD_FILE in files)
            if not found:
                raise XRBenchError(f"{p}: no records ({RECORD_FILE}) under this folder")
            out += found
        else:
            raise XRBenchError(f"{p}: no such file or folder")
    return out


def parse_label(label: str) -> tuple[str, dict[str, Any]]:
    """A dataset label ``name[k=v,...]`` (as :class:`xrbench.specs.DatasetSpec` writes it) as (name, params)."""
    from .params import parse_value

    m = re.fullmatch(r"([^\[\]]+)(?:\[(.*)\])?", label)
    if m is None:
        raise XRBenchError(f"cannot read the dataset label {label!r}")
    params: dict[str, Any] = {}
    depth, start, body = 0, 0, m.group(2) or ""
    for i, ch in enumerate(body + ","):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0 and body[start:i]:
            k, _, v = body[start:i].partition("=")
            params[k.strip()] = parse_value(v.strip())
            start = i + 1
    return m.group(1), params


def under_leaderboards(path: Path) -> bool:
    return any(p.name == "leaderboards" for p in Path(os.path.abspath(path)).parents)


class Validator:
    """Validates records one at a time, caching loaded datasets and splits across them."""

    def __init__(self, data_path: list[str] | None = None, records_only: bool = False,
                 data_check: bool = True) -> None:
        from .data.catalog import DataPaths

        self.paths = DataPaths.from_args(data_path, allow_download=False)
        self.records_only, self.data_check = records_only, data_check
        self.problems: list[str] = []
        self.checked = 0
        self.notes: dict[str, list[Path]] = {}
        self._datasets: dict[tuple[str, str], Any] = {}
        self._splits: dict[tuple[str, str, str, int], str] = {}

    def problem(self, path: Path, what: str) -> None:
        self.problems.append(f"{path}: {what}")

    def note(self, path: Path, what: str) -> None:
        self.notes.setdefault(what, []).append(path)

    def check(self, path: Path) -> None:
        """All checks of one record file; problems and notes are collected on ``self``."""
        self.checked += 1
        try:
            raw = orjson.loads(path.read_bytes())
            d = migrate(raw) if isinstance(raw, dict) else raw
        except (OSError, ValueError) as exc:  # unreadable, not JSON, a newer schema
            self.problem(path, f"unreadable record ({exc})")
            return
        bad = schema_problems(d)
        for line in bad:
            self.problem(path, line)
        if bad:
            return
        try:
            rec = RunRecord.from_dict(d, str(path))
        except XRBenchError as exc:
            self.problem(path, " ".join(str(exc).split()).removeprefix(f"{path}: "))
            return
        if self.check_units(path, rec) and rec.status == "ok":
            self.check_metrics(path, rec)
        if self.data_check:
            self.check_data(path, rec)

    def check_units(self, path: Path, rec: RunRecord) -> bool:
        """(b); True when the unit files are there, unchanged, so that (c) can run."""
        folder = path.parent
        present = [u for u in rec.units if (folder / u).is_file()]
        if self.records_only:
            self.note(path, "--records-only: unit files not checked")
            return False
        if rec.units and not set(present) - COMMITTED_UNITS and under_leaderboards(path):
            # a board's record: its outputs are not committed, the unit files a board keeps (a learning curve) may be
            self.note(path, "units not committed: checked the record only")
            self.check_hashes(path, rec, present)
            return False
        ok = True
        for u in rec.units:
            if u not in present:
                self.problem(path, f"unit file {u} is missing")
                ok = False
        ok = self.check_hashes(path, rec, present) and ok
        if ok and rec.status == "ok" and not rec.units:
            self.note(path, "no unit files: metrics not recomputed")
        elif ok and rec.status == "ok" and not rec.unit_sha256:
            self.note(path, "no unit_sha256 (a record of an older xrbench): unit files not hash-checked")
        return ok and bool(rec.units)

    def check_hashes(self, path: Path, rec: RunRecord, present: list[str]) -> bool:
        """Every ``unit_sha256`` entry names a unit, and each of the ``present`` unit files still has its hash."""
        from .data.io import sha256_file

        ok = True
        for u, digest in rec.unit_sha256.items():
            if u not in rec.units:
                self.problem(path, f"$.unit_sha256: names {u}, which is not one of the record's units")
                ok = False
            elif u in present and sha256_file(path.parent / u) != digest:
                self.problem(path, f"unit file {u} was changed after the run (its sha256 is not the record's "
                                   "unit_sha256)")
                ok = False
        return ok

    def check_metrics(self, path: Path, rec: RunRecord) -> None:
        """(c): rescore from the unit files, nothing written; one line listing what differs."""
        from . import tasks
        from .scoring import resample_key, score

        keys = tuple(dict.fromkeys([*rec.metrics, *rec.skipped_metrics])) or None
        protocol = (rec.provenance.get("split") or {}).get("protocol")
        try:
            outputs = tasks.get(rec.task).outputs.load(path.parent)
            s = score(rec.task, outputs, keys, resample_key(rec.dataset, protocol, rec.seed))
        except Exception as exc:  # noqa: BLE001  (a unit file a metric cannot read: the record is not reproducible)
            self.problem(path, f"metrics could not be recomputed from the unit files ({type(exc).__name__}: {exc})")
            return
        diffs = differences(rec.metrics, s.metrics, "") + differences(rec.intervals, s.intervals, "interval of ")
        if diffs:
            more = f" and {len(diffs) - 4} more" if len(diffs) > 4 else ""
            self.problem(path, f"metrics do not recompute from the unit files: {'; '.join(diffs[:4])}{more}")

    def check_data(self, path: Path, rec: RunRecord) -> None:
        """(d): the data and split hashes against this xrbench's, for the record's dataset, split and seed."""
        prov = rec.provenance
        recorded = (prov.get("dataset") or {}).get("file_hash")
        ds = self.dataset((prov.get("dataset") or {}).get("name") or rec.dataset)
        if isinstance(ds, str):
            self.note(path, ds)
            return
        if recorded is not None and ds.file_hash != recorded:
            self.problem(path, f"$.provenance.dataset.file_hash: {recorded} is not the hash of the dataset here "
                               f"({ds.file_hash}): the run used other data")
            return
        split = prov.get("split")
        if isinstance(split, dict) and hasattr(ds, "interactions"):
            here = self.split_hash(ds, split["protocol"], int(split.get("seed", rec.seed)), int(split.get("folds") or 5))
            if here != split["hash"]:
                self.problem(path, f"$.provenance.split.hash: {split['hash']} is not the hash of the "
                                   f"{split['protocol']} split of seed {split.get('seed', rec.seed)} here ({here})")
        generated = prov.get("generated_data_hash")
        if generated is not None and hasattr(ds, "replication"):
            here = ds.replication(rec.seed).data_hash
            if here != generated:
                self.problem(path, f"$.provenance.generated_data_hash: {generated} is not the hash of the data "
                                   f"generated here for seed {rec.seed} ({here})")

    def dataset(self, label: str) -> Any:
        """The loaded dataset of a label (cached), or a note saying why it is not available."""
        from .data.catalog import load_dataset

        name, params = parse_label(label)
        key = (name, repr(sorted(params.items())))
        if key not in self._datasets:
            try:
                self._datasets[key] = load_dataset(name, params, self.paths)
            except XRBenchError as exc:
                first = " ".join(str(exc).split())[:160]
                self._datasets[key] = (f"dataset {label} not available here ({first}): data and split hashes not "
                                       "checked; pass --data-path")
        return self._datasets[key]

    def split_hash(self, ds: Any, protocol: str, seed: int, folds: int = 5) -> str:
        from .data.split import make_split

        key = (ds.file_hash, getattr(ds, "name", ""), protocol, seed, folds)
        if key not in self._splits:
            self._splits[key] = make_split(ds, protocol, seed, folds=folds).hash
        return self._splits[key]


def differences(recorded: dict[str, Any], recomputed: dict[str, Any], what: str) -> list[str]:
    """``key recorded -> recomputed`` for every value that differs by more than 1e-9 (or is on one side only)."""
    out = []
    for k in [*recorded, *(k for k in recomputed if k not in recorded)]:
        a, b = recorded.get(k), recomputed.get(k)
        if a is None or b is None:
            out.append(f"{what}{k} {'recorded but not recomputed' if b is None else 'recomputed but not recorded'}")
        elif not _close(a, b):
            out.append(f"{what}{k} {_show(a)} recorded, {_show(b)} recomputed")
    return out


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b)
                and all(_close(x, y) for x, y in zip(a, b)))
    return math.isclose(float(a), float(b), rel_tol=TOLERANCE, abs_tol=TOLERANCE)


def _show(x: Any) -> str:
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in x) + "]"
    return f"{x:.10g}" if isinstance(x, float) else str(x)


def validate(paths: Iterable[str], data_path: list[str] | None = None, records_only: bool = False,
             data_check: bool = True) -> Validator:
    """Validate every record named by ``paths`` (XRBenchError for a path that does not exist)."""
    files = record_paths(paths)
    v = Validator(data_path, records_only, data_check)
    for p in files:
        v.check(p)
    return v

"""``xrbench submit RESULTS --board leaderboards/SUITE --card method-card.yaml``: validate a researcher's
records, check them against the method card, copy the records (not the unit files, except a learning curve)
and the card into the board, and regenerate the board's tables. See SUBMITTING.md."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import XRBenchError
from .records import RECORD_FILE, RunRecord, iter_records, write_record
from .specs import folder_name

CARD_KEYS = ("name", "authors", "licence", "description")


def load_card(path: Path) -> dict[str, Any]:
    try:
        card = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise XRBenchError(f"{path}: unreadable method card ({' '.join(str(exc).split())})") from None
    if not isinstance(card, dict):
        raise XRBenchError(f"{path}: a method card is a YAML mapping (see SUBMITTING.md)")
    missing = [k for k in CARD_KEYS if not card.get(k)]
    if missing or not (card.get("paper") or card.get("code")):
        need = missing + ([] if card.get("paper") or card.get("code") else ["paper or code"])
        raise XRBenchError(f"{path}: the method card lacks {', '.join(need)} (see SUBMITTING.md)")
    return card


def _check_against_card(rec: RunRecord, card: dict[str, Any], where: Path) -> None:
    if rec.method.name != card["name"]:
        raise XRBenchError(f"{where}: the record is of method '{rec.method.name}', the card of '{card['name']}'")
    for k, v in (card.get("params") or {}).items():
        if rec.method.params.get(k) != v:
            raise XRBenchError(f"{where}: param '{k}' is {rec.method.params.get(k)!r} in the record, {v!r} in the card")
    src = rec.provenance.get("method_source") or {}
    plugin = card.get("plugin") or {}
    for key in ("sha256", "package", "version"):
        if plugin.get(key) is not None and str(plugin[key]) != str(src.get(key)):
            raise XRBenchError(f"{where}: the card's plugin {key} {plugin[key]!r} differs from the record's "
                               f"{src.get(key)!r} (provenance.method_source): rerun with the code you submit")


def _copy_curve(source: Path, target: Path, rec: RunRecord) -> None:
    """The record's learning curve (losses per epoch, no data of the dataset: the board's page draws it) beside
    the submitted record; a curve left there by a replaced record is removed. (``validate`` checked its hash.)"""
    from .curves import CURVE_FILE
    from .data.io import atomic_write_bytes

    if CURVE_FILE in rec.units and (source / CURVE_FILE).is_file():
        atomic_write_bytes(target / CURVE_FILE, (source / CURVE_FILE).read_bytes())
    elif (target / CURVE_FILE).is_file():
        (target / CURVE_FILE).unlink()


def submit(results: Path, board: Path, card_path: Path, *, data_path: list[str] | None = None,
           replace: bool = False) -> list[Path]:
    """Returns the record files written into ``board``."""
    from . import publish
    from .boardfiles import write_together
    from .validate import validate

    board, card = Path(board), load_card(card_path)
    if not (board / "runs").is_dir():
        raise XRBenchError(f"{board}: not a leaderboard folder (it has no runs/); pass e.g. leaderboards/quick")
    v = validate([str(results)], data_path)
    if v.problems:
        raise XRBenchError(f"{results}: {len(v.problems)} problem(s), the first: {v.problems[0]} "
                           "(run 'xrbench validate' and fix them)")
    plan: list[tuple[Path, RunRecord, Path]] = []  # (target record file, record, its folder in results)
    for path, rec in iter_records(Path(results)):
        _check_against_card(rec, card, path)
        if rec.status != "ok":
            raise XRBenchError(f"{path}: a failed run cannot be submitted; rerun it")
        target = (board / "runs" / folder_name(rec.dataset) / folder_name(rec.method.kind)
                  / folder_name(rec.method_label) / f"seed-{rec.seed}" / RECORD_FILE)
        if target.is_file() and not replace:
            raise XRBenchError(f"{target}: the board already has this record; pass --replace to update your own")
        plan.append((target, rec, path.parent))
    if not plan:
        raise XRBenchError(f"{results}: no records to submit")
    for target, rec, source in plan:  # no outputs: unit files of some datasets may not be redistributed
        write_record(target.parent, rec)
        _copy_curve(source, target.parent, rec)
    cards = board / "cards"
    cards.mkdir(exist_ok=True)
    (cards / f"{folder_name(card['name'])}.yaml").write_text(yaml.safe_dump(card, sort_keys=False), encoding="utf-8")
    publish.boards_of.cache_clear()
    write_together({p: text for p, text in publish.expected_files(board.parent).items() if p.parent == board})
    return [t for t, _, _ in plan]

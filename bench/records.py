"""The result record: one JSON file per (dataset, method, seed), written atomically.

Top-level keys: ``schema_version``, ``dataset``, ``task``, ``method`` {name, kind, params}, ``seed``,
``status`` (``ok`` | ``failed``), ``error``, ``metrics`` (canonical key -> number), ``intervals``
(key -> [lo, hi]), ``metric_notes``, ``skipped_metrics`` (key -> why not computed), ``units`` (files
beside the record holding per-unit outputs) and ``provenance`` (versions, data and split hashes,
device, wall_s, peak_rss_mb).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .data.io import atomic_write_json
from .errors import DataError

SCHEMA_VERSION = 1
RECORD_FILE = "record.json"


@dataclass(frozen=True)
class MethodRef:
    name: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)  # every parameter, defaults included
    label: str = ""  # the name plus the parameters the user set: the leaderboard row


@dataclass(frozen=True)
class RunRecord:
    dataset: str
    task: str
    method: MethodRef
    seed: int
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    intervals: dict[str, list[float]] = field(default_factory=dict)
    metric_notes: dict[str, str] = field(default_factory=dict)
    skipped_metrics: dict[str, str] = field(default_factory=dict)
    units: list[str] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION

    @property
    def method_label(self) -> str:
        return self.method.label or self.method.name

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {"schema_version": d.pop("schema_version"), **d}

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "<record>") -> "RunRecord":
        try:
            m = d["method"]
            return cls(dataset=d["dataset"], task=d["task"], method=MethodRef(m["name"], m["kind"], dict(m["params"]),
                                                                          m.get("label", m["name"])),
                       seed=int(d["seed"]), status=d["status"], metrics=dict(d["metrics"]),
                       provenance=dict(d.get("provenance", {})), error=d.get("error"),
                       intervals=dict(d.get("intervals", {})), metric_notes=dict(d.get("metric_notes", {})),
                       skipped_metrics=dict(d.get("skipped_metrics", {})), units=list(d.get("units", [])),
                       schema_version=int(d.get("schema_version", SCHEMA_VERSION)))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"not a valid xrbench record ({type(exc).__name__}: {exc})", path=source) from None


def write_record(folder: Path, record: RunRecord) -> Path:
    path = folder / RECORD_FILE
    atomic_write_json(path, record.to_dict())
    return path


def read_record(path: Path) -> RunRecord:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"unreadable record ({exc})", path=path) from None
    return RunRecord.from_dict(data, str(path))


def iter_records(results_dir: Path) -> Iterator[tuple[Path, RunRecord]]:
    if not results_dir.is_dir():
        raise DataError("results folder not found; pass the --out folder of an 'xrbench run'", path=results_dir)
    for path in sorted(results_dir.rglob(RECORD_FILE)):
        yield path, read_record(path)

"""The result record: one JSON file per (dataset, method, seed), written atomically.

Top-level keys: ``schema_version``, ``dataset``, ``task``, ``method`` {name, kind, params}, ``seed``,
``status`` (``ok`` | ``failed``), ``error``, ``metrics`` (canonical key -> number), ``intervals``
(key -> [lo, hi], 95%), ``bootstrap`` (paired bootstrap replicates per metric), ``metric_notes``, ``skipped_metrics`` (key -> why not computed), ``units`` (files
beside the record holding per-unit outputs) with their ``unit_sha256`` and ``provenance`` (versions, data and split hashes,
device, wall_s, peak_rss_mb, the task's options and what the task adds).

Schema 2 (this version) keeps per-unit results out of the record: the explain task's per-pair fidelity rows
live in ``fidelity.json.gz`` beside it. Records of schema 1 load through :func:`migrate`.
"""
from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import orjson

from .data.io import atomic_write_json
from .errors import DataError

SCHEMA_VERSION = 2
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
    unit_sha256: dict[str, str] = field(default_factory=dict)  # unit file -> sha256 when the record was written
    #: {"scheme", "B", "keys", "units": key -> hash of the unit ids, "replicates": base64 float32 keys x B}
    bootstrap: dict[str, Any] = field(default_factory=dict)
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
            d = migrate(d)
            m = d["method"]
            rec = cls(dataset=d["dataset"], task=d["task"], method=MethodRef(m["name"], m["kind"], m["params"],
                                                                         m.get("label", m["name"])),
                      seed=int(d["seed"]), status=d["status"], metrics=d["metrics"],
                      provenance=d.get("provenance", {}), error=d.get("error"), intervals=d.get("intervals", {}),
                      metric_notes=d.get("metric_notes", {}), skipped_metrics=d.get("skipped_metrics", {}),
                      units=d.get("units", []), unit_sha256=d.get("unit_sha256", {}), bootstrap=d.get("bootstrap", {}),
                      schema_version=int(d.get("schema_version", SCHEMA_VERSION)))
            _check_types(rec)
            return rec
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"not a valid xrbench record ({type(exc).__name__}: {exc})", path=source) from None


def write_record(folder: Path, record: RunRecord) -> Path:
    path = folder / RECORD_FILE
    atomic_write_json(path, record.to_dict())
    return path


def _check_types(rec: RunRecord) -> None:
    """The shapes the leaderboards and rescoring rely on (a record is otherwise refused as invalid)."""
    for name, want in (("dataset", str), ("task", str), ("status", str), ("metrics", dict), ("provenance", dict),
                       ("intervals", dict), ("metric_notes", dict), ("skipped_metrics", dict), ("units", list),
                       ("unit_sha256", dict), ("bootstrap", dict)):
        if not isinstance(getattr(rec, name), want):
            raise TypeError(f"'{name}' must be {'an object' if want is dict else 'a ' + want.__name__}")
    if not isinstance(rec.method.params, dict) or not isinstance(rec.method.name, str):
        raise TypeError("'method' must have a string 'name' and an object 'params'")
    if rec.status not in ("ok", "failed"):
        raise ValueError(f"'status' must be ok or failed, not {rec.status!r}")
    for k, v in rec.metrics.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"metric {k!r} must be a number")
    for k, v in rec.intervals.items():
        if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v)):
            raise TypeError(f"interval {k!r} must be [low, high]")


def migrate(d: dict[str, Any]) -> dict[str, Any]:
    """A record dict of any earlier schema as the current one (the input is not modified).

    1 -> 2: the explain task's per-pair fidelity rows and aspect effects leave ``provenance.explain`` (schema 2
    writes them to the unit file ``fidelity.json.gz``; a schema-1 run's ``text_context.json.gz`` still
    holds them, and ``TextOutputs.load`` reads them from there)."""
    version = int(d.get("schema_version", 1))
    if version > SCHEMA_VERSION:
        raise ValueError(f"schema_version {version} is newer than this xrbench's ({SCHEMA_VERSION}); upgrade xrbench")
    if version == 1:
        d = {**d, "schema_version": 2}
        prov = d.get("provenance")
        explain = prov.get("explain") if isinstance(prov, dict) else None
        if isinstance(explain, dict):
            slim = {k: ({f: v[f] for f in ("config", "pairs") if f in v} if k.startswith("fidelity")
                        and isinstance(v, dict) else v) for k, v in explain.items()}
            d["provenance"] = {**d["provenance"], "explain": slim}
    return d


def read_record(path: Path) -> RunRecord:
    try:
        with open(path, "rb") as fh:
            data = orjson.loads(fh.read())
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError and orjson's are ValueErrors
        raise DataError(f"unreadable record ({exc})", path=path) from None
    return RunRecord.from_dict(data, str(path))


def iter_records(results_dir: Path, skip_bad: bool = False) -> Iterator[tuple[Path, RunRecord]]:
    """Every record under ``results_dir``, in path order. A corrupt record is an error naming it, or, with
    ``skip_bad``, one warning and left out."""
    if not results_dir.is_dir():
        raise DataError("results folder not found; pass the --out folder of an 'xrbench run'", path=results_dir)
    found = []
    for root, _dirs, files in os.walk(results_dir):  # os.walk: several times faster than Path.rglob
        if RECORD_FILE in files:
            found.append(os.path.join(root, RECORD_FILE))
    for p in sorted(found):
        path = Path(p)
        try:
            rec = read_record(path)
        except DataError as exc:
            if not skip_bad:
                raise DataError(f"{exc} — delete or rerun it, or pass --skip-bad to leave it out with a warning") from None
            logging.getLogger("xrbench").warning("left out: %s", exc)
            continue
        yield path, rec

"""Run specs through an executor, one atomic record per (dataset, method, seed).

Resume: a run whose ``record.json`` exists is skipped under ``overwrite="never"`` (the default),
re-run under ``"always"``, and re-run only when it failed under ``"failed"``. A record is written last,
after its unit files, by an atomic rename: an interrupted suite leaves either a complete record or none,
so a rerun loses nothing and duplicates nothing. A method that raises gives a ``failed`` record (with
the error) and the suite goes on; bad data or a bad name stops everything with one clear error.
"""
from __future__ import annotations

import dataclasses
import logging
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol, TypeVar

from . import provenance
from .data.catalog import DataPaths, load_dataset
from .data.io import atomic_write_text
from .errors import DatasetUnavailable, IncompatibleError, XRBenchError
from .metrics import OUTPUTS
from .protocols import check_needs
from .records import RECORD_FILE, MethodRef, RunRecord, read_record, write_record
from .registry import REGISTRY
from .scoring import check_metric_keys, score
from .specs import RunSpec
from .tasks import RUNNERS

log = logging.getLogger("xrbench")
OVERWRITE = ("never", "always", "failed")
T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    """The seam for running units of work: sequential now, a process pool or cluster later."""

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]: ...


class SequentialExecutor:
    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        for item in items:
            yield fn(item)


@dataclass(frozen=True)
class Outcome:
    spec: RunSpec
    record: RunRecord | None  # None when skipped as incompatible or unavailable
    path: Path | None
    action: str  # "ran", "reused", "skipped"


def validate(specs: list[RunSpec]) -> None:
    """Fail before any work on unknown names, bad params or metrics of the wrong task."""
    for spec in specs:
        REGISTRY.entry("dataset", spec.dataset.name)
        cls = REGISTRY.get(spec.method.kind, spec.method.name)
        cls(**dict(spec.method.params))
        check_metric_keys(spec.method.task, spec.metrics)


class Runner:
    def __init__(self, out: Path, *, device: str = "auto", paths: DataPaths | None = None,
                 overwrite: str = "never", executor: Executor | None = None, strict: bool = True) -> None:
        if overwrite not in OVERWRITE:
            raise XRBenchError(f"--overwrite must be one of {', '.join(OVERWRITE)}, not '{overwrite}'")
        self.out = Path(out)
        self.device = provenance.resolve_device(device)
        self.paths = paths or DataPaths.from_args(None)
        self.overwrite = overwrite
        self.executor = executor or SequentialExecutor()
        self.strict = strict  # ad-hoc runs: an incompatible pair is an error; suites skip it with a log line
        self._skipped_datasets: set[str] = set()

    def run(self, specs: list[RunSpec], progress: bool = True) -> list[Outcome]:
        validate(specs)
        from tqdm.auto import tqdm

        bar = tqdm(total=len(specs), desc="xrbench", unit="run", disable=not progress, leave=False)

        def one(spec: RunSpec) -> Outcome:
            bar.set_postfix_str(f"{spec.dataset.label} {spec.method.label} seed {spec.seed}")
            try:
                return self.run_one(spec)
            finally:
                bar.update(1)
        try:
            return list(self.executor.map(one, specs))
        finally:
            bar.close()

    def _reuse(self, folder: Path) -> RunRecord | None:
        path = folder / RECORD_FILE
        if not path.is_file() or self.overwrite == "always":
            return None
        rec = read_record(path)
        if self.overwrite == "failed" and rec.status != "ok":
            return None
        return rec

    def run_one(self, spec: RunSpec) -> Outcome:
        folder = spec.folder(self.out)
        reused = self._reuse(folder)
        if reused is not None:
            log.debug("reusing %s", folder / RECORD_FILE)
            return Outcome(spec, reused, folder / RECORD_FILE, "reused")
        if spec.dataset.label in self._skipped_datasets:
            return Outcome(spec, None, None, "skipped")
        # An optional dataset (e.g. Amazon in the quick suite) is used when found locally, never downloaded.
        paths = dataclasses.replace(self.paths, allow_download=False) if spec.dataset.optional else self.paths
        try:
            data = load_dataset(spec.dataset.name, dict(spec.dataset.params), paths)
        except DatasetUnavailable as exc:
            if spec.dataset.optional and not self.strict:
                self._skipped_datasets.add(spec.dataset.label)
                log.warning("skipping dataset %s: %s", spec.dataset.label, exc)
                return Outcome(spec, None, None, "skipped")
            raise
        cls = REGISTRY.get(spec.method.kind, spec.method.name)
        task = spec.method.task
        try:
            check_needs(spec.method.kind, spec.method.name, cls.needs, data.capabilities(), spec.dataset.label)
        except IncompatibleError as exc:
            if self.strict:
                raise
            log.info("skipped: %s", exc)
            return Outcome(spec, None, None, "skipped")
        model = cls(**dict(spec.method.params))

        t0 = time.perf_counter()
        prov = provenance.base(self.device)
        prov["dataset"] = {"name": spec.dataset.label, "card": getattr(data, "card", {}).get("name"),
                           "card_version": getattr(data, "card", {}).get("version"),
                           "source": data.source, "file_hash": data.file_hash}
        method_ref = MethodRef(spec.method.name, spec.method.kind, {**model.params}, spec.method.label)
        try:
            outputs, info = RUNNERS[task](model, data, spec, self.device)
            units = outputs.save(folder)
            scores = score(task, outputs, spec.metrics, f"{spec.dataset.label}|{spec.split}|{spec.seed}")
        except (KeyboardInterrupt, DatasetUnavailable):
            raise
        except Exception as exc:  # a broken method is recorded; the suite goes on
            tb = traceback.format_exc()
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write_text(folder / "error.log", tb)
            prov.update(wall_s=round(time.perf_counter() - t0, 3), peak_rss_mb=provenance.peak_rss_mb())
            rec = RunRecord(spec.dataset.label, task, method_ref, spec.seed, "failed", provenance=prov,
                            error=f"{type(exc).__name__}: {exc}", units=["error.log"])
            path = write_record(folder, rec)
            log.error("run failed: %s %s seed %d: %s (traceback in %s)", spec.dataset.label, spec.method.label,
                      spec.seed, rec.error, folder / "error.log")
            return Outcome(spec, rec, path, "ran")
        split = info.get("split")
        if split is not None:
            prov["split"] = {"protocol": split.protocol, "seed": split.seed, "hash": split.hash,
                             "sizes": [len(split.train), len(split.valid), len(split.test)]}
        if "data_hash" in info:
            prov["generated_data_hash"] = info["data_hash"]
            prov["spec_version"] = "v1"
        if task == "explain":
            prov["sample"] = spec.sample
            prov["explain"] = {k: v for k, v in getattr(outputs, "extra", {}).items() if k != "swap"}
        if task == "recommend":
            prov["k"] = spec.k
        prov.update(wall_s=round(time.perf_counter() - t0, 3), peak_rss_mb=provenance.peak_rss_mb())
        rec = RunRecord(spec.dataset.label, task, method_ref, spec.seed, "ok", scores.metrics, prov,
                        intervals=scores.intervals, metric_notes=scores.notes, skipped_metrics=scores.skipped,
                        units=units, bootstrap=scores.bootstrap)
        stale = folder / "error.log"
        if stale.exists():
            stale.unlink()
        return Outcome(spec, rec, write_record(folder, rec), "ran")


def rescore(results_dir: Path) -> int:
    """Recompute every ok record's metrics from its unit files; returns how many changed."""
    from .records import iter_records

    changed = 0
    for path, rec in iter_records(results_dir):
        if rec.status != "ok":
            continue
        outputs = OUTPUTS[rec.task].load(path.parent)
        keys = tuple(rec.metrics) + tuple(rec.skipped_metrics)
        split = rec.provenance.get("split", {}).get("protocol", "random")
        s = score(rec.task, outputs, keys or None, f"{rec.dataset}|{split}|{rec.seed}")
        if s.metrics != rec.metrics or s.bootstrap != rec.bootstrap or s.intervals != rec.intervals:
            changed += 1
            new = RunRecord(rec.dataset, rec.task, rec.method, rec.seed, rec.status, s.metrics, rec.provenance,
                            rec.error, s.intervals, s.notes, s.skipped, rec.units, s.bootstrap)
            write_record(path.parent, new)
    return changed

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
from .protocols import check_needs
from .records import RECORD_FILE, MethodRef, RunRecord, read_record, write_record
from .registry import REGISTRY
from .scoring import check_metric_keys, resample_key, score
from .specs import RunSpec
from .tasks import FitCache, RunContext, TaskResult, for_kind

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
    """Fail before any work on unknown names, bad params or options, or metrics of the wrong task."""
    for spec in specs:
        REGISTRY.entry("dataset", spec.dataset.name)
        task = for_kind(spec.method.kind)
        cls = REGISTRY.get(spec.method.kind, spec.method.name)
        if not (isinstance(cls, type) and issubclass(cls, task.protocol)):
            raise XRBenchError(f"{spec.method.kind} '{spec.method.name}' is not a {task.protocol.__name__}: "
                               f"subclass xrbench.protocols.{task.protocol.__name__} (or the task's protocol)")
        cls(**dict(spec.method.params))
        spec.task_options()
        check_metric_keys(task.name, spec.metrics)


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
        self.fits = FitCache()  # reference models fitted once per (data, split, seed), shared across runs
        self.cache: dict = {}  # e.g. mined references, once per (data, split)

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
        task = for_kind(spec.method.kind)
        cls = REGISTRY.get(spec.method.kind, spec.method.name)
        try:
            check_needs(spec.method.kind, spec.method.name, cls.needs, data.capabilities(), spec.dataset.label)
        except IncompatibleError as exc:
            if self.strict:
                raise
            log.info("skipped: %s", exc)
            return Outcome(spec, None, None, "skipped")
        model = cls(**dict(spec.method.params))
        options = spec.task_options()

        t0 = time.perf_counter()
        prov = provenance.base(self.device)
        prov["dataset"] = {"name": spec.dataset.label, "card": getattr(data, "card", {}).get("name"),
                           "card_version": getattr(data, "card", {}).get("version"),
                           "source": data.source, "file_hash": data.file_hash}
        prov["options"] = dataclasses.asdict(options)
        method_ref = MethodRef(spec.method.name, spec.method.kind, {**model.params}, spec.method.label)
        ctx = RunContext(spec.seed, self.device, self.fits, self.cache)
        try:
            result = task.run(model, data, options, ctx)
            units = result.outputs.save(folder)
            protocol = result.split.protocol if result.split is not None else None
            scores = score(task.name, result.outputs, spec.metrics, resample_key(spec.dataset.label, protocol, spec.seed))
        except (KeyboardInterrupt, DatasetUnavailable):
            raise
        except Exception:  # a broken method is recorded; the suite goes on
            return self._failed(spec, folder, task.name, method_ref, prov, t0)
        prov.update(_result_provenance(result))
        prov.update(wall_s=round(time.perf_counter() - t0, 3), peak_rss_mb=provenance.peak_rss_mb())
        rec = RunRecord(spec.dataset.label, task.name, method_ref, spec.seed, "ok", scores.metrics, prov,
                        intervals=scores.intervals, metric_notes=scores.notes, skipped_metrics=scores.skipped,
                        units=units, bootstrap=scores.bootstrap)
        stale = folder / "error.log"
        if stale.exists():
            stale.unlink()
        return Outcome(spec, rec, write_record(folder, rec), "ran")

    def _failed(self, spec: RunSpec, folder: Path, task: str, method_ref: MethodRef, prov: dict,
                t0: float) -> Outcome:
        """Record the exception being handled as a failed run (traceback in ``error.log`` beside it)."""
        import sys

        exc = sys.exc_info()[1]
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / "error.log", traceback.format_exc())
        prov.update(wall_s=round(time.perf_counter() - t0, 3), peak_rss_mb=provenance.peak_rss_mb())
        rec = RunRecord(spec.dataset.label, task, method_ref, spec.seed, "failed", provenance=prov,
                        error=f"{type(exc).__name__}: {exc}", units=["error.log"])
        path = write_record(folder, rec)
        log.error("run failed: %s %s seed %d: %s (traceback in %s)", spec.dataset.label, spec.method.label,
                  spec.seed, rec.error, folder / "error.log")
        return Outcome(spec, rec, path, "ran")


def _result_provenance(result: TaskResult) -> dict:
    """The split (protocol, seed, hash, sizes) and what the task adds."""
    out: dict = {}
    split = result.split
    if split is not None:
        out["split"] = {"protocol": split.protocol, "seed": split.seed, "hash": split.hash,
                        "sizes": [len(split.train), len(split.valid), len(split.test)]}
    out.update(result.provenance)
    return out

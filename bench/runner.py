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
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol, TypeVar

from . import provenance
from .data.catalog import DataPaths, load_dataset
from .data.io import atomic_write_text, sha256_file
from .errors import DataError, DatasetUnavailable, IncompatibleError, XRBenchError
from .protocols import check_needs
from .records import RECORD_FILE, MethodRef, RunRecord, read_record, write_record
from .reuse import stale_reason
from .registry import REGISTRY
from .scoring import check_metric_keys, resample_key, score
from .specs import RunSpec
from .tasks import FitCache, RunContext, TaskResult, for_kind

log = logging.getLogger("xrbench")
OVERWRITE = ("never", "always", "failed")
CHECKPOINTS = "checkpoints"  # a run's training checkpoints (Method.workdir), removed once its record is written
T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    """The seam for running units of work. :class:`SequentialExecutor` maps the runner's closure in this
    process. An executor that runs specs in other processes or on other machines cannot take a closure: it
    also has ``run_specs(runner, specs, done)``, which rebuilds a runner from this one's settings where each
    spec runs, calls ``done(spec)`` as each finishes and returns the outcomes in the specs' order
    (``xrbench.executors.RayExecutor``)."""

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


def validate(specs: list[RunSpec], paths: DataPaths | None = None) -> None:
    """Fail before any work on unknown names, bad params, options or seeds, or metrics of the wrong task.

    Method params are checked against the method's declared types and ranges, dataset params against the
    loader's signature and its ``check_params`` (e.g. ``ml100k-semisynth``'s gamma, n, variant). With
    ``paths``, a ``predefined`` split is checked against the dataset's own folds (loading the dataset, which
    the run then reuses)."""
    from .specs import SEED

    checked: set = set()
    for spec in specs:
        SEED.check(spec.seed, "seed", f"run {spec.dataset.label} {spec.method.label}")
        REGISTRY.entry("dataset", spec.dataset.name)
        if (key := (spec.dataset.name, repr(spec.dataset.params))) not in checked:
            checked.add(key)
            _check_dataset_params(spec.dataset.name, dict(spec.dataset.params))
        task = for_kind(spec.method.kind)
        cls = REGISTRY.get(spec.method.kind, spec.method.name)
        if not (isinstance(cls, type) and issubclass(cls, task.protocol)):
            raise XRBenchError(f"{spec.method.kind} '{spec.method.name}' is not a {task.protocol.__name__}: "
                               f"subclass xrbench.protocols.{task.protocol.__name__} (or the task's protocol)")
        if hasattr(cls, "check_params"):  # names the method as the user did ("recommender 'biased-mf': ...")
            cls.check_params(dict(spec.method.params), f"{spec.method.kind} '{spec.method.name}'")
        method = cls(**dict(spec.method.params))
        if hasattr(method, "preflight"):  # e.g. an LLM backbone that cannot be had offline: refused now
            method.preflight()
        options = spec.task_options()
        check_metric_keys(task.name, spec.metrics)
        if spec.method.tuned:  # a tuned entry: its metric, and a search space for the method (before any work)
            from .tune import load_space
            check_metric_keys(task.name, (dict(spec.method.tuned)["metric"],))
            load_space(None, spec.method.kind, spec.method.name, cls)
        if paths is not None and getattr(options, "split", None) == "predefined":
            _check_folds(spec, paths)


def _check_dataset_params(name: str, params: dict) -> None:
    """Unknown dataset params (the loader's signature) and bad values (its ``check_params``), before loading."""
    import inspect

    loader = REGISTRY.get("dataset", name)
    try:
        sig = inspect.signature(loader)
    except (TypeError, ValueError):
        sig = None
    where = f"dataset '{name}'"
    if sig is not None and not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        known = sorted(k for k, p in sig.parameters.items() if k not in ("path", "root", "allow_download")
                       and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        unknown = sorted(map(str, set(params) - set(known)))
        if unknown:
            raise XRBenchError(f"{where}: unknown parameter(s) {unknown}; "
                               + (f"known: {known}" if known else "it takes no parameters"))
    check = getattr(loader, "check_params", None)
    if callable(check):
        check(**params)


def _check_folds(spec: RunSpec, paths: DataPaths) -> None:
    """A ``predefined`` split needs the dataset's own fold for the seed (seed s -> fold s + 1)."""
    if spec.dataset.optional:
        paths = dataclasses.replace(paths, allow_download=False)  # as the run loads it
    try:
        data = load_dataset(spec.dataset.name, dict(spec.dataset.params), paths)
    except DatasetUnavailable:
        return  # the run skips it or says so
    folds = getattr(data, "folds", None) or {}
    fold = str(spec.seed + 1)
    if not folds:
        raise XRBenchError(f"dataset '{spec.dataset.label}' has no predefined folds: split 'predefined' needs a "
                           "dataset with its own folds (e.g. nlg4rs); use --split random or leave-last-out")
    if fold not in folds:
        raise XRBenchError(f"dataset '{spec.dataset.label}' has no predefined fold '{fold}' for seed {spec.seed} "
                           f"(folds: {', '.join(sorted(folds))}); seed s uses fold s + 1, or use --split random")


class Runner:
    def __init__(self, out: Path, *, device: str = "auto", paths: DataPaths | None = None,
                 overwrite: str = "never", executor: Executor | None = None, strict: bool = True) -> None:
        if overwrite not in OVERWRITE:
            raise XRBenchError(f"--overwrite must be one of {', '.join(OVERWRITE)}, not '{overwrite}'")
        self.out = Path(out)
        self.device_requested = device  # as asked ("auto"): an executor elsewhere resolves it where it runs
        self.device = provenance.resolve_device(device)
        self.paths = paths or DataPaths.from_args(None)
        self.overwrite = overwrite
        self.executor = executor or SequentialExecutor()
        self.strict = strict  # ad-hoc runs: an incompatible pair is an error; suites skip it with a log line
        self._skipped_datasets: set[str] = set()
        self.fits = FitCache()  # reference models fitted once per (data, split, seed), shared across runs
        self.cache: dict = {}  # e.g. mined references, once per (data, split)

    def run(self, specs: list[RunSpec], progress: bool = True) -> list[Outcome]:
        validate(specs, self.paths)
        _remove_stale_temporaries(self.out)  # e.g. leaderboard files of a run killed while writing them
        from tqdm.auto import tqdm

        bar = tqdm(total=len(specs), desc="xrbench", unit="run", disable=not progress, leave=False)

        def one(spec: RunSpec) -> Outcome:
            bar.set_postfix_str(f"{spec.dataset.label} {spec.method.label} seed {spec.seed}")
            try:
                return self.run_checked(spec)
            finally:
                bar.update(1)

        def done(spec: RunSpec) -> None:  # a spec finished elsewhere (another process or machine)
            bar.set_postfix_str(f"{spec.dataset.label} {spec.method.label} seed {spec.seed}")
            bar.update(1)
        try:
            remote = getattr(self.executor, "run_specs", None)
            if remote is not None:
                return self._run_parallel(remote, specs, done)
            return list(self.executor.map(one, specs))
        finally:
            bar.close()

    def _run_parallel(self, remote: Callable[..., list[Outcome]], specs: list[RunSpec],
                      done: Callable[[RunSpec], None]) -> list[Outcome]:
        """The specs through a parallel executor's ``run_specs``, in waves that hold each run folder once: a
        spec whose folder an earlier spec of the command already has (the same run named twice, e.g. by two
        suites) goes in the next wave, after the first has finished, so two workers never write one folder
        at once and the repeat is reused (or rerun under ``--overwrite always``) as in a sequential run.
        Outcomes in the specs' order."""
        waves: list[list[int]] = []
        seen: dict[Path, int] = {}
        for k, spec in enumerate(specs):
            folder = spec.folder(self.out)
            w = seen.get(folder, -1) + 1
            seen[folder] = w
            if w == len(waves):
                waves.append([])
            waves[w].append(k)
        outcomes: dict[int, Outcome] = {}
        for wave in waves:
            outcomes.update(zip(wave, remote(self, [specs[k] for k in wave], done)))
        return [outcomes[k] for k in range(len(specs))]

    def run_checked(self, spec: RunSpec) -> Outcome:
        """:meth:`run_one`, with a failure to write ``--out`` turned into one clear error."""
        try:
            return self.run_one(spec)
        except OSError as exc:  # a read-only or full --out, a folder where record.json belongs, ...
            where = exc.filename or spec.folder(self.out)
            raise XRBenchError(f"{where}: cannot write the run's results ({exc.strerror or exc}); make --out a "
                               "writable folder with free space") from None

    def _reusable(self, existing: RunRecord | None) -> RunRecord | None:
        """The record already there, if ``--overwrite`` allows keeping it (None: run)."""
        if existing is None or self.overwrite == "always":
            return None
        if self.overwrite == "failed" and existing.status != "ok":
            return None
        return existing

    def _data(self, spec: RunSpec) -> Any:
        """The spec's dataset, or None when an optional one is absent (skipped with one log line)."""
        if spec.dataset.label in self._skipped_datasets:
            return None
        # An optional dataset (e.g. Amazon in the quick suite) is used when found locally, never downloaded.
        paths = dataclasses.replace(self.paths, allow_download=False) if spec.dataset.optional else self.paths
        try:
            return load_dataset(spec.dataset.name, dict(spec.dataset.params), paths)
        except DatasetUnavailable as exc:
            if spec.dataset.optional and not self.strict:
                self._skipped_datasets.add(spec.dataset.label)
                log.warning("skipping dataset %s: %s", spec.dataset.label, exc)
                return None
            raise

    def _compatible(self, spec: RunSpec, cls: type, have: frozenset[str]) -> bool:
        try:
            check_needs(spec.method.kind, spec.method.name, cls.needs, have, spec.dataset.label)
        except IncompatibleError as exc:
            if self.strict:
                raise
            log.info("skipped: %s", exc)
            return False
        return True

    def _tuned(self, spec: RunSpec, options: Any) -> tuple[dict, dict]:
        """A ``tuned`` method's best params on this run's split and seed (``xrbench tune``, study under
        ``OUT/tuning``), and the ``tuning`` provenance its record gets."""
        from .tune import read_params_file, tune

        t = dict(spec.method.tuned)
        r = tune(spec.dataset.name, spec.method.name, trials=t["trials"], metric=t["metric"], seed=spec.seed,
                 study_dir=self.out / "tuning", dataset_params=dict(spec.dataset.params),
                 split=getattr(options, "split", "random"), folds=getattr(options, "folds", 5), device=self.device,
                 progress=False, paths=self.paths)
        return r.params, read_params_file(str(r.params_file)).provenance

    def run_one(self, spec: RunSpec) -> Outcome:
        folder = spec.folder(self.out)
        _remove_stale_temporaries(folder)
        task = for_kind(spec.method.kind)
        cls = REGISTRY.get(spec.method.kind, spec.method.name)
        possible = REGISTRY.meta("dataset", spec.dataset.name).get("capabilities")
        if possible is not None and not self._compatible(spec, cls, frozenset(possible)):
            return Outcome(spec, None, None, "skipped")  # refused before the data is loaded or generated
        model = cls(**dict(spec.method.params))
        options = spec.task_options()
        source = dict(provenance.method_source(cls))
        existing = _existing(folder)
        data = self._data(spec)
        if data is None or not self._compatible(spec, cls, data.capabilities()):
            return Outcome(spec, None, None, "skipped")
        tuning: dict = {}
        if spec.method.tuned:  # tune on this seed's validation rows first (a finished study: read back at once)
            best, tuning = self._tuned(spec, options)
            model = cls(**{**dict(spec.method.params), **best})
        previous = self._reusable(existing)
        if previous is not None:
            why = stale_reason(previous, dataset=spec.dataset.label, task=task.name, name=spec.method.name,
                               label=spec.method.label, seed=spec.seed, params=model.params,
                               options=dataclasses.asdict(options), source=source, data_hash=data.file_hash,
                               defaults=cls.default_params())
            if why is None:
                log.debug("reusing %s", folder / RECORD_FILE)
                return Outcome(spec, previous, folder / RECORD_FILE, "reused")
            log.info("rerunning %s %s seed %d: the record in %s does not match: %s", spec.dataset.label,
                     spec.method.label, spec.seed, folder, why)

        prov = provenance.base(self.device)
        prov.update(provenance.start_measuring())
        t0 = time.perf_counter()
        prov["dataset"] = {"name": spec.dataset.label, "card": getattr(data, "card", {}).get("name"),
                           "card_version": getattr(data, "card", {}).get("version"),
                           "source": data.source, "file_hash": data.file_hash}
        prov["options"] = dataclasses.asdict(options)
        prov["method_source"] = source
        prov["suite"] = spec.suite
        prov.update(spec.method.provenance)  # e.g. tuning: the study its params came from (xrbench tune)
        prov.update(tuning)
        method_ref = MethodRef(spec.method.name, spec.method.kind, {**model.params}, spec.method.label)
        ctx = RunContext(spec.seed, self.device, self.fits, self.cache)
        model.workdir = folder / CHECKPOINTS
        try:
            result = task.run(model, data, options, ctx)
            units = result.outputs.save(folder)
            units += [u for u in getattr(model, "save_units", lambda _f: [])(folder) if u not in units]
            if callable(getattr(model, "training_info", None)):
                prov["training"] = model.training_info()
            protocol = result.split.protocol if result.split is not None else None
            scores = score(task.name, result.outputs, spec.metrics, resample_key(spec.dataset.label, protocol, spec.seed))
        except (KeyboardInterrupt, DatasetUnavailable):
            raise
        except Exception:  # a broken method is recorded; the suite goes on
            return self._failed(spec, folder, task.name, method_ref, prov, t0, existing)
        prov.update(_result_provenance(result))
        prov.update(wall_s=round(time.perf_counter() - t0, 3), **provenance.finish_measuring())
        rec = RunRecord(spec.dataset.label, task.name, method_ref, spec.seed, "ok", scores.metrics,
                        provenance.portable(prov), intervals=scores.intervals, metric_notes=scores.notes,
                        skipped_metrics=scores.skipped, units=units, bootstrap=scores.bootstrap,
                        unit_sha256={u: sha256_file(folder / u) for u in units})
        bad = non_finite(rec)
        if bad:
            rec = dataclasses.replace(rec, status="failed", metrics={}, intervals={}, bootstrap={},
                                      error=f"non-finite value: {bad}; the method's outputs give no number there")
            log.error("run failed: %s %s seed %d: %s", spec.dataset.label, spec.method.label, spec.seed, rec.error)
        stale = folder / "error.log"
        if stale.exists():
            stale.unlink()
        path = write_record(folder, rec)
        if rec.status == "ok" and (folder / CHECKPOINTS).is_dir():  # the record holds the weights' hash
            shutil.rmtree(folder / CHECKPOINTS, ignore_errors=True)
        return Outcome(spec, rec, path, "ran")

    def _failed(self, spec: RunSpec, folder: Path, task: str, method_ref: MethodRef, prov: dict,
                t0: float, previous: RunRecord | None) -> Outcome:
        """Record the exception being handled as a failed run (traceback in ``error.log`` beside it). A
        failure of the environment (disk, memory, a locked cache) never replaces an ok record."""
        import sqlite3
        import sys

        exc = sys.exc_info()[1]
        prov.update(wall_s=round(time.perf_counter() - t0, 3), **provenance.finish_measuring())
        rec = RunRecord(spec.dataset.label, task, method_ref, spec.seed, "failed", provenance=provenance.portable(prov),
                        error=f"{type(exc).__name__}: {exc}", units=["error.log"])
        if previous is not None and previous.status == "ok" and isinstance(exc, (OSError, MemoryError, sqlite3.Error)):
            log.error("run failed: %s %s seed %d: %s; the environment failed, so the ok record in %s is kept",
                      spec.dataset.label, spec.method.label, spec.seed, rec.error, folder)
            return Outcome(spec, rec, None, "ran")
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / "error.log", traceback.format_exc())
        path = write_record(folder, rec)
        log.error("run failed: %s %s seed %d: %s (traceback in %s)", spec.dataset.label, spec.method.label,
                  spec.seed, rec.error, folder / "error.log")
        return Outcome(spec, rec, path, "ran")


def non_finite(rec: RunRecord) -> str | None:
    """The first metric, interval or parameter of ``rec`` that is NaN or infinite (JSON has no such number)."""
    import math

    for where, d in (("metric", rec.metrics), ("parameter", rec.method.params)):
        for k, v in d.items():
            if isinstance(v, float) and not math.isfinite(v):
                return f"{where} '{k}' = {v}"
    for k, ci in rec.intervals.items():
        if any(not math.isfinite(float(x)) for x in ci):
            return f"interval of '{k}' = {ci}"
    return None


def _existing(folder: Path) -> RunRecord | None:
    """The record already in ``folder``; a corrupt one is reported and run again (it holds nothing to keep)."""
    path = folder / RECORD_FILE
    if not path.is_file():
        return None
    try:
        return read_record(path)
    except DataError as exc:
        log.warning("%s; running it again", exc)
        return None


def _remove_stale_temporaries(folder: Path) -> None:
    """Temporary files a killed run left behind (atomic writes write ``.NAME.*.tmp`` and rename it)."""
    if folder.is_dir():
        for p in folder.glob(".*.tmp"):
            log.debug("removing %s, left by an interrupted run", p)
            p.unlink(missing_ok=True)


def _result_provenance(result: TaskResult) -> dict:
    """The split (protocol, seed, hash, sizes) and what the task adds."""
    out: dict = {}
    split = result.split
    if split is not None:
        out["split"] = split.describe()
    out.update(result.provenance)
    return out

"""Executors that run each (dataset, method, seed) in another process or on another machine.

:class:`RayExecutor` (``xrbench run --executor ray [--ray-address ADDR]``, ``pip install 'xrbench[ray]'``)
runs every spec as one Ray task. A task is a pure function of (spec, :class:`RunSettings`): in its worker
it rebuilds what it needs (plugins, registry, data paths, device, a :class:`~xrbench.runner.Runner`) and runs
:meth:`Runner.run_one <xrbench.runner.Runner.run_one>` exactly as the sequential executor does.

*Who writes the records:* the workers, into ``--out``, with the runner's own atomic writes (unit files first,
``record.json`` last, each a temporary file renamed). Shipping results back to the driver instead would move
every unit file (predictions, top-K lists, generated texts: megabytes a run) through Ray's object store, and
a trained explainer's per-epoch checkpoints live in its run folder, so that a retried task resumes from the
last epoch. Hence ``--out`` (and relative ``--data-path`` values) must be reachable at the same path on every
node: a shared filesystem on a cluster, nothing to do on one machine. The driver gets each run's
:class:`~xrbench.runner.Outcome` back (the record, small) and writes the leaderboard as the sequential run does.

*A killed worker:* the task is retried (``max_retries``, default 3). Nothing is lost or duplicated: the
retry removes the temporaries a killed write left, a record is either complete or absent, and a finished
record is reused under ``--overwrite never``. After the last retry the run stops with one clear error; what
finished is kept and the same command resumes.

*Resources:* a task asks Ray for what its method class declares in an optional ``resources`` class
attribute (a mapping of ``num_cpus``, ``num_gpus``, ``memory`` in bytes), else 1 CPU, plus 1 GPU when the
run's device is ``cuda`` (``--device cuda``, or ``auto`` on a cluster that has GPUs). A task given no GPU
runs on ``cpu``.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import logging
import math
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, TypeVar

from .data.catalog import DataPaths
from .errors import XRBenchError
from .runner import Outcome, Runner, SequentialExecutor
from .specs import RunSpec

log = logging.getLogger("xrbench")
T = TypeVar("T")
R = TypeVar("R")

MAX_RETRIES = 3  # a task whose worker dies (killed, out of memory, node lost) runs again up to this many times
RESOURCE_KEYS = ("num_cpus", "num_gpus", "memory")
INSTALL_HINT = "pip install 'xrbench[ray]'"
PROBE_TIMEOUT_S = 5.0  # a --ray-address that does not answer within this is refused (Ray itself retries for minutes)


@dataclass(frozen=True)
class RunSettings:
    """What a worker needs to rebuild the driver's runner: plain values, the same for every task of a run
    (but ``device``, which follows the task's GPUs)."""

    out: str  # --out as given (relative paths resolve in ``cwd``)
    device: str  # "cpu" or "cuda"
    paths: DataPaths
    overwrite: str
    strict: bool
    plugins: tuple[str, ...] = ()  # absolute paths of the --plugin files loaded in the driver
    cwd: str = "."  # the driver's working directory
    env: tuple[tuple[str, str], ...] = ()  # the driver's XRBENCH_* variables (cache folder, ...)
    log_level: int = logging.INFO

    @classmethod
    def of(cls, runner: Runner, device: str) -> "RunSettings":
        plugins = sorted(os.path.abspath(m.__file__) for n, m in list(sys.modules.items())
                         if n.startswith("xrbench_plugin_") and getattr(m, "__file__", None))
        env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("XRBENCH_")))
        return cls(str(runner.out), device, runner.paths, runner.overwrite, runner.strict, tuple(plugins),
                   os.getcwd(), env, log.getEffectiveLevel())


# --- in the worker ------------------------------------------------------------------------------------------

_RUNNERS: dict[str, Runner] = {}  # one runner per settings in a worker process: its caches are an optimisation


def _worker_runner(settings: RunSettings) -> Runner:
    key = repr(settings)
    if key in _RUNNERS:
        return _RUNNERS[key]
    os.environ.update(dict(settings.env))
    if not os.path.isdir(settings.cwd):
        raise XRBenchError(f"Ray node {socket.gethostname()}: the driver's working directory {settings.cwd} is not "
                           "here; run xrbench from a folder of a filesystem every node mounts at the same path "
                           "(--out is written by the workers)")
    os.chdir(settings.cwd)
    xlog = logging.getLogger("xrbench")
    if not xlog.handlers:  # a worker's log lines reach the driver's terminal through Ray (prefixed with the task)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("xrbench: %(message)s"))
        xlog.addHandler(handler)
        xlog.propagate = False
    xlog.setLevel(settings.log_level)
    from . import generation
    from .registry import load_plugin_file

    generation.SHOW_PROGRESS = False  # the driver's bar counts runs; per-worker bars would interleave
    for p in settings.plugins:
        load_plugin_file(p)
    runner = Runner(Path(settings.out), device=settings.device, paths=settings.paths,
                    overwrite=settings.overwrite, strict=settings.strict)
    _RUNNERS[key] = runner
    return runner


def run_in_worker(spec: RunSpec, settings: RunSettings) -> Outcome | XRBenchError:
    """One Ray task: the spec's outcome, or the user error it ended in (returned, so that the driver raises
    it as the one line it is, not as a remote traceback)."""
    try:
        return _worker_runner(settings).run_checked(spec)
    except XRBenchError as exc:
        if type(exc).__module__.startswith("xrbench."):
            return exc
        return XRBenchError(str(exc))  # a plugin's own error class: the driver may not import its module


# --- in the driver ------------------------------------------------------------------------------------------

def task_resources(cls: type, device: str, where: str) -> dict[str, float]:
    """What one run of method class ``cls`` asks Ray for (see the module's docstring)."""
    declared = getattr(cls, "resources", None) or {}
    bad = not isinstance(declared, Mapping) or any(
        k not in RESOURCE_KEYS or isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
        or v < 0 for k, v in declared.items())
    if bad:
        raise XRBenchError(f"{where}: its 'resources' attribute must map {', '.join(RESOURCE_KEYS)} to numbers >= 0, "
                           f"got {declared!r}")
    out: dict[str, float] = {"num_cpus": declared.get("num_cpus", 1),
                             "num_gpus": declared.get("num_gpus", 1) if device == "cuda" else 0}
    if declared.get("memory"):
        out["memory"] = declared["memory"]
    return out


def _describe(request: Mapping[str, float]) -> str:
    parts = [f"{request['num_cpus']:g} CPU", f"{request['num_gpus']:g} GPU"]
    if request.get("memory"):
        parts.append(f"{request['memory'] / 2**30:.1f} GiB memory")
    return ", ".join(parts)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise XRBenchError(f"--executor ray needs Ray, which is not installed ({exc}): {INSTALL_HINT}") from None
    return ray


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of a --ray-address; None for ``auto`` and ``local`` (Ray finds those itself)."""
    if address in ("auto", "local"):
        return None
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise XRBenchError(f"--ray-address {address}: expected HOST:PORT (the address `ray start --head` prints, "
                           "e.g. 10.0.0.5:6379), ray://HOST:10001 or auto")
    return host, int(port)


def _probe(address: str) -> None:
    """Refuse, within seconds, an address where nothing listens (``ray.init`` would retry for minutes)."""
    hp = _host_port(address)
    if hp is None:
        return
    try:
        socket.create_connection(hp, timeout=PROBE_TIMEOUT_S).close()
    except OSError as exc:
        raise XRBenchError(f"--ray-address {address}: no Ray cluster answers there ({exc.strerror or exc}); start "
                           "one with `ray start --head` and pass the address it prints, or leave --ray-address out "
                           "to start a local Ray") from None


class RayExecutor:
    """Runs specs as Ray tasks. Connects to ``address`` (``ray.init(address=...)``), or starts a local Ray with
    ``num_cpus`` CPUs (default: all) when none is given; a Ray already initialised in this process is used as it
    is. :meth:`close` shuts down only a Ray this executor started."""

    def __init__(self, address: str | None = None, num_cpus: int | None = None,
                 max_retries: int = MAX_RETRIES) -> None:
        if importlib.util.find_spec("ray") is None:
            raise XRBenchError(f"--executor ray needs Ray, which is not installed: {INSTALL_HINT}")
        if num_cpus is not None and (isinstance(num_cpus, bool) or not isinstance(num_cpus, int) or num_cpus < 1):
            raise XRBenchError(f"--ray-cpus must be a whole number >= 1, got {num_cpus!r}")
        if address and num_cpus is not None:
            raise XRBenchError("--ray-cpus sizes a local Ray; a cluster at --ray-address has its own CPUs: give one "
                               "of them")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise XRBenchError(f"--ray-retries must be a whole number >= 0, got {max_retries!r}")
        if address:
            _host_port(address)  # its form, before any work
        self.address = address or None
        self.num_cpus = num_cpus
        self.max_retries = max_retries
        self._started = False

    def __enter__(self) -> "RayExecutor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def start(self) -> Any:
        """The ``ray`` module, connected (or started) once."""
        ray = _import_ray()
        if ray.is_initialized():
            return ray
        if self.address:
            _probe(self.address)
            try:
                ray.init(address=self.address, logging_level=logging.ERROR)
            except Exception as exc:  # ConnectionError, a missing ray[client], a version mismatch, ...
                msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise XRBenchError(f"--ray-address {self.address}: could not connect to Ray ({type(exc).__name__}: "
                                   f"{msg}); check that the cluster runs the same Ray and Python as this machine "
                                   "(`ray status` on the head node)") from None
        else:
            cpus = self.num_cpus or os.cpu_count() or 1
            try:
                ray.init(num_cpus=cpus, include_dashboard=False, logging_level=logging.ERROR)
            except Exception as exc:
                raise XRBenchError(f"could not start a local Ray ({type(exc).__name__}: {exc}); pass --ray-address "
                                   "of a running cluster, or use --executor sequential") from None
            log.info("started a local Ray with %d CPU(s)", cpus)
        self._started = True
        return ray

    def close(self) -> None:
        if self._started:
            _import_ray().shutdown()
            self._started = False

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """``fn`` (picklable) on every item as a Ray task of 1 CPU; results in the items' order."""
        ray = self.start()
        remote = ray.remote(num_cpus=1, max_retries=self.max_retries)(fn)
        refs = [remote.remote(x) for x in items]
        for ref in refs:
            yield ray.get(ref)

    def _device(self, ray: Any, requested: str) -> str:
        if requested != "auto":
            return requested
        return "cuda" if ray.cluster_resources().get("GPU", 0) > 0 else "cpu"

    def _check_feasible(self, ray: Any, requests: list[tuple[str, dict[str, float]]]) -> None:
        """A request no node can meet would wait forever: refused on a local Ray, a warning on a cluster
        joined through --ray-address (an autoscaler may add such a node)."""
        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        seen: set[str] = set()
        for where, req in requests:
            if _describe(req) in seen:
                continue
            seen.add(_describe(req))
            if any(node.get("CPU", 0) >= req["num_cpus"] and node.get("GPU", 0) >= req["num_gpus"]
                   and node.get("memory", 0) >= req.get("memory", 0) for node in nodes):
                continue
            have = "; ".join(f"{n.get('CPU', 0):g} CPU, {n.get('GPU', 0):g} GPU" for n in nodes) or "no node"
            msg = (f"{where} asks Ray for {_describe(req)} a task, but no node of the Ray cluster has that much "
                   f"({have})")
            if not self.address:
                raise XRBenchError(msg + "; use --device cpu, a larger --ray-cpus, or --ray-address of a cluster "
                                         "that has such a node")
            log.warning("%s; its runs wait until such a node joins", msg)

    def run_specs(self, runner: Runner, specs: list[RunSpec], done: Callable[[RunSpec], None]) -> list[Outcome]:
        """Every spec as one task; ``done(spec)`` as each finishes; the outcomes in the specs' order."""
        from .registry import REGISTRY

        ray = self.start()
        device = self._device(ray, runner.device_requested)
        base = RunSettings.of(runner, device)
        requests = []
        for spec in specs:
            cls = REGISTRY.get(spec.method.kind, spec.method.name)
            where = f"{spec.method.kind} '{spec.method.name}'"
            if cls.__module__ == "__main__":
                raise XRBenchError(f"{where} is registered in the running script (__main__), which Ray workers "
                                   "cannot import: move it to a --plugin file or an installed module")
            requests.append((where, task_resources(cls, device, where)))
        self._check_feasible(ray, requests)
        remote = ray.remote(run_in_worker)
        refs = []
        for spec, (_, req) in zip(specs, requests):
            settings = dataclasses.replace(base, device="cuda" if req["num_gpus"] > 0 else "cpu")
            refs.append(remote.options(max_retries=self.max_retries, retry_exceptions=False, **req)
                        .remote(spec, settings))
        index = {ref: i for i, ref in enumerate(refs)}
        results: list[Outcome | None] = [None] * len(specs)
        pending = list(refs)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for ref in ready:
                    spec = specs[index[ref]]
                    value = self._get(ray, ref, spec)
                    if isinstance(value, XRBenchError):
                        raise value
                    results[index[ref]] = value
                    done(spec)
        except BaseException:
            for ref in pending:  # the sequential executor stops at the first error: so do the tasks not yet done
                ray.cancel(ref)
            raise
        return [r for r in results if r is not None]

    def _get(self, ray: Any, ref: Any, spec: RunSpec) -> Any:
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError:
            raise  # a bug in xrbench or a method outside the recorded part of a run: its remote traceback
        except ray.exceptions.RayError as exc:  # the worker or its node died on every try
            raise XRBenchError(f"run {spec.dataset.label} {spec.method.label} seed {spec.seed}: its Ray worker died "
                               f"{self.max_retries + 1} time(s) ({type(exc).__name__}); the records finished so far "
                               "are kept: rerun the same command to resume (with more memory per task, if it ran "
                               "out)") from None


class ProcessExecutor(SequentialExecutor):
    """``xrbench run --executor process [--jobs N]``: the runs on this machine, ``jobs`` at a time, each in
    a worker process (forked from the driver where the platform allows, so what the driver imported and
    loaded is shared; a fresh interpreter on CUDA, which cannot be forked). Each run is the task a Ray worker
    runs (:func:`run_in_worker`): the same records bit for bit as the sequential executor (thread settings
    are the process's, as in a sequential run; records are written by the workers with the runner's atomic
    writes). The first error (a method's user error, or a worker that dies) stops the run at once: runs still
    going in other workers are killed (a killed run leaves no record), what finished is kept, and the same
    command resumes. ``jobs`` defaults to the CPU count, and to 1 on CUDA. Runs of one (dataset, split,
    seed) landing in different workers fit their shared reference models once per worker."""

    def __init__(self, jobs: int | None = None) -> None:
        if jobs is not None and jobs < 1:
            raise XRBenchError(f"--jobs must be at least 1, not {jobs}")
        self.jobs = jobs  # None: the CPU count on cpu, 1 on cuda (each worker would load its model on the GPU)

    def close(self) -> None:
        pass

    def run_specs(self, runner: Runner, specs: list[RunSpec], done: Callable[[RunSpec], None]) -> list[Outcome]:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool

        if not specs:
            return []
        method = "fork" if runner.device == "cpu" and "fork" in multiprocessing.get_all_start_methods() else "spawn"
        jobs = self.jobs or ((os.cpu_count() or 1) if runner.device == "cpu" else 1)
        settings = RunSettings.of(runner, runner.device)
        results: list[Outcome | None] = [None] * len(specs)
        pool = ProcessPoolExecutor(min(jobs, len(specs)), mp_context=multiprocessing.get_context(method))
        try:
            index = {pool.submit(run_in_worker, spec, settings): k for k, spec in enumerate(specs)}
            pending = set(index)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in sorted(finished, key=index.__getitem__):
                    spec = specs[index[fut]]
                    try:
                        value = fut.result()
                    except BrokenProcessPool:
                        raise XRBenchError(f"run {spec.dataset.label} {spec.method.label} seed {spec.seed}: a worker "
                                           "process died (killed, or out of memory); the records finished so far are "
                                           "kept: rerun the same command to resume (with fewer --jobs if memory ran "
                                           "out)") from None
                    if isinstance(value, XRBenchError):
                        raise value
                    results[index[fut]] = value
                    done(spec)
        except BaseException:
            # stop at the first error, as the sequential executor does: runs still going are killed (their
            # records are written atomically, so a killed run leaves none; its temporaries go on the next run)
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return [r for r in results if r is not None]

"""The Python API: a suite in one call, or a Cornac-style :class:`Experiment`.

>>> import xrbench
>>> records = xrbench.run(suite="quick", out="results")                  # doctest: +SKIP
>>> exp = xrbench.Experiment(datasets=["ml-100k"], recommenders=["bias", "biased-mf"], seeds=[0, 1])
>>> exp.run("results")                                                    # doctest: +SKIP
>>> print(exp.leaderboard())                                              # doctest: +SKIP
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:
    import pandas as pd

from .data.catalog import DataPaths
from .errors import XRBenchError
from .render import leaderboard as render_leaderboard
from .records import RunRecord
from .registry import load_plugin_file
from .runner import Executor, Outcome, Runner
from .specs import DatasetSpec, MethodSpec, RunSpec, Suite, check_seeds, load_suite

log = logging.getLogger("xrbench")


def _named(value: Any, where: str) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """A name, or (name, {param: value}) -> (name, sorted params); anything else: one clear error."""
    if isinstance(value, str) and value:
        return value, ()
    if (isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[0], str) and value[0]
            and isinstance(value[1], Mapping)):
        params = {str(k): tuple(v) if isinstance(v, list) else v for k, v in value[1].items()}
        return value[0], tuple(sorted(params.items()))
    raise XRBenchError(f"{where}: expected a name or (name, {{param: value}}), got {value!r}")


def _as_list(x: Any) -> Any:
    """A sequence (list, tuple, range, array) as a list; anything else as it is (refused by the check)."""
    if isinstance(x, (str, bytes, Mapping)):
        return x
    try:
        return list(x)
    except TypeError:
        return x


def _method(kind: str, m: Any) -> MethodSpec:
    name, params = _named(m, f"Experiment {kind}")
    return MethodSpec(kind, name, params)


def _kind_and_method(value: Any) -> tuple[str, Any]:
    if isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[0], str):
        return value[0], value[1]
    raise XRBenchError(f"Experiment methods: expected (kind, name) or (kind, (name, {{param: value}})), got {value!r}")


def _dataset(d: Any) -> DatasetSpec:
    name, params = _named(d, "Experiment datasets")
    return DatasetSpec(name, params)


@dataclass
class Experiment:
    """Datasets × methods × seeds, run and scored like a suite."""

    datasets: Sequence[Any]
    recommenders: Sequence[Any] = ()
    explainers: Sequence[Any] = ()
    estimators: Sequence[Any] = ()
    methods: Sequence[tuple[str, Any]] = ()  # (kind, name or (name, params)) of any registered task's kind
    seeds: Sequence[int] = (0,)
    metrics: dict[str, Sequence[str]] = field(default_factory=dict)  # task -> metric keys
    options: dict[str, Any] = field(default_factory=dict)  # task options: split, k, sample, fidelity, ...
    out: Path | None = None

    def suite(self) -> Suite:
        for what in ("recommenders", "explainers", "estimators", "methods"):
            if isinstance(getattr(self, what), (str, Mapping)):
                raise XRBenchError(f"Experiment {what}: expected a list, got {getattr(self, what)!r}")
        methods = ([_method("recommender", m) for m in self.recommenders] +
                   [_method("explainer", m) for m in self.explainers] +
                   [_method("estimator", m) for m in self.estimators] +
                   [_method(*_kind_and_method(km)) for km in self.methods])
        if not methods:
            raise XRBenchError("an experiment needs at least one recommender, explainer or estimator")
        if isinstance(self.datasets, str) or not self.datasets:
            raise XRBenchError(f"Experiment datasets: expected a list of dataset names, got {self.datasets!r}")
        if not isinstance(self.options, Mapping):
            raise XRBenchError(f"Experiment options: expected a mapping of option names to values, got "
                               f"{self.options!r}")
        metrics = []
        for t, keys in dict(self.metrics).items():
            if isinstance(keys, str) or not all(isinstance(k, str) for k in keys):
                raise XRBenchError(f"Experiment metrics['{t}']: expected a list of metric keys, got {keys!r}")
            metrics.append((t, tuple(keys)))
        return Suite("experiment", tuple(_dataset(d) for d in self.datasets), tuple(methods),
                     check_seeds(_as_list(self.seeds), "Experiment seeds"),
                     tuple(metrics)).with_options(**self.options)

    def run(self, out: str | Path = "results", **kw: Any) -> list[RunRecord]:
        self.out = Path(out)
        return run(self.suite(), out=out, **kw)

    def leaderboard(self, fmt: str = "md") -> str:
        if self.out is None:
            raise XRBenchError("run the experiment first")
        return render_leaderboard(self.out, fmt)


def run_specs(specs: list[RunSpec], *, out: str | Path = "results", device: str = "auto",
              data_path: Sequence[str] | None = None, overwrite: str = "never", strict: bool = False,
              allow_download: bool = True, progress: bool = True,
              executor: Executor | None = None) -> list[Outcome]:
    """Run ``specs`` into ``out``; ``executor`` (default sequential, in this process) may run them elsewhere,
    e.g. ``xrbench.executors.RayExecutor()``."""
    if not specs:
        raise XRBenchError("nothing to run: no (dataset, method, seed) combination")
    single = specs[0].dataset.name if len({s.dataset.name for s in specs}) == 1 and strict else None
    paths = DataPaths.from_args(list(data_path or []), single_dataset=single, allow_download=allow_download)
    return Runner(Path(out), device=device, paths=paths, overwrite=overwrite, strict=strict,
                  executor=executor).run(specs, progress)


def run(suite: str | Path | Suite = "quick", *, out: str | Path = "results", seeds: Sequence[int] | None = None,
        device: str = "auto", data_path: Sequence[str] | None = None, overwrite: str = "never",
        plugins: Sequence[str | Path] = (), progress: bool = True,
        executor: Executor | None = None) -> list[RunRecord]:
    """Run a suite (a built-in name, a YAML path or a :class:`Suite`); returns the records. ``executor``: see
    :func:`run_specs`."""
    for p in plugins:
        load_plugin_file(p)
    s = suite if isinstance(suite, Suite) else load_suite(str(suite))
    if seeds is not None:
        s = s.with_seeds(check_seeds(_as_list(seeds), "seeds"))
    outcomes = run_specs(s.runs(), out=out, device=device, data_path=data_path, overwrite=overwrite,
                         progress=progress, executor=executor)
    return [o.record for o in outcomes if o.record is not None]


def load_records(results_dir: str | Path, plugins: Sequence[str | Path] = ()) -> "pd.DataFrame":
    """Every record under ``results_dir`` as a pandas DataFrame: one row per record x metric, with columns
    dataset, task, method (the leaderboard label), method_name, kind, seed, status, metric, value, ci_low,
    ci_high, note. A failed run is one row with metric and value empty and its error in ``note``."""
    import pandas as pd

    from .records import iter_records

    for p in plugins:
        load_plugin_file(p)
    rows = []
    for _, r in iter_records(Path(results_dir)):
        base = {"dataset": r.dataset, "task": r.task, "method": r.method_label, "method_name": r.method.name,
                "kind": r.method.kind, "seed": r.seed, "status": r.status}
        if r.status != "ok":
            rows.append({**base, "metric": None, "value": None, "ci_low": None, "ci_high": None, "note": r.error})
            continue
        for key, value in r.metrics.items():
            ci = r.intervals.get(key)
            rows.append({**base, "metric": key, "value": value, "ci_low": ci[0] if ci else None,
                         "ci_high": ci[1] if ci else None, "note": r.metric_notes.get(key)})
    cols = ["dataset", "task", "method", "method_name", "kind", "seed", "status", "metric", "value", "ci_low",
            "ci_high", "note"]
    return pd.DataFrame(rows, columns=cols)

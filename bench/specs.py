"""Frozen specs: what one run is (dataset × method × seed) and what a suite is (their product)."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .errors import XRBenchError

def _label(name: str, params: tuple[tuple[str, Any], ...]) -> str:
    if not params:
        return name
    return name + "[" + ",".join(f"{k}={v}" for k, v in params) + "]"


def _freeze(params: dict[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    out = []
    for k, v in sorted((params or {}).items()):
        if isinstance(v, list):
            v = tuple(v)
        out.append((str(k), v))
    return tuple(out)


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    params: tuple[tuple[str, Any], ...] = ()
    optional: bool = False  # a suite skips it (one log line) when its files are absent

    @property
    def label(self) -> str:
        return _label(self.name, self.params)


@dataclass(frozen=True)
class MethodSpec:
    kind: str  # the method kind of a registered task ("recommender", "explainer", ...)
    name: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        return _label(self.name, self.params)

    @property
    def task(self) -> str:
        from .tasks import for_kind
        return for_kind(self.kind).name


@dataclass(frozen=True)
class RunSpec:
    dataset: DatasetSpec
    method: MethodSpec
    seed: int
    metrics: tuple[str, ...] | None = None  # None: the task's default metrics
    options: tuple[tuple[str, Any], ...] = ()  # run options as given (split, k, sample, ...); defaults: the task's

    def task_options(self) -> Any:
        """The options of this run's task (its typed dataclass, defaults filled in)."""
        from .tasks import for_kind
        return for_kind(self.method.kind).options.from_mapping(dict(self.options), f"run {self.method.label}")

    def folder(self, out: Path) -> Path:
        safe = lambda s: re.sub(r"[^A-Za-z0-9_.=,\[\]-]+", "_", s)  # noqa: E731
        return out / "runs" / safe(self.dataset.label) / self.method.kind / safe(self.method.label) / f"seed-{self.seed}"


@dataclass(frozen=True)
class Suite:
    name: str
    datasets: tuple[DatasetSpec, ...]
    methods: tuple[MethodSpec, ...]
    seeds: tuple[int, ...] = (0, 1, 2)
    metrics: tuple[tuple[str, tuple[str, ...]], ...] = ()  # per task; absent: defaults
    options: tuple[tuple[str, Any], ...] = ()  # run options the suite sets (split, k, sample, fidelity, ...)

    def with_options(self, **values: Any) -> Suite:
        """A copy with these options set (``None`` values are left as they were)."""
        merged = {**dict(self.options), **{k: v for k, v in values.items() if v is not None}}
        return replace(self, options=tuple(sorted(merged.items())))

    def runs(self) -> list[RunSpec]:
        per_task = dict(self.metrics)
        return [RunSpec(d, m, s, per_task.get(m.task), self.options)
                for d in self.datasets for m in self.methods for s in self.seeds]


def option_keys() -> dict[str, list[str]]:
    """Run option name -> the tasks that declare it."""
    from .tasks import all_tasks, option_names

    out: dict[str, list[str]] = {}
    for t in all_tasks():
        for name in option_names(t.options):
            out.setdefault(name, []).append(t.name)
    return out


def _entry(value: Any, where: str) -> tuple[str, dict[str, Any], bool]:
    if isinstance(value, str):
        return value, {}, False
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        params = dict(value.get("params") or {})
        return value["name"], params, bool(value.get("optional", False))
    raise XRBenchError(f"{where}: expected a name or a mapping with 'name' (and optional 'params'), got {value!r}")


def parse_suite(data: Any, source: str) -> Suite:
    if not isinstance(data, dict):
        raise XRBenchError(f"{source}: a suite file must be a YAML mapping")
    options = option_keys()
    unknown = set(data) - {"name", "description", "datasets", "methods", "seeds", "metrics"} - set(options)
    if unknown:
        raise XRBenchError(f"{source}: unknown suite key(s) {sorted(unknown)}; suite keys are name, description, "
                           f"datasets, methods, seeds, metrics and the task options {', '.join(sorted(options))}")
    datasets = []
    for i, d in enumerate(data.get("datasets") or []):
        name, params, optional = _entry(d, f"{source}: datasets[{i}]")
        datasets.append(DatasetSpec(name, _freeze(params), optional))
    from .tasks import method_kinds

    methods = []
    for kind, entries in (data.get("methods") or {}).items():
        if kind not in method_kinds():
            raise XRBenchError(f"{source}: methods.{kind}: unknown kind; use one of {', '.join(method_kinds())}")
        for i, m in enumerate(entries or []):
            name, params, _ = _entry(m, f"{source}: methods.{kind}[{i}]")
            methods.append(MethodSpec(kind, name, _freeze(params)))
    if not datasets or not methods:
        raise XRBenchError(f"{source}: a suite needs at least one dataset and one method")
    seeds = data.get("seeds", [0, 1, 2])
    if not isinstance(seeds, list) or not all(isinstance(s, int) for s in seeds):
        raise XRBenchError(f"{source}: seeds must be a list of integers")
    metrics = tuple((task, tuple(keys)) for task, keys in (data.get("metrics") or {}).items())
    given = tuple(sorted((k, v) for k, v in data.items() if k in options))
    suite = Suite(str(data.get("name", Path(source).stem)), tuple(datasets), tuple(methods), tuple(seeds), metrics,
                  given)
    for spec in suite.runs()[:len(suite.methods) * len(suite.datasets)]:
        spec.task_options()  # type-checks the options each task reads (one clear line)
    return suite


def builtin_suites() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("xrbench.suites").iterdir() if p.name.endswith(".yaml"))


def load_suite(name_or_path: str) -> Suite:
    """A suite shipped with xrbench (``quick``, ...) or the user's own YAML file."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.is_file():
            raise XRBenchError(f"{p}: suite file not found")
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise XRBenchError(f"{p}: not valid YAML ({exc})") from None
        return parse_suite(data, str(p))
    if name_or_path not in builtin_suites():
        import difflib
        close = difflib.get_close_matches(name_or_path, builtin_suites(), n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise XRBenchError(f"unknown suite '{name_or_path}'.{hint} Built-in suites: {', '.join(builtin_suites())}; "
                           "or pass the path of a YAML file")
    text = resources.files("xrbench.suites").joinpath(f"{name_or_path}.yaml").read_text(encoding="utf-8")
    return parse_suite(yaml.safe_load(text), f"suite '{name_or_path}'")

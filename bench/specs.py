"""Frozen specs: what one run is (dataset × method × seed) and what a suite is (their product)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .errors import XRBenchError

METHOD_KINDS = ("recommender", "explainer", "estimator")
TASK_OF_KIND = {"recommender": "recommend", "explainer": "explain", "estimator": "estimate"}


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
    kind: str
    name: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        return _label(self.name, self.params)

    @property
    def task(self) -> str:
        return TASK_OF_KIND[self.kind]


@dataclass(frozen=True)
class RunSpec:
    dataset: DatasetSpec
    method: MethodSpec
    seed: int
    metrics: tuple[str, ...] | None = None  # None: the task's default metrics
    split: str = "random"
    k: int = 10
    sample: int | None = 500  # explanation pairs per run (None: every test pair)
    fidelity: int = 0  # users whose top-K explanation is intervened on (0: no causal-fidelity evaluation)

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
    split: str = "random"
    k: int = 10
    sample: int | None = 500
    fidelity: int = 0

    def runs(self) -> list[RunSpec]:
        per_task = dict(self.metrics)
        return [RunSpec(d, m, s, per_task.get(m.task), self.split, self.k, self.sample, self.fidelity)
                for d in self.datasets for m in self.methods for s in self.seeds]


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
    unknown = set(data) - {"name", "description", "datasets", "methods", "seeds", "metrics", "split", "k", "sample", "fidelity"}
    if unknown:
        raise XRBenchError(f"{source}: unknown suite key(s) {sorted(unknown)}")
    datasets = []
    for i, d in enumerate(data.get("datasets") or []):
        name, params, optional = _entry(d, f"{source}: datasets[{i}]")
        datasets.append(DatasetSpec(name, _freeze(params), optional))
    methods = []
    for kind, entries in (data.get("methods") or {}).items():
        if kind not in METHOD_KINDS:
            raise XRBenchError(f"{source}: methods.{kind}: unknown kind; use one of {', '.join(METHOD_KINDS)}")
        for i, m in enumerate(entries or []):
            name, params, _ = _entry(m, f"{source}: methods.{kind}[{i}]")
            methods.append(MethodSpec(kind, name, _freeze(params)))
    if not datasets or not methods:
        raise XRBenchError(f"{source}: a suite needs at least one dataset and one method")
    seeds = data.get("seeds", [0, 1, 2])
    if not isinstance(seeds, list) or not all(isinstance(s, int) for s in seeds):
        raise XRBenchError(f"{source}: seeds must be a list of integers")
    metrics = tuple((task, tuple(keys)) for task, keys in (data.get("metrics") or {}).items())
    sample = data.get("sample", 500)
    return Suite(str(data.get("name", Path(source).stem)), tuple(datasets), tuple(methods), tuple(seeds), metrics,
                 str(data.get("split", "random")), int(data.get("k", 10)), None if sample is None else int(sample),
                 int(data.get("fidelity", 0)))


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

"""Frozen specs: what one run is (dataset × method × seed) and what a suite is (their product)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .errors import XRBenchError
from .params import Param, load_yaml, yaml_error_line

_SAFE = re.compile(r"[A-Za-z0-9_.=,\[\]-]{1,120}")


def folder_name(label: str) -> str:
    """A folder name for ``label``, one to one: the label itself when it is a plain name (letters, digits,
    ``_ . = , [ ] -``, not starting with a dot, at most 120 characters), else a readable slug plus ``~``
    and a hash of the exact label (``~`` never occurs in a plain name, so two labels never share a folder)."""
    if _SAFE.fullmatch(label) and not label.startswith("."):
        return label
    import hashlib

    slug = re.sub(r"[^A-Za-z0-9_.=,\[\]-]+", "_", label).lstrip(".")[:60] or "_"
    return f"{slug}~{hashlib.sha256(label.encode('utf-8')).hexdigest()[:12]}"


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
    #: entries the records' provenance gets besides the run's own (``tuning``: the study a ``--params-file`` came
    #: from); not part of the run's identity
    provenance: tuple[tuple[str, Any], ...] = field(default=(), compare=False, repr=False)
    #: a suite's ``tuned:`` entry: (("metric", KEY), ("trials", N)). The run first tunes the method on the
    #: validation rows of its own seed's split (``xrbench tune``; the study is kept under ``OUT/tuning`` and
    #: resumed), then runs with the best params over ``params``; the label ends in ``[tuned]``
    tuned: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        return _label(self.name, self.params) + ("[tuned]" if self.tuned else "")

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
    suite: str = ""  # the suite this run belongs to (recorded in provenance; the leaderboards' suite column)

    def task_options(self) -> Any:
        """The options of this run's task (its typed dataclass, defaults filled in)."""
        from .tasks import for_kind
        return for_kind(self.method.kind).options.from_mapping(dict(self.options), f"run {self.method.label}")

    def folder(self, out: Path) -> Path:
        return (out / "runs" / folder_name(self.dataset.label) / folder_name(self.method.kind)
                / folder_name(self.method.label) / f"seed-{self.seed}")


@dataclass(frozen=True)
class Suite:
    name: str
    datasets: tuple[DatasetSpec, ...]
    methods: tuple[MethodSpec, ...]
    seeds: tuple[int, ...] = (0, 1, 2)
    metrics: tuple[tuple[str, tuple[str, ...]], ...] = ()  # per task; absent: defaults
    options: tuple[tuple[str, Any], ...] = ()  # run options the suite sets (split, k, sample, fidelity, ...)
    #: methods run on other seeds than the suite's (a method entry's own ``seeds``: e.g. more replications for
    #: the estimators whose interval coverage is measured)
    method_seeds: tuple[tuple[MethodSpec, tuple[int, ...]], ...] = ()

    def seeds_of(self, method: MethodSpec) -> tuple[int, ...]:
        return dict(self.method_seeds).get(method, self.seeds)

    def with_seeds(self, seeds: tuple[int, ...]) -> Suite:
        """Every method on these seeds (``--seeds``: a method entry's own seeds are overridden too)."""
        return replace(self, seeds=seeds, method_seeds=())

    def with_options(self, **values: Any) -> Suite:
        """A copy with these options set, each checked (type, range) by the tasks that declare it. ``None`` is a
        value too (``sample=None``: every test pair, as ``--full``); leave an option out to keep the suite's."""
        check_options(values, "options")
        merged = {**dict(self.options), **values}
        return replace(self, options=tuple(sorted(merged.items())))

    def runs(self) -> list[RunSpec]:
        per_task = dict(self.metrics)
        return [RunSpec(d, m, s, per_task.get(m.task), self.options, self.name)
                for d in self.datasets for m in self.methods for s in self.seeds_of(m)]


def option_keys() -> dict[str, list[str]]:
    """Run option name -> the tasks that declare it."""
    from .tasks import all_tasks, option_names

    out: dict[str, list[str]] = {}
    for t in all_tasks():
        for name in option_names(t.options):
            out.setdefault(name, []).append(t.name)
    return out


def check_options(values: dict[str, Any], source: str) -> None:
    """Each option's type and range, checked by every task that declares it (one clear line)."""
    from .tasks import all_tasks

    known = option_keys()
    unknown = sorted(map(str, set(values) - set(known)))
    if unknown:
        raise XRBenchError(f"{source}: unknown option(s) {', '.join(unknown)}; options are "
                           f"{', '.join(sorted(known))}")
    for t in all_tasks():
        t.options.from_mapping(values, source)


#: seeds are ints in [0, 2**32 - 1]: numpy, scikit-learn and torch all accept them
SEED = Param(int, ge=0, le=2**32 - 1)


def check_seeds(seeds: Any, where: str) -> tuple[int, ...]:
    """A non-empty list of seeds, each an integer in [0, 2**32 - 1]."""
    if not isinstance(seeds, (list, tuple)) or not seeds:
        raise XRBenchError(f"{where}: seeds must be a non-empty list of integers >= 0 (e.g. [0, 1, 2]), "
                           f"got {_show(seeds)}")
    return tuple(SEED.check(s, "seed", where) for s in seeds)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_ENTRY_KEYS = {"datasets": ("name", "params", "optional"), "methods": ("name", "params", "seeds", "tuned")}
TUNED_TRIALS = 20  # a suite's ``tuned: true``: finished trials per study


def _tuned(value: Any, kind: str, name: str, where: str) -> tuple[tuple[str, Any], ...]:
    """A method entry's ``tuned``: false, true (20 trials on rmse, or ndcg@10 for a ranking-only method), or
    ``{trials: N, metric: KEY}``."""
    if value is False or value is None:
        return ()
    if kind != "recommender":
        raise XRBenchError(f"{where}.tuned: only recommenders can be tuned (xrbench tune), not {kind}s")
    settings = {} if value is True else value
    if not isinstance(settings, dict) or set(settings) - {"trials", "metric"}:
        raise XRBenchError(f"{where}.tuned: must be true, false or {{trials: N, metric: KEY}}, got {_show(value)}")
    trials = settings.get("trials", TUNED_TRIALS)
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise XRBenchError(f"{where}.tuned.trials: must be an integer >= 1, got {_show(trials)}")
    metric = settings.get("metric")
    if metric is None:
        from .errors import UnknownNameError
        from .registry import REGISTRY
        try:
            ranking_only = not getattr(REGISTRY.get(kind, name), "predicts_ratings", True)
        except UnknownNameError:
            ranking_only = False
        metric = "ndcg@10" if ranking_only else "rmse"
    if not isinstance(metric, str):
        raise XRBenchError(f"{where}.tuned.metric: must be a metric key, got {_show(metric)}")
    return (("metric", metric), ("trials", trials))


def _entry(value: Any, where: str, what: str) -> tuple[str, dict[str, Any], bool]:
    if isinstance(value, str) and value:
        return value, {}, False
    if isinstance(value, dict) and isinstance(value.get("name"), str) and value["name"]:
        unknown = sorted(map(str, set(value) - set(_ENTRY_KEYS[what])))
        if unknown:
            raise XRBenchError(f"{where}: unknown key(s) {unknown}; an entry has {', '.join(_ENTRY_KEYS[what])}")
        params = value.get("params")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise XRBenchError(f"{where}.params: must be a mapping of parameter names to values "
                               f"(e.g. {{dim: 64}}), got {_show(params)}")
        optional = value.get("optional", False)
        if not isinstance(optional, bool):
            raise XRBenchError(f"{where}.optional: must be true or false, got {_show(optional)}")
        return value["name"], {str(k): v for k, v in params.items()}, optional
    raise XRBenchError(f"{where}: expected a name or a mapping with 'name' (and optional 'params'), "
                       f"got {_show(value)}")


def _check_method_params(kind: str, name: str, params: dict[str, Any], where: str) -> None:
    """A suite entry's params against the method's declared types and ranges, naming the file and the entry
    (an unknown name is left to the runner's validate, which suggests close matches)."""
    from .errors import UnknownNameError
    from .registry import REGISTRY

    try:
        cls = REGISTRY.get(kind, name)
    except UnknownNameError:
        return
    if hasattr(cls, "check_params"):
        cls.check_params(params, f"{where}: {kind} '{name}'")


def _list(data: dict, key: str, source: str, example: str) -> list:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise XRBenchError(f"{source}: {key}: must be a list (e.g. {key}: {example}), got {_show(value)}")
    return value


def parse_suite(data: Any, source: str) -> Suite:
    if not isinstance(data, dict):
        raise XRBenchError(f"{source}: a suite file must be a YAML mapping (keys name, datasets, methods, ...), "
                           f"got {_show(data)}")
    options = option_keys()
    unknown = set(data) - {"name", "description", "datasets", "methods", "seeds", "metrics"} - set(options)
    if unknown:
        raise XRBenchError(f"{source}: unknown suite key(s) {sorted(map(str, unknown))}; suite keys are name, "
                           f"description, datasets, methods, seeds, metrics and the task options "
                           f"{', '.join(sorted(options))}")
    for key in ("name", "description"):
        if key in data and not isinstance(data[key], str):
            raise XRBenchError(f"{source}: {key}: must be a string, got {_show(data[key])}")
    datasets = []
    for i, d in enumerate(_list(data, "datasets", source, "[ml-100k]")):
        name, params, optional = _entry(d, f"{source}: datasets[{i}]", "datasets")
        datasets.append(DatasetSpec(name, _freeze(params), optional))
    from .tasks import all_tasks, method_kinds

    methods = []
    own_seeds = []
    given_methods = data.get("methods") or {}
    if not isinstance(given_methods, dict):
        raise XRBenchError(f"{source}: methods: must be a mapping of method kinds to lists of methods "
                           f"(e.g. methods: {{recommender: [bias]}}), got {_show(given_methods)}")
    for kind, entries in given_methods.items():
        if kind not in method_kinds():
            raise XRBenchError(f"{source}: methods.{kind}: unknown kind; use one of {', '.join(method_kinds())}")
        if entries is not None and not isinstance(entries, list):
            raise XRBenchError(f"{source}: methods.{kind}: must be a list (e.g. {kind}: [NAME, "
                               f"{{name: NAME, params: {{...}}}}]), got {_show(entries)}")
        for i, m in enumerate(entries or []):
            where = f"{source}: methods.{kind}[{i}]"
            name, params, _ = _entry(m, where, "methods")
            _check_method_params(kind, name, params, where)
            spec = MethodSpec(kind, name, _freeze(params),
                              tuned=_tuned(m.get("tuned") if isinstance(m, dict) else None, kind, name, where))
            if isinstance(m, dict) and "seeds" in m:
                own_seeds.append((spec, check_seeds(m["seeds"], f"{where}.seeds")))
            methods.append(spec)
    if not datasets or not methods:
        raise XRBenchError(f"{source}: a suite needs at least one dataset and one method")
    seeds = check_seeds(data.get("seeds", [0, 1, 2]), f"{source}: seeds")
    given_metrics = data.get("metrics") or {}
    if not isinstance(given_metrics, dict):
        raise XRBenchError(f"{source}: metrics: must be a mapping of tasks to lists of metric keys "
                           f"(e.g. metrics: {{recommend: [rmse]}}), got {_show(given_metrics)}")
    tasks = {t.name for t in all_tasks()}
    metrics = []
    for task, keys in given_metrics.items():
        if task not in tasks:
            raise XRBenchError(f"{source}: metrics.{task}: unknown task; use one of {', '.join(sorted(tasks))}")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise XRBenchError(f"{source}: metrics.{task}: must be a list of metric keys, got {_show(keys)}")
        metrics.append((task, tuple(keys)))
    given = tuple(sorted((k, v) for k, v in data.items() if k in options))
    check_options(dict(given), source)  # each option's type and range (one clear line naming the file)
    return Suite(data.get("name", Path(source).stem), tuple(datasets), tuple(methods), seeds, tuple(metrics), given,
                 tuple(own_seeds))


def builtin_suites() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("xrbench.suites").iterdir() if p.name.endswith(".yaml"))


def read_yaml_file(p: Path) -> Any:
    """A user's YAML file, or one XRBenchError line (unreadable, not UTF-8, or not YAML: line and column)."""
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise XRBenchError(f"{p}: cannot read the file ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise XRBenchError(f"{p}: not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); "
                           "save the file as UTF-8") from None
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        raise XRBenchError(f"{p}: not valid YAML: {yaml_error_line(exc)}") from None
    except RecursionError:
        raise XRBenchError(f"{p}: not valid YAML: nested too deeply") from None


def load_suite(name_or_path: str) -> Suite:
    """A suite shipped with xrbench (``quick``, ...) or the user's own YAML file."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.is_file():
            raise XRBenchError(f"{p}: suite file not found")
        return parse_suite(read_yaml_file(p), str(p))
    if name_or_path not in builtin_suites():
        import difflib
        close = difflib.get_close_matches(name_or_path, builtin_suites(), n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise XRBenchError(f"unknown suite '{name_or_path}'.{hint} Built-in suites: {', '.join(builtin_suites())}; "
                           "or pass the path of a YAML file")
    text = resources.files("xrbench.suites").joinpath(f"{name_or_path}.yaml").read_text(encoding="utf-8")
    return parse_suite(load_yaml(text), f"suite '{name_or_path}'")

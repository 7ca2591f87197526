"""``xrbench tune``: hyperparameter search for a recommender with Optuna, on the validation rows only.

What is tuned on. The dataset is split as a run splits it (``--split``, seed ``--seed``), and the test rows are
dropped at once: the tuning dataset (:func:`tuning_data`) holds the split's train and validation rows and
nothing else, so no objective can reach a test row. A trial fits the method on the train rows, less a seeded
carve of them that serves as the early-stopping validation of iterative models (``biased-mf``), and scores it
with xrbench's own metric (``rmse``, ``ndcg@10``, ...) on the validation rows; the direction is the metric's
``lower_is_better``.

The study. Optuna's TPE sampler, reseeded before every trial from (``--seed``, the number of finished trials)
so a study is the same whether or not it was interrupted, and a median pruner fed with each epoch's
validation RMSE of an early-stopped model (``xrbench.baselines.training.EPOCH_CALLBACK``; used when the
metric is lower-is-better). The study lives in ``DIR/<study>.db`` (SQLite); its name comes from the dataset
(and its params and file hash), split, method, metric, search space and seed. Run the same command again
and it resumes: finished trials are kept, a trial left running by a killed process is marked failed, and only
the missing trials run. ``--trials N`` counts finished trials (complete or pruned); a larger N later extends
the study.

The result is a params file (YAML, written atomically): the best params plus the study's facts, among them
its hash (sha256 over the dataset, data file hash, split, method, space, metric, trials and the sorted
(params, value) of the completed trials: independent of the storage, times and trial ids). ``xrbench run
--params-file FILE`` sets the method's params from it and records ``tuning`` (hash, trials, wall time, ...) in
each run's provenance.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import re
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

import numpy as np
import yaml

from .errors import XRBenchError
from .params import _show

if TYPE_CHECKING:
    from .data.schema import Dataset
    from .data.split import Split

log = logging.getLogger("xrbench")

PARAMS_FORMAT = "xrbench-params/1"
TYPES = ("float", "int", "categorical")
_KEYS = {"float": ("type", "low", "high", "log"), "int": ("type", "low", "high", "log"),
         "categorical": ("type", "choices")}
RATING_METRICS = ("rmse", "mae")  # scored without ranking the items (faster trials)
PRUNER_STARTUP_TRIALS = 5  # the median pruner prunes nothing before this many trials finished ...
PRUNER_WARMUP_EPOCHS = 5  # ... nor before this epoch of a trial


# -- search spaces -------------------------------------------------------------------------------------------
def default_space_names() -> list[str]:
    """The methods a default search space ships for (``xrbench/tuning_spaces/NAME.yaml``)."""
    return sorted(p.name[:-5].replace(".", ":") for p in resources.files("xrbench").joinpath("tuning_spaces").iterdir()
                  if p.name.endswith(".yaml"))


def _space_file(name: str) -> str:
    """The shipped space's file name of a method (``cornac:MF`` -> ``cornac.MF.yaml``: no ':' in file names)."""
    return name.replace(":", ".") + ".yaml"


def load_space(path: str | None, kind: str, name: str, cls: type) -> tuple[dict[str, dict[str, Any]], str]:
    """The search space (``--space`` file, else the method's default) checked against the method's params;
    returns (space, where it came from)."""
    from .params import load_yaml
    from .specs import read_yaml_file

    if path is not None:
        return check_space(read_yaml_file(Path(path)), cls, f"{kind} '{name}'", path), path
    if not cls.default_params():
        raise XRBenchError(f"{kind} '{name}' has no parameters to tune (nothing to search); tune a method with "
                           f"parameters, e.g. {', '.join(default_space_names())}")
    if name not in default_space_names():
        raise XRBenchError(f"no default search space for {kind} '{name}'; pass --space FILE, a YAML mapping like "
                           "'dim: {type: int, low: 8, high: 128, log: true}' (its params: "
                           f"{', '.join(sorted(cls.default_params()))})")
    source = f"the default space of {kind} '{name}'"
    text = resources.files("xrbench").joinpath("tuning_spaces", _space_file(name)).read_text(encoding="utf-8")
    return check_space(load_yaml(text), cls, f"{kind} '{name}'", source), source


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_space(data: Any, cls: type, method: str, source: str) -> dict[str, dict[str, Any]]:
    """``{param: {type: float|int|categorical, low, high, log, choices}}`` checked (one clear line per
    problem: an unknown param of the method, a bad type or key, bad bounds, a bound or choice the method
    refuses) and normalised (every key present, params sorted)."""
    if not isinstance(data, dict) or not data:
        raise XRBenchError(f"{source}: a search space is a non-empty YAML mapping of the method's params to "
                           "{type: float|int|categorical, low, high, log, choices}, e.g. 'dim: {type: int, low: 8, "
                           f"high: 128}}'; got {_show(data)}")
    specs = cls.param_specs()
    defaults = cls.default_params()
    unknown = sorted(map(str, set(data) - set(specs)))
    if unknown:
        raise XRBenchError(f"{source}: unknown param(s) {unknown} of {method}; its params: "
                           f"{', '.join(sorted(specs)) or 'none'}")
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(data):
        entry, where = data[name], f"{source}: param '{name}'"
        if not isinstance(entry, dict):
            raise XRBenchError(f"{where}: must be a mapping like {{type: float, low: 0.001, high: 0.1, log: true}} "
                               f"or {{type: categorical, choices: [a, b]}}, got {_show(entry)}")
        kind = entry.get("type")
        if kind not in TYPES:
            raise XRBenchError(f"{where}: type must be one of {', '.join(TYPES)}, got {_show(kind)}")
        extra = sorted(map(str, set(entry) - set(_KEYS[kind])))
        if extra:
            raise XRBenchError(f"{where}: unknown key(s) {extra} for type {kind}; its keys: {', '.join(_KEYS[kind])}")
        spec = specs[name]
        check = lambda v, what: spec.check(v, what, f"{where} ({method})", defaults.get(name))  # noqa: E731
        if kind == "categorical":
            choices = entry.get("choices")
            if not isinstance(choices, list) or not choices:
                raise XRBenchError(f"{where}: choices must be a non-empty list, got {_show(choices)}")
            if any(not isinstance(c, (bool, int, float, str)) for c in choices):
                raise XRBenchError(f"{where}: each choice must be a number, a string or true/false, got "
                                   f"{_show(choices)}")
            checked = [check(c, "a choice") for c in choices]
            if len({json.dumps(c) for c in checked}) < len(checked):
                raise XRBenchError(f"{where}: choices repeat a value: {_show(choices)}")
            out[name] = {"type": kind, "choices": checked}
            continue
        declared = set(spec.types) - {type(None)}
        if declared and not declared & ({int, float} if kind == "int" else {float}):
            want = "int" if int in declared else "categorical"
            raise XRBenchError(f"{where}: {method} takes {spec.allowed()} for '{name}', so a {kind} range does not "
                               f"fit; use type: {want}")
        low, high, logscale = entry.get("low"), entry.get("high"), entry.get("log", False)
        for key, v in (("low", low), ("high", high)):
            if v is None:
                raise XRBenchError(f"{where}: a {kind} range needs both low and high, '{key}' is missing")
            if not _num(v) or not math.isfinite(v) or (kind == "int" and not float(v).is_integer()):
                raise XRBenchError(f"{where}: {key} must be {'an integer' if kind == 'int' else 'a finite number'}, "
                                   f"got {_show(v)}")
        if kind == "int":
            low, high = int(low), int(high)
        else:
            low, high = float(low), float(high)
        if not low < high:
            raise XRBenchError(f"{where}: low ({low}) must be less than high ({high})")
        if not isinstance(logscale, bool):
            raise XRBenchError(f"{where}: log must be true or false, got {_show(logscale)}")
        if logscale and low <= 0:
            raise XRBenchError(f"{where}: a log-scale range needs low > 0, got low {low}")
        check(low, "low")
        check(high, "high")
        out[name] = {"type": kind, "low": low, "high": high, "log": logscale}
    return out


def space_hash(space: Mapping[str, Any]) -> str:
    return _sha256(space)[:16]


def suggest(trial: Any, space: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """One trial's params, drawn from ``space`` (in its sorted param order)."""
    out: dict[str, Any] = {}
    for name, s in space.items():
        if s["type"] == "categorical":
            out[name] = trial.suggest_categorical(name, s["choices"])
        elif s["type"] == "int":
            out[name] = trial.suggest_int(name, s["low"], s["high"], log=s["log"])
        else:
            out[name] = trial.suggest_float(name, s["low"], s["high"], log=s["log"])
    return out


# -- the data a study sees -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TuningData:
    """What a study is given: a dataset of the split's train and validation rows only (the test rows are not
    in it), and how its rows are used. ``split.train``: the rows a trial fits on; ``split.valid``: a seeded
    carve of the train rows, the early-stopping validation of iterative models; ``split.test``: the split's
    validation rows, on which a trial is scored. Positions are rows of ``data.interactions``."""

    data: Dataset
    split: Split
    protocol: str  # the split of the full dataset: protocol, seed, hash (identifies it; reveals no row), sizes
    seed: int
    split_hash: str
    sizes: tuple[int, int]  # (train, validation) rows of the split


def tuning_data(ds: Dataset, protocol: str, seed: int, folds: int = 5) -> TuningData:
    """Split ``ds`` as a run with this protocol and seed does, and keep only the train and validation rows."""
    from .data.split import Split, make_split

    split = make_split(ds, protocol, seed, folds=folds)
    keep = np.sort(np.concatenate([split.train, split.valid]).astype(np.int64))
    inter = ds.interactions.take(keep).reset_index(drop=True).copy(deep=True)
    data = dataclasses.replace(ds, interactions=inter, items=ds.items.copy(deep=True), users=ds.users.copy(deep=True),
                               folds={})
    train = np.searchsorted(keep, split.train)
    valid = np.searchsorted(keep, split.valid)
    n_carve = int(round(len(train) * len(valid) / max(1, len(train) + len(valid))))
    n_carve = min(max(n_carve, 1), len(train) - 1) if len(train) > 1 else 0
    pick = np.random.default_rng([seed, 7]).choice(len(train), n_carve, replace=False)
    carve = np.sort(train[pick])
    fit = np.setdiff1d(train, carve)
    inner = Split(f"{protocol}/tune", seed, fit, carve, np.sort(valid))
    return TuningData(data, inner, protocol, seed, split.hash, (len(split.train), len(split.valid)))


class Objective:
    """Fits a method with given params on the tuning rows and scores it on the validation rows."""

    def __init__(self, cls: type, data: TuningData, metric: str, device: str = "cpu", k: int = 10) -> None:
        from .view import TrainView

        self.cls, self.metric, self.k = cls, metric, k
        ds = data.data
        from .references import references

        refs = references(ds, data.split)  # mined from the fit rows' reviews, as a run mines its train rows'
        self.view = view = TrainView.build(ds, data.split, data.seed, device, refs=refs)
        rows = ds.interactions.iloc[data.split.test]
        self.users, self.items = rows["user"].to_numpy(str), rows["item"].to_numpy(str)
        self.ratings = rows["rating"].to_numpy(float)
        self.uidx = rows["user"].map(view.user_index).to_numpy(dtype=np.int64)
        self.iidx = rows["item"].map(view.item_index).to_numpy(dtype=np.int64)
        self.rating_min, self.rating_max = ds.rating_min, ds.rating_max
        self.users_table = ds.users
        carve = view.valid  # the carve's items are no more "unseen" for ranking than the fit rows' are
        self.carved: dict[int, set[int]] = {}
        for u, i in zip(carve["uidx"].to_numpy(), carve["iidx"].to_numpy()):
            self.carved.setdefault(int(u), set()).add(int(i))

    def outputs(self, params: Mapping[str, Any]) -> Any:
        from .metrics.outputs import RecOutputs
        from .tasks.recommend import user_groups

        model = self.cls(**dict(params))
        view = self.view
        model.bind(view)
        model.fit(view)
        preds = np.asarray(model.predict(self.uidx, self.iidx), dtype=float) if model.predicts_ratings else None
        topk: dict[str, list[str]] = {}
        profile_pop: dict[str, float] = {}
        groups: dict[str, dict[str, Any]] = {}
        counts = view.train_item_counts
        cut = re.fullmatch(r".+@([0-9]+)", self.metric)  # a ranking metric's cutoff (ndcg@10 -> 10)
        length = max(self.k, int(cut.group(1)) if cut else 0)
        if self.metric not in RATING_METRICS:
            eval_users = np.unique(self.uidx)
            extra = max((len(self.carved.get(int(u), ())) for u in eval_users), default=0)
            uid, iid = view.user_ids, view.item_ids
            for u, row in zip(eval_users, model.rank(eval_users, length + extra, exclude_seen=True)):
                drop = self.carved.get(int(u), set())
                topk[str(uid[u])] = [str(iid[i]) for i in row if int(i) not in drop][:length]
                profile_pop[str(uid[u])] = float(counts[view.seen[u]].mean()) if len(view.seen[u]) else 0.0
            groups = user_groups(self.users_table, list(topk))
        return RecOutputs(users=self.users, items=self.items, ratings=self.ratings, predictions=preds,
                          rating_min=self.rating_min, rating_max=self.rating_max, topk=topk,
                          item_counts={str(i): int(c) for i, c in zip(view.item_ids, counts)},
                          profile_pop=profile_pop, user_groups=groups, k=self.k, seed=view.seed,
                          cutoffs=(int(cut.group(1)),) if cut else (self.k,))

    def __call__(self, params: Mapping[str, Any]) -> float:
        from .metrics import NotApplicable, value

        out = self.outputs(params)
        try:
            return float(value(self.metric, out))
        except NotApplicable as exc:
            raise XRBenchError(f"metric '{self.metric}' cannot score {self.cls.__name__}: {exc}; tune on another "
                               "metric (--metric)") from None


# -- the study -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TuneResult:
    study: str
    storage: Path
    params_file: Path
    params: dict[str, Any]
    best_value: float
    default_value: float | None
    direction: str
    trials: int  # finished (complete + pruned)
    complete: int
    pruned: int
    failed: int
    ran: int  # trials run by this call
    resumed: int  # finished trials found in the study when this call started
    hash: str
    wall_s: float  # the finished trials' time, every session together
    session_s: float


def _sha256(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False,
                                     default=str).encode("utf-8")).hexdigest()




def _trial_seed(seed: int, k: int) -> int:
    """The sampler's seed for the study's k-th finished trial: the same whether or not the study was resumed."""
    return int.from_bytes(hashlib.sha256(f"xrbench-tune|{seed}|{k}".encode()).digest()[:4], "little")


@contextlib.contextmanager
def _study_lock(path: Path) -> Iterator[None]:
    """One ``xrbench tune`` per study at a time (a second one would see the first one's trials as interrupted).
    The lock goes with the process, however it ends (kill -9 too)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise XRBenchError(f"{path}: another xrbench tune is running this study; wait for it to finish (or stop "
                               "it), then run the command again to resume") from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise XRBenchError("xrbench tune needs Optuna: pip install 'xrbench[tune]' (optuna==5.0.0)") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def tune(dataset: str, method: str, *, trials: int, metric: str = "rmse", space: str | None = None, seed: int = 0,
         study_dir: str | Path = "results/tuning", out: str | Path | None = None,
         dataset_params: Mapping[str, Any] | None = None, data_path: Sequence[str] | None = None,
         split: str = "random", device: str = "cpu", kind: str = "recommender", progress: bool = True,
         allow_download: bool = True, paths: Any = None, folds: int = 5) -> TuneResult:
    """Run (or resume) the study of ``method`` on ``dataset`` until it has ``trials`` finished trials, and write
    the best params to ``out`` (default ``study_dir/<study>.params.yaml``)."""
    from . import __version__
    from .data.catalog import DataPaths, load_dataset
    from .metrics import info
    from .protocols import check_needs
    from .provenance import resolve_device
    from .registry import REGISTRY
    from .runner import validate
    from .specs import SEED, DatasetSpec, MethodSpec, RunSpec, _freeze, _label

    if kind != "recommender":
        raise XRBenchError(f"xrbench tune tunes recommenders (scored on validation ratings and rankings), not {kind}s")
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise XRBenchError(f"--trials must be an integer >= 1, got {_show(trials)}")
    SEED.check(seed, "seed", "--seed")
    device = resolve_device(device)
    dparams = dict(dataset_params or {})
    spec = RunSpec(DatasetSpec(dataset, _freeze(dparams)), MethodSpec(kind, method), seed, (metric,),
                   (("split", split),))
    if paths is None:  # (a suite's tuned run passes the runner's)
        paths = DataPaths.from_args(list(data_path or []), single_dataset=dataset, allow_download=allow_download)
    validate([spec], paths)  # names, dataset params, the metric's task, the split (a predefined fold), the seed
    m = info(metric)
    if not m.rankable or m.target is not None:
        raise XRBenchError(f"metric '{metric}' has no better direction (a signed gap or a target value); tune on "
                           "a metric that is lower- or higher-is-better, e.g. rmse or ndcg@10")
    direction = "minimize" if m.lower_is_better else "maximize"
    cls = REGISTRY.get(kind, method)
    the_space, space_source = load_space(space, kind, method, cls)
    optuna = _optuna()

    full = load_dataset(dataset, dparams, paths)
    if not hasattr(full, "interactions"):
        raise XRBenchError(f"dataset '{dataset}' is a generated causal task; xrbench tune tunes recommenders on "
                           "rating data")
    check_needs(kind, method, cls.needs, full.capabilities(), dataset)
    data = tuning_data(full, split, seed, folds)  # the test rows end here: nothing below sees them
    del full
    label = _label(dataset, _freeze(dparams))
    identity = {"dataset": label, "data_file_hash": data.data.file_hash, "split": split, "seed": seed,
                **({"split_hash": data.split_hash} if split == "kfold" else {}),
                "kind": kind, "method": method, "metric": metric, "space": space_hash(the_space)}
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{label}-{method}-{metric}-seed{seed}")[:100]
    study_name = f"{slug}-{_sha256(identity)[:10]}"
    study_dir = Path(study_dir)
    storage_path = (study_dir / f"{study_name}.db").resolve()
    out_path = Path(out) if out is not None else study_dir / f"{study_name}.params.yaml"
    t_session = time.perf_counter()

    with _study_lock(study_dir / f".{study_name}.lock"):
        storage = optuna.storages.RDBStorage(f"sqlite:///{storage_path}")
        from optuna.trial import TrialState

        pruner = optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS,
                                             n_warmup_steps=PRUNER_WARMUP_EPOCHS)
        study = optuna.create_study(study_name=study_name, storage=storage, direction=direction, pruner=pruner,
                                    sampler=optuna.samplers.TPESampler(seed=_trial_seed(seed, 0)),
                                    load_if_exists=True)
        interrupted = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        for t in interrupted:
            storage.set_trial_user_attr(t._trial_id, "xrbench", "interrupted (its process ended mid-trial); "
                                        "marked failed when the study resumed")
            storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
        done_states = (TrialState.COMPLETE, TrialState.PRUNED)
        if not study.get_trials(deepcopy=False, states=(*done_states, TrialState.WAITING)):
            # the first trial is the method's defaults (again if a kill interrupted it), so the best of a study is
            # never worse than the defaults on the validation rows
            defaults = cls.default_params()
            study.enqueue_trial({k: defaults[k] for k in the_space if k in defaults})
        finished = len(study.get_trials(deepcopy=False, states=done_states))
        if finished or interrupted:
            log.info("resuming study %s from %s: %d finished trial(s) kept%s; %d to run", study_name, storage_path,
                     finished, f", {len(interrupted)} interrupted trial(s) marked failed" if interrupted else "",
                     max(0, trials - finished))
        else:
            log.info("study %s (%s, %d trials, %s %s on the validation rows) in %s", study_name, space_source,
                     trials, direction, metric, storage_path)
        for key, v in {"identity": identity, "space": the_space}.items():
            if key not in study.user_attrs:
                study.set_user_attr(key, v)

        objective = Objective(cls, data, metric, device)
        if "default_value" not in study.user_attrs:  # the method's defaults, scored once per study
            study.set_user_attr("default_value", objective(cls.default_params()))
        default_value = study.user_attrs["default_value"]
        default_value = float(default_value) if default_value is not None and math.isfinite(default_value) else None

        from .baselines.training import EPOCH_CALLBACK

        def run_trial(trial: Any) -> float:
            params = suggest(trial, the_space)

            def report(epoch: int, rmse: float) -> None:
                trial.report(rmse, epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"epoch {epoch}: validation RMSE {rmse:.4f} worse than the median")

            token = EPOCH_CALLBACK.set(report if direction == "minimize" else None)
            try:
                return objective(params)
            finally:
                EPOCH_CALLBACK.reset(token)

        from tqdm.auto import tqdm

        resumed, ran, failed_now = finished, 0, 0
        bar = tqdm(total=trials, initial=min(finished, trials), desc=f"tune {method}", unit="trial",
                   disable=not progress, leave=False)
        try:
            while finished < trials:
                study.sampler = optuna.samplers.TPESampler(seed=_trial_seed(seed, finished))
                study.optimize(run_trial, n_trials=1, catch=())
                ran += 1
                last = study.get_trials(deepcopy=False)[-1]
                if last.state in done_states:
                    finished += 1
                    bar.update(1)
                    with contextlib.suppress(ValueError):
                        bar.set_postfix_str(f"best {metric} {study.best_value:.4f}")
                else:
                    failed_now += 1
                    log.warning("trial %d failed (%s is not a finite number for params %s)", last.number, metric,
                                last.params)
                    if failed_now > max(3, trials // 2):
                        raise XRBenchError(f"{failed_now} trials failed (no finite {metric}); check the search "
                                           "space's ranges")
        finally:
            bar.close()
        all_trials = study.get_trials(deepcopy=False)
        complete = [t for t in all_trials if t.state == TrialState.COMPLETE]
        if not complete:
            raise XRBenchError(f"study {study_name}: no trial completed (all were pruned or failed); run more trials")
        best = study.best_trial
        done = [t for t in all_trials if t.state in done_states]
        wall = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in done
                   if t.datetime_complete is not None and t.datetime_start is not None)
        facts = {"dataset": label, "dataset_params": dparams, "data_file_hash": data.data.file_hash,
                 "split": {"protocol": split, "seed": seed, "hash": data.split_hash},
                 "method": {"kind": kind, "name": method}, "space": the_space, "metric": metric,
                 "direction": direction, "trials": len(done),
                 "completed": sorted(([t.params, t.value] for t in complete), key=lambda x: json.dumps(x, sort_keys=True))}
        study_hash = _sha256(facts)
        params = {**cls.check_params(best.params, f"{kind} '{method}'")}
        result = TuneResult(study_name, storage_path, out_path, params, float(best.value), default_value, direction,
                            len(done), len(complete), len(done) - len(complete),
                            sum(t.state == TrialState.FAIL for t in all_trials), ran, resumed, study_hash,
                            round(wall, 3), round(time.perf_counter() - t_session, 3))
        tuning = {"hash": study_hash, "study": study_name, "dataset": label, "dataset_params": dparams,
                  "data_file_hash": data.data.file_hash,
                  "split": {"protocol": split, "seed": seed, "hash": data.split_hash,
                            "rows": {"train": data.sizes[0], "validation": data.sizes[1]}},
                  "scored_on": "validation", "metric": metric, "direction": direction,
                  "best_value": result.best_value, "default_value": default_value, "best_trial": best.number,
                  "trials": result.trials, "complete": result.complete, "pruned": result.pruned,
                  "failed": result.failed, "wall_s": result.wall_s, "space": the_space,
                  "sampler": f"TPE (seed {seed}, reseeded per trial)",
                  "pruner": f"median ({PRUNER_STARTUP_TRIALS} startup trials, {PRUNER_WARMUP_EPOCHS} warm-up epochs)",
                  "xrbench_version": __version__, "optuna_version": optuna.__version__}
        write_params_file(out_path, kind, method, params, tuning)
    if default_value is not None:
        better = (result.best_value < default_value) if direction == "minimize" else (result.best_value > default_value)
        log.info("best %s on the validation rows: %.5f (trial %d; the default params: %.5f, %s)", metric,
                 result.best_value, best.number, default_value, "tuned is better" if better else
                 "the defaults are as good or better: more trials or another space may help")
    log.info("params written to %s (use: xrbench run --dataset %s --%s %s --params-file %s)", out_path, label,
             kind, method, out_path)
    return result


# -- params files --------------------------------------------------------------------------------------------
def write_params_file(path: Path, kind: str, method: str, params: Mapping[str, Any], tuning: Mapping[str, Any]) -> None:
    from .data.io import atomic_write_bytes

    head = (f"# The best params of an xrbench tune study (scored on the validation rows). Use them with\n"
            f"#   xrbench run --dataset {tuning.get('dataset')} --{kind} {method} --params-file {path.name}\n")
    doc = {"format": PARAMS_FORMAT, "kind": kind, "method": method, "params": dict(params), "tuning": dict(tuning)}
    text = head + yaml.safe_dump(_plain(doc), sort_keys=False, allow_unicode=True, width=120)
    try:
        atomic_write_bytes(path, text.encode("utf-8"))
    except OSError as exc:
        raise XRBenchError(f"{exc.filename or path}: cannot write the params file ({exc.strerror or exc})") from None


def _plain(x: Any) -> Any:
    """Plain YAML types (numpy scalars and tuples made Python ones)."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


@dataclass(frozen=True)
class ParamsFile:
    path: str
    kind: str
    method: str
    params: dict[str, Any]
    tuning: dict[str, Any]

    @property
    def provenance(self) -> dict[str, Any]:
        """What a run's record gets: ``tuning`` with the study's hash, trials, wall time and what was scored."""
        t = self.tuning
        keep = ("hash", "study", "dataset", "split", "metric", "direction", "best_value", "default_value", "trials",
                "complete", "pruned", "wall_s")
        return {"tuning": {k: t[k] for k in keep if k in t} | {"params_file": Path(self.path).name}}


def read_params_file(path: str) -> ParamsFile:
    """A params file written by ``xrbench tune`` (one clear line for anything wrong with it)."""
    from .registry import REGISTRY
    from .specs import read_yaml_file

    p = Path(path)
    if not p.is_file():
        raise XRBenchError(f"{p}: params file not found (xrbench tune writes one)")
    d = read_yaml_file(p)
    if not isinstance(d, dict) or d.get("format") != PARAMS_FORMAT:
        raise XRBenchError(f"{p}: not an xrbench params file (expected 'format: {PARAMS_FORMAT}', as xrbench tune "
                           "writes)")
    for key, typ in (("kind", str), ("method", str), ("params", dict), ("tuning", dict)):
        if not isinstance(d.get(key), typ):
            raise XRBenchError(f"{p}: '{key}' must be a {'mapping' if typ is dict else 'string'}, got "
                               f"{_show(d.get(key))}")
    t = d["tuning"]
    if not (isinstance(t.get("hash"), str) and re.fullmatch(r"[0-9a-f]{64}", t["hash"])):
        raise XRBenchError(f"{p}: tuning.hash must be the study's sha256 (64 hex digits), got {_show(t.get('hash'))}")
    cls = REGISTRY.get(d["kind"], d["method"])
    params = cls.check_params(d["params"], f"{p}: {d['kind']} '{d['method']}'") if hasattr(cls, "check_params") \
        else dict(d["params"])
    return ParamsFile(str(p), d["kind"], d["method"], params, t)


def params_for_run(files: Sequence[str] | None, methods: Sequence[tuple[str, str]], params: Mapping[str, Any],
                   datasets: Sequence[str] | None = None) -> dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]]:
    """For ``xrbench run --params-file``: (kind, name) -> (the method's params from its file, the provenance
    its records get). Refused: a file for a method the run does not name, two files for one method, a key also
    given by ``--param``."""
    out: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]] = {}
    where: dict[tuple[str, str], str] = {}
    for f in files or []:
        pf = read_params_file(f)
        key = (pf.kind, pf.method)
        if key not in methods:
            raise XRBenchError(f"{f}: holds the params of {pf.kind} '{pf.method}', which this run does not name "
                               f"(add --{pf.kind} {pf.method})")
        if key in out:
            raise XRBenchError(f"--params-file {where[key]} and {f} both set the params of {pf.kind} '{pf.method}'; "
                               "give one")
        both = sorted(set(pf.params) & set(params))
        if both:
            raise XRBenchError(f"--param {both[0]}=... and --params-file {f} both set param '{both[0]}' of "
                               f"{pf.kind} '{pf.method}'; give it once")
        tuned_on = pf.tuning.get("dataset")
        if datasets and tuned_on and any(d != tuned_on for d in datasets):
            log.warning("%s was tuned on dataset %s; this run uses %s", f, tuned_on, ", ".join(datasets))
        out[key], where[key] = (pf.params, pf.provenance), f
    return out

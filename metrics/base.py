"""How a metric is declared: ``@metric(key, task=...)`` registers a function of the task's outputs.

A metric is written once. It returns a float, a :class:`MetricValue`, or, when it decomposes over
units (users, pairs, evaluation rows), the per-unit sufficient statistics (:class:`Units`): its value is
then ``finish`` of their column sums, and its bootstrap replicates ``finish`` of resampled sums."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from xrbench.registry import REGISTRY

from . import uncertainty
from .uncertainty import Units


@dataclass(frozen=True)
class MetricValue:
    """A value with an optional 95% interval and a note (e.g. which groups a gap compares)."""

    value: float
    interval: tuple[float, float] | None = None
    note: str | None = None


class NotApplicable(Exception):
    """Raised by a metric whose inputs are absent (e.g. references for BLEU); recorded with the reason."""


class NotRequested(NotApplicable):
    """Raised by a metric the run did not ask for (e.g. ``ndcg@50`` when the cutoffs are 5, 10, 20): left out
    of the record without a note when the metrics were not named, recorded like :class:`NotApplicable` when
    they were."""


@dataclass(frozen=True)
class MetricInfo:
    key: str
    task: str
    fn: Callable[[Any], float | MetricValue | Units]
    lower_is_better: bool = False
    default: bool = True  # computed when a suite does not list its metrics
    group: str = ""  # the leaderboard table the column goes in
    rankable: bool = True  # False for signed gaps: no "best" in that column
    doc: str = field(default="", compare=False)
    target: float | None = None  # ranked by distance from this value (e.g. a coverage's nominal 0.95)
    binomial: bool = False  # per-seed values are 0/1 outcomes: the board's interval is the exact binomial one


@dataclass(frozen=True)
class Evaluated:
    """A metric on one run's outputs; ``replicates`` and ``units_hash`` when it decomposes over units."""

    value: float
    interval: tuple[float, float] | None
    note: str | None
    replicates: np.ndarray | None
    units_hash: str | None


def metric(key: str, *, task: str, lower_is_better: bool = False, default: bool = True, group: str = "",
           rankable: bool = True, target: float | None = None, binomial: bool = False):
    """Register ``fn(outputs) -> float | MetricValue | Units`` as metric ``key``. ``target``: the column is
    ranked by the distance of a method's mean from it; ``binomial``: each run gives a 0/1 outcome, and the
    board's interval for a method is the exact (Clopper-Pearson) one over its seeds."""
    if target is not None and lower_is_better:
        raise ValueError(f"metric {key}: give either a target or lower_is_better, not both")
    def deco(fn: Callable[[Any], float | MetricValue | Units]) -> Callable[[Any], float | MetricValue | Units]:
        info = MetricInfo(key, task, fn, lower_is_better, default, group or task, rankable, (fn.__doc__ or "").strip(),
                          target, binomial)
        REGISTRY.add("metric", key, info, task=task, lower_is_better=lower_is_better)
        return fn
    return deco


def info(key: str) -> MetricInfo:
    return REGISTRY.get("metric", key)


def _info(key_or_info: str | MetricInfo) -> MetricInfo:
    return key_or_info if isinstance(key_or_info, MetricInfo) else info(key_or_info)


def _finish_sums(u: Units) -> float:
    """``finish`` of the column sums, the units summed in the order ``uncertainty.replicates`` sorts them."""
    order = np.argsort(np.asarray(u.ids, dtype=str), kind="stable")
    values = np.asarray(u.values, dtype=np.float64)[order]
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.asarray(u.finish(values.sum(axis=0)[None, :]), dtype=np.float64)[0])


def evaluate(key_or_info: str | MetricInfo, outputs: Any, resample_key: str) -> Evaluated:
    """The metric on ``outputs`` with its interval and note; for a metric over units also its bootstrap
    replicates, seeded by ``resample_key|key`` and the unit ids (none when the value is not finite).
    Raises :class:`NotApplicable` when the metric's inputs are absent."""
    m = _info(key_or_info)
    v = m.fn(outputs)
    if isinstance(v, MetricValue):
        return Evaluated(float(v.value), v.interval, v.note, None, None)
    if not isinstance(v, Units):
        return Evaluated(float(v), None, None, None, None)
    value = _finish_sums(v)
    if not np.isfinite(value):
        return Evaluated(value, None, v.note, None, None)
    reps, uh = uncertainty.replicates(v, f"{resample_key}|{m.key}")
    return Evaluated(value, uncertainty.percentile_interval(reps), v.note, reps, uh)


def value(key: str | MetricInfo, outputs: Any) -> float:
    """The metric's value on ``outputs`` (no replicates)."""
    v = _info(key).fn(outputs)
    if isinstance(v, MetricValue):
        return float(v.value)
    return _finish_sums(v) if isinstance(v, Units) else float(v)


def keys_for(task: str, *, defaults_only: bool = True) -> list[str]:
    out = []
    for name in REGISTRY.in_order("metric"):
        m = info(name)
        if m.task == task and (m.default or not defaults_only):
            out.append(name)
    return out

"""How a metric is declared: ``@metric(key, task=...)`` registers a function of the task's outputs."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from xrbench.registry import REGISTRY

TASKS = ("recommend", "explain", "estimate")


@dataclass(frozen=True)
class MetricValue:
    """A value with an optional 95% interval and a note (e.g. which groups a gap compares)."""

    value: float
    interval: tuple[float, float] | None = None
    note: str | None = None


class NotApplicable(Exception):
    """Raised by a metric whose inputs are absent (e.g. references for BLEU); recorded with the reason."""


@dataclass(frozen=True)
class MetricInfo:
    key: str
    task: str
    fn: Callable[[Any], float | MetricValue]
    lower_is_better: bool = False
    default: bool = True  # computed when a suite does not list its metrics
    group: str = ""  # the leaderboard table the column goes in
    rankable: bool = True  # False for signed gaps: no "best" in that column
    units: Callable[[Any], Any] | None = None  # per-unit sufficient statistics (metrics.uncertainty.Units)
    doc: str = field(default="", compare=False)


def metric(key: str, *, task: str, lower_is_better: bool = False, default: bool = True, group: str = "",
           rankable: bool = True, units: Callable[[Any], Any] | None = None):
    """Register ``fn(outputs) -> float`` as metric ``key``. ``units(outputs)`` (optional) gives the
    per-unit statistics its bootstrap interval and paired tests are computed from."""
    def deco(fn: Callable[[Any], float | MetricValue]) -> Callable[[Any], float | MetricValue]:
        info = MetricInfo(key, task, fn, lower_is_better, default, group or task, rankable, units,
                          (fn.__doc__ or "").strip())
        REGISTRY.add("metric", key, info, task=task, lower_is_better=lower_is_better)
        return fn
    return deco


def info(key: str) -> MetricInfo:
    return REGISTRY.get("metric", key)


def lower_is_better(key: str) -> bool:
    try:
        return info(key).lower_is_better
    except Exception:
        return False


def keys_for(task: str, *, defaults_only: bool = True) -> list[str]:
    out = []
    for name in REGISTRY.in_order("metric"):
        m = info(name)
        if m.task == task and (m.default or not defaults_only):
            out.append(name)
    return out

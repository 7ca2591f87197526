"""Compute a task's metrics from its outputs (used by the runner and by ``xrbench rescore``)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .errors import XRBenchError
from .metrics import MetricValue, NotApplicable, info, keys_for


@dataclass
class Scores:
    metrics: dict[str, float] = field(default_factory=dict)
    intervals: dict[str, list[float]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def check_metric_keys(task: str, keys: tuple[str, ...] | None) -> None:
    for k in keys or ():
        m = info(k)  # unknown keys fail here with close matches
        if m.task != task:
            raise XRBenchError(f"metric '{k}' belongs to the {m.task} task, not {task}")


def score(task: str, outputs: Any, keys: tuple[str, ...] | None = None) -> Scores:
    s = Scores()
    for key in keys or keys_for(task):
        m = info(key)
        try:
            v = m.fn(outputs)
        except NotApplicable as exc:
            s.skipped[key] = f"not applicable: {exc}"
            continue
        if isinstance(v, MetricValue):
            if v.interval is not None:
                s.intervals[key] = [v.interval[0], v.interval[1]]
            if v.note:
                s.notes[key] = v.note
            v = v.value
        v = float(v)
        if not math.isfinite(v):
            s.skipped[key] = "undefined on these outputs (no eligible users or pairs)"
            continue
        s.metrics[key] = v
    return s

"""Compute a task's metrics from its outputs (used by the runner and by ``xrbench rescore``)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .errors import XRBenchError
from .metrics import NotApplicable, NotRequested, evaluate, info, keys_for
from .metrics import uncertainty

BOOTSTRAP_SCHEME = (f"nonparametric bootstrap over units (users, pairs or evaluation rows) within a seed, "
                    f"{uncertainty.N_REPLICATES} resamples drawn from (dataset, seed, metric, unit ids) so that "
                    "methods scored on the same units are paired")


@dataclass
class Scores:
    metrics: dict[str, float] = field(default_factory=dict)
    intervals: dict[str, list[float]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    replicates: dict[str, tuple[Any, str]] = field(default_factory=dict)  # key -> (replicates, units hash)

    @property
    def bootstrap(self) -> dict[str, Any]:
        return uncertainty.pack(self.replicates)


def check_metric_keys(task: str, keys: tuple[str, ...] | None) -> None:
    for k in keys or ():
        m = info(k)  # unknown keys fail here with close matches
        if m.task != task:
            raise XRBenchError(f"metric '{k}' belongs to the {m.task} task, not {task}")


def score(task: str, outputs: Any, keys: tuple[str, ...] | None = None, resample_key: str = "") -> Scores:
    """Metrics (and, for decomposable ones, bootstrap replicates and a 95% interval) of ``outputs``.
    ``resample_key`` (dataset and seed) seeds the resampling: same key and units -> same resamples."""
    s = Scores()
    for key in keys or keys_for(task):
        try:
            e = evaluate(key, outputs, resample_key)
        except NotRequested as exc:
            if keys:  # named by the suite or --metrics: say why it is absent
                s.skipped[key] = f"not applicable: {exc}"
            continue
        except NotApplicable as exc:
            s.skipped[key] = f"not applicable: {exc}"
            continue
        if e.interval is not None:
            s.intervals[key] = [e.interval[0], e.interval[1]]
        if e.note:
            s.notes[key] = e.note
        if not math.isfinite(e.value):
            s.skipped[key] = "undefined on these outputs (no eligible users or pairs)"
            continue
        s.metrics[key] = e.value
        if e.replicates is not None and e.units_hash is not None:
            s.replicates[key] = (e.replicates, e.units_hash)
    return s


def resample_key(dataset: str, split_protocol: str | None, seed: int) -> str:
    """What seeds a run's bootstrap resamples: (dataset label, split protocol, seed); runs without a split
    (the estimate task) use "random", as records of schema 1 did."""
    return f"{dataset}|{split_protocol or 'random'}|{seed}"

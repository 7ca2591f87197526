"""Rating accuracy (metrics.md, "Rating accuracy")."""
from __future__ import annotations

import numpy as np

from .base import metric
from .outputs import RecOutputs


@metric("rmse", task="recommend", group="accuracy", lower_is_better=True)
def rmse(out: RecOutputs) -> float:
    """`rmse` (↓) = sqrt(mean((clip(p) - r)^2)); predictions clipped to the dataset's [min, max] rating."""
    p, r = out.clipped_predictions(), out.ratings
    return float(np.sqrt(np.mean((p - r) ** 2)))


@metric("mae", task="recommend", group="accuracy", lower_is_better=True)
def mae(out: RecOutputs) -> float:
    """`mae` (↓) = mean(abs(clip(p) - r))."""
    return float(np.mean(np.abs(out.clipped_predictions() - out.ratings)))

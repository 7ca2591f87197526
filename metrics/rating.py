"""Rating accuracy (metrics.md, "Rating accuracy")."""
from __future__ import annotations

import numpy as np

from .base import metric
from .outputs import RecOutputs
from .uncertainty import Units, ratio


def per_user_errors(out: RecOutputs, squared: bool) -> Units:
    """Per test user: [sum of squared (or absolute) clipped errors, number of ratings]."""
    err = out.clipped_predictions() - out.ratings
    e = err ** 2 if squared else np.abs(err)
    users, inv = np.unique(out.users, return_inverse=True)
    stats = np.column_stack([np.bincount(inv, weights=e), np.bincount(inv)])
    return Units(users, stats, (lambda c: np.sqrt(ratio(c))) if squared else ratio)


@metric("rmse", task="recommend", group="accuracy", lower_is_better=True, units=lambda o: per_user_errors(o, True))
def rmse(out: RecOutputs) -> float:
    """`rmse` (↓) = sqrt(mean((clip(p) - r)^2)); predictions clipped to the dataset's [min, max] rating."""
    p, r = out.clipped_predictions(), out.ratings
    return float(np.sqrt(np.mean((p - r) ** 2)))


@metric("mae", task="recommend", group="accuracy", lower_is_better=True, units=lambda o: per_user_errors(o, False))
def mae(out: RecOutputs) -> float:
    """`mae` (↓) = mean(abs(clip(p) - r))."""
    return float(np.mean(np.abs(out.clipped_predictions() - out.ratings)))

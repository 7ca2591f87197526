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


@metric("rmse", task="recommend", group="accuracy", lower_is_better=True)
def rmse(out: RecOutputs) -> Units:
    """`rmse` (↓) = sqrt(mean((clip(p) - r)^2)); predictions clipped to the dataset's [min, max] rating."""
    return per_user_errors(out, squared=True)


@metric("mae", task="recommend", group="accuracy", lower_is_better=True)
def mae(out: RecOutputs) -> Units:
    """`mae` (↓) = mean(abs(clip(p) - r))."""
    return per_user_errors(out, squared=False)

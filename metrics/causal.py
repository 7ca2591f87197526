"""Causal estimators against semi-synthetic ground truth (metrics.md, "Causal estimators")."""
from __future__ import annotations

import numpy as np

from .base import NotApplicable, metric
from .outputs import CausalOutputs
from .uncertainty import Units, ratio


def _rows(out: CausalOutputs, v: np.ndarray, finish) -> Units:
    return Units([str(i) for i in range(len(v))], np.column_stack([v, np.ones(len(v))]), finish)


@metric("pehe", task="estimate", group="estimation", lower_is_better=True)
def pehe(out: CausalOutputs) -> Units:
    """`pehe` (↓) = sqrt(mean((tau_hat(x) - tau(x))^2))."""
    return _rows(out, (out.tau_hat - out.tau) ** 2, lambda c: np.sqrt(ratio(c)))


@metric("ate_abs_bias", task="estimate", group="estimation", lower_is_better=True)
def ate_abs_bias(out: CausalOutputs) -> Units:
    """`ate_abs_bias` (↓) = |mean tau_hat - mean tau|."""
    return _rows(out, out.tau_hat - out.tau, lambda c: np.abs(ratio(c)))


@metric("ci_coverage", task="estimate", group="estimation", target=0.95, binomial=True)
def ci_coverage(out: CausalOutputs) -> float:
    """`ci_coverage` (→ 0.95): 1 when this replication's 95% ATE interval covers the true ATE, else 0; its
    mean over replications (seeds) is the share the spec defines, shown with its exact binomial interval and
    ranked by its distance from the nominal 0.95 (too wide an interval is no better than too narrow). Only
    for estimators with intervals."""
    if out.ate_interval is None:
        raise NotApplicable("the estimator gives no ATE interval")
    lo, hi = out.ate_interval
    return float(lo <= out.tau.mean() <= hi)


@metric("policy_regret", task="estimate", group="estimation", lower_is_better=True)
def policy_regret(out: CausalOutputs) -> Units:
    """`policy_regret` (↓) = mean(tau · (1[tau>0] - 1[tau_hat>0]))."""
    return _rows(out, out.tau * ((out.tau > 0).astype(float) - (out.tau_hat > 0).astype(float)), ratio)


@metric("r_loss", task="estimate", group="model selection", lower_is_better=True)
def r_loss(out: CausalOutputs) -> Units:
    """`r_loss` (↓): the R-score on held-out rows, mean(((Y - m(X)) - (T - e(X)) tau_hat(X))^2), with m and e
    cross-fitted on the evaluation rows (the same for every estimator). Needs no ground truth, so it can
    select an estimator; the leaderboard says whether it picks the one true PEHE picks."""
    if out.y_res is None or out.t_res is None:
        raise NotApplicable("no held-out nuisance residuals in this run")
    return _rows(out, (out.y_res - out.t_res * out.tau_hat) ** 2, ratio)


@metric("placebo_ate", task="estimate", group="model selection", lower_is_better=True)
def placebo_ate(out: CausalOutputs) -> float:
    """`placebo_ate` (↓): |ATE| of the estimator refitted with the treatment randomly permuted (2,000-row
    subsample of the estimation part): near 0 for an estimator that does not invent effects."""
    if out.placebo_ate is None:
        raise NotApplicable("no placebo refit in this run")
    return abs(float(out.placebo_ate))

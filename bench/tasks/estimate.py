"""The estimate task: fit a CATE estimator on one replication of a semi-synthetic problem with a known
effect, estimate per-unit effects on its evaluation part, and refit on a permuted treatment (placebo)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data.semisynth import SPEC_VERSION, CausalProblem
from ..metrics.outputs import CausalOutputs
from ..protocols import CausalEstimator
from ..registry import register
from .base import Options, RunContext, Task, TaskResult, option


@dataclass(frozen=True, kw_only=True)
class EstimateOptions(Options):
    placebo_rows: int = option(2000, ge=1)  # the placebo refit's subsample of the estimation part (bounds its cost)


@register("task", "estimate")
class EstimateTask(Task):
    name = "estimate"
    title = "Causal estimation"
    method_kind = "estimator"
    protocol = CausalEstimator
    options = EstimateOptions
    outputs = CausalOutputs
    order = 2
    plot_axes = ("ate_abs_bias", "pehe")

    def run(self, model: CausalEstimator, data: CausalProblem, options: EstimateOptions,
            ctx: RunContext) -> TaskResult:
        rep = data.replication(ctx.seed)
        model.fit(rep.X_train, rep.T_train, rep.Y_train, ctx.seed)
        tau_hat = np.asarray(model.effect(rep.X_eval), dtype=float).reshape(-1)
        ci = model.ate_interval(rep.X_eval)
        # Placebo: the same estimator refitted with the treatment permuted; its ATE should be near 0.
        rng = np.random.default_rng(ctx.seed + 10_000)
        sub = rng.choice(len(rep.T_train), min(options.placebo_rows, len(rep.T_train)), replace=False)
        placebo = type(model)(**model.params)
        with warnings.catch_warnings():  # only the point estimate is used: EconML's inference warnings do not apply
            warnings.simplefilter("ignore")
            placebo.fit(rep.X_train[sub], rng.permutation(rep.T_train[sub]), rep.Y_train[sub], ctx.seed)
            placebo_ate = float(np.mean(placebo.effect(rep.X_eval)))
        y_res, t_res = data.residuals(rep, ctx.seed)
        out = CausalOutputs(tau_hat, rep.tau_eval, ci, ctx.seed, placebo_ate, int(len(sub)), y_res, t_res)
        return TaskResult(out, None, {"generated_data_hash": rep.data_hash, "spec_version": SPEC_VERSION,
                                      "problem": {"gamma": data.gamma, "variant": data.variant}})

    def board_notes(self, board: Any, records: list[Any]) -> list[str]:
        """Does the R-score (computable without the true effect) pick the estimator the true PEHE picks?"""
        if "r_loss" not in board.keys or "pehe" not in board.keys:
            return []
        by = {k: min((c.mean, m) for m in board.methods for c in (board.cells[(m, k)],) if c.values)[1]
              for k in ("r_loss", "pehe")}
        return [f"model selection: the lowest r_loss picks {by['r_loss']}, the lowest true pehe picks "
                f"{by['pehe']} ({'agree' if by['r_loss'] == by['pehe'] else 'disagree'})"]

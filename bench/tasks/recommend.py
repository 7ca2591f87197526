"""The recommend task: fit a recommender on the train split, predict the test ratings, rank top-K unseen items."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data.schema import Dataset
from ..data.split import PROTOCOLS
from ..metrics.outputs import RecOutputs
from ..metrics.ranking import CUTOFFS
from ..params import Param
from ..protocols import Recommender
from ..registry import register
from .base import Options, RunContext, Section, Task, TaskResult, option, split_and_view


@dataclass(frozen=True, kw_only=True)
class RecommendOptions(Options):
    split: str = option("random", choices=PROTOCOLS)  # random | leave-last-out | predefined | kfold
    folds: int = option(5, ge=2, le=100)  # kfold: the number of folds (seed s is fold s mod folds)
    k: int = option(10, ge=1)  # the list length K of the popularity and fairness metrics (metrics.md: 10)
    #: the cutoffs of ndcg/recall/precision/mrr/hit (lists are ranked to the largest of these and K)
    cutoffs: tuple = option((5, 10, 20), each=Param(int, choices=CUTOFFS))


def user_groups(users_table: Any, users: list[str]) -> dict[str, dict[str, Any]]:
    """Each user's gender and age group (<25 / >=25) where the dataset states them."""
    gender = users_table["gender"].to_dict() if "gender" in users_table else {}
    age = users_table["age"].to_dict() if "age" in users_table else {}
    out: dict[str, dict[str, Any]] = {}
    for u in users:
        g: dict[str, Any] = {}
        if u in gender:
            g["gender"] = str(gender[u])
        if u in age:
            g["age_group"] = "<25" if float(age[u]) < 25 else ">=25"
        out[u] = g
    return out


@register("task", "recommend")
class RecommendTask(Task):
    name = "recommend"
    title = "Recommendation"
    method_kind = "recommender"
    protocol = Recommender
    options = RecommendOptions
    outputs = RecOutputs
    order = 0
    plot_axes = ("ndcg@10", "rmse")

    def run(self, model: Recommender, data: Dataset, options: RecommendOptions, ctx: RunContext) -> TaskResult:
        split, view, _ = split_and_view(data, options.split, ctx, options.folds)
        model.bind(view)
        model.fit(view)
        test = data.interactions.iloc[split.test]
        uidx = test["user"].map(view.user_index).to_numpy(dtype=np.int64)
        iidx = test["item"].map(view.item_index).to_numpy(dtype=np.int64)
        preds = np.asarray(model.predict(uidx, iidx), dtype=float) if model.predicts_ratings else None
        eval_users = np.unique(uidx)
        top = model.rank(eval_users, max(options.k, *options.cutoffs), exclude_seen=True)
        uid, iid = view.user_ids, view.item_ids
        counts = view.train_item_counts
        topk = {str(uid[u]): [str(iid[i]) for i in row] for u, row in zip(eval_users, top)}
        profile_pop = {str(uid[u]): float(counts[view.seen[u]].mean()) if len(view.seen[u]) else 0.0
                       for u in eval_users}
        out = RecOutputs(test["user"].to_numpy(str), test["item"].to_numpy(str), test["rating"].to_numpy(float),
                         preds, data.rating_min, data.rating_max, topk, {str(i): int(c) for i, c in zip(iid, counts)},
                         profile_pop, user_groups(data.users, list(topk)), options.k, ctx.seed,
                         tuple(options.cutoffs))
        return TaskResult(out, split, {"k": options.k, "cutoffs": list(options.cutoffs)})

    def board_sections(self, board: Any, records: list[Any]) -> list[Section]:
        """Tuned vs default: for each ``NAME[tuned]`` row beside a ``NAME`` row, the study's cost (finished
        trials, wall time per seed) and the tuning metric on the validation rows (default params -> best)
        and on the test rows (the board's cells)."""
        return tuning_sections(board, records)


def tuning_sections(board: Any, records: list[Any]) -> list[Section]:
    from ..leaderboard import cell_text, fmt_number, header

    studies: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        t = (r.provenance or {}).get("tuning")
        if r.status == "ok" and isinstance(t, dict) and r.method_label.endswith("[tuned]"):
            studies.setdefault(r.method_label, []).append(t)
    rows = []
    for label in sorted(studies):
        ts = studies[label]
        default = label[: -len("[tuned]")]
        metric = ts[0].get("metric", "")

        def mean(key: str) -> float | None:
            vals = [float(t[key]) for t in ts if isinstance(t.get(key), (int, float))]
            return sum(vals) / len(vals) if vals else None

        def show(x: float | None) -> str:
            return "—" if x is None else fmt_number(x)

        def test_cell(meth: str) -> str:
            return cell_text(board, meth, metric)[0] if (meth, metric) in board.cells else "—"
        wall = mean("wall_s")
        trials = mean("trials")
        rows.append([default, header(metric) if metric else "—", "—" if trials is None else f"{trials:g}",
                     "—" if wall is None else f"{wall:.0f}", show(mean("default_value")), show(mean("best_value")),
                     test_cell(default), test_cell(label)])
    if not rows:
        return []
    return [Section("tuned vs default", ["method", "metric", "trials", "tuning s / seed", "valid: default",
                                        "valid: tuned", "test: default", "test: tuned"], rows,
                    "xrbench tune (Optuna TPE, seeded; median pruning of early-stopped models) on each seed's own "
                    "split: trials fit on the train rows and are scored on the validation rows, never the test "
                    "rows; means over seeds; the tuned row's record names the study (provenance.tuning)")]

"""The recommend task: fit a recommender on the train split, predict the test ratings, rank top-K unseen items."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data.schema import Dataset
from ..data.split import PROTOCOLS
from ..metrics.outputs import RecOutputs
from ..protocols import Recommender
from ..registry import register
from .base import Options, RunContext, Task, TaskResult, option, split_and_view


@dataclass(frozen=True, kw_only=True)
class RecommendOptions(Options):
    split: str = option("random", choices=PROTOCOLS)  # random | leave-last-out | predefined
    k: int = option(10, ge=1)  # the length of the ranked lists


def user_groups(users_table: Any, users: list[str]) -> dict[str, dict[str, Any]]:
    """Each user's gender and age group (<25 / >=25) where the dataset states them."""
    out: dict[str, dict[str, Any]] = {}
    for u in users:
        g: dict[str, Any] = {}
        if "gender" in users_table and u in users_table.index:
            g["gender"] = str(users_table.at[u, "gender"])
        if "age" in users_table and u in users_table.index:
            g["age_group"] = "<25" if float(users_table.at[u, "age"]) < 25 else ">=25"
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
        split, view, _ = split_and_view(data, options.split, ctx)
        model.bind(view)
        model.fit(view)
        test = data.interactions.iloc[split.test]
        uidx = test["user"].map(view.user_index).to_numpy(dtype=np.int64)
        iidx = test["item"].map(view.item_index).to_numpy(dtype=np.int64)
        preds = np.asarray(model.predict(uidx, iidx), dtype=float) if model.predicts_ratings else None
        eval_users = np.unique(uidx)
        top = model.rank(eval_users, options.k, exclude_seen=True)
        uid, iid = view.user_ids, view.item_ids
        counts = view.train_item_counts
        topk = {str(uid[u]): [str(iid[i]) for i in row] for u, row in zip(eval_users, top)}
        profile_pop = {str(uid[u]): float(counts[view.seen[u]].mean()) if len(view.seen[u]) else 0.0
                       for u in eval_users}
        out = RecOutputs(test["user"].to_numpy(str), test["item"].to_numpy(str), test["rating"].to_numpy(float),
                         preds, data.rating_min, data.rating_max, topk, {str(i): int(c) for i, c in zip(iid, counts)},
                         profile_pop, user_groups(data.users, list(topk)), options.k, ctx.seed)
        return TaskResult(out, split, {"k": options.k})

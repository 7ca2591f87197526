"""Top-K ranking accuracy (metrics.md: ranking over all items the user has not rated in train;
relevant = test rating >= 4). Users with no relevant test item are not counted."""
from __future__ import annotations

import numpy as np

from .base import metric
from .outputs import RecOutputs
from .uncertainty import Units, ratio


def per_user_units(values: dict[str, float]) -> Units:
    ids = list(values)
    return Units(ids, np.column_stack([[values[u] for u in ids], np.ones(len(ids))]), ratio)


def per_user_ndcg(out: RecOutputs, k: int = 10) -> dict[str, float]:
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    res = {}
    for u, rel in out.relevant.items():
        if not rel:
            continue
        top = out.topk.get(u)
        if top is None:
            continue
        gains = np.array([1.0 if i in rel else 0.0 for i in top[:k]])
        dcg = float((gains * discounts[:len(gains)]).sum())
        idcg = float(discounts[:min(len(rel), k)].sum())
        res[u] = dcg / idcg
    return res


def per_user_recall(out: RecOutputs, k: int = 10) -> dict[str, float]:
    return {u: len(rel.intersection(out.topk[u][:k])) / len(rel)
            for u, rel in out.relevant.items() if rel and u in out.topk}


@metric("ndcg@10", task="recommend", group="accuracy")
def ndcg_at_10(out: RecOutputs) -> Units:
    """`ndcg@10`: binary-relevance NDCG of the top 10 unseen items, IDCG over min(|relevant|, 10)."""
    return per_user_units(per_user_ndcg(out, 10))


@metric("recall@10", task="recommend", group="accuracy")
def recall_at_10(out: RecOutputs) -> Units:
    """`recall@10`: |top-10 ∩ relevant| / |relevant|, averaged over users with a relevant test item."""
    return per_user_units(per_user_recall(out, 10))

"""Top-K ranking accuracy (metrics.md: ranking over all items the user has not rated in train;
relevant = test rating >= 4). Users with no relevant test item are not counted.

Each family (``ndcg``, ``recall``, ``precision``, ``mrr``, ``hit``) is registered at the cutoffs of
:data:`CUTOFFS` (``ndcg@5``, ``ndcg@10``, ...). A run computes the cutoffs it was asked for (the recommend
task's ``cutoffs`` option, ``--k 5 10 20``; the lists are ranked to the largest): the others raise
:class:`NotRequested` and are left out of its record without a note."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .base import NotRequested, metric
from .outputs import RecOutputs
from .uncertainty import Units, ratio

#: the cutoffs a ranking metric can be asked for (a fixed set: metric keys, columns and records stay comparable)
CUTOFFS = (1, 3, 5, 10, 20, 50, 100)


def per_user_units(values: dict[str, float]) -> Units:
    ids = list(values)
    return Units(ids, np.column_stack([[values[u] for u in ids], np.ones(len(ids))]), ratio)


def _evaluated(out: RecOutputs, k: int) -> list[tuple[str, set[str], list[str]]]:
    """(user, relevant items, top-k list) of the users with a relevant test item and a ranked list."""
    res = []
    for u, rel in out.relevant.items():
        if not rel:
            continue
        top = out.topk.get(u)
        if top is None:
            continue
        res.append((u, rel, top[:k]))
    return res


def per_user_ndcg(out: RecOutputs, k: int = 10) -> dict[str, float]:
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    res = {}
    for u, rel, top in _evaluated(out, k):
        gains = np.array([1.0 if i in rel else 0.0 for i in top])
        dcg = float((gains * discounts[:len(gains)]).sum())
        idcg = float(discounts[:min(len(rel), k)].sum())
        res[u] = dcg / idcg
    return res


def per_user_recall(out: RecOutputs, k: int = 10) -> dict[str, float]:
    return {u: len(rel.intersection(top)) / len(rel) for u, rel, top in _evaluated(out, k)}


def per_user_precision(out: RecOutputs, k: int = 10) -> dict[str, float]:
    return {u: len(rel.intersection(top)) / k for u, rel, top in _evaluated(out, k)}


def per_user_mrr(out: RecOutputs, k: int = 10) -> dict[str, float]:
    def rr(rel: set[str], top: list[str]) -> float:
        for pos, i in enumerate(top, start=1):
            if i in rel:
                return 1.0 / pos
        return 0.0
    return {u: rr(rel, top) for u, rel, top in _evaluated(out, k)}


def per_user_hit(out: RecOutputs, k: int = 10) -> dict[str, float]:
    return {u: 1.0 if rel.intersection(top) else 0.0 for u, rel, top in _evaluated(out, k)}


def _requested(out: RecOutputs, k: int) -> None:
    if k not in out.cutoffs:
        raise NotRequested(f"cutoff {k} was not requested (cutoffs {list(out.cutoffs)}; rerun with --k ... {k})")


_DOCS = {
    "ndcg": "binary-relevance NDCG of the top {k} unseen items, IDCG over min(|relevant|, {k})",
    "recall": "|top-{k} ∩ relevant| / |relevant|",
    "precision": "|top-{k} ∩ relevant| / {k}",
    "mrr": "1 / rank of the first relevant item in the top {k} (0 when none)",
    "hit": "1 when the top {k} hold a relevant item, else 0",
}
_PER_USER: dict[str, Callable[[RecOutputs, int], dict[str, float]]] = {
    "ndcg": per_user_ndcg, "recall": per_user_recall, "precision": per_user_precision, "mrr": per_user_mrr,
    "hit": per_user_hit}


def _register(family: str, k: int) -> None:
    per_user = _PER_USER[family]

    def fn(out: RecOutputs) -> Units:
        _requested(out, k)
        return per_user_units(per_user(out, k))

    fn.__name__ = f"{family}_at_{k}"
    fn.__doc__ = f"`{family}@{k}`: {_DOCS[family].format(k=k)}, averaged over users with a relevant test item."
    metric(f"{family}@{k}", task="recommend", group="accuracy")(fn)


for _family in _PER_USER:
    for _k in CUTOFFS:
        _register(_family, _k)

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


def _hits(out: RecOutputs, length: int) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(users, hits, |relevant|, list lengths) of the users with a relevant test item and a ranked list, in
    ``out.relevant``'s order: ``hits[r, j]`` is 1.0 when user r's item at rank j + 1 is relevant (0.0 past the
    end of a shorter list). Built once per outputs and length (every family and cutoff reads it)."""
    cache = out.__dict__.setdefault("_ranking_hits", {})
    if length not in cache:
        users, rows, n_rel, lengths = [], [], [], []
        for u, rel in out.relevant.items():
            top = out.topk.get(u) if rel else None
            if top is None:
                continue
            top = top[:length]
            users.append(u)
            rows.append([i in rel for i in top] + [False] * (length - len(top)))
            n_rel.append(len(rel))
            lengths.append(len(top))
        cache[length] = (users, np.array(rows, dtype=np.float64).reshape(len(rows), length),
                         np.array(n_rel, dtype=np.int64), np.array(lengths, dtype=np.int64))
    return cache[length]


def _at(out: RecOutputs, k: int) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(users, hits in the top k, |relevant|, how many relevant items the top k hold)."""
    users, hits, n_rel, _ = _hits(out, max(out.list_length, k))
    top = hits[:, :k]
    return users, top, n_rel, top.sum(axis=1)


def per_user_ndcg(out: RecOutputs, k: int = 10) -> dict[str, float]:
    users, hits, n_rel, lengths = _hits(out, max(out.list_length, k))
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    idcg = np.array([0.0] + [float(discounts[:m].sum()) for m in range(1, k + 1)])  # IDCG of m relevant items
    dcg = (hits[:, :k] * discounts).sum(axis=1)
    for r in np.flatnonzero(lengths < k):  # a list shorter than k: summed over its own length, as one user's sum
        dcg[r] = float((hits[r, :lengths[r]] * discounts[:lengths[r]]).sum())
    return dict(zip(users, (dcg / idcg[np.minimum(n_rel, k)]).tolist()))


def per_user_recall(out: RecOutputs, k: int = 10) -> dict[str, float]:
    users, _, n_rel, found = _at(out, k)
    return dict(zip(users, (found / n_rel).tolist()))


def per_user_precision(out: RecOutputs, k: int = 10) -> dict[str, float]:
    users, _, _, found = _at(out, k)
    return dict(zip(users, (found / k).tolist()))


def per_user_mrr(out: RecOutputs, k: int = 10) -> dict[str, float]:
    users, top, _, found = _at(out, k)
    first = top.argmax(axis=1) if top.shape[1] else np.zeros(len(users), dtype=np.int64)
    return dict(zip(users, np.where(found > 0, 1.0 / (first + 1), 0.0).tolist()))


def per_user_hit(out: RecOutputs, k: int = 10) -> dict[str, float]:
    users, _, _, found = _at(out, k)
    return dict(zip(users, np.where(found > 0, 1.0, 0.0).tolist()))


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

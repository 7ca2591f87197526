"""Causal fidelity of explanations (metrics.md, "Causal fidelity of explanations").

A feature-aware recommender (anything with ``attributes_of(item)`` and ``score_with(user, items,
attrs)``, e.g. ``attr-mf``) ranks each sampled user's unseen items; one item of the user's top-K
(seeded) is explained; the reasons the explanation cites are mapped to the item's attributes (C) and the
recommender is intervened on:
- global (CountER's evaluation, the headline columns): C is removed from (kept alone in) every candidate
  item (``pn_global``, ``ps_global``);
- local: only the target item loses C (``pn``) or keeps only C (``ps``), the other candidates unchanged;
``pn_lift`` compares with a random C' of the same size drawn from the item's attributes that were not cited
(``pn_random`` is None when the item has fewer than |C| of them);
``decorative_rate`` is the share of single cited reasons whose removal moves the item's score by less
than eps (a reason that is not an input of the recommender moves nothing). The model is not retrained.

For a neighbourhood recommender (``item-knn``) the inputs are the user's history items instead
(``HistoryIntervention``): the cited history items are removed from the user's profile.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Sequence

import numpy as np

from .protocols import Explainer
from .view import TrainView


@dataclass(frozen=True)
class FidelityConfig:
    k: int = 10
    eps: float = 0.01
    users: int = 100
    intervention: str = "remove-attributes"
    retrained: bool = False
    #: 1: C' drawn from all the item's inputs (cited ones included); 2: from the inputs not cited
    protocol: int = 2


class AttributeIntervention:
    """Remove (or keep only) item attributes: any recommender with ``attributes_of(item)`` and
    ``score_with(user, items, attrs)`` (e.g. ``attr-mf``). C is removed from the target item (local) or
    from every candidate (global)."""

    name = "remove-attributes"

    def __init__(self, rec: Any) -> None:
        self.rec = rec

    def inputs(self, user: int, item: int) -> list[str]:
        return list(self.rec.attributes_of(item))

    def scores(self, user: int, items: np.ndarray) -> np.ndarray:
        return self.rec.score_with(user, items, [self.rec.attributes_of(j) for j in items])

    def removing(self, user: int, items: np.ndarray, C: Sequence[str]) -> np.ndarray:
        return self.rec.score_with(user, items, [[a for a in self.rec.attributes_of(j) if a not in C] for j in items])

    def keeping(self, user: int, items: np.ndarray, C: Sequence[str]) -> np.ndarray:
        return self.rec.score_with(user, items, [[a for a in self.rec.attributes_of(j) if a in C] for j in items])


class HistoryIntervention:
    """Remove (or keep only) cited items of the user's history in a neighbourhood recommender (``item-knn``):
    the target's inputs are the history items among its k nearest rated neighbours, named by title (or
    id). Local: only the target item is rescored without C; global: every candidate is."""

    name = "remove-history-items"

    def __init__(self, knn: Any, names: Sequence[str]) -> None:
        self.knn = knn
        self.names = list(names)
        self.index = {n.lower(): k for k, n in enumerate(self.names)}

    def _ids(self, C: Sequence[str]) -> np.ndarray:
        return np.array([self.index[c.lower()] for c in C if c.lower() in self.index], dtype=np.int64)

    def inputs(self, user: int, item: int) -> list[str]:
        return [self.names[j] for j in self.knn.neighbours_in_history(user, item)]

    def scores(self, user: int, items: np.ndarray) -> np.ndarray:
        return self.knn.score_with_history(user, items, None)

    def removing(self, user: int, items: np.ndarray, C: Sequence[str]) -> np.ndarray:
        rated = self.knn.history(user)
        return self.knn.score_with_history(user, items, np.setdiff1d(rated, self._ids(C)))

    def keeping(self, user: int, items: np.ndarray, C: Sequence[str]) -> np.ndarray:
        return self.knn.score_with_history(user, items, np.intersect1d(self.knn.history(user), self._ids(C)))


def _rank(target_score: float, others: np.ndarray) -> int:
    """1-based rank of the target among candidates (ties go against the target)."""
    return 1 + int((others >= target_score).sum())


def map_reasons(reasons: Sequence[str], attrs: Sequence[str]) -> list[str]:
    low = {a.lower(): a for a in attrs}
    return list(dict.fromkeys(low[r.lower()] for r in reasons if r.lower() in low))


def evaluate(rec: Any, explainer: Explainer, view: TrainView, users: Sequence[int],
             cfg: FidelityConfig = FidelityConfig()) -> dict[str, Any]:
    """Explain one top-K item of each user and intervene on the reasons it cites. ``rec`` is an
    intervention (``AttributeIntervention``, ``HistoryIntervention``) or a recommender with
    ``attributes_of``/``score_with`` (wrapped in an ``AttributeIntervention``)."""
    iv = rec if hasattr(rec, "removing") else AttributeIntervention(rec)
    cfg = replace(cfg, intervention=iv.name)
    rng = np.random.default_rng(view.seed + 20_000)
    n_items = view.n_items
    pairs = []
    for u in users:
        seen = np.zeros(n_items, dtype=bool)
        seen[view.seen[u]] = True
        cand = np.flatnonzero(~seen)
        if len(cand) <= cfg.k:
            continue
        base = iv.scores(u, cand)
        top = cand[np.argsort(-base, kind="stable")[:cfg.k]]
        pairs.append((int(u), int(top[rng.integers(len(top))]), cand, base))
    if not pairs:
        return {"config": asdict(cfg), "pairs": 0}
    expl = explainer.explain([p[0] for p in pairs], [p[1] for p in pairs])
    rows = []
    for (u, i, cand, base), e in zip(pairs, expl):
        inputs = iv.inputs(u, i)
        C = map_reasons(e.reasons, inputs)
        pos = int(np.flatnonzero(cand == i)[0])
        others = np.delete(base, pos)
        target = np.array([i])
        s0 = float(base[pos])
        pn = bool(C) and _rank(float(iv.removing(u, target, C)[0]), others) > cfg.k
        ps = _rank(float(iv.keeping(u, target, C)[0]), others) <= cfg.k
        # global: C removed from (kept alone in) every candidate
        g_scores = iv.removing(u, cand, C)
        pn_g = bool(C) and _rank(float(g_scores[pos]), np.delete(g_scores, pos)) > cfg.k
        keep_g = iv.keeping(u, cand, C)
        ps_g = _rank(float(keep_g[pos]), np.delete(keep_g, pos)) <= cfg.k
        # a same-size random subset of the item's inputs that were not cited (None: too few of them)
        rest = [a for a in inputs if a not in C]
        pn_r = None
        if C and len(rest) >= len(C):
            Cr = [str(a) for a in rng.choice(rest, len(C), replace=False)]
            pn_r = _rank(float(iv.removing(u, target, Cr)[0]), others) > cfg.k
        # single cited reasons: how much does removing each move the score?
        moves = [abs(s0 - float(iv.removing(u, target, map_reasons([r], inputs))[0])) for r in e.reasons]
        rows.append({"user": u, "item": i, "cited": list(e.reasons), "mapped": C, "pn": pn, "ps": ps,
                     "pn_global": pn_g, "ps_global": ps_g, "pn_random": pn_r, "moves": moves})
    return {"config": asdict(cfg), "pairs": len(rows), "rows": rows}


def sample_users(test_users: np.ndarray, n: int, seed: int) -> list[int]:
    """``n`` of the users with a test interaction (user indices), seeded."""
    users = np.unique(test_users)
    rng = np.random.default_rng(seed + 30_000)
    return sorted(rng.choice(users, min(n, len(users)), replace=False).tolist())

"""Causal fidelity of explanations (metrics.md, "Causal fidelity of explanations").

A feature-aware recommender (anything with ``attributes_of(item)`` and ``score_with(user, items,
attrs)``, e.g. ``attr-mf``) ranks each sampled user's unseen items; one item of the user's top-K
(seeded) is explained; the reasons the explanation cites are mapped to the item's attributes (C) and the
recommender is intervened on:
- local: only the target item loses C (``pn``) or keeps only C (``ps``), the other candidates unchanged;
- global: C is removed from every candidate item (``pn_global``, ``ps_global``);
``pn_lift`` compares with a random C' of the same size drawn from the item's real attributes;
``decorative_rate`` is the share of single cited reasons whose removal moves the item's score by less
than eps (a reason that is not an input of the recommender moves nothing). The model is not retrained.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
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


def _rank(target_score: float, others: np.ndarray) -> int:
    """1-based rank of the target among candidates (ties go against the target)."""
    return 1 + int((others >= target_score).sum())


def map_reasons(reasons: Sequence[str], attrs: Sequence[str]) -> list[str]:
    low = {a.lower(): a for a in attrs}
    return list(dict.fromkeys(low[r.lower()] for r in reasons if r.lower() in low))


def evaluate(rec: Any, explainer: Explainer, view: TrainView, users: Sequence[int],
             cfg: FidelityConfig = FidelityConfig()) -> dict[str, Any]:
    rng = np.random.default_rng(view.seed + 20_000)
    n_items = view.n_items
    pairs = []
    for u in users:
        seen = np.zeros(n_items, dtype=bool)
        seen[view.seen[u]] = True
        cand = np.flatnonzero(~seen)
        if len(cand) <= cfg.k:
            continue
        base = rec.score_with(u, cand, [rec.attributes_of(i) for i in cand])
        top = cand[np.argsort(-base, kind="stable")[:cfg.k]]
        pairs.append((int(u), int(top[rng.integers(len(top))]), cand, base))
    if not pairs:
        return {"config": asdict(cfg), "pairs": 0}
    expl = explainer.explain([p[0] for p in pairs], [p[1] for p in pairs])
    rows = []
    for (u, i, cand, base), e in zip(pairs, expl):
        attrs = rec.attributes_of(i)
        C = map_reasons(e.reasons, attrs)
        pos = int(np.flatnonzero(cand == i)[0])
        others = np.delete(base, pos)
        s0 = float(base[pos])
        without = [a for a in attrs if a not in C]
        s_minus = float(rec.score_with(u, np.array([i]), [without])[0])
        s_only = float(rec.score_with(u, np.array([i]), [C])[0])
        pn = bool(C) and _rank(s_minus, others) > cfg.k
        ps = _rank(s_only, others) <= cfg.k
        # global: C removed from every candidate item
        g_scores = rec.score_with(u, cand, [[a for a in rec.attributes_of(j) if a not in C] for j in cand])
        pn_g = bool(C) and _rank(float(g_scores[pos]), np.delete(g_scores, pos)) > cfg.k
        keep_g = rec.score_with(u, cand, [[a for a in rec.attributes_of(j) if a in C] for j in cand])
        ps_g = _rank(float(keep_g[pos]), np.delete(keep_g, pos)) <= cfg.k
        # the same-size random subset of the item's real attributes
        Cr = list(rng.choice(attrs, len(C), replace=False)) if C and len(attrs) >= len(C) else []
        s_rand = float(rec.score_with(u, np.array([i]), [[a for a in attrs if a not in Cr]])[0])
        pn_r = bool(Cr) and _rank(s_rand, others) > cfg.k
        # single cited reasons: how much does removing each move the score?
        moves = []
        for reason in e.reasons:
            mapped = map_reasons([reason], attrs)
            s_one = float(rec.score_with(u, np.array([i]), [[a for a in attrs if a not in mapped]])[0])
            moves.append(abs(s0 - s_one))
        rows.append({"user": u, "item": i, "cited": list(e.reasons), "mapped": C, "pn": pn, "ps": ps,
                     "pn_global": pn_g, "ps_global": ps_g, "pn_random": pn_r, "moves": moves})
    return {"config": asdict(cfg), "pairs": len(rows), "rows": rows}


def sample_users(view: TrainView, n: int, seed: int) -> list[int]:
    users = np.unique(view.test_pairs()["uidx"].to_numpy())
    rng = np.random.default_rng(seed + 30_000)
    return sorted(rng.choice(users, min(n, len(users)), replace=False).tolist())

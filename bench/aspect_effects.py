"""Aspect effects on real reviews: the effect of mentioning each frequent aspect, and of mentioning it
positively, on the star rating, estimated with EconML's LinearDML (HistGradientBoosting nuisances,
2-fold cross-fitting) controlling for the item (its leave-one-out mean rating and log popularity), the
user's leave-one-out mean rating, the review's length and its time.

This is an observational estimate under the assumption that these controls remove confounding; it is
NOT ground truth. xrbench uses it as the reference for ``causal_precision`` (the share of cited aspects
whose effect has a 95% interval above 0) and saves the table with every run that uses it.
"""
from __future__ import annotations

import io
import json
import logging
from typing import Any

import numpy as np

from . import aspects
from .data.io import atomic_write_bytes, cache_dir
from .view import TrainView

log = logging.getLogger("xrbench")


def _loo_mean(keys: np.ndarray, y: np.ndarray) -> np.ndarray:
    _, inv, counts = np.unique(keys, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=y)
    n = counts[inv]
    glob = y.mean()
    return np.where(n > 1, (sums[inv] - y) / np.maximum(n - 1, 1), glob)


def estimate(view: TrainView, top: int = 20, min_treated: int = 30) -> list[dict[str, Any]]:
    """One row per (aspect, kind) with kind 'mention' (mentioned vs not) and 'positive' (mentioned
    positively vs negatively, among reviews mentioning it), on the training reviews."""
    from econml.dml import LinearDML
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    refs = view.references
    if refs is None:
        return []
    tr = view.train
    texts = tr["text"].tolist()
    y = tr["rating"].to_numpy(float)
    vocab = frozenset(refs.vocabulary)
    lex = aspects.opinion_lexicon()
    mentions: list[dict[str, int]] = []  # aspect -> +1 / -1 (first opinion paired with it)
    for t in texts:
        m: dict[str, int] = {}
        if isinstance(t, str):
            for s in aspects.sentences(t):
                for f, o in aspects.opinion_pairs(aspects.tokens(s), lex):
                    if f in vocab and f not in m:
                        m[f] = 1 if lex[o] > 0 else -1
        mentions.append(m)
    length = np.array([len(t.split()) if isinstance(t, str) else 0 for t in texts], dtype=float)
    ts = tr["timestamp"].to_numpy(float)
    W = np.column_stack([_loo_mean(tr["iidx"].to_numpy(), y), np.log1p(view.train_item_counts[tr["iidx"]]),
                         _loo_mean(tr["uidx"].to_numpy(), y), np.log1p(length), (ts - ts.mean()) / (ts.std() or 1)])
    counts = {f: sum(f in m for m in mentions) for f in vocab}
    rows = []
    for f in sorted(vocab, key=lambda f: (-counts[f], f))[:top]:
        T = np.array([f in m for m in mentions], dtype=int)
        designs = [("mention", np.ones(len(T), dtype=bool), T)]
        pos = np.array([m.get(f, 0) > 0 for m in mentions], dtype=int)
        designs.append(("positive", T == 1, pos))
        for kind, keep, treat in designs:
            n1, n0 = int(treat[keep].sum()), int((1 - treat[keep]).sum())
            if min(n1, n0) < min_treated:
                continue
            est = LinearDML(model_y=HistGradientBoostingRegressor(max_iter=50, random_state=0),
                            model_t=HistGradientBoostingClassifier(max_iter=50, random_state=0),
                            discrete_treatment=True, cv=2, random_state=view.seed)
            est.fit(y[keep], treat[keep], X=None, W=W[keep])
            lo, hi = est.ate_interval(alpha=0.05)
            rows.append({"aspect": f, "kind": kind, "effect": float(est.ate()), "ci_low": float(lo),
                         "ci_high": float(hi), "treated": n1, "control": n0})
    return rows


def cached(view: TrainView, top: int = 20) -> list[dict[str, Any]]:
    """``estimate`` once per dataset file, split and seed (a JSON file under the cache)."""
    path = cache_dir() / "aspect-effects" / f"{view.data_hash[:16]}-{view.split_hash}-{view.seed}-{top}.json"
    if path.is_file():
        log.info("aspect effects: cached at %s", path)
        return json.loads(path.read_text(encoding="utf-8"))
    log.info("aspect effects: estimating LinearDML effects of the %d most frequent aspects (cached at %s)", top, path)
    rows = estimate(view, top)
    atomic_write_bytes(path, json.dumps(rows, indent=1).encode("utf-8"))
    return rows


def table_markdown(rows: list[dict[str, Any]]) -> str:
    from tabulate import tabulate

    body = [[r["aspect"], r["kind"], f"{r['effect']:+.3f}", f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]",
             r["treated"], r["control"]] for r in rows]
    buf = io.StringIO()
    buf.write(tabulate(body, headers=["aspect", "effect of", "ATE on stars", "95% interval", "treated", "control"],
                       tablefmt="github"))
    buf.write("\n\nObservational LinearDML estimates (controls: item leave-one-out mean and popularity, user "
              "leave-one-out mean, review length, time): a reference, not ground truth.\n")
    return buf.getvalue()

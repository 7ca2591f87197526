"""Explanation text metrics, protocol ``nlg4rs`` (metrics.md), in parity with the PETER/PEPLER/NLG4RS
evaluation code. Pure functions over token lists; the ``@metric`` wrappers at the bottom read
:class:`TextOutputs`. USR and DIV run in linear time (the published code is quadratic)."""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import numpy as np

from .base import NotApplicable, metric
from .outputs import TextOutputs
from .uncertainty import Units, ratio

Tokens = Sequence[str]


def _ngrams(tokens: Tokens, n: int) -> Iterable[tuple[str, ...]]:
    return (tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def bleu_pair_stats(hyps: Sequence[Tokens], refs: Sequence[Tokens], max_order: int = 4) -> np.ndarray:
    """Per pair: clipped n-gram matches (n = 1..N), possible n-grams (n = 1..N), hypothesis and
    reference length. Corpus BLEU is a function of their column sums."""
    out = np.zeros((len(hyps), 2 * max_order + 2))
    for row, (h, r) in enumerate(zip(hyps, refs)):
        for n in range(1, max_order + 1):
            hc = Counter(_ngrams(h, n))
            rc = Counter(_ngrams(r, n))
            out[row, n - 1] = sum(min(c, rc[g]) for g, c in hc.items())
            out[row, max_order + n - 1] = max(len(h) - n + 1, 0)
        out[row, -2], out[row, -1] = len(h), len(r)
    return out


def bleu_from_sums(sums: np.ndarray, max_order: int) -> np.ndarray:
    """tensorflow/nmt ``compute_bleu`` (one reference, no smoothing) on summed statistics, x100, for
    each row of ``sums``: geometric mean of p_1..p_N (0 if any p_n = 0), brevity penalty
    exp(1 - r/c) when c < r."""
    sums = np.atleast_2d(sums)
    matches, possible = sums[:, :max_order], sums[:, max_order:2 * max_order]
    c, r = sums[:, -2], sums[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        prec = np.where(possible > 0, matches / np.where(possible > 0, possible, 1), 0.0)
        ok = (prec.min(axis=1) > 0) & (c > 0)
        geo = np.exp(np.log(np.where(prec > 0, prec, 1.0)).sum(axis=1) / max_order)
        bp = np.where(c > r, 1.0, np.exp(1.0 - r / np.where(c > 0, c, 1.0)))
    return np.where(ok, geo * bp * 100.0, 0.0)


def corpus_bleu(hyps: Sequence[Tokens], refs: Sequence[Tokens], max_order: int = 4) -> float:
    """Corpus BLEU-N x100 (tensorflow/nmt ``compute_bleu``, one reference per hypothesis, no smoothing)."""
    if not hyps:
        return 0.0
    return float(bleu_from_sums(bleu_pair_stats(hyps, refs, max_order).sum(axis=0), max_order)[0])


def rouge_n_pairs(hyps: Sequence[Tokens], refs: Sequence[Tokens], n: int) -> np.ndarray:
    """Per pair (F, P, R) over n-gram *sets*: P = |H∩R|/|H|, R = |H∩R|/|R| (0 on empty sets),
    F = 2PR/(P+R+1e-8)."""
    out = np.zeros((len(hyps), 3))
    for row, (h, r) in enumerate(zip(hyps, refs)):
        hs, rset = set(_ngrams(h, n)), set(_ngrams(r, n))
        overlap = len(hs & rset)
        p = overlap / len(hs) if hs else 0.0
        rec = overlap / len(rset) if rset else 0.0
        out[row] = (2.0 * (p * rec / (p + rec + 1e-8)), p, rec)
    return out


def rouge_n(hyps: Sequence[Tokens], refs: Sequence[Tokens], n: int) -> tuple[float, float, float]:
    """ROUGE-N: mean over pairs of the per-pair set-based (F, P, R), x100."""
    if not hyps:
        return 0.0, 0.0, 0.0
    f, p, r = rouge_n_pairs(hyps, refs, n).mean(axis=0) * 100.0
    return float(f), float(p), float(r)


def lcs_length(a: Tokens, b: Tokens) -> int:
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l_pairs(hyps: Sequence[Tokens], refs: Sequence[Tokens]) -> np.ndarray:
    """Per pair (F, P, R): L = LCS; P = L/|h|, R = L/|r|, beta = P/(R+1e-12),
    F = (1+beta^2)RP/(R + beta^2 P + 1e-12). An empty hypothesis (or reference) scores 0, where the
    original code divides by zero."""
    out = np.zeros((len(hyps), 3))
    for row, (h, r) in enumerate(zip(hyps, refs)):
        if not h or not r:
            continue
        lcs = lcs_length(h, r)
        p, rec = lcs / len(h), lcs / len(r)
        beta = p / (rec + 1e-12)
        out[row] = ((1 + beta ** 2) * rec * p / (rec + beta ** 2 * p + 1e-12), p, rec)
    return out


def rouge_l(hyps: Sequence[Tokens], refs: Sequence[Tokens]) -> tuple[float, float, float]:
    """ROUGE-L: mean over pairs of the per-pair LCS (F, P, R), x100."""
    if not hyps:
        return 0.0, 0.0, 0.0
    f, p, r = rouge_l_pairs(hyps, refs).mean(axis=0) * 100.0
    return float(f), float(p), float(r)


def unique_sentence_ratio(hyps: Sequence[Tokens]) -> float:
    """`usr`: distinct token sequences among the hypotheses / N (exact equality), O(N) by hashing."""
    return len({tuple(h) for h in hyps}) / len(hyps) if hyps else 0.0


def feature_matching_ratio(hyps: Sequence[Tokens], features: Sequence[str]) -> float:
    """`fmr`: mean over rows of 1[the row's ground-truth feature is among the hypothesis tokens]."""
    return sum(1 for h, f in zip(hyps, features) if f in set(h)) / len(hyps) if hyps else 0.0


def _feature_sets(hyps: Sequence[Tokens], vocab: Iterable[str]) -> list[set[str]]:
    v = set(vocab)
    return [v.intersection(h) for h in hyps]


def feature_coverage_ratio(hyps: Sequence[Tokens], vocab: Sequence[str]) -> float:
    """`fcr`: |union of feature words appearing in the hypotheses| / |feature vocabulary|."""
    used: set[str] = set().union(*_feature_sets(hyps, vocab)) if hyps else set()
    return len(used) / len(set(vocab)) if vocab else 0.0


def feature_diversity(hyps: Sequence[Tokens], vocab: Sequence[str]) -> float:
    """`div` (↓): mean over pairs i<j of |F_i ∩ F_j| = sum_f C(n_f, 2) / C(N, 2), in O(N·k)."""
    n = len(hyps)
    if n < 2:
        return 0.0
    counts = Counter(f for s in _feature_sets(hyps, vocab) for f in s)
    return sum(c * (c - 1) / 2 for c in counts.values()) / (n * (n - 1) / 2)


def score_all(hyps: Sequence[Tokens], refs: Sequence[Tokens], features: Sequence[str] | None = None,
              vocab: Sequence[str] | None = None) -> dict[str, float]:
    """Every nlg4rs key at once (what ``xrbench score`` prints)."""
    out = {"bleu1": corpus_bleu(hyps, refs, 1), "bleu4": corpus_bleu(hyps, refs, 4)}
    for name, (f, p, r) in (("rouge1", rouge_n(hyps, refs, 1)), ("rouge2", rouge_n(hyps, refs, 2)),
                            ("rougeL", rouge_l(hyps, refs))):
        out.update({f"{name}_f": f, f"{name}_p": p, f"{name}_r": r})
    out["usr"] = unique_sentence_ratio(hyps)
    if features is not None:
        out["fmr"] = feature_matching_ratio(hyps, features)
    if vocab is not None:
        out["fcr"] = feature_coverage_ratio(hyps, vocab)
        out["div"] = feature_diversity(hyps, vocab)
    return out


# -- metrics over a run's outputs -----------------------------------------------------------------
def _pair_ids(out: TextOutputs, with_refs: bool = True) -> list[str]:
    return [f"{u}|{i}" for u, i, r in zip(out.users, out.items, out.references) if r is not None or not with_refs]


def _bleu_units(out: TextOutputs, n: int) -> Units:
    stats = bleu_pair_stats(*out.with_references(), max_order=n)
    return Units(_pair_ids(out), stats, lambda c: bleu_from_sums(c, n))


def _per_pair_units(out: TextOutputs, values: np.ndarray) -> Units:
    return Units(_pair_ids(out), np.column_stack([values * 100.0, np.ones(len(values))]), ratio)


@metric("bleu1", task="explain", group="text")
def bleu1(out: TextOutputs) -> Units:
    """`bleu1`: corpus BLEU-1 (nmt compute_bleu, no smoothing) x100 against the reference explanations."""
    return _bleu_units(out, 1)


@metric("bleu4", task="explain", group="text")
def bleu4(out: TextOutputs) -> Units:
    """`bleu4`: corpus BLEU-4 (nmt compute_bleu, no smoothing) x100 against the reference explanations."""
    return _bleu_units(out, 4)


@metric("rouge1_f", task="explain", group="text", default=False)
def rouge1_f(out: TextOutputs) -> Units:
    """`rouge1_f`: mean per-pair unigram-set F x100."""
    return _per_pair_units(out, rouge_n_pairs(*out.with_references(), n=1)[:, 0])


@metric("rouge2_f", task="explain", group="text", default=False)
def rouge2_f(out: TextOutputs) -> Units:
    """`rouge2_f`: mean per-pair bigram-set F x100."""
    return _per_pair_units(out, rouge_n_pairs(*out.with_references(), n=2)[:, 0])


@metric("rougeL_f", task="explain", group="text")
def rougeL_f(out: TextOutputs) -> Units:
    """`rougeL_f`: mean per-pair LCS F x100."""
    return _per_pair_units(out, rouge_l_pairs(*out.with_references())[:, 0])


@metric("usr", task="explain", group="text")
def usr(out: TextOutputs) -> float:
    """`usr`: number of distinct token sequences among the hypotheses / N."""
    return unique_sentence_ratio(out.tokens(out.hypotheses))


@metric("fmr", task="explain", group="text")
def fmr(out: TextOutputs) -> Units:
    """`fmr`: mean over rows of 1[the row's ground-truth feature word is among the hypothesis tokens]."""
    rows = [(f"{u}|{i}", f in set(h)) for u, i, h, f in zip(out.users, out.items, out.tokens(out.hypotheses),
                                                            out.features or []) if f]
    if not rows:
        raise NotApplicable("no ground-truth features for these pairs")
    return Units([r[0] for r in rows], np.array([[float(r[1]), 1.0] for r in rows]), ratio)


@metric("fcr", task="explain", group="text")
def fcr(out: TextOutputs) -> float:
    """`fcr`: |union of feature words appearing in all hypotheses| / |feature vocabulary of the dataset|."""
    if not out.vocabulary:
        raise NotApplicable("the dataset has no feature vocabulary")
    return feature_coverage_ratio(out.tokens(out.hypotheses), out.vocabulary)


@metric("div", task="explain", group="text", lower_is_better=True)
def div(out: TextOutputs) -> float:
    """`div` (↓): mean over all pairs i<j of |F_i ∩ F_j|."""
    if not out.vocabulary:
        raise NotApplicable("the dataset has no feature vocabulary")
    return feature_diversity(out.tokens(out.hypotheses), out.vocabulary)

"""Explanation text metrics, protocol ``nlg4rs`` (metrics.md), in parity with the PETER/PEPLER/NLG4RS
evaluation code. Pure functions over token lists; the ``@metric`` wrappers at the bottom read
:class:`TextOutputs`. USR and DIV run in linear time (the published code is quadratic), over the distinct
hypotheses.

Every per-pair statistic (BLEU's clipped n-gram matches, ROUGE-N's n-gram sets, ROUGE-L's LCS) comes
from one pass, :func:`pair_stats`: tokens are numbered, each pair's n-grams get integer ids by sorting
(order n from the id of the (n-1)-gram and the next token) and are counted per (pair, n-gram) with
bincounts; the LCS is rapidfuzz's bit-parallel ``LCSseq`` over one character per token id. All counts
are exact; the metric wrappers share one pass per outputs object."""
from __future__ import annotations

import gc
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, count, repeat
from typing import Iterable, Iterator, Sequence

import numpy as np

from .base import NotApplicable, metric
from .outputs import TextOutputs
from .uncertainty import Units, ratio

Tokens = Sequence[str]


@dataclass(frozen=True)
class PairStats:
    """Per-pair statistics of hypotheses against references, row k for pair k.

    ``bleu``: clipped n-gram matches (n = 1..N), possible n-grams (n = 1..N), hypothesis and reference
    length; ``rouge1`` / ``rouge2`` / ``rougeL``: (F, P, R) per pair."""

    bleu: np.ndarray
    rouge1: np.ndarray
    rouge2: np.ndarray
    rougeL: np.ndarray

    def bleu_stats(self, max_order: int) -> np.ndarray:
        """The BLEU-``max_order`` statistics (what :func:`bleu_pair_stats` gives for that order)."""
        top = (self.bleu.shape[1] - 2) // 2
        cols = [*range(max_order), *range(top, top + max_order), 2 * top, 2 * top + 1]
        return self.bleu[:, cols]


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector paused: scoring allocates millions of acyclic objects (tokens, token
    lists, tuples), and every collection would walk them all (a third of the scoring time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Corpus:
    """Hypotheses and references as token ids: ``tok`` holds every hypothesis token, then every
    reference token; ``lens`` the 2n sentence lengths in the same order. Tokens are numbered over the
    distinct sentences only (outputs repeat)."""

    def __init__(self, hyps: Sequence[Tokens], refs: Sequence[Tokens]):
        if len(hyps) != len(refs):
            raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} references")
        self.n = len(hyps)
        sentence: defaultdict[tuple[str, ...], int] = defaultdict(count().__next__)  # new key -> next id
        self.which = np.fromiter(map(sentence.__getitem__, map(tuple, chain(hyps, refs))), dtype=np.int64,
                                 count=2 * self.n)
        distinct = list(sentence)
        token: defaultdict[str, int] = defaultdict(count().__next__)
        self.ulens = np.fromiter(map(len, distinct), dtype=np.int64, count=len(distinct))
        self.utok = np.fromiter(map(token.__getitem__, chain.from_iterable(distinct)), dtype=np.int64,
                                count=int(self.ulens.sum()))
        self.vocab = max(len(token), 1)
        self.lens = self.ulens[self.which]
        ustart = np.cumsum(self.ulens) - self.ulens
        shift = np.repeat(ustart[self.which] - (np.cumsum(self.lens) - self.lens), self.lens)
        self.tok = self.utok[np.arange(len(shift), dtype=np.int64) + shift]

    def sentences(self) -> tuple[list[str | list[int]], list[str | list[int]]]:
        """The hypotheses and the references for rapidfuzz: each a str of one code point per token id
        (ids from U+D800 on moved past the surrogate block), or a list of ids where they do not fit."""
        ends = np.cumsum(self.ulens).tolist()
        starts = [0, *ends[:-1]]
        if self.vocab <= _CODE_POINTS:
            points = self.utok + np.where(self.utok >= 0xD800, 0x800, 0)
            text = points.astype("<u4").tobytes().decode("utf-32-le")
            distinct: list[str] | list[list[int]] = [text[a:b] for a, b in zip(starts, ends)]
        else:
            ids = self.utok.tolist()
            distinct = [ids[a:b] for a, b in zip(starts, ends)]
        which = self.which.tolist()
        return [distinct[k] for k in which[:self.n]], [distinct[k] for k in which[self.n:]]


_CODE_POINTS = 0x110000 - 0x800  # Unicode code points outside the surrogate block


def _group(keys: np.ndarray, pos: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``pos`` ordered by ``keys`` (which it overwrites), the group number (0, 1, ...) of each entry's key
    in that order, and where each group starts. ``bits``: a bound on the bit length of ``pos``; where keys
    and positions fit in one int64 they are sorted together (a plain sort is several times faster than
    argsort)."""
    if len(keys) and int(keys.max()) < (1 << (62 - bits)):
        keys <<= bits
        keys |= pos
        keys.sort()
        pos = keys & ((1 << bits) - 1)
        keys >>= bits
    else:
        order = np.argsort(keys, kind="stable")
        pos, keys = pos[order], keys[order]
    new = np.empty(len(keys), dtype=bool)
    new[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=new[1:])
    gram = np.cumsum(new)
    gram -= 1
    return pos, gram, np.flatnonzero(new)


def _ngram_counts(c: _Corpus, max_order: int, set_orders: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: clipped n-gram matches (n, max_order), and for n <= ``set_orders`` the n-gram *set*
    sizes (n, set_orders, 3): |H ∩ R|, |H|, |R|.

    An n-gram of a pair is numbered by (its pair, its n-grams' id so far, its next token), hypothesis
    and reference alike, so equal ids are equal n-grams of one pair. Above ``set_orders`` only the
    n-grams whose (n-1)-prefix occurs on both sides can match, and only those are numbered."""
    n, total = c.n, len(c.tok)
    matches = np.zeros((n, max_order))
    sets = np.zeros((n, set_orders, 3))
    pair = np.repeat(np.tile(np.arange(n, dtype=np.int64), 2), c.lens)
    left = np.repeat(np.cumsum(c.lens), c.lens)  # tokens from each position to the end of its sentence
    left -= np.arange(total, dtype=np.int64)
    n_hyp_tokens, bits = int(c.lens[:n].sum()), max(total.bit_length(), 1)
    pos = np.arange(total, dtype=np.int64)  # where the n-grams of this order start
    ids = pair  # ... and the ids of their (n-1)-grams (order 0: the pair)
    for order in range(1, max(max_order, set_orders) + 1):
        if order > 1:
            keep = left[pos] >= order
            pos, ids = pos[keep], ids[keep]
        keys = ids * c.vocab
        keys += c.tok[pos + (order - 1)] if order > 1 else c.tok
        pos, gram, first = _group(keys, pos, bits)
        in_h = np.bincount(gram, weights=pos < n_hyp_tokens, minlength=len(first))
        in_r = np.diff(first, append=len(gram)) - in_h
        owner = pair[pos[first]]
        if order <= max_order:
            matches[:, order - 1] = np.bincount(owner, weights=np.minimum(in_h, in_r), minlength=n)
        both = (in_h > 0) & (in_r > 0)
        if order <= set_orders:
            for col, w in enumerate((both, in_h > 0, in_r > 0)):
                sets[:, order - 1, col] = np.bincount(owner, weights=w, minlength=n)
        ids = gram
        if order >= set_orders:  # the next order numbers only the n-grams that can still match
            pos, ids = pos[both[gram]], gram[both[gram]]
    return matches, sets


def _bleu_rows(c: _Corpus, matches: np.ndarray) -> np.ndarray:
    max_order = matches.shape[1]
    h, r = c.lens[:c.n], c.lens[c.n:]
    possible = np.maximum(h[:, None] - np.arange(max_order)[None, :], 0)
    return np.column_stack([matches, possible, h, r]).astype(np.float64)


def _rouge_n_rows(sets: np.ndarray) -> np.ndarray:
    """(F, P, R) per pair from |H ∩ R|, |H|, |R| (P, R = 0 on empty sets; F = 2PR/(P+R+1e-8))."""
    overlap, hs, rs = sets[:, 0], sets[:, 1], sets[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(hs > 0, overlap / hs, 0.0)
        rec = np.where(rs > 0, overlap / rs, 0.0)
    return np.column_stack([2.0 * (p * rec / (p + rec + 1e-8)), p, rec])


def _rouge_l_rows(c: _Corpus) -> np.ndarray:
    from rapidfuzz.distance import LCSseq  # imported when used: every xrbench command imports the metrics

    hyp_ids, ref_ids = c.sentences()
    lcs = np.fromiter(map(LCSseq.similarity, hyp_ids, ref_ids), dtype=np.float64, count=c.n)
    h, r = c.lens[:c.n].astype(np.float64), c.lens[c.n:].astype(np.float64)
    ok = (h > 0) & (r > 0)
    p, rec = np.where(ok, lcs / np.where(ok, h, 1.0), 0.0), np.where(ok, lcs / np.where(ok, r, 1.0), 0.0)
    beta = p / (rec + 1e-12)
    # Python's float power (libm pow), as the published code squares: x*x differs in the last bit at times
    beta2 = np.fromiter(map(pow, beta.tolist(), repeat(2.0)), dtype=np.float64, count=c.n)
    f = (1 + beta2) * rec * p / (rec + beta2 * p + 1e-12)
    return np.where(ok[:, None], np.column_stack([f, p, rec]), 0.0)


def pair_stats(hyps: Sequence[Tokens], refs: Sequence[Tokens], max_order: int = 4) -> PairStats:
    """BLEU (up to ``max_order``), ROUGE-1/2 and ROUGE-L statistics of every pair, in one pass."""
    c = _Corpus(hyps, refs)
    matches, sets = _ngram_counts(c, max_order, 2)
    return PairStats(_bleu_rows(c, matches), _rouge_n_rows(sets[:, 0]), _rouge_n_rows(sets[:, 1]),
                     _rouge_l_rows(c))


def bleu_pair_stats(hyps: Sequence[Tokens], refs: Sequence[Tokens], max_order: int = 4) -> np.ndarray:
    """Per pair: clipped n-gram matches (n = 1..N), possible n-grams (n = 1..N), hypothesis and
    reference length. Corpus BLEU is a function of their column sums."""
    c = _Corpus(hyps, refs)
    return _bleu_rows(c, _ngram_counts(c, max_order)[0])


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
    return _corpus_bleu(bleu_pair_stats(hyps, refs, max_order), max_order)


def _corpus_bleu(stats: np.ndarray, max_order: int) -> float:
    return float(bleu_from_sums(stats.sum(axis=0), max_order)[0]) if len(stats) else 0.0


def rouge_n_pairs(hyps: Sequence[Tokens], refs: Sequence[Tokens], n: int) -> np.ndarray:
    """Per pair (F, P, R) over n-gram *sets*: P = |H∩R|/|H|, R = |H∩R|/|R| (0 on empty sets),
    F = 2PR/(P+R+1e-8)."""
    return _rouge_n_rows(_ngram_counts(_Corpus(hyps, refs), 0, n)[1][:, n - 1])


def rouge_n(hyps: Sequence[Tokens], refs: Sequence[Tokens], n: int) -> tuple[float, float, float]:
    """ROUGE-N: mean over pairs of the per-pair set-based (F, P, R), x100."""
    return _mean_fpr(rouge_n_pairs(hyps, refs, n))


def lcs_length(a: Tokens, b: Tokens) -> int:
    """Length of the longest common subsequence of two token lists."""
    from rapidfuzz.distance import LCSseq

    index = {t: i for i, t in enumerate(dict.fromkeys(chain(a, b)))}
    return int(LCSseq.similarity([index[t] for t in a], [index[t] for t in b]))


def rouge_l_pairs(hyps: Sequence[Tokens], refs: Sequence[Tokens]) -> np.ndarray:
    """Per pair (F, P, R): L = LCS; P = L/|h|, R = L/|r|, beta = P/(R+1e-12),
    F = (1+beta^2)RP/(R + beta^2 P + 1e-12). An empty hypothesis (or reference) scores 0, where the
    original code divides by zero."""
    return _rouge_l_rows(_Corpus(hyps, refs))


def _mean_fpr(rows: np.ndarray) -> tuple[float, float, float]:
    if not len(rows):
        return 0.0, 0.0, 0.0
    f, p, r = rows.mean(axis=0) * 100.0
    return float(f), float(p), float(r)


def rouge_l(hyps: Sequence[Tokens], refs: Sequence[Tokens]) -> tuple[float, float, float]:
    """ROUGE-L: mean over pairs of the per-pair LCS (F, P, R), x100."""
    return _mean_fpr(rouge_l_pairs(hyps, refs))


def unique_sentence_ratio(hyps: Sequence[Tokens]) -> float:
    """`usr`: distinct token sequences among the hypotheses / N (exact equality), O(N) by hashing."""
    return len(_distinct(hyps)) / len(hyps) if hyps else 0.0


def feature_matching_ratio(hyps: Sequence[Tokens], features: Sequence[str]) -> float:
    """`fmr`: mean over rows of 1[the row's ground-truth feature is among the hypothesis tokens]."""
    return sum(1 for h, f in zip(hyps, features) if f in h) / len(hyps) if hyps else 0.0


def feature_coverage_ratio(hyps: Sequence[Tokens], vocab: Sequence[str]) -> float:
    """`fcr`: |union of feature words appearing in the hypotheses| / |feature vocabulary|."""
    return _coverage(_feature_counts(_distinct(hyps), vocab), vocab)


def feature_diversity(hyps: Sequence[Tokens], vocab: Sequence[str]) -> float:
    """`div` (↓): mean over pairs i<j of |F_i ∩ F_j| = sum_f C(n_f, 2) / C(N, 2), in O(N·k)."""
    return _diversity(_feature_counts(_distinct(hyps), vocab), len(hyps))


def _distinct(hyps: Sequence[Tokens]) -> Counter[tuple[str, ...]]:
    """Each distinct hypothesis and its number of rows."""
    return Counter(map(tuple, hyps))


def _feature_counts(distinct: Counter[tuple[str, ...]], vocab: Iterable[str]) -> Counter[str]:
    """n_f: the number of rows whose hypothesis holds feature word f (f in the vocabulary)."""
    v = set(vocab)
    counts: Counter[str] = Counter()
    for h, rows in distinct.items():
        for f in v.intersection(h):
            counts[f] += rows
    return counts


def _coverage(counts: Counter[str], vocab: Sequence[str]) -> float:
    return len(counts) / len(set(vocab)) if vocab else 0.0


def _diversity(counts: Counter[str], n: int) -> float:
    return sum(c * (c - 1) / 2 for c in counts.values()) / (n * (n - 1) / 2) if n >= 2 else 0.0


def score_all(hyps: Sequence[Tokens], refs: Sequence[Tokens], features: Sequence[str] | None = None,
              vocab: Sequence[str] | None = None) -> dict[str, float]:
    """Every nlg4rs key at once (what ``xrbench score`` prints): the per-pair statistics in one pass, and
    USR, FCR and DIV over the distinct hypotheses."""
    with gc_paused():
        return _score_all(hyps, refs, features, vocab)


def _score_all(hyps: Sequence[Tokens], refs: Sequence[Tokens], features: Sequence[str] | None,
               vocab: Sequence[str] | None) -> dict[str, float]:
    st = pair_stats(hyps, refs)
    out = {"bleu1": _corpus_bleu(st.bleu_stats(1), 1), "bleu4": _corpus_bleu(st.bleu_stats(4), 4)}
    for name, rows in (("rouge1", st.rouge1), ("rouge2", st.rouge2), ("rougeL", st.rougeL)):
        f, p, r = _mean_fpr(rows)
        out.update({f"{name}_f": f, f"{name}_p": p, f"{name}_r": r})
    distinct = _distinct(hyps)
    out["usr"] = len(distinct) / len(hyps) if hyps else 0.0
    if features is not None:
        out["fmr"] = feature_matching_ratio(hyps, features)
    if vocab is not None:
        counts = _feature_counts(distinct, vocab)
        out["fcr"], out["div"] = _coverage(counts, vocab), _diversity(counts, len(hyps))
    return out


# -- metrics over a run's outputs -----------------------------------------------------------------
def _pair_ids(out: TextOutputs, with_refs: bool = True) -> list[str]:
    return [f"{u}|{i}" for u, i, r in zip(out.users, out.items, out.references) if r is not None or not with_refs]


_LAST: list[tuple[tuple[object, ...], PairStats]] = []  # the statistics of the outputs scored last


def _stats(out: TextOutputs) -> PairStats:
    """:func:`pair_stats` of the outputs' (hypothesis, reference) pairs, computed once for all the text
    metrics of one outputs object (the key holds the texts themselves, so edited outputs are recomputed)."""
    key = (out.lowercase, tuple(out.hypotheses), tuple(out.references))
    if not (_LAST and _LAST[0][0] == key):
        with gc_paused():
            _LAST[:] = [(key, pair_stats(*out.with_references()))]
    return _LAST[0][1]


def _bleu_units(out: TextOutputs, n: int) -> Units:
    return Units(_pair_ids(out), _stats(out).bleu_stats(n), lambda c: bleu_from_sums(c, n))


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
    return _per_pair_units(out, _stats(out).rouge1[:, 0])


@metric("rouge2_f", task="explain", group="text", default=False)
def rouge2_f(out: TextOutputs) -> Units:
    """`rouge2_f`: mean per-pair bigram-set F x100."""
    return _per_pair_units(out, _stats(out).rouge2[:, 0])


@metric("rougeL_f", task="explain", group="text")
def rougeL_f(out: TextOutputs) -> Units:
    """`rougeL_f`: mean per-pair LCS F x100."""
    return _per_pair_units(out, _stats(out).rougeL[:, 0])


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

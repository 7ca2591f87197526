"""Values derived by hand (on paper, derivation in the comments), checked against the libraries the ``standard``
protocol wraps (sacrebleu, rouge-score) and against xrbench's own metrics; and the popularity Gini on a
hand-worked exposure vector. Every expected number here is a literal, never recomputed with the code under test."""
from __future__ import annotations

import math

import numpy as np
import pytest

from xrbench.metrics import RecOutputs, TextOutputs, value

sacrebleu = pytest.importorskip("sacrebleu")
rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")


def text_outputs(hyps: list[str], refs: list[str]) -> TextOutputs:
    n = len(hyps)
    return TextOutputs([f"u{k}" for k in range(n)], [f"i{k}" for k in range(n)], hyps, refs, [[] for _ in hyps])


# --------------------------------------------------------------------------------------------- sacreBLEU
BLEU_HYPS = ["the cat sat on the mat", "the strings sound bright", "good tone."]
BLEU_REFS = ["the cat sat on a mat", "the strings sound bright and warm", "good tone."]
# Tokenizer 13a splits the final "." off: pair 3 is "good tone ." on both sides (3 tokens, not 2).
#
#            hyp / ref tokens    1-grams   2-grams   3-grams   4-grams (clipped matches / hypothesis n-grams)
# pair 1:         6 / 6           5/6       3/5       2/4       1/3
#   1: "the" twice in hyp, once in ref -> clipped to 1; the cat sat on mat = 5 of 6
#   2: the-cat, cat-sat, sat-on match; on-the, the-mat do not            = 3 of 5
#   3: the-cat-sat, cat-sat-on match; sat-on-the, on-the-mat do not     = 2 of 4
#   4: the-cat-sat-on matches; cat-sat-on-the, sat-on-the-mat do not    = 1 of 3
# pair 2:         4 / 6           4/4       3/3       2/2       1/1     (hyp is a prefix of ref)
# pair 3:         3 / 3           3/3       2/2       1/1       0/0     (identical; no 4-gram at all)
# corpus:        13 / 15         12/13      8/10      5/7       2/4     (counts summed over the corpus)
# No precision is 0, so sacrebleu's default 'exp' smoothing does not apply.
# geometric mean of precisions = (12/13 * 8/10 * 5/7 * 2/4) ** (1/4) = (960/3640) ** (1/4) = (24/91) ** (1/4)
# brevity penalty: c = 13 < r = 15 -> exp(1 - 15/13) = exp(-2/13)
BLEU_CORPUS = 100 * math.exp(-2 / 13) * (24 / 91) ** 0.25  # = 100 * 0.857404 * 0.716625 = 61.4438


def test_sacrebleu_corpus_bleu_by_hand():
    b = sacrebleu.corpus_bleu(BLEU_HYPS, [BLEU_REFS])
    assert b.counts == [12, 8, 5, 2] and b.totals == [13, 10, 7, 4]
    assert (b.sys_len, b.ref_len) == (13, 15)
    assert b.bp == pytest.approx(math.exp(-2 / 13), abs=1e-12)
    assert b.score == pytest.approx(BLEU_CORPUS, abs=1e-9)
    assert BLEU_CORPUS == pytest.approx(61.4438, abs=1e-4)


def test_xrbench_bleu4_sacre_equals_the_hand_value():
    out = text_outputs(BLEU_HYPS, BLEU_REFS)
    assert value("bleu4_sacre", out) == pytest.approx(BLEU_CORPUS, abs=1e-9)
    # and through the `xrbench score --protocol standard` helper
    from xrbench.metrics.standard import sacre_bleu
    assert sacre_bleu(BLEU_HYPS, BLEU_REFS) == pytest.approx(BLEU_CORPUS, abs=1e-9)


def test_sacrebleu_single_pair_without_brevity_penalty():
    # pair 1 alone: c = r = 6 -> BP = 1; (5/6 * 3/5 * 2/4 * 1/3) ** (1/4) = (1/12) ** (1/4)
    expected = 100 * (1 / 12) ** 0.25  # = 53.7285...
    assert sacrebleu.corpus_bleu(BLEU_HYPS[:1], [BLEU_REFS[:1]]).score == pytest.approx(expected, abs=1e-9)
    assert value("bleu4_sacre", text_outputs(BLEU_HYPS[:1], BLEU_REFS[:1])) == pytest.approx(expected, abs=1e-9)


# --------------------------------------------------------------------------------------------- rouge-score
# rouge-score: lower-case, non-alphanumerics -> spaces, Porter stemming of tokens longer than 3 characters.
# ROUGE-N: multiset n-gram overlap; P = overlap / hyp n-grams, R = overlap / ref n-grams, F = 2PR / (P + R).
# ROUGE-L: the same with the LCS length as overlap. (score(target=ref, prediction=hyp).)
ROUGE_HYPS = ["the cat sat on the mat", "the strings sound bright", "warm tone good price"]
ROUGE_REFS = ["the cat sat on a mat", "the strings sound bright and warm", "good price warm tone"]
ROUGE_HAND = [
    # pair 1: 6 / 6 tokens. R1: the (clipped 1) cat sat on mat = 5 -> P = R = 5/6, F = 5/6.
    # R2: the-cat cat-sat sat-on = 3 of 5 each side -> F = 3/5.  LCS = "the cat sat on mat" = 5 -> F = 5/6.
    (5 / 6, 3 / 5, 5 / 6),
    # pair 2: hyp 4 tokens, ref 6 ("strings" -> "string" on both sides). R1: 4 -> P = 1, R = 4/6,
    # F = 2 * 1 * 2/3 / (5/3) = 4/5.  R2: 3 -> P = 3/3, R = 3/5, F = 2 * 3/5 / (8/5) = 3/4.  LCS = 4 -> F = 4/5.
    (4 / 5, 3 / 4, 4 / 5),
    # pair 3: the same 4 words, reordered. R1: 4/4 -> F = 1. R2: hyp warm-tone tone-good good-price,
    # ref good-price price-warm warm-tone -> 2 of 3 each side, F = 2/3.  LCS = "warm tone" (or "good price") = 2,
    # P = R = 2/4 -> F = 1/2.
    (1.0, 2 / 3, 1 / 2),
]


@pytest.mark.parametrize("k", range(3))
def test_rouge_score_pairs_by_hand(k):
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    s = scorer.score(ROUGE_REFS[k], ROUGE_HYPS[k])
    got = (s["rouge1"].fmeasure, s["rouge2"].fmeasure, s["rougeL"].fmeasure)
    assert got == pytest.approx(ROUGE_HAND[k], abs=1e-12)


def test_xrbench_rouge_rs_is_the_mean_over_pairs_times_100():
    out = text_outputs(ROUGE_HYPS, ROUGE_REFS)
    r1 = 100 * (5 / 6 + 4 / 5 + 1.0) / 3  # = 87.777...
    r2 = 100 * (3 / 5 + 3 / 4 + 2 / 3) / 3  # = 67.222...
    rl = 100 * (5 / 6 + 4 / 5 + 1 / 2) / 3  # = 71.111...
    assert value("rouge1_rs", out) == pytest.approx(r1, abs=1e-9)
    assert value("rouge2_rs", out) == pytest.approx(r2, abs=1e-9)
    assert value("rougeL_rs", out) == pytest.approx(rl, abs=1e-9)
    from xrbench.metrics.standard import rouge_score_pairs
    assert rouge_score_pairs(ROUGE_HYPS, ROUGE_REFS) == pytest.approx(np.array(ROUGE_HAND), abs=1e-12)


# Stemming on/off. ref "the straps are holding", hyp "the strap holds".
# With Porter stemming (tokens > 3 chars): ref [the, strap, are, hold], hyp [the, strap, hold]
#   R1: 3 -> P = 3/3, R = 3/4, F = 2 * 3/4 / (7/4) = 6/7
#   R2: hyp the-strap strap-hold, ref the-strap strap-are are-hold -> 1: P = 1/2, R = 1/3, F = 2/5
#   RL: LCS "the strap hold" = 3 -> F = 6/7
# Without: ref [the, straps, are, holding], hyp [the, strap, holds]
#   R1: only "the" -> P = 1/3, R = 1/4, F = 2 * (1/12) / (7/12) = 2/7;  R2: 0;  RL: LCS 1 -> 2/7
STEM_HYP, STEM_REF = "the strap holds", "the straps are holding"
STEMMED = (6 / 7, 2 / 5, 6 / 7)
UNSTEMMED = (2 / 7, 0.0, 2 / 7)


def test_standard_protocol_uses_rouge_score_with_stemming():
    keys = ["rouge1", "rouge2", "rougeL"]
    with_stem = rouge_scorer.RougeScorer(keys, use_stemmer=True).score(STEM_REF, STEM_HYP)
    no_stem = rouge_scorer.RougeScorer(keys, use_stemmer=False).score(STEM_REF, STEM_HYP)
    assert tuple(with_stem[k].fmeasure for k in keys) == pytest.approx(STEMMED, abs=1e-12)
    assert tuple(no_stem[k].fmeasure for k in keys) == pytest.approx(UNSTEMMED, abs=1e-12)

    out = text_outputs([STEM_HYP], [STEM_REF])
    got = tuple(value(f"{k}_rs", out) for k in keys)
    assert got == pytest.approx(tuple(100 * v for v in STEMMED), abs=1e-9)
    for g, u in zip(got, UNSTEMMED):
        assert abs(g - 100 * u) > 10  # would fail if xrbench scored without stemming


# --------------------------------------------------------------------------------------------- Gini
def rec_outputs(topk: dict[str, list[str]], items: list[str]) -> RecOutputs:
    users = list(topk)
    return RecOutputs(np.array(users), np.array(items[:len(users)]), np.ones(len(users)), None, 1.0, 5.0, topk,
                      dict.fromkeys(items, 1), {u: 1.0 for u in users}, {}, k=2)


# Gini of the exposure counts x_1..x_n over ALL n items (never-recommended items count 0), by the mean absolute
# difference: G = sum_i sum_j |x_i - x_j| / (2 * n * sum_i x_i)  (population form, no n/(n-1) correction).
@pytest.mark.parametrize("topk, items, expected", [
    # exposures a0 b1 c1 d2 (n = 4, sum 4). Unordered |differences|: a-b 1, a-c 1, a-d 2, b-c 0, b-d 1, c-d 1
    # = 6; both orders 12.  G = 12 / (2 * 4 * 4) = 3/8.
    ({"u1": ["b", "d"], "u2": ["c", "d"]}, ["a", "b", "c", "d"], 3 / 8),
    # the same lists without the never-recommended item a: exposures 1 1 2 (n = 3, sum 4).
    # |differences| 0 + 1 + 1 = 2, both orders 4.  G = 4 / (2 * 3 * 4) = 1/6.
    ({"u1": ["b", "d"], "u2": ["c", "d"]}, ["b", "c", "d"], 1 / 6),
    # every exposure on one item of 4: 3 0 0 0 (sum 3). |differences| 3 * 3 = 9, both orders 18.
    # G = 18 / (2 * 4 * 3) = 3/4 = (n - 1)/n.
    ({"u1": ["a"], "u2": ["a"], "u3": ["a"]}, ["a", "b", "c", "d"], 3 / 4),
    # equal exposure 1 1 1 1 -> G = 0
    ({"u1": ["a", "b"], "u2": ["c", "d"]}, ["a", "b", "c", "d"], 0.0),
])
def test_gini_hand_worked(topk, items, expected):
    assert value("gini", rec_outputs(topk, items)) == pytest.approx(expected, abs=1e-12)

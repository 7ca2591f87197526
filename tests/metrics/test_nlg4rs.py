"""Protocol nlg4rs: parity with the shared vectors, and the linear USR/DIV against the quadratic definitions."""
from __future__ import annotations

import itertools
import json
import random
from collections import Counter

import numpy as np
import pytest

from pathlib import Path

from tests.conftest import shared_dir
from xrbench.metrics import nlg4rs

# vendored from the project's metric spec (shared/spec/nlg4rs_parity_vectors.json), so every `make test` checks
# parity; when the shared spec is present, the vendored copy must equal it
PARITY = Path(__file__).with_name("nlg4rs_parity_vectors.json")


def test_vendored_parity_vectors_equal_the_shared_spec():
    shared = shared_dir() / "spec" / "nlg4rs_parity_vectors.json" if shared_dir() else None
    if shared is None or not shared.is_file():
        pytest.skip("no shared/ folder beside the checkout: the vendored copy is used as it is")
    assert json.loads(PARITY.read_text()) == json.loads(shared.read_text())


def test_parity_vectors_within_1e9():
    d = json.loads(PARITY.read_text())
    hyps = [r["hyp"].split() for r in d["rows"]]
    refs = [r["ref"].split() for r in d["rows"]]
    got = nlg4rs.score_all(hyps, refs, [r["feature"] for r in d["rows"]], d["features"])
    assert set(d["expected"]) <= set(got)
    for key, want in d["expected"].items():
        assert abs(got[key] - want) <= 1e-9, (key, got[key], want)


def quadratic_usr(hyps):
    uniq = []
    for h in hyps:
        if not any(h == u for u in uniq):
            uniq.append(h)
    return len(uniq) / len(hyps)


def quadratic_div(hyps, vocab):
    sets = [set(h) & set(vocab) for h in hyps]
    pairs = list(itertools.combinations(range(len(hyps)), 2))
    return sum(len(sets[i] & sets[j]) for i, j in pairs) / len(pairs)


def test_linear_usr_and_div_equal_the_quadratic_definitions():
    rng = random.Random(0)
    words = ["sound", "price", "great", "the", "cable", "is", "good", "strap", "a"]
    hyps = [[rng.choice(words) for _ in range(rng.randint(1, 6))] for _ in range(150)]
    hyps += hyps[:20]
    vocab = ["sound", "price", "cable", "strap", "tuner"]
    assert nlg4rs.unique_sentence_ratio(hyps) == pytest.approx(quadratic_usr(hyps), abs=1e-12)
    assert nlg4rs.feature_diversity(hyps, vocab) == pytest.approx(quadratic_div(hyps, vocab), abs=1e-12)


def test_bleu_by_hand():
    # hyp "a b c d", ref "a b c e": p1 = 3/4, p2 = 2/3, p3 = 1/2, p4 = 0 -> BLEU-4 = 0, BLEU-1 = 75
    h, r = [["a", "b", "c", "d"]], [["a", "b", "c", "e"]]
    assert nlg4rs.corpus_bleu(h, r, 1) == pytest.approx(75.0)
    assert nlg4rs.corpus_bleu(h, r, 4) == 0.0
    # brevity: hyp "a b" vs ref "a b c d": p1 = 1, bp = exp(1 - 4/2)
    import math
    assert nlg4rs.corpus_bleu([["a", "b"]], [["a", "b", "c", "d"]], 1) == pytest.approx(100 * math.exp(-1))


def test_rouge_uses_sets_and_empty_hypothesis_scores_zero():
    f, p, r = nlg4rs.rouge_n([["a", "a", "b"]], [["a", "c"]], 1)
    assert (p, r) == pytest.approx((50.0, 50.0))  # sets {a, b} vs {a, c}
    assert nlg4rs.rouge_l([[]], [["a"]]) == (0.0, 0.0, 0.0)
    f, p, r = nlg4rs.rouge_l([["a", "b", "c"]], [["a", "c"]])
    assert (p, r) == pytest.approx((200 / 3, 100.0))


# -- the vectorised per-pair statistics against straightforward definitions ----------------------------
def ref_lcs(a, b):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a, start=1):
        for j, y in enumerate(b, start=1):
            table[i][j] = table[i - 1][j - 1] + 1 if x == y else max(table[i - 1][j], table[i][j - 1])
    return table[-1][-1]


def ref_bleu_row(h, r, max_order=4):
    grams = lambda s, n: Counter(tuple(s[i:i + n]) for i in range(len(s) - n + 1))  # noqa: E731
    matches = [sum((grams(h, n) & grams(r, n)).values()) for n in range(1, max_order + 1)]
    possible = [max(len(h) - n + 1, 0) for n in range(1, max_order + 1)]
    return matches + possible + [len(h), len(r)]


def ref_rouge_n_row(h, r, n):
    hs = {tuple(h[i:i + n]) for i in range(len(h) - n + 1)}
    rs = {tuple(r[i:i + n]) for i in range(len(r) - n + 1)}
    p = len(hs & rs) / len(hs) if hs else 0.0
    rec = len(hs & rs) / len(rs) if rs else 0.0
    return [2.0 * (p * rec / (p + rec + 1e-8)), p, rec]


def ref_rouge_l_row(h, r):
    if not h or not r:
        return [0.0, 0.0, 0.0]
    lcs = ref_lcs(h, r)
    p, rec = lcs / len(h), lcs / len(r)
    beta = p / (rec + 1e-12)
    return [(1 + beta ** 2) * rec * p / (rec + beta ** 2 * p + 1e-12), p, rec]


def random_pairs(seed=0, n=400):
    """Token lists over small vocabularies (so tokens repeat within and across sentences), with empty and
    single-token sentences, single-character and non-ASCII tokens, and hypotheses sharing spans of their
    references."""
    rng = random.Random(seed)
    vocab = ["a", "b", "c", "the", "sound", "is", "great", "ü", "é", "音", "1", "10", "a b", "", "x" * 30]
    pairs = [([], []), ([], ["a"]), (["a"], []), (["a"], ["a"]), (["a"], ["b"]), (["a", "a", "a"], ["a", "a"]),
             (["a", "b"] * 5, ["b", "a"] * 4), (["音"], ["音", "音"])]
    while len(pairs) < n:
        words = vocab[:rng.randint(1, len(vocab))]
        h = [rng.choice(words) for _ in range(rng.choice([0, 1, 1, 2, 3, 5, 8, 13, 30]))]
        r = [rng.choice(words) for _ in range(rng.choice([0, 1, 2, 3, 5, 8, 13, 30]))]
        if r and rng.random() < 0.4:
            a = rng.randrange(len(r))
            h[rng.randint(0, len(h)):0] = r[a:a + rng.randint(1, 6)]
        pairs.append((h, r))
    return [p[0] for p in pairs], [p[1] for p in pairs]


def assert_stats_equal_definitions(hyps, refs):
    st = nlg4rs.pair_stats(hyps, refs)
    assert np.array_equal(st.bleu, np.array([ref_bleu_row(h, r) for h, r in zip(hyps, refs)], dtype=float))
    assert np.array_equal(st.rouge1, np.array([ref_rouge_n_row(h, r, 1) for h, r in zip(hyps, refs)]))
    assert np.array_equal(st.rouge2, np.array([ref_rouge_n_row(h, r, 2) for h, r in zip(hyps, refs)]))
    assert np.array_equal(st.rougeL, np.array([ref_rouge_l_row(h, r) for h, r in zip(hyps, refs)]))
    assert np.array_equal(st.bleu_stats(1), nlg4rs.bleu_pair_stats(hyps, refs, 1))
    assert np.array_equal(st.bleu_stats(2), nlg4rs.bleu_pair_stats(hyps, refs, 2))
    assert np.array_equal(st.rouge2, nlg4rs.rouge_n_pairs(hyps, refs, 2))
    assert np.array_equal(st.rougeL, nlg4rs.rouge_l_pairs(hyps, refs))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pair_statistics_equal_the_straightforward_definitions(seed):
    hyps, refs = random_pairs(seed)
    assert_stats_equal_definitions(hyps, refs)
    assert [nlg4rs.lcs_length(h, r) for h, r in zip(hyps, refs)] == [ref_lcs(h, r) for h, r in zip(hyps, refs)]
    h, r = nlg4rs.bleu_pair_stats(hyps, refs, 6), [ref_bleu_row(h, r, 6) for h, r in zip(hyps, refs)]
    assert np.array_equal(h, np.array(r, dtype=float))


def test_pair_statistics_with_token_ids_past_the_surrogate_block():
    # 57,000 distinct tokens come first, so the tokens of the later pairs get ids past U+D800..U+DFFF, where
    # the LCS's one-character-per-token strings skip the surrogates
    hyps, refs = random_pairs(3, 100)
    filler = [f"w{i}" for i in range(57_000)]
    assert_stats_equal_definitions([filler, *hyps], [["w5", "a", "w7"], *refs])


def test_pair_statistics_without_the_fast_paths(monkeypatch):
    # past the code points the LCS compares lists of token ids; keys too wide to pack are argsorted
    hyps, refs = random_pairs(4, 200)
    monkeypatch.setattr(nlg4rs, "_CODE_POINTS", 2)
    group = nlg4rs._group
    monkeypatch.setattr(nlg4rs, "_group", lambda keys, pos, bits: group(keys, pos, 62))
    assert_stats_equal_definitions(hyps, refs)


def test_text_metrics_share_one_pass_and_follow_edits():
    from xrbench.metrics import value
    from xrbench.metrics.outputs import TextOutputs

    hyps, refs = random_pairs(5, 60)
    texts = [" ".join(h) or "x" for h in hyps]
    references = [" ".join(r) or "y" for r in refs]
    references[3] = None  # a pair without a reference is left out
    out = TextOutputs([f"u{k}" for k in range(60)], ["i"] * 60, texts, references, [[]] * 60)
    h, r = out.with_references()
    assert value("bleu4", out) == pytest.approx(nlg4rs.corpus_bleu(h, r, 4), abs=1e-12)
    assert value("bleu1", out) == pytest.approx(nlg4rs.corpus_bleu(h, r, 1), abs=1e-12)
    assert value("rougeL_f", out) == pytest.approx(nlg4rs.rouge_l(h, r)[0], abs=1e-12)
    assert value("rouge2_f", out) == pytest.approx(nlg4rs.rouge_n(h, r, 2)[0], abs=1e-12)
    assert nlg4rs.bleu1(out).values.shape == (59, 4)
    out.hypotheses[0] = references[0]  # edited in place: the statistics are recomputed
    h, r = out.with_references()
    assert value("bleu4", out) == pytest.approx(nlg4rs.corpus_bleu(h, r, 4), abs=1e-12)

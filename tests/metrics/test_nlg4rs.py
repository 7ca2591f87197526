"""Protocol nlg4rs: parity with the shared vectors, and the linear USR/DIV against the quadratic definitions."""
from __future__ import annotations

import itertools
import json
import random

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

"""Rating, ranking, bias, conciseness and causal metrics on hand-checked inputs."""
from __future__ import annotations

import math

import numpy as np
import pytest

from xrbench.metrics import CausalOutputs, RecOutputs, TextOutputs, evaluate, value
from xrbench.metrics.base import NotApplicable
from xrbench.metrics.outputs import Swap


def rec(preds=(1.0, 6.0, 3.0), topk=None, counts=None, groups=None) -> RecOutputs:
    return RecOutputs(np.array(["u1", "u1", "u2"]), np.array(["a", "b", "c"]), np.array([2.0, 5.0, 4.0]),
                      None if preds is None else np.array(preds), 1.0, 5.0,
                      topk or {"u1": ["b", "x", "y"], "u2": ["y", "x", "c"]},
                      counts or {"a": 1, "b": 2, "c": 3, "x": 10, "y": 4}, {"u1": 2.0, "u2": 3.0}, groups or {},
                      k=3)


def m(key, out):
    return value(key, out)


def test_rmse_mae_clip_predictions():
    out = rec()  # clipped preds 1, 5, 3 vs 2, 5, 4
    assert m("rmse", out) == pytest.approx(math.sqrt(2 / 3))
    assert m("mae", out) == pytest.approx(2 / 3)
    with pytest.raises(NotApplicable):
        m("rmse", rec(preds=None))


def test_ndcg_recall():
    out = rec()  # relevant: u1 {b}, u2 {c}
    ndcg_u1 = 1.0
    ndcg_u2 = (1 / math.log2(4)) / 1.0
    assert m("ndcg@10", out) == pytest.approx((ndcg_u1 + ndcg_u2) / 2)
    assert m("recall@10", out) == pytest.approx(1.0)


def test_popularity_metrics():
    out = rec()
    assert m("arp", out) == pytest.approx(((2 + 10 + 4) / 3 + (4 + 10 + 3) / 3) / 2)
    assert m("coverage", out) == pytest.approx(4 / 5)
    # head covers 80% of 20 interactions: x (10), y (4), c (3) = 17 >= 16 -> tail = {b, a}
    assert m("aplt", out) == pytest.approx((1 / 3 + 0) / 2)
    # gini of the exposures over all 5 items: a0 (never recommended) b1 c1 x2 y2, n = 5, sum = 6.
    # Mean absolute difference form G = sum_i sum_j |x_i - x_j| / (2 n sum x):
    # unordered |differences|: a vs b,c,x,y = 1+1+2+2 = 6; b vs c,x,y = 0+1+1 = 2; c vs x,y = 1+1 = 2; x vs y = 0
    # -> 10, both orders 20;  G = 20 / (2 * 5 * 6) = 1/3.
    assert m("gini", out) == pytest.approx(1 / 3, abs=1e-12)
    assert m("poplift", out) == pytest.approx(((16 / 3 + 17 / 3) / 2 - 2.5) / 2.5)


def test_gaps_carry_an_interval_and_name_the_groups():
    groups = {"u1": {"gender": "M", "age_group": "<25"}, "u2": {"gender": "F", "age_group": ">=25"}}
    v = evaluate("rmse_gap_gender", rec(groups=groups), "")
    # M: u1 errors 1, 0 -> rmse sqrt(1/2); F: u2 error 1 -> 1
    assert v.value == pytest.approx(math.sqrt(0.5) - 1.0)
    assert v.interval[0] <= v.value <= v.interval[1]
    assert "group a = M" in v.note and "group b = F" in v.note
    with pytest.raises(NotApplicable, match="no user attribute 'gender'"):
        m("rmse_gap_gender", rec())


def test_conciseness():
    out = TextOutputs(["u"] * 2, ["i"] * 2, ["a b a b", "c d"], [None, None], [[], []])
    assert m("len_mean", out) == 3.0
    assert m("distinct1", out) == pytest.approx(4 / 6)
    assert m("distinct2", out) == pytest.approx(3 / 4)  # ab, ba, ab | cd
    assert m("rep2", out) == pytest.approx(((1 - 2 / 3) + 0) / 2)
    with pytest.raises(NotApplicable, match="no reference"):
        m("bleu4", out)


def test_causal_metrics():
    tau = np.array([1.0, -1.0, 0.5, 0.0])
    hat = np.array([0.5, 0.5, 0.5, 0.5])
    out = CausalOutputs(hat, tau, (0.0, 0.2))
    assert m("pehe", out) == pytest.approx(math.sqrt((0.25 + 2.25 + 0 + 0.25) / 4))
    assert m("ate_abs_bias", out) == pytest.approx(abs(0.5 - 0.125))
    assert m("ci_coverage", out) == 1.0
    assert m("policy_regret", out) == pytest.approx(0.25)  # only unit 2 (tau = -1) is treated wrongly
    with pytest.raises(NotApplicable):
        m("ci_coverage", CausalOutputs(hat, tau, None))


def test_explanation_bias_metrics():
    out = TextOutputs(["u1", "u2"], ["i", "j"], ["You will love this great guitar.", "He says it is fine."],
                      [None, None], [["guitar"], ["sound", "price"]],
                      swaps={"gender": Swap(["You will love this great guitar.", "It is awful."], [["guitar"], ["sound"]])})
    from xrbench.metrics.fairness import compound

    assert m("swap_sentiment_gap", out) == pytest.approx(abs(compound("He says it is fine.") - compound("It is awful.")) / 2)
    assert m("swap_reason_jaccard", out) == pytest.approx((1.0 + 0.5) / 2)
    assert m("gendered_per_100", out) == pytest.approx(100 * 1 / 11)
    with pytest.raises(NotApplicable, match="no counterfactual age swap"):
        m("swap_sentiment_gap_age", out)

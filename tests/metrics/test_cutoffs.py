"""Ranking metrics at several cutoffs (``--k 5 10 20``): hand-derived values, what a run records, and the
lists of a longer cutoff leave every @10 number (and the popularity metrics at K=10) bit for bit unchanged."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.conftest import assert_clean_error, cli, cli_here
from xrbench.metrics import RecOutputs, value
from xrbench.metrics.base import NotRequested
from xrbench.scoring import score


def outputs(cutoffs=(1, 3), k=3) -> RecOutputs:
    # relevant (rating >= 4): u1 {b, d}, u2 {c}, u3 none (not counted)
    return RecOutputs(np.array(["u1", "u1", "u1", "u2", "u3"]), np.array(["a", "b", "d", "c", "e"]),
                      np.array([2.0, 5.0, 4.0, 4.0, 1.0]), None, 1.0, 5.0,
                      {"u1": ["x", "b", "y"], "u2": ["y", "x", "c"], "u3": ["e", "x", "y"]},
                      {"a": 1, "b": 2, "c": 3, "d": 1, "e": 1, "x": 10, "y": 4}, {}, {}, k=k, cutoffs=cutoffs)


def test_hand_derived_values_at_1_and_3():
    out = outputs()
    # @1: u1 [x] no hit, u2 [y] no hit
    for fam in ("precision", "mrr", "hit", "recall", "ndcg"):
        assert value(f"{fam}@1", out) == 0.0
    # @3: u1 hits b at rank 2 (1 of 2 relevant), u2 hits c at rank 3 (1 of 1)
    assert value("precision@3", out) == pytest.approx((1 / 3 + 1 / 3) / 2)
    assert value("recall@3", out) == pytest.approx((1 / 2 + 1) / 2)
    assert value("mrr@3", out) == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert value("hit@3", out) == 1.0
    ndcg_u1 = (1 / math.log2(3)) / (1 + 1 / math.log2(3))  # IDCG over min(|rel| = 2, 3) positions
    ndcg_u2 = (1 / math.log2(4)) / 1.0
    assert value("ndcg@3", out) == pytest.approx((ndcg_u1 + ndcg_u2) / 2)


def test_only_the_requested_cutoffs_are_recorded():
    out = outputs(cutoffs=(3,))
    s = score("recommend", out)
    ranking = {k for k in s.metrics if "@" in k}
    assert ranking == {f"{f}@3" for f in ("ndcg", "recall", "precision", "mrr", "hit")}
    assert not any("@" in k for k in s.skipped)  # the other cutoffs are not "not applicable" notes
    with pytest.raises(NotRequested):
        value("ndcg@10", out)
    named = score("recommend", out, ("ndcg@3", "ndcg@10"))  # a metric named by the user says why it is absent
    assert "ndcg@3" in named.metrics and "was not requested" in named.skipped["ndcg@10"]


def test_popularity_metrics_use_the_first_k_items_of_longer_lists():
    short = outputs(cutoffs=(3,), k=2)
    longer = RecOutputs(short.users, short.items, short.ratings, None, 1.0, 5.0, short.topk, short.item_counts,
                        {}, {}, k=2, cutoffs=(1,))
    cut = RecOutputs(short.users, short.items, short.ratings, None, 1.0, 5.0,
                     {u: L[:2] for u, L in short.topk.items()}, short.item_counts, {}, {}, k=2, cutoffs=(1,))
    for key in ("arp", "aplt", "gini", "coverage"):
        assert value(key, longer) == value(key, cut)


def test_old_unit_files_without_cutoffs_read_as_the_list_length(tmp_path):
    out = outputs(cutoffs=(3,), k=3)
    out.save(tmp_path)
    import gzip
    p = tmp_path / "rankings.json.gz"
    d = json.loads(gzip.decompress(p.read_bytes()))
    d.pop("cutoffs")
    p.write_bytes(gzip.compress(json.dumps(d).encode()))
    back = RecOutputs.load(tmp_path)
    assert back.cutoffs == (3,) and back.topk == out.topk


def test_longer_lists_leave_the_at_10_numbers_bit_for_bit(tmp_path):
    """The same run with cutoffs 10 and with 5 10 20 (lists ranked to 20): ndcg@10, recall@10 and the
    popularity metrics at K = 10 are identical (the ranking is a stable sort, so the first 10 agree)."""
    recs = {}
    for name, ks in (("ten", ["10"]), ("three", ["5", "10", "20"])):
        p = cli_here("run", "--dataset", "smoke-reviews", "--recommender", "bias", "item-knn", "--k", *ks,
                     "--out", str(tmp_path / name), "-q")
        assert p.returncode == 0, p.stderr
        recs[name] = {f.parent.parent.name: json.loads(f.read_text())
                      for f in (tmp_path / name).rglob("record.json")}
    for method in ("bias", "item-knn"):
        a, b = recs["ten"][method], recs["three"][method]
        assert b["provenance"]["cutoffs"] == [5, 10, 20] and b["provenance"]["k"] == 10
        assert {"ndcg@5", "ndcg@20", "mrr@10", "hit@20", "precision@5"} <= set(b["metrics"])
        assert "ndcg@5" not in a["metrics"]
        for key, v in a["metrics"].items():
            assert b["metrics"][key] == v, (method, key)


def test_k_flag_sets_the_cutoffs_and_the_list_length(tmp_path):
    p = cli_here("run", "--dataset", "smoke-reviews", "--recommender", "most-pop", "--k", "5", "20",
                 "--out", str(tmp_path / "o"), "-q")
    assert p.returncode == 0, p.stderr
    rec = json.loads(next((tmp_path / "o").rglob("record.json")).read_text())
    assert rec["provenance"]["k"] == 20 and rec["provenance"]["cutoffs"] == [5, 20]
    assert {k for k in rec["metrics"] if k.startswith("ndcg@")} == {"ndcg@5", "ndcg@20"}


def test_a_cutoff_outside_the_set_is_one_clear_error(tmp_path):
    p = cli("run", "--dataset", "smoke-reviews", "--recommender", "bias", "--k", "7", "--out", str(tmp_path / "o"))
    assert_clean_error(p, "--k", "cutoffs", "7 is not allowed", "1, 3, 5, 10, 20, 50, 100")
    assert not (tmp_path / "o").exists()


def _naive(out: RecOutputs, family: str, k: int) -> dict[str, float]:
    """One user at a time, straight from the definitions (the reference the vectorised metrics must equal)."""
    res = {}
    for u, rel in out.relevant.items():
        if not rel or u not in out.topk:
            continue
        top = out.topk[u][:k]
        gains = np.array([1.0 if i in rel else 0.0 for i in top])
        found = len(rel.intersection(top))
        if family == "ndcg":
            d = 1.0 / np.log2(np.arange(2, k + 2))
            res[u] = float((gains * d[:len(gains)]).sum()) / float(d[:min(len(rel), k)].sum())
        elif family == "recall":
            res[u] = found / len(rel)
        elif family == "precision":
            res[u] = found / k
        elif family == "mrr":
            res[u] = next((1.0 / (p + 1) for p, i in enumerate(top) if i in rel), 0.0)
        else:
            res[u] = 1.0 if found else 0.0
    return res


def test_the_vectorised_metrics_equal_the_definitions_bit_for_bit(tmp_path):
    from xrbench.metrics import ranking

    p = cli_here("run", "--dataset", "smoke-reviews", "--recommender", "item-knn", "--k", "1", "3", "20",
                 "--out", str(tmp_path / "o"), "-q")
    assert p.returncode == 0, p.stderr
    out = RecOutputs.load(next((tmp_path / "o").rglob("record.json")).parent)
    short = outputs(cutoffs=(1, 3, 10))  # lists of 3 items: the cutoff 10 runs past their end
    for o in (out, short):
        for family in ("ndcg", "recall", "precision", "mrr", "hit"):
            for k in o.cutoffs:
                got = getattr(ranking, f"per_user_{family}")(o, k)
                want = _naive(o, family, k)
                assert list(got) == list(want) and all(got[u] == want[u] for u in want), (family, k)

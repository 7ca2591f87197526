"""Causal fidelity with a hand-built recommender whose score depends on one attribute alone."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import cli
from xrbench.data.schema import finalize
from xrbench.data.split import make_split
from xrbench.fidelity import FidelityConfig, evaluate
from xrbench.metrics import TextOutputs, value
from xrbench.metrics.outputs import FidelityResult
from xrbench.protocols import Explainer, Explanation
from xrbench.view import TrainView


class OnlyAction:
    """score = 1 if the item has Action, minus a tiny item-index tie-breaker; nothing else matters."""

    def __init__(self, attrs):
        self.attrs = attrs

    def attributes_of(self, i):
        return self.attrs[i]

    def score_with(self, user, items, attrs):
        return np.array([(1.0 if "Action" in a else 0.0) - 0.001 * i for i, a in zip(items, attrs)])


class Cites(Explainer):
    def __init__(self, reason):
        super().__init__()
        self.reason = reason

    def fit(self, view):
        pass

    def explain(self, users, items):
        return [Explanation(f"It has {self.reason}.", (self.reason,)) for _ in users]


def view_with_items(n_items=40, n_users=6):
    rows = [(f"u{u}", f"i{30 + u}", 3.0, u) for u in range(n_users)]  # each user has seen one Drama item
    inter = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    ds = finalize("t", inter, None, None, rating_min=1, rating_max=5, source="mem", file_hash="h", card={}, stats={})
    split = make_split(ds, "random", 0)
    split = type(split)("random", 0, np.arange(len(inter)), np.array([], dtype=int), np.array([], dtype=int))
    return TrainView.build(ds, split, 0)


def score(explainer):
    view = view_with_items()
    # item indices follow sorted ids: i30..i35 are the seen items; give Action + Drama to i0..i9 (indices)
    ids = list(view.item_ids) + [f"x{k}" for k in range(40 - view.n_items)]
    attrs = [["Action", "Drama"] if k < 10 else ["Drama", "Comedy"] for k in range(view.n_items)]
    rec = OnlyAction(attrs)
    fid = evaluate(rec, explainer, view, list(range(view.n_users)), FidelityConfig(k=3, eps=0.01))
    out = TextOutputs([], [], [], [], [], fidelity=FidelityResult.from_dict(fid))
    return {k: value(k, out) for k in ("pn", "ps", "fns", "pn_lift", "decorative_rate", "pn_global")}, ids


def test_citing_the_attribute_that_drives_the_score():
    m, _ = score(Cites("Action"))
    assert m["pn"] == 1.0 and m["ps"] == 1.0 and m["fns"] == 1.0
    assert m["pn_lift"] > 0  # a random attribute of the same item (Action or Drama) is necessary half the time
    assert m["decorative_rate"] == 0.0


def test_citing_an_irrelevant_attribute_is_decorative():
    m, _ = score(Cites("Drama"))
    assert m["decorative_rate"] == 1.0 and m["pn"] == 0.0
    m, _ = score(Cites("a nice poster"))  # not an input of the recommender at all
    assert m["decorative_rate"] == 1.0 and m["pn"] == 0.0


def test_fidelity_columns_for_template_on_movielens(tmp_path, grouplens_dir):
    out = tmp_path / "out"
    p = cli("run", "--dataset", "ml-100k", "--data-path", str(grouplens_dir), "--explainer", "template",
            "--fidelity", "10", "--sample", "10", "--out", str(out), "-q")
    assert p.returncode == 0, p.stderr
    rec = json.loads(next(out.rglob("record.json")).read_text())
    for k in ("pn", "ps", "fns", "pn_lift", "decorative_rate", "pn_global", "ps_global"):
        assert k in rec["metrics"], (k, rec["skipped_metrics"])
    assert "causal fidelity" in (out / "leaderboard.md").read_text()
    # per-pair rows live in their own unit file, not in the record; the config records the users asked for
    fid = rec["provenance"]["explain"]["fidelity"]
    assert set(fid) == {"config", "pairs"} and fid["config"]["users"] == 10 and "fidelity.json.gz" in rec["units"]
    with gzip.open(next(out.rglob("fidelity.json.gz")), "rt") as fh:
        assert len(json.load(fh)["fidelity"]["rows"]) == fid["pairs"] > 0
    assert rec["provenance"]["options"]["attribute_model"] == "attr-mf"


def test_attr_mf_contributions_are_the_intervention_effects(grouplens_dir):
    from xrbench.baselines.attr_mf import AttrMF
    from xrbench.data import movielens

    ds = movielens.load(path=grouplens_dir)
    view = TrainView.build(ds, make_split(ds, "random", 0), 0)
    rec = AttrMF(max_epochs=3)
    rec.bind(view)
    rec.fit(view)
    u, i = 0, 0
    attrs = rec.attributes_of(i)
    full = rec.score_with(u, np.array([i]), [attrs])[0]
    assert abs(full - rec.predict(np.array([u]), np.array([i]))[0]) < 1e-9
    for a, c in rec.contributions(u, i):
        without = rec.score_with(u, np.array([i]), [[x for x in attrs if x != a]])[0]
        assert abs((full - without) - c) < 1e-9


class OnlyLikedAlpha:
    """A neighbourhood model: every score rises by 1 while the user's history holds item 0 ("Alpha");
    item 1 ("Beta"), also in the history, moves nothing."""

    def history(self, user):
        return np.array([0, 1], dtype=np.int64)

    def neighbours_in_history(self, user, item):
        return [0, 1]

    def score_with_history(self, user, items, rated):
        rated = self.history(user) if rated is None else rated
        has = 0 in set(np.asarray(rated).tolist())
        return np.array([(1.0 if has else 0.0) - 0.001 * i for i in items])


def history_scores(explainer):
    from xrbench.fidelity import HistoryIntervention

    view = view_with_items()
    names = [f"Film {k}" for k in range(view.n_items)]
    names[0], names[1] = "Alpha", "Beta"
    iv = HistoryIntervention(OnlyLikedAlpha(), names)
    fid = evaluate(iv, explainer, view, list(range(view.n_users)), FidelityConfig(k=3, eps=0.01))
    assert fid["config"]["intervention"] == "remove-history-items"
    out = TextOutputs([], [], [], [], [], fidelity_history=FidelityResult.from_dict(fid))
    return {k: value(k, out) for k in ("pn_history", "ps_history", "fns_history", "pn_lift_history")}, fid


def test_history_intervention_citing_the_driving_history_item():
    m, fid = history_scores(Cites("Alpha"))
    assert m["pn_history"] == 1.0 and m["ps_history"] == 1.0 and m["pn_lift_history"] > 0
    m, fid = history_scores(Cites("Beta"))  # in the history, but it moves nothing
    assert m["pn_history"] == 0.0
    assert all(mv < 0.01 for r in fid["rows"] for mv in r["moves"])


def test_item_knn_history_intervention_on_movielens(grouplens_dir):
    from xrbench.baselines.recommenders import ItemKNN
    from xrbench.data import movielens
    from xrbench.fidelity import HistoryIntervention

    ds = movielens.load(path=grouplens_dir)
    view = TrainView.build(ds, make_split(ds, "random", 0), 0)
    knn = ItemKNN(k=5)
    knn.bind(view)
    knn.fit(view)
    items = np.arange(view.n_items)
    iv = HistoryIntervention(knn, view.item_titles)
    u, i = next((u, int(j)) for u in range(view.n_users) for j in np.setdiff1d(items, view.seen[u])
                if iv.inputs(u, int(j)))
    assert np.allclose(knn.score_with_history(u, items, None), knn.predict(np.full(len(items), u), items))
    neigh = iv.inputs(u, i)
    assert 0 < len(neigh) <= 5 and set(neigh) <= {view.item_titles[j] for j in knn.history(u)}
    # removing a history item that is not among the item's neighbours leaves its score unchanged
    others = [view.item_titles[j] for j in knn.history(u) if view.item_titles[j] not in neigh]
    if others:
        assert iv.removing(u, np.array([i]), others[:1])[0] == pytest.approx(iv.scores(u, np.array([i]))[0])
    # keeping no history leaves the baseline prediction b_ui
    assert iv.keeping(u, np.array([i]), [])[0] == pytest.approx(knn.mu + knn.bu[u] + knn.bi[i])


def test_neighbour_template_history_columns_on_movielens(tmp_path, grouplens_dir):
    out = tmp_path / "out"
    p = cli("run", "--dataset", "ml-100k", "--data-path", str(grouplens_dir), "--explainer", "neighbour-template",
            "template", "--fidelity", "10", "--sample", "10", "--out", str(out), "-q")
    assert p.returncode == 0, p.stderr
    recs = {json.loads(f.read_text())["method"]["name"]: json.loads(f.read_text()) for f in out.rglob("record.json")}
    nt, t = recs["neighbour-template"], recs["template"]
    for k in ("pn_history", "ps_history", "fns_history", "pn_lift_history"):
        assert k in nt["metrics"] and k in t["metrics"], (k, nt["skipped_metrics"])
    # genres are not inputs of item-knn: the genre template cannot be necessary for it
    assert t["metrics"]["pn_history"] == 0.0
    assert "causal fidelity (history items)" in (out / "leaderboard.md").read_text()

"""The Cornac adapter (``cornac:<Model>``, xrbench.baselines.cornac_models): Cornac models fitted on xrbench's
splits through the TrainView, scored by xrbench; EFM and MTER as explainers. Skipped without Cornac
(``pip install 'xrbench[cornac]'``); the missing-Cornac error is checked with the import blocked."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("cornac")

from tests.conftest import assert_clean_error, cli  # noqa: E402


@pytest.fixture(scope="module")
def smoke():
    """The shipped smoke-reviews dataset, its seed-0 random split and the sealed view (with references)."""
    from xrbench.data import smoke as smoke_data
    from xrbench.data.split import make_split
    from xrbench.references import references
    from xrbench.view import TrainView

    ds = smoke_data.load()
    split = make_split(ds, "random", 0)
    refs = references(ds, split)
    return ds, split, TrainView.build(ds, split, 0, refs=refs)


def fitted(name, view, kind="recommender", **params):
    from xrbench.registry import REGISTRY

    model = REGISTRY.get(kind, name)(**params)
    model.bind(view)
    model.fit(view)
    return model


def held_out(ds, split, view):
    te = ds.interactions.iloc[split.test]
    return (te["user"].map(view.user_index).to_numpy(), te["item"].map(view.item_index).to_numpy(),
            te["rating"].to_numpy(float))


def test_mf_rates_in_range_with_finite_rmse_and_is_seeded(smoke):
    ds, split, view = smoke
    u, i, r = held_out(ds, split, view)
    a, b = fitted("cornac:MF", view), fitted("cornac:MF", view)
    p = a.predict(u, i)
    assert p.shape == r.shape and np.all((p >= view.rating_min) & (p <= view.rating_max))
    rmse = float(np.sqrt(np.mean((p - r) ** 2)))
    assert np.isfinite(rmse) and rmse < 2.0
    users = np.arange(view.n_users)
    assert np.array_equal(a.scores(users), b.scores(users))  # the run's seed: same scores twice
    assert np.array_equal(p, b.predict(u, i))
    import dataclasses

    other = fitted("cornac:MF", dataclasses.replace(view, seed=1))
    assert not np.array_equal(a.scores(users), other.scores(users))  # ... and it is the seed that sets them


def test_ranking_scores_every_item_and_excludes_seen(smoke):
    ds, split, view = smoke
    for name in ("cornac:BPR", "cornac:EFM"):
        m = fitted(name, view)
        users = np.arange(view.n_users)
        s = m.scores(users)
        assert s.shape == (view.n_users, view.n_items) and np.isfinite(s).all()
        top = m.rank(users, k=10)
        for uu, lst in zip(users, top):
            assert len(lst) == min(10, view.n_items - len(set(view.seen[uu])))
            assert not set(lst.tolist()) & set(view.seen[uu].tolist())
    from xrbench.registry import REGISTRY

    for name in ("BPR", "WMF", "NeuMF", "VAECF"):  # their scores are not ratings
        assert REGISTRY.get("recommender", f"cornac:{name}").predicts_ratings is False
    for name in ("MF", "PMF", "SVD", "NMF", "EFM", "MTER"):
        assert REGISTRY.get("recommender", f"cornac:{name}").predicts_ratings is True


def test_cornac_is_trained_on_the_training_rows_only(smoke, monkeypatch):
    import cornac

    ds, split, view = smoke
    seen = {}
    real_fit = cornac.models.MF.fit

    def spy(self, train_set, val_set=None):
        seen["train"], seen["valid"], seen["seed"] = train_set, val_set, self.seed
        return real_fit(self, train_set, val_set)

    monkeypatch.setattr(cornac.models.MF, "fit", spy)
    m = fitted("cornac:MF", view)
    tr = seen["train"]
    raw_u = {c: r for r, c in tr.uid_map.items()}
    raw_i = {c: r for r, c in tr.iid_map.items()}
    pairs = {(raw_u[a], raw_i[b]) for a, b in zip(*tr.uir_tuple[:2])}
    assert tr.num_ratings == m.n_train_ratings == len(view.train)
    assert pairs == set(zip(view.train["uidx"].tolist(), view.train["iidx"].tolist()))
    te = ds.interactions.iloc[split.test]
    held = set(zip(te["user"].map(view.user_index), te["item"].map(view.item_index)))
    assert not pairs & held
    assert seen["valid"].num_ratings == len(view.valid)  # the validation rows, as Cornac's val_set
    assert seen["seed"] == view.seed


def test_users_and_items_cornac_never_saw(smoke):
    """Cold users are ranked by training popularity and rated at the training mean; cold items rank after
    every item Cornac knows and are rated at the training mean."""
    from xrbench.data.split import Split
    from xrbench.references import references
    from xrbench.view import TrainView

    ds, split, _ = smoke
    inter = ds.interactions
    cold_user, cold_item = inter["user"].iloc[0], inter["item"].iloc[1]
    cold = ((inter["user"] == cold_user) | (inter["item"] == cold_item)).to_numpy()
    rows = np.arange(len(inter))
    sp = Split("random", 0, rows[~cold][:-30], rows[~cold][-30:], rows[cold])
    view = TrainView.build(ds, sp, 0, refs=references(ds, sp))
    u0, i0 = view.user_index[cold_user], view.item_index[cold_item]
    for name in ("cornac:MF", "cornac:EFM"):
        m = fitted(name, view)
        mean = float(view.train["rating"].mean())
        assert m.predict(np.array([u0, 1]), np.array([2, i0])) == pytest.approx([mean, mean])
        s = m.scores(np.arange(view.n_users))
        known = np.delete(np.arange(view.n_items), i0)
        others = np.delete(np.arange(view.n_users), u0)
        assert np.all(s[others][:, [i0]] < s[others][:, known])
        assert np.array_equal(s[u0], view.train_item_counts.astype(float))


def test_efm_and_mter_explanations_cite_the_items_review_features(smoke):
    from xrbench import aspects
    from xrbench.baselines.cornac_models import TEMPLATE

    ds, split, view = smoke
    u, i, _ = held_out(ds, split, view)
    lex = aspects.opinion_lexicon()
    vocab = frozenset(view.references.vocabulary)
    mentioned: dict[int, set[str]] = {}
    for it, text in zip(view.train["iidx"], view.train["text"]):
        mentioned.setdefault(int(it), set()).update(
            f for s in aspects.sentences(text) for f, _ in aspects.opinion_pairs(aspects.tokens(s), lex) if f in vocab)
    for name, params in (("cornac:EFM", {}), ("cornac:MTER", {"max_iter": 50})):
        ex = fitted(name, view, "explainer", **params)
        expl = ex.explain(u.tolist(), i.tolist())
        assert len(expl) == len(u)
        for e, item in zip(expl, i):
            assert len(e.reasons) == 1
            assert e.text == TEMPLATE.format(features=e.reasons[0])
            assert e.reasons[0] in mentioned[int(item)], (name, item, e.reasons)
        two = fitted(name, view, "explainer", n_reasons=2, **params).explain(u[:3].tolist(), i[:3].tolist())
        assert all(len(e.reasons) == 2 and " and " in e.text and e.text.startswith("You might be interested in ")
                   for e in two)
    # EFM's rule: among the user's most cared features, the one the item performs best on
    rec = view.fitted("cornac:EFM")
    m = rec.cornac_model
    cu, ci = int(rec.user_map[u[0]]), int(rec.item_map[i[0]])
    cand = rec.item_aspects[ci]
    x, y = m.V @ m.U1[cu], m.V @ m.U2[ci]
    cared = set(np.argsort(-x, kind="stable")[: rec.params["num_most_cared_aspects"]].tolist())
    pick = max(cand, key=lambda a: (a in cared, y[a]))
    assert rec.top_features(int(u[0]), int(i[0]), 1) == [rec.aspect_names[pick]]


def test_sentiment_tuples_come_from_xrbench_extraction(smoke):
    from xrbench.baselines.cornac_models import sentiment_tuples

    _, _, view = smoke
    tuples = sentiment_tuples(view)
    assert len(tuples) == len(view.train)
    vocab = set(view.references.vocabulary)
    for pos, tup in view.references.by_train.items():  # the reference tuple of a row is among its tuples
        assert (tup.feature, tup.opinion, float(tup.polarity)) in tuples[pos]
    assert all(f in vocab and p in (1.0, -1.0) for row in tuples for f, _, p in row)


def test_params_are_typed_and_the_seed_is_the_runs():
    from xrbench.errors import XRBenchError
    from xrbench.registry import REGISTRY

    mf = REGISTRY.get("recommender", "cornac:MF")
    assert mf(k=4, max_iter=3).params["k"] == 4
    for bad in ({"k": 0}, {"learning_rate": -1.0}, {"seed": 3}, {"backend": "tensorflow"}, {"k": 2.5}):
        with pytest.raises(XRBenchError):
            mf(**bad)
    efm = REGISTRY.get("explainer", "cornac:EFM")
    assert {"n_reasons", "num_explicit_factors", "max_iter"} <= set(efm.default_params())
    with pytest.raises(XRBenchError):
        efm(n_reasons=0)


def test_every_cornac_entry_declares_typed_params_whose_defaults_construct():
    from xrbench.builtins import _EXPLAINERS, _RECOMMENDERS
    from xrbench.registry import REGISTRY

    names = [("recommender", n) for n in _RECOMMENDERS if n.startswith("cornac:")]
    names += [("explainer", n) for n in _EXPLAINERS if n.startswith("cornac:")]
    assert len(names) == 12
    for kind, name in names:
        cls = REGISTRY.get(kind, name)
        specs = cls.param_specs()
        assert set(specs) == set(cls.default_params()) and "seed" not in specs, name
        assert all(spec.types or spec.choices is not None for spec in specs.values()), name
        assert cls.check_params(cls.default_params()) == cls.default_params()
        cls().preflight() if name != "cornac:WMF" else cls()


def test_sentiment_models_need_text():
    from xrbench.builtins import _CAPABILITIES
    from xrbench.errors import IncompatibleError
    from xrbench.protocols import check_needs
    from xrbench.registry import REGISTRY

    for kind in ("recommender", "explainer"):
        cls = REGISTRY.get(kind, "cornac:EFM")
        with pytest.raises(IncompatibleError, match="needs text"):
            check_needs(kind, "cornac:EFM", cls.needs, frozenset(_CAPABILITIES["ml-100k"]), "ml-100k")
    check_needs("recommender", "cornac:MF", REGISTRY.get("recommender", "cornac:MF").needs,
                frozenset(_CAPABILITIES["ml-100k"]), "ml-100k")


def test_unknown_cornac_model_is_a_clear_error(tmp_path):
    from xrbench.errors import UnknownNameError
    from xrbench.registry import REGISTRY

    with pytest.raises(UnknownNameError, match="unknown recommender 'cornac:Nope'"):
        REGISTRY.get("recommender", "cornac:Nope")
    p = cli("run", "--dataset", "smoke-reviews", "--recommender", "cornac:Nope", "--out", str(tmp_path / "o"), "-q")
    assert_clean_error(p, "cornac:Nope", "its models:", "ItemKNN")
    assert p.returncode == 2 and not (tmp_path / "o").exists()


def test_any_other_cornac_model_runs_by_name_as_a_ranker(tmp_path, smoke):
    """``cornac:ItemKNN`` has no class of its own: it is made from Cornac's when named, its params are the model's
    scalar keyword arguments (typed by Cornac's defaults), it ranks, and its scores are not taken for ratings."""
    from xrbench.registry import REGISTRY

    cls = REGISTRY.get("recommender", "cornac:ItemKNN")
    assert cls.default_params()["k"] == 20 and not cls.predicts_ratings
    with pytest.raises(Exception, match="param 'k' must be an integer"):
        cls.check_params({"k": "many"}, "recommender 'cornac:ItemKNN'")
    ds, split, view = smoke
    model = fitted("cornac:ItemKNN", view, k=5)
    top = model.rank(np.arange(view.n_users), 10)
    assert all(not set(row) & set(view.seen[u]) for u, row in enumerate(top))
    p = cli("run", "--dataset", "smoke-reviews", "--recommender", "cornac:ItemKNN", "--param", "k=5",
            "--out", str(tmp_path / "o"), "-q")
    assert p.returncode == 0, p.stderr
    rec = json.loads(next((tmp_path / "o").rglob("record.json")).read_text())
    assert rec["method"]["params"]["k"] == 5 and "ndcg@10" in rec["metrics"] and "rmse" not in rec["metrics"]
    assert "ranking only" in rec["skipped_metrics"]["rmse"]


def test_without_cornac_naming_a_model_says_how_to_install_it(tmp_path, monkeypatch):
    import sys

    from xrbench.errors import XRBenchError
    from xrbench.registry import REGISTRY

    monkeypatch.setitem(sys.modules, "cornac", None)  # "import cornac" raises ImportError
    for kind, name in (("recommender", "cornac:MF"), ("explainer", "cornac:EFM")):
        with pytest.raises(XRBenchError, match=r"pip install 'xrbench\[cornac\]'"):
            REGISTRY.get(kind, name)().preflight()
    monkeypatch.undo()
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "cornac.py").write_text("raise ImportError('No module named cornac')\n")
    p = cli("run", "--dataset", "smoke-reviews", "--recommender", "cornac:MF", "--out", str(tmp_path / "o"), "-q",
            env={"PYTHONPATH": str(blocked)})
    assert_clean_error(p, "cornac:MF", "pip install 'xrbench[cornac]'")
    assert p.returncode == 2 and not (tmp_path / "o").exists()


def test_end_to_end_on_smoke_reviews(tmp_path):
    """The real command: cornac:MF and cornac:BPR as recommenders, cornac:EFM as explainer."""
    out = tmp_path / "out"
    p = cli("run", "--dataset", "smoke-reviews", "--recommender", "cornac:MF", "cornac:BPR", "--explainer",
            "cornac:EFM", "--seeds", "0", "--out", str(out), "-q")
    assert p.returncode == 0, p.stderr
    recs = {json.loads(f.read_text())["method"]["name"]: json.loads(f.read_text()) for f in out.rglob("record.json")}
    assert set(recs) == {"cornac:MF", "cornac:BPR", "cornac:EFM"}
    assert all(r["status"] == "ok" for r in recs.values())
    mf, bpr, efm = recs["cornac:MF"]["metrics"], recs["cornac:BPR"]["metrics"], recs["cornac:EFM"]["metrics"]
    assert np.isfinite(mf["rmse"]) and 0 <= mf["ndcg@10"] <= 1
    assert "rmse" not in bpr and 0 <= bpr["ndcg@10"] <= 1  # ranking only
    assert {"bleu1", "fmr", "fcr"} <= set(efm)
    assert efm["fmr"] > 0  # it cites features of the reviews

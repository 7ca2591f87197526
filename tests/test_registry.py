from __future__ import annotations

import pytest

import xrbench
from xrbench.errors import UnknownNameError, XRBenchError
from xrbench.registry import REGISTRY, Registry, describe, load_plugin_file


def test_unknown_name_suggests_close_matches():
    with pytest.raises(UnknownNameError) as e:
        REGISTRY.get("recommender", "biased_mf")
    assert "unknown recommender 'biased_mf'" in str(e.value) and "Did you mean: biased-mf" in str(e.value)


def test_builtins_are_lazy_until_used():
    r = Registry()
    r.add("task", "recommend", "xrbench.tasks.recommend:RecommendTask", method_kind="recommender")
    assert "recommender" in r.kinds and isinstance(r.entry("task", "recommend").target, str)  # a task's method kind
    r.add("recommender", "lazy-one", "xrbench.baselines.recommenders:GlobalMean")
    entry = r.entry("recommender", "lazy-one")
    assert isinstance(entry.target, str)
    cls = r.get("recommender", "lazy-one")
    assert cls.__name__ == "GlobalMean" and not isinstance(entry.target, str)


def test_lazy_target_that_does_not_import_is_a_clear_error():
    r = Registry()
    r.add("task", "explain", "xrbench.tasks.explain:ExplainTask", method_kind="explainer")
    r.add("explainer", "ghost", "xrbench_no_such_module:Thing")
    with pytest.raises(XRBenchError, match="could not be loaded from 'xrbench_no_such_module:Thing'"):
        r.get("explainer", "ghost")


def test_register_decorator_and_clash():
    r = Registry()

    @r.register("metric", "m1", task="recommend")
    def m1(out):
        return 1.0
    assert r.get("metric", "m1") is m1
    with pytest.raises(XRBenchError, match="already registered"):
        r.add("metric", "m1", lambda out: 2.0)


def test_plugin_file(tmp_path):
    f = tmp_path / "my_plugin.py"
    f.write_text(
        "import numpy as np\n"
        "import xrbench\n"
        "from xrbench.protocols import Recommender\n"
        "@xrbench.register('recommender', 'plugin-const', description='always 3')\n"
        "class Const(Recommender):\n"
        "    def fit(self, view): pass\n"
        "    def predict(self, users, items): return np.full(len(users), 3.0)\n")
    load_plugin_file(f)
    assert REGISTRY.get("recommender", "plugin-const").__name__ == "Const"
    assert any(r["name"] == "plugin-const" for r in describe(["recommender"])["recommender"])


def test_plugin_file_errors(tmp_path):
    with pytest.raises(XRBenchError, match="plugin file not found"):
        load_plugin_file(tmp_path / "missing.py")
    bad = tmp_path / "bad.py"
    bad.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(XRBenchError, match="plugin failed to import: RuntimeError: boom"):
        load_plugin_file(bad)


def test_entry_point_plugin_loaded_only_when_named(tmp_path, monkeypatch):
    monkeypatch.delenv("XRBENCH_NO_ENTRY_POINTS")  # the tests otherwise never see installed plugins
    site = tmp_path / "site"
    dist = site / "fake_xrb_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-xrb-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[xrbench.plugins]\nep-rec = fake_xrb_plugin_mod\n")
    (site / "fake_xrb_plugin_mod.py").write_text(
        "import xrbench\nfrom xrbench.baselines.recommenders import GlobalMean\n"
        "xrbench.register('recommender', 'ep-rec')(type('EpRec', (GlobalMean,), {}))\n"
        "LOADED = True\n")
    monkeypatch.syspath_prepend(str(site))
    import sys
    assert "fake_xrb_plugin_mod" not in sys.modules
    REGISTRY.get("recommender", "bias")  # a built-in name never imports plugins
    assert "fake_xrb_plugin_mod" not in sys.modules
    assert REGISTRY.get("recommender", "ep-rec").__name__ == "EpRec"
    assert "fake_xrb_plugin_mod" in sys.modules


def test_public_api_surface():
    assert callable(xrbench.run) and xrbench.Experiment is not None and xrbench.__version__

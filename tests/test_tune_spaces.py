"""The search spaces ``xrbench tune`` ships (``xrbench/tuning_spaces/*.yaml``): each loads and validates against its
method's params, and holds the method's default values (a study's first trial is the defaults)."""
from __future__ import annotations

import importlib.util

import pytest

from xrbench.registry import REGISTRY
from xrbench.tune import default_space_names, load_space

#: the methods a default space must ship for (at least)
EXPECTED = {"bias", "biased-mf", "item-knn", "attr-mf", "cornac:MF", "cornac:PMF", "cornac:SVD", "cornac:NMF",
            "cornac:BPR", "cornac:WMF", "cornac:NeuMF", "cornac:VAECF", "cornac:EFM", "cornac:MTER"}
HAS_CORNAC = importlib.util.find_spec("cornac") is not None


def test_expected_spaces_ship() -> None:
    missing = EXPECTED - set(default_space_names())
    assert not missing, f"no default search space for {sorted(missing)}"


@pytest.mark.parametrize("name", default_space_names())
def test_space_validates_and_holds_defaults(name: str) -> None:
    if name.startswith("cornac:") and not HAS_CORNAC:
        pytest.skip("cornac is not installed")
    cls = REGISTRY.get("recommender", name)
    space, source = load_space(None, "recommender", name, cls)
    assert source == f"the default space of recommender '{name}'"
    assert 1 <= len(space) <= 4, f"{name}: {len(space)} params in its space"
    defaults = cls.default_params()
    for param, s in space.items():
        assert param in defaults, f"{name}: '{param}' has no default"
        d = defaults[param]
        if s["type"] == "categorical":
            assert d in s["choices"], f"{name}: default {param}={d!r} not among {s['choices']}"
        else:
            assert s["low"] <= d <= s["high"], f"{name}: default {param}={d!r} outside [{s['low']}, {s['high']}]"
            if s["type"] == "int":
                assert isinstance(d, int) and not isinstance(d, bool), f"{name}: int range for {param}={d!r}"
    # training length stays fixed: a trial costs about what a default fit costs
    assert not {"max_iter", "max_epochs", "num_epochs", "n_epochs"} & set(space), f"{name}: tunes its training length"

from __future__ import annotations

import numpy as np
import pytest

from xrbench.data import amazon
from xrbench.data.split import make_split
from xrbench.errors import XRBenchError


def test_random_split_is_deterministic_and_partitions(amazon2014):
    ds = amazon.load("amazon-2014-5core", path=amazon2014)
    a, b, c = make_split(ds, "random", 3), make_split(ds, "random", 3), make_split(ds, "random", 4)
    assert a.hash == b.hash and a.hash != c.hash
    allrows = np.concatenate([a.train, a.valid, a.test])
    assert sorted(allrows.tolist()) == list(range(len(ds.interactions)))
    assert (len(a.train), len(a.valid), len(a.test)) == (48, 6, 6)


def test_split_does_not_depend_on_file_order(tmp_path):
    from tests.conftest import amazon_2014_rows, write_jsonl

    rows = amazon_2014_rows()
    f1 = write_jsonl(tmp_path / "a.json", rows)
    f2 = write_jsonl(tmp_path / "b.json", list(reversed(rows)))
    s1 = make_split(amazon.load("amazon-2014-5core", path=f1), "random", 0)
    s2 = make_split(amazon.load("amazon-2014-5core", path=f2), "random", 0)
    assert s1.hash == s2.hash


def test_split_hash_is_pinned():
    """Same seed -> same split on any machine: PCG64 is platform-independent, so the hash is fixed."""
    from xrbench.data.schema import finalize
    import pandas as pd

    inter = pd.DataFrame({"user": [f"u{i % 7}" for i in range(50)], "item": [f"i{i}" for i in range(50)],
                          "rating": [3.0] * 50, "timestamp": list(range(50))})
    ds = finalize("t", inter, None, None, rating_min=1, rating_max=5, source="mem", file_hash="x", card={}, stats={})
    assert make_split(ds, "random", 0).test.tolist() == [15, 29, 31, 33, 41]  # sorted(default_rng(0).permutation(50)[45:])


def test_leave_last_out_takes_the_latest(amazon2014):
    ds = amazon.load("amazon-2014-5core", path=amazon2014)
    s = make_split(ds, "leave-last-out", 0)
    inter = ds.interactions
    assert len(s.test) == inter["user"].nunique() == len(s.valid)
    for row in s.test:
        u = inter.at[row, "user"]
        assert inter.at[row, "timestamp"] == inter.loc[inter["user"] == u, "timestamp"].max()


def test_unknown_protocol(amazon2014):
    ds = amazon.load("amazon-2014-5core", path=amazon2014)
    with pytest.raises(XRBenchError, match="unknown split protocol 'temporal'"):
        make_split(ds, "temporal", 0)


def _ml_like(n_users=40, per_user=(1, 23), seed=0):
    """A dataset in the canonical form: users with 1 to 22 interactions each."""
    import pandas as pd

    from xrbench.data.schema import finalize

    rng = np.random.default_rng(seed)
    rows = [(f"u{u:02d}", f"i{j:03d}", float(rng.integers(1, 6)), j)
            for u in range(n_users) for j in rng.choice(200, size=rng.integers(*per_user), replace=False)]
    inter = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    return finalize("t", inter, None, None, rating_min=1, rating_max=5, source="mem", file_hash="x", card={}, stats={})


def test_kfold_folds_partition_the_rows_and_are_user_stratified():
    ds = _ml_like()
    n, F = len(ds.interactions), 5
    splits = [make_split(ds, "kfold", s, folds=F) for s in range(F)]
    tests = np.concatenate([s.test for s in splits])
    assert sorted(tests.tolist()) == list(range(n))  # the folds' test parts partition the data
    users = ds.interactions["user"].to_numpy()
    for s in splits:
        assert s.fold == s.seed % F and s.folds == F and s.protocol == "kfold"
        parts = [set(s.train), set(s.valid), set(s.test)]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
        assert len(s.train) + len(s.valid) + len(s.test) == n
        assert len(s.valid) == round(0.1 * n)
    per_fold = np.array([[np.sum(users[s.test] == u) for s in splits] for u in np.unique(users)])
    totals = per_fold.sum(axis=1)
    assert (per_fold.max(axis=1) - per_fold.min(axis=1) <= 1).all()  # dealt in turn: counts differ by at most 1
    assert (per_fold[totals >= F] >= 1).all()  # a user with >= F interactions is tested in every fold


def test_kfold_is_seeded_and_the_fold_is_in_the_hash():
    ds = _ml_like()
    a, b = make_split(ds, "kfold", 1, folds=5), make_split(ds, "kfold", 1, folds=5)
    assert a.hash == b.hash and np.array_equal(a.test, b.test)
    assert len({make_split(ds, "kfold", s, folds=5).hash for s in range(5)}) == 5
    other = make_split(ds, "kfold", 6, folds=5)  # fold 1 of the second partition
    assert other.fold == 1 and not np.array_equal(other.test, a.test)
    # the same rows under another fold label hash differently (the fold is part of the hash)
    from dataclasses import replace
    assert replace(a, fold=2).hash != a.hash
    assert a.describe()["fold"] == 1 and a.describe()["folds"] == 5


def test_kfold_refuses_too_many_folds_for_the_data():
    import pandas as pd

    from xrbench.data.schema import finalize
    from xrbench.errors import DataError

    inter = pd.DataFrame({"user": ["u"] * 3, "item": ["a", "b", "c"], "rating": [3.0] * 3, "timestamp": [1, 2, 3]})
    ds = finalize("t", inter, None, None, rating_min=1, rating_max=5, source="mem", file_hash="x", card={}, stats={})
    with pytest.raises(DataError, match="no test rows"):
        make_split(ds, "kfold", 4, folds=5)


def test_an_adhoc_kfold_run_gives_one_record_per_fold(tmp_path):
    import json

    from tests.conftest import cli

    p = cli("run", "--dataset", "smoke-reviews", "--recommender", "bias", "--split", "kfold", "--folds", "3",
            "--out", str(tmp_path / "o"), "-q")
    assert p.returncode == 0, p.stderr
    recs = [json.loads(f.read_text()) for f in sorted((tmp_path / "o").rglob("record.json"))]
    splits = [r["provenance"]["split"] for r in recs]
    assert [(s["seed"], s["fold"], s["folds"]) for s in splits] == [(0, 0, 3), (1, 1, 3), (2, 2, 3)]
    assert len({s["hash"] for s in splits}) == 3
    v = cli("validate", str(tmp_path / "o"))  # the split hashes recompute from the fold
    assert v.returncode == 0, v.stdout + v.stderr

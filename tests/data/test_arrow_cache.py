"""The Arrow cache (Hugging Face ``datasets``' on-disk format): every current dataset loads the same from the
cache as from parsing (frames, dtypes, row order, values, stats, split hashes), a cached load parses nothing,
a bad line still names its file and line, an unusable cache folder is rebuilt, and the cache can be off."""
from __future__ import annotations

import json
import logging
import os
import sys
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from tests.conftest import amazon_2014_rows, has_recbole, shared_dir, write_grouplens, write_jsonl
from tests.data.test_amazon_2023 import write_2023
from tests.data.test_movielens_large import write_csv_variant, write_ml1m, write_ml10m, zipped
from tests.data.test_nlg4rs_dataset import write_nlg4rs
from xrbench.data import amazon, arrow_cache, movielens, nlg4rs, smoke
from xrbench.data import movielens_large as mll
from xrbench.data.schema import Dataset
from xrbench.data.split import make_split
from xrbench.errors import DataError

pytest.importorskip("datasets")  # the cache needs the scale extra (the test extra has it)

MI = "reviews_Musical_Instruments_5.json.gz"


def _mi() -> Path:
    root = shared_dir()
    f = root / "data" / "amazon" / MI if root else None
    if f is None or not f.is_file():
        pytest.skip(f"shared/data/amazon/{MI} is not here")
    return f


def _amazon_2018(tmp: Path) -> Path:
    rows = [{"overall": 5.0, "reviewerID": f"R{u}", "asin": f"I{i}", "reviewText": f"text {u} {i}" if u % 3 else "  ",
             "summary": "s", "unixReviewTime": 1_500_000_000 + u * 10 + i, "vote": "3", "style": {"Size:": " L"}}
            for u in range(8) for i in range(4)]
    rows += [{**rows[5], "overall": 2.0, "unixReviewTime": rows[5]["unixReviewTime"] + 1}]  # a duplicate
    return write_jsonl(tmp / "Musical_Instruments_5.json", rows)


def _ml100k_zip(tmp: Path) -> Path:
    d = write_grouplens(tmp / "ml-100k")
    z = tmp / "ml-100k.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in sorted(d.iterdir()):
            zf.write(f, f"ml-100k/{f.name}")
    return z


#: every dataset xrbench reads today, in each of its formats: (name, writer -> loader, the module whose parse
#: step a cached load must not call, that step's name)
CASES: dict[str, tuple[Callable[[Path], Callable[[], Dataset]], object, tuple[str, ...]]] = {
    "amazon-2014-mi": (lambda tmp: lambda: amazon.load_2014(path=_mi()), amazon, ("parse",)),
    "amazon-2014": (lambda tmp: (lambda f: lambda: amazon.load_2014(path=f))(
        write_jsonl(tmp / MI, amazon_2014_rows(), gz=True)), amazon, ("parse",)),
    "amazon-2018": (lambda tmp: (lambda f: lambda: amazon.load_2018(path=f))(_amazon_2018(tmp)), amazon, ("parse",)),
    "amazon-2023-meta": (lambda tmp: (lambda f: lambda: amazon.load_2023(path=f))(write_2023(tmp)), amazon,
                         ("parse", "parse_meta")),
    "smoke-reviews": (lambda tmp: smoke.load, amazon, ("parse",)),
    "ml-100k-recbole": (lambda tmp: lambda: movielens.load(allow_download=False), movielens, ("_build",)),
    "ml-100k-folder": (lambda tmp: (lambda d: lambda: movielens.load(path=d))(write_grouplens(tmp / "ml-100k")),
                       movielens, ("_build",)),
    "ml-100k-zip": (lambda tmp: (lambda z: lambda: movielens.load(path=z))(_ml100k_zip(tmp)), movielens, ("_build",)),
    "ml-1m": (lambda tmp: (lambda d: lambda: mll.load_1m(path=d))(write_ml1m(tmp / "ml-1m")), mll, ("_parse_files",)),
    "ml-10m-tags": (lambda tmp: (lambda d: lambda: mll.load_10m(path=d, tags=True))(write_ml10m(tmp / "ml-10M100K")),
                    mll, ("_parse_files",)),
    "ml-25m-zip": (lambda tmp: (lambda z: lambda: mll.load_25m(path=z))(
        zipped(write_csv_variant(tmp / "ml-25m"), tmp / "ml-25m.zip")), mll, ("_parse_files",)),
    "nlg4rs": (lambda tmp: (lambda d: lambda: nlg4rs.load(path=d))(write_nlg4rs(tmp / "TripAdvisor", folds=2)),
               nlg4rs, ("read_reviews",)),
}


def assert_same(a: Dataset, b: Dataset) -> None:
    """The same dataset: frames (values, dtypes, index, row order, the Python type of every object cell),
    stats, source, hash, card and folds."""
    for name in ("interactions", "items", "users"):
        x, y = getattr(a, name), getattr(b, name)
        pd.testing.assert_frame_equal(x, y, check_exact=True, check_index_type=True, check_column_type=True,
                                      obj=name)
        assert list(x.dtypes) == list(y.dtypes) and x.index.dtype == y.index.dtype, name
        assert type(x.index) is type(y.index) and x.index.name == y.index.name, name
        for c in x.columns:
            if x[c].dtype == object:
                assert [type(v) for v in x[c]] == [type(v) for v in y[c]], (name, c)
    assert a.stats == b.stats and list(a.stats) == list(b.stats)
    assert (a.name, a.source, a.file_hash, a.rating_min, a.rating_max) == (
        b.name, b.source, b.file_hash, b.rating_min, b.rating_max)
    assert a.card == b.card
    assert sorted(a.folds) == sorted(b.folds)
    for k in a.folds:
        for p, q in zip(a.folds[k], b.folds[k]):
            assert np.array_equal(p, q)


def split_hashes(ds: Dataset) -> dict[str, str]:
    out = {"random0": make_split(ds, "random", 0).hash, "random1": make_split(ds, "random", 1).hash,
           "kfold0": make_split(ds, "kfold", 0).hash}
    if ds.interactions.groupby("user").size().max() >= 3:
        out["leave-last-out"] = make_split(ds, "leave-last-out", 0).hash
    for seed in range(len(ds.folds)):
        out[f"predefined{seed}"] = make_split(ds, "predefined", seed).hash
    return out


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A cache folder of the test's own (not the session's), the cache on."""
    monkeypatch.setenv("XRBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(arrow_cache.ENV, raising=False)
    return tmp_path / "cache" / "arrow"


@pytest.mark.parametrize("case", list(CASES))
def test_every_dataset_loads_the_same_from_the_cache(case, tmp_path, cache, monkeypatch, caplog):
    if case == "ml-100k-recbole" and not has_recbole():
        pytest.skip("the recbole wheel (pip install --no-deps recbole==1.2.1) ships ML-100K")
    writer, module, steps = CASES[case]
    (tmp_path / "files").mkdir()
    load = writer(tmp_path / "files")
    monkeypatch.setenv(arrow_cache.ENV, "0")
    parsed = load()
    assert not cache.exists()  # off: nothing written
    monkeypatch.setenv(arrow_cache.ENV, "1")
    caplog.set_level(logging.INFO, logger="xrbench")
    first = load()
    assert "parsed" in caplog.text and "Arrow cache written to" in caplog.text
    assert len(list(cache.iterdir())) == 1
    caplog.clear()

    def no_parse(*a, **k):
        raise AssertionError("a cached load parsed the file")
    for step in steps:
        monkeypatch.setattr(module, step, no_parse)
    second = load()
    assert "cached:" in caplog.text and "parsed" not in caplog.text
    assert_same(parsed, first)
    assert_same(parsed, second)
    assert split_hashes(parsed) == split_hashes(first) == split_hashes(second)


def test_the_real_files_keep_their_pinned_split_hashes_from_the_cache(cache):
    mi = [amazon.load_2014(path=_mi()) for _ in range(2)]
    for ds in mi:  # the first load parses, the second maps the cache
        assert make_split(ds, "random", 0).hash == "2414a12a7b3af73f"
        assert make_split(ds, "leave-last-out", 0).hash == "c9be86885bfbe537"
    if has_recbole():
        for ds in [movielens.load(allow_download=False) for _ in range(2)]:
            assert make_split(ds, "random", 0).hash == "40f31f57bf691af2"
            assert make_split(ds, "leave-last-out", 0).hash == "d805f07924bb153c"
    folders = sorted(p.name for p in cache.iterdir())
    mi_hash = "03f9cc27ae13a454cb4ea6cb620fb10546cc1194ef921441d1c5f34addff2748"
    assert folders[0].startswith(f"amazon-2014-5core-{mi_hash}-p1-")


def test_the_folder_is_a_datasets_folder_named_by_loader_hash_and_version(tmp_path, cache):
    import datasets

    f = write_jsonl(tmp_path / MI, amazon_2014_rows(), gz=True)
    ds = amazon.load_2014(path=f)
    (folder,) = cache.iterdir()
    assert folder.name.startswith(f"amazon-2014-5core-{ds.file_hash}-p{amazon.PARSER_VERSION}-")
    meta = json.loads((folder / "xrbench.json").read_text())
    assert meta["file_sha256"] == ds.file_hash and meta["tables"]["interactions"]["rows"] == 60
    hf = datasets.load_from_disk(str(folder / "interactions"))
    assert hf.num_rows == 60 and hf.column_names == ["user", "item", "rating", "timestamp", "text", "summary"]
    assert hf[0]["user"] == ds.interactions.at[0, "user"] and hf[0]["rating"] == ds.interactions.at[0, "rating"]
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_a_bad_line_names_file_and_line_and_nothing_is_cached(tmp_path, cache):
    rows = [json.dumps(r) for r in amazon_2014_rows()]
    rows[6] = rows[6].replace('"overall": ', '"overall": 7, "x": ')
    f = tmp_path / "bad.json"
    f.write_text("\n".join(rows) + "\n")
    for _ in range(2):  # and the same again: a file that failed is parsed (and refused) every time
        with pytest.raises(DataError) as e:
            amazon.load_2014(path=f)
        assert str(e.value).startswith(f"{f}, line 7, field 'overall': rating 7 is outside the 1-5 scale")
    assert not cache.exists() or not list(cache.iterdir())


def test_too_few_interactions_is_refused_from_the_cache_too(tmp_path, cache):
    f = write_jsonl(tmp_path / MI, amazon_2014_rows(), gz=True)
    amazon.load_2014(path=f)
    with pytest.raises(DataError, match=r"only 60 interactions; a benchmark needs at least 100"):
        amazon.load_2014(path=f, min_interactions=100)  # (mapped from the cache, still checked)


@pytest.mark.parametrize("damage", ["no-meta", "bad-meta", "truncated-arrow", "bad-state", "missing-table",
                                    "other-file"])
def test_a_damaged_cache_folder_is_rebuilt(tmp_path, cache, caplog, damage):
    f = write_jsonl(tmp_path / MI, amazon_2014_rows(), gz=True)
    want = amazon.load_2014(path=f)
    (folder,) = cache.iterdir()
    arrow = next((folder / "interactions").glob("*.arrow"))
    if damage == "no-meta":
        (folder / "xrbench.json").unlink()
    elif damage == "bad-meta":
        (folder / "xrbench.json").write_text("{not json")
    elif damage == "truncated-arrow":
        arrow.write_bytes(arrow.read_bytes()[:-100])
    elif damage == "bad-state":
        (folder / "interactions" / "state.json").write_text('{"_data_files": [{"filename": "../../x.arrow"}]}')
    elif damage == "missing-table":
        for p in (folder / "users").iterdir():
            p.unlink()
    else:  # a folder written for another file
        meta = json.loads((folder / "xrbench.json").read_text())
        meta["file_sha256"] = "0" * 64
        (folder / "xrbench.json").write_text(json.dumps(meta))
    caplog.set_level(logging.INFO, logger="xrbench")
    got = amazon.load_2014(path=f)
    assert "is unusable (" in caplog.text and "rebuilding" in caplog.text and "Arrow cache written to" in caplog.text
    assert_same(want, got)
    caplog.clear()
    assert_same(want, amazon.load_2014(path=f))
    assert "cached:" in caplog.text and "is unusable (" not in caplog.text
    assert len(list(cache.iterdir())) == 1  # the bad folder is gone, not left beside the new one


def test_a_changed_side_file_is_never_served_from_an_old_cache(tmp_path, cache):
    d = write_grouplens(tmp_path / "ml-100k")
    before = movielens.load(path=d)
    text = (d / "u.item").read_bytes().replace(b"Caf\xe9 Movie 1 (", b"Renamed 1 (")
    (d / "u.item").write_bytes(text)  # u.data (the file hash) unchanged, u.item changed
    after = movielens.load(path=d)
    assert before.file_hash == after.file_hash
    assert before.items.at["1", "title"] == "Caf\u00e9 Movie 1" and after.items.at["1", "title"] == "Renamed 1"
    assert len(list(cache.iterdir())) == 2
    # Amazon 2023: a meta file put beside the reviews after a first load is read
    f = write_2023(tmp_path / "a", "Toys_and_Games", meta=False)
    assert amazon.load_2023(path=f).items.shape[1] == 0
    write_2023(tmp_path / "a", "Toys_and_Games", meta=True)
    assert len(amazon.load_2023(path=f).items) == 7
    # ML-10M: tags=true is another table
    d10 = write_ml10m(tmp_path / "ml-10M100K")
    assert "tags" not in mll.load_10m(path=d10).items and "tags" in mll.load_10m(path=d10, tags=True).items


def test_off_switch_and_no_datasets_parse_as_before(tmp_path, cache, monkeypatch, caplog):
    f = write_jsonl(tmp_path / MI, amazon_2014_rows(), gz=True)
    for off in ("0", "false", "off"):
        monkeypatch.setenv(arrow_cache.ENV, off)
        assert not arrow_cache.enabled()
        amazon.load_2014(path=f)
    assert not cache.exists()
    # without datasets installed (the core install): the pandas path, and `datasets` is never imported
    monkeypatch.delenv(arrow_cache.ENV)
    with monkeypatch.context() as m:
        m.setattr(arrow_cache, "datasets_installed", lambda: False)
        m.setitem(sys.modules, "datasets", None)  # `import datasets` would raise ImportError
        with_cache_off = amazon.load_2014(path=f)
        assert not cache.exists()
        m.setenv(arrow_cache.ENV, "1")  # asked for, but not installed: said, and parsed
        caplog.set_level(logging.WARNING, logger="xrbench")
        arrow_cache._warn_missing.cache_clear()
        amazon.load_2014(path=f)
        assert "datasets is not installed" in caplog.text and "xrbench[scale]" in caplog.text
        assert not cache.exists()
    assert_same(with_cache_off, amazon.load_2014(path=f))  # (the cache on again: written, the same)
    assert cache.exists()


def test_the_core_install_does_not_import_datasets(tmp_path):
    """A process that loads a dataset with the cache off never imports datasets (nor does importing xrbench)."""
    import subprocess

    f = write_jsonl(tmp_path / MI, amazon_2014_rows(), gz=True)
    code = ("import sys; from pathlib import Path; from xrbench.data import amazon; "
            f"amazon.load_2014(path=Path({str(f)!r})); print('datasets' in sys.modules)")
    env = {**os.environ, "XRBENCH_CACHE": str(tmp_path / "c"), arrow_cache.ENV: "0"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_another_process_writing_first_is_kept(tmp_path, cache):
    f = write_jsonl(tmp_path / MI, amazon_2014_rows(), gz=True)
    ds = amazon.load_2014(path=f)
    (folder,) = cache.iterdir()
    key = arrow_cache.Key("amazon-2014-5core", amazon.PARSER_VERSION, ds.file_hash, amazon.__name__)
    assert key.folder_name == folder.name
    parsed = arrow_cache.Parsed({"interactions": ds.interactions, "items": ds.items, "users": ds.users}, ds.stats)
    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*")}
    assert arrow_cache.write(folder, key, parsed) is False  # the rename finds the folder there: ours is dropped
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*")} == before
    assert [p.name for p in cache.iterdir()] == [folder.name]


def test_a_table_the_cache_cannot_hold_exactly_is_not_cached(tmp_path, cache, caplog):
    key = arrow_cache.Key("test", 1, "ab" * 32, __name__)
    frame = pd.DataFrame({"x": pd.Series([{"a": 1}, {"b": 2}], dtype=object)})
    caplog.set_level(logging.INFO, logger="xrbench")
    got = arrow_cache.load(key, lambda: arrow_cache.Parsed({"t": frame}), what="x")
    assert got.tables["t"] is frame and "not cached (t.x holds dict values)" in caplog.text
    assert not cache.exists() or not list(cache.iterdir())


def test_columns_round_trip_exactly(tmp_path, cache):
    """Each column kind: numbers (NaN, int32, bool), str (with a missing value), object text with None and
    empty strings, lists of text (empty ones too), an all-None column, a named text index."""
    frame = pd.DataFrame({
        "f": [1.5, float("nan"), -0.0], "i32": np.array([1, -2, 3], dtype=np.int32), "b": [True, False, True],
        "s": pd.Series(["a", None, "ü"], dtype="str"), "o": pd.Series(["x", None, ""], dtype=object),
        "l": pd.Series([["a", "b"], [], ["c"]], dtype=object), "none": pd.Series([None, None, None], dtype=object),
    })
    frame.index = pd.Index(["k1", "k2", "k3"], dtype="str", name="key")
    key = arrow_cache.Key("test", 1, "cd" * 32, __name__)
    arrow_cache.load(key, lambda: arrow_cache.Parsed({"t": frame, "empty": pd.DataFrame(index=pd.RangeIndex(4))},
                                                     {"n": 3}), what="x")
    got = arrow_cache.load(key, lambda: pytest.fail("parsed again"), what="x")
    assert got.cached and got.stats == {"n": 3}
    pd.testing.assert_frame_equal(got.tables["t"], frame, check_exact=True, check_index_type=True)
    assert [type(v) for v in got.tables["t"]["l"]] == [list] * 3 and got.tables["t"]["o"].tolist() == ["x", None, ""]
    assert got.tables["t"]["none"].tolist() == [None] * 3 and np.signbit(got.tables["t"]["f"].iloc[2])
    pd.testing.assert_frame_equal(got.tables["empty"], pd.DataFrame(index=pd.RangeIndex(4)))
    got.tables["t"].loc["k1", "f"] = 9.0  # the numbers are copies, never a read-only view of the mapped file
    assert arrow_cache.load(key, lambda: pytest.fail("parsed again"), what="x").tables["t"].at["k1", "f"] == 1.5


def test_committed_records_keep_their_data_and_split_hashes(cache):
    """Every committed record (quick, explain, fidelity, tuned, smoke boards) on a dataset found here: the file
    hash, the split hash and the split sizes it states come out again from a parsed and from a cached load."""
    repo = Path(__file__).resolve().parents[2]
    loaders: dict[str, Callable[[], Dataset]] = {"smoke-reviews": smoke.load}
    mi = shared_dir() / "data" / "amazon" / MI if shared_dir() else None
    if mi is not None and mi.is_file():
        loaders["amazon-2014-5core"] = lambda: amazon.load_2014(path=mi)
    if has_recbole():
        loaders["ml-100k"] = lambda: movielens.load(allow_download=False)
    wanted: dict[str, set[tuple]] = {}
    for f in repo.glob("leaderboards/*/runs/**/record.json"):
        rec = json.loads(f.read_text())
        split = rec["provenance"].get("split")
        if rec["dataset"] in loaders and split:
            wanted.setdefault(rec["dataset"], set()).add((rec["provenance"]["dataset"]["file_hash"],
                                                          split["protocol"], split["seed"], split["hash"],
                                                          tuple(split["sizes"])))
    assert set(wanted) == set(loaders)  # each board's datasets are found in its records
    checked = 0
    for name, load in loaders.items():
        for ds in (load(), load()):  # parsed (and written), then mapped from the cache
            for file_hash, protocol, seed, split_hash, sizes in wanted[name]:
                s = make_split(ds, protocol, seed)
                assert (ds.file_hash, s.hash, tuple(s.describe()["sizes"])) == (file_hash, split_hash, sizes), name
                checked += 1
    assert checked >= 2 * len(loaders)


def test_a_new_parser_version_replaces_its_old_folder_and_keeps_other_params(tmp_path, cache, monkeypatch):
    f = write_jsonl(tmp_path / MI, amazon_2014_rows(), gz=True)
    want = amazon.load_2014(path=f)
    (old,) = cache.iterdir()
    monkeypatch.setattr(amazon, "PARSER_VERSION", amazon.PARSER_VERSION + 1)
    assert_same(want, amazon.load_2014(path=f))  # parsed again (another parser), the old folder removed
    (new,) = cache.iterdir()
    assert new != old and f"-p{amazon.PARSER_VERSION}-" in new.name
    d = write_ml10m(tmp_path / "ml-10M100K")  # tags=false and tags=true: two folders, both kept
    mll.load_10m(path=d)
    mll.load_10m(path=d, tags=True)
    assert len([p for p in cache.iterdir() if p.name.startswith("ml-10m-")]) == 2

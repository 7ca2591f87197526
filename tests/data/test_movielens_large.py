"""MovieLens 1M / 10M / 20M / 25M / 32M loaders on small files in each GroupLens format, written here: ML-1M
``.dat`` (latin-1 titles, users.dat), ML-10M ``.dat`` (half stars, tags.dat, the ml-10M100K folder) and the
ML-20M+ CSV files (header, quoted titles holding commas, "(no genres listed)"), as folders and as zips."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import assert_clean_error, cli, cli_here
from xrbench.data import movielens_large as mll
from xrbench.data.cards import load_card
from xrbench.data.catalog import DataPaths, load_dataset
from xrbench.errors import DataError, DatasetUnavailable, XRBenchError

# -- writers ----------------------------------------------------------------------------------------------
ML1M_MOVIES = {1: ("Misérables, Les (1995)", "Drama|Musical"),
               2: ("Toy Story (1995)", "Animation|Children's|Comedy"),
               3: ("Cité des enfants perdus, La (1995)", "Adventure|Sci-Fi"),
               4: ("Heat (1995)", "Action|Crime|Thriller"),
               5: ("Sabrina (1995)", "Comedy|Romance"), 6: ("Sudden Death (1995)", "Action"),
               7: ("GoldenEye (1995)", "Action|Adventure|Thriller"), 8: ("Balto (1995)", "Animation|Children's"),
               9: ("Never Rated (1996)", "Drama"), 10: ("Nixon (1995)", "Drama")}


def ml1m_ratings() -> list[tuple[int, int, int, int]]:
    """(user, movie, stars, timestamp); users 1..12 (so "10" sorts before "2"), movies 1..8 and 10; movie 9 unrated."""
    rows = []
    for u in range(1, 13):
        for i in (1, 2, 3, 4, 5, 6, 7, 8, 10):
            if (u + i) % 3:
                rows.append((u, i, 1 + (u * i) % 5, 978_300_000 + u * 100 + i))
    return rows[::-1]  # file order is not the canonical order


def write_ml1m(d: Path) -> Path:
    d.mkdir(parents=True)
    (d / "ratings.dat").write_text("".join(f"{u}::{i}::{r}::{t}\n" for u, i, r, t in ml1m_ratings()))
    (d / "movies.dat").write_bytes("".join(f"{i}::{t}::{g}\n" for i, (t, g) in ML1M_MOVIES.items()).encode("latin-1"))
    ages = (1, 18, 25, 35, 45, 50, 56)
    (d / "users.dat").write_text("".join(f"{u}::{'MF'[u % 2]}::{ages[u % 7]}::{u % 21}::{10000 + u}\n"
                                         for u in range(1, 13)))
    return d


def ml10m_ratings() -> list[tuple[int, int, float, int]]:
    stars = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0]
    return [(u, i, stars[(u * 7 + i) % 10], 1_100_000_000 + u * 1000 + i)
            for u in range(1, 16) for i in (1, 2, 3, 5, 7, 13) if (u * i) % 4]


def write_ml10m(d: Path) -> Path:
    d.mkdir(parents=True)
    (d / "ratings.dat").write_text("".join(f"{u}::{i}::{r:g}::{t}\n" for u, i, r, t in ml10m_ratings()))
    movies = {1: ("Toy Story (1995)", "Adventure|Animation|Children|Comedy|Fantasy"),
              2: ("Jumanji (1995)", "Adventure"),
              3: ("Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)", "Comedy|Romance"),
              5: ("Father of the Bride Part II (1995)", "Comedy"), 7: ("Tom and Huck (1995)", "(no genres listed)"),
              13: ("Balto (1995)", "Animation|Children")}
    (d / "movies.dat").write_text("".join(f"{i}::{t}::{g}\n" for i, (t, g) in movies.items()), encoding="utf-8")
    tags = [(1, 1, "pixar", 1), (2, 1, "Pixar ", 2), (3, 1, "funny", 3), (2, 3, "quirky", 4), (4, 3, "paris", 5),
            (5, 3, "Quirky", 6), (6, 3, "a::b", 7), (7, 99, "not rated", 8)]
    (d / "tags.dat").write_text("".join(f"{u}::{i}::{t}::{1_100_000_000 + s}\n" for u, i, t, s in tags))
    return d


def csv_ratings() -> list[tuple[int, int, float, int]]:
    stars = [3.5, 4.0, 0.5, 5.0, 2.5, 1.0, 4.5]
    return [(u, i, stars[(u + i) % 7], 1_500_000_000 + u * 1000 + i)
            for u in range(1, 21) for i in (1, 2, 10, 25, 100, 250) if (u + 2 * i) % 5]


CSV_MOVIES = ('movieId,title,genres\n'
              '1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n'
              '2,"American President, The (1995)",Comedy|Drama|Romance\n'
              '10,"Amélie (Fabuleux destin d\'Amélie Poulain, Le) (2001)",Comedy|Romance\n'
              '25,"Say ""Hello"" (2019)",(no genres listed)\n'
              '100,Babylon 5 (1994–1998),Sci-Fi\n'
              '250,Untitled Movie,Drama\n'
              '300,Never Rated (2000),Drama\n')


def write_csv_variant(d: Path) -> Path:
    d.mkdir(parents=True)
    (d / "ratings.csv").write_text("userId,movieId,rating,timestamp\n"
                                   + "".join(f"{u},{i},{r:g},{t}\n" for u, i, r, t in csv_ratings()))
    (d / "movies.csv").write_text(CSV_MOVIES, encoding="utf-8")
    (d / "tags.csv").write_text('userId,movieId,tag,timestamp\n1,2,"politics, US",1500000001\n2,2,politics,1500000002\n'
                                '3,2,"Politics, us",1500000003\n4,10,Paris,1500000004\n', encoding="utf-8")
    return d


def zipped(folder: Path, dest: Path) -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{folder.name}/", "")
        for f in sorted(folder.iterdir()):
            zf.write(f, f"{folder.name}/{f.name}")
    return dest


def text_sorted(ds) -> bool:
    pairs = list(ds.interactions[["user", "item"]].itertuples(index=False, name=None))
    return pairs == sorted(pairs)


# -- ML-1M ------------------------------------------------------------------------------------------------
def test_ml1m_folder_parent_and_zip_agree(tmp_path):
    d = write_ml1m(tmp_path / "ml-1m")
    a = mll.load_1m(path=d)
    b = mll.load_1m(path=tmp_path)  # the folder above it
    z = mll.load_1m(path=zipped(d, tmp_path / "ml-1m.zip"))
    want = ml1m_ratings()
    info = a.inspect()
    assert (info["interactions"], info["users"], info["items"]) == (len(want), 12, 9)
    assert a.source.startswith("grouplens-folder:") and z.source.startswith("grouplens-zip:")
    for other in (b, z):
        assert a.interactions.equals(other.interactions)
        assert a.items.equals(other.items) and a.users.equals(other.users)
    # canonical order: (user, item) as text ("10" before "2"), whatever the file order
    assert text_sorted(a) and list(a.interactions["user"].iloc[:2]) == ["1", "1"]
    assert a.interactions["user"].unique().tolist()[:4] == ["1", "10", "11", "12"]
    got = {(u, i): (r, t) for u, i, r, t in a.interactions.itertuples(index=False, name=None)}
    assert got == {(str(u), str(i)): (float(r), t) for u, i, r, t in want}
    assert a.interactions["timestamp"].dtype == np.int64 and a.interactions["rating"].dtype == np.float64
    # latin-1 titles decoded, the year moved to its column, genres as attributes; the unrated movie left out
    assert a.items.loc["1", "title"] == "Misérables, Les" and a.items.loc["1", "year"] == 1995
    assert a.items.loc["3", "title"] == "Cité des enfants perdus, La"
    assert a.items.loc["2", "attributes"] == ["Animation", "Children's", "Comedy"]
    assert "9" not in a.items.index and a.stats["unrated_movies"] == 1
    # demographics for the bias metrics
    assert a.users.loc["2", "gender"] == "M" and a.users.loc["3", "gender"] == "F"
    assert a.users.loc["3", "age"] == 35.0 and a.users.loc["12", "age"] == 50.0
    assert a.users.loc["12", "occupation"] == "programmer" and a.users.loc["1", "zip"] == "10001"
    assert {"item_attributes", "item_titles", "user_attributes"} <= a.capabilities()
    assert (a.rating_min, a.rating_max) == (1.0, 5.0) and a.card["name"] == "ml-1m"


def test_ml1m_found_under_a_data_root_but_not_as_a_bare_ratings_file(tmp_path):
    root = tmp_path / "root"
    write_ml1m(root / "ml-1m")
    ds = load_dataset("ml-1m", paths=DataPaths(roots=(root,), allow_download=False))
    assert len(ds.interactions) == len(ml1m_ratings())
    # a root holding ratings.dat itself is not searched as ML-1M (ML-10M's files have the same names)
    bare = write_ml1m(tmp_path / "bare")
    with pytest.raises(DatasetUnavailable, match="--data-path"):
        mll.load_1m(root=bare, allow_download=False)


# -- ML-10M -----------------------------------------------------------------------------------------------
def test_ml10m_half_stars_tags_and_its_zip_folder(tmp_path):
    d = write_ml10m(tmp_path / "ml-10M100K")
    a = mll.load_10m(path=d)
    z = mll.load_10m(path=zipped(d, tmp_path / "ml-10m.zip"))
    parent = mll.load_10m(path=tmp_path)  # the folder above ml-10M100K
    assert a.interactions.equals(z.interactions) and a.interactions.equals(parent.interactions)
    want = ml10m_ratings()
    assert len(a.interactions) == len(want) and text_sorted(a)
    assert sorted(set(a.interactions["rating"])) == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0]
    got = {(u, i): r for u, i, r in a.interactions[["user", "item", "rating"]].itertuples(index=False, name=None)}
    assert got == {(str(u), str(i)): r for u, i, r, _ in want}
    assert (a.rating_min, a.rating_max) == (0.5, 5.0)
    assert a.items.loc["3", "title"] == "Amélie (Fabuleux destin d'Amélie Poulain, Le)"
    assert a.items.loc["7", "attributes"] == []  # "(no genres listed)" is not a genre
    assert a.items.loc["13", "attributes"] == ["Animation", "Children"]
    assert "tags" not in a.items  # tags only when asked
    assert "user_attributes" not in a.capabilities() and len(a.users.columns) == 0
    t = mll.load_10m(path=tmp_path / "ml-10m.zip", tags=True)
    assert t.items.loc["1", "tags"] == ["pixar", "funny"]  # two users (case folded), then one
    assert t.items.loc["3", "tags"] == ["quirky", "a::b", "paris"]  # a '::' inside a tag stays in it
    assert t.items.loc["2", "tags"] == [] and t.interactions.equals(a.interactions)


# -- ML-20M / 25M / 32M -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ml-25m", "ml-20m", "ml-32m"])
def test_csv_variants_quoted_titles_no_genres_and_zip(tmp_path, name):
    d = write_csv_variant(tmp_path / name)
    loader = {"ml-20m": mll.load_20m, "ml-25m": mll.load_25m, "ml-32m": mll.load_32m}[name]
    a = loader(path=d)
    z = loader(path=zipped(d, tmp_path / f"{name}.zip"))
    assert a.interactions.equals(z.interactions) and a.items.equals(z.items)
    want = csv_ratings()
    info = a.inspect()
    assert (info["interactions"], info["users"], info["items"]) == (len(want), 20, 6)
    assert text_sorted(a) and a.interactions["item"].iloc[:3].tolist() == sorted(a.interactions["item"].iloc[:3])
    got = {(u, i): (r, ts) for u, i, r, ts in a.interactions.itertuples(index=False, name=None)}
    assert got == {(str(u), str(i)): (r, t) for u, i, r, t in want}
    assert {0.5, 3.5, 4.5} <= set(a.interactions["rating"])
    assert a.items.loc["2", "title"] == "American President, The"  # quoted, holding a comma
    assert a.items.loc["10", "title"] == "Amélie (Fabuleux destin d'Amélie Poulain, Le)"  # UTF-8
    assert a.items.loc["25", "title"] == 'Say "Hello"' and a.items.loc["25", "attributes"] == []
    assert a.items.loc["100", "title"] == "Babylon 5" and a.items.loc["100", "year"] == 1994
    assert a.items.loc["250", "title"] == "Untitled Movie" and np.isnan(a.items.loc["250", "year"])
    assert a.items.loc["2", "attributes"] == ["Comedy", "Drama", "Romance"]
    assert "300" not in a.items.index and a.name == name and a.card["name"] == name
    t = loader(path=d, tags=True)
    assert t.items.loc["2", "tags"] == ["politics, us", "politics"] and t.items.loc["10", "tags"] == ["paris"]


# -- bad input --------------------------------------------------------------------------------------------
def _edit(path: Path, line: int, text: str) -> None:
    lines = path.read_text(encoding="latin-1").splitlines()
    lines[line - 1] = text
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")


@pytest.mark.parametrize("variant, line, text, needles", [
    ("ml-1m", 3, "1::2::5", ["ratings.dat", "line 3", "expected 4 '::'-separated fields, found 3"]),
    ("ml-1m", 1, "1::2::5::978300000::x", ["ratings.dat", "line 1", "expected 4 '::'-separated fields, found 5"]),
    ("ml-1m", 5, "1::2::five::978300000", ["ratings.dat", "line 5", "field 'rating'", "'five' is not a number"]),
    ("ml-1m", 7, "1::2::6::978300000", ["ratings.dat", "line 7", "field 'rating'", "rating 6 is outside the 1-5"]),
    ("ml-1m", 8, "1::2::3.5::978300000", ["line 8", "field 'rating'", "not one of MovieLens-1M's ratings",
                                          "whole stars"]),
    ("ml-1m", 4, "1::x::3::978300000", ["line 4", "field 'item'", "movie id 'x' is not an integer"]),
    ("ml-1m", 6, "1::2::3::-5", ["line 6", "field 'timestamp'", "outside 1970-2100"]),
    ("ml-10m", 9, "1::2::5.5::1100000000", ["ml-10M100K/ratings.dat", "line 9", "rating 5.5 is outside the 0.5-5"]),
    ("ml-10m", 2, "1::2::0::1100000000", ["line 2", "rating 0 is outside the 0.5-5"]),
    ("ml-10m", 3, "1::2::3,5::1100000000", ["line 3", "'3,5' is not a number"]),
    ("ml-25m", 4, "1,2,7.0,1500000000", ["ratings.csv", "line 4", "field 'rating'", "rating 7.0 is outside"]),
    ("ml-25m", 6, "1,2,3.7,1500000000", ["line 6", "field 'rating'", "half stars 0.5-5"]),
    ("ml-25m", 3, "1,2,,1500000000", ["line 3", "field 'rating'", "'' is not a number"]),
    ("ml-25m", 5, "1,2,4.0", ["line 5", "expected 4 ','-separated fields, found 3"]),
    ("ml-25m", 2, "1,2,4.0,1500000000,x", ["line 2", "expected 4 ','-separated fields, found 5"]),
    ("ml-25m", 1, "user,movie,rating,time", ["ratings.csv", "line 1", "expected 'userId,movieId,rating,timestamp'"]),
])
def test_a_bad_ratings_line_names_file_line_and_field(tmp_path, variant, line, text, needles):
    writer, folder = {"ml-1m": (write_ml1m, "ml-1m"), "ml-10m": (write_ml10m, "ml-10M100K"),
                      "ml-25m": (write_csv_variant, "ml-25m")}[variant]
    d = writer(tmp_path / folder)
    f = next(d.glob("ratings.*"))
    _edit(f, line, text)
    for src in (d, zipped(d, tmp_path / f"{variant}.zip")):
        with pytest.raises(DataError) as e:
            mll.load(variant, path=src)
        msg = str(e.value)
        assert all(n in msg for n in needles), msg
        assert str(src) in msg


@pytest.mark.parametrize("small_blocks", [False, True])
def test_line_numbers_count_blank_lines_and_the_header(tmp_path, monkeypatch, small_blocks):
    if small_blocks:  # the bad line is found again by counting whole blocks, and the parser re-run in chunks
        monkeypatch.setattr(mll, "_BLOCK_BYTES", 40)
        monkeypatch.setattr(mll, "_CHUNK_ROWS", 3)
    d = write_csv_variant(tmp_path / "ml-25m")
    f = d / "ratings.csv"
    lines = f.read_text().splitlines()
    lines[3:3] = ["", "   "]  # two blank lines after line 3 (skipped, but counted)
    lines[30:30] = [""]
    lines[40] = "4,2,9.5,1500000000"
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"ratings.csv, line 41, field 'rating': rating 9.5 is outside"):
        mll.load_25m(path=d)
    lines[40] = "4,2,four,1500000000"
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"ratings.csv, line 41, field 'rating': 'four' is not a number"):
        mll.load_25m(path=d)
    # \r\n line ends (a file saved on Windows) count the same lines
    f.write_bytes(f.read_bytes().replace(b"\n", b"\r\n"))
    with pytest.raises(DataError, match=r"ratings.csv, line 41, field 'rating'"):
        mll.load_25m(path=d)
    lines[40] = lines[50]  # line 41 repeats line 51's (user, movie): the later one, 51, is named
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"ratings.csv, line 51: duplicate \(user, movie\) rating"):
        mll.load_25m(path=d)


def test_duplicate_rating_and_bad_side_files(tmp_path):
    d = write_ml1m(tmp_path / "ml-1m")
    r = d / "ratings.dat"
    first = r.read_text().splitlines()[0]
    r.write_text(r.read_text() + first.rsplit("::", 1)[0] + "::978399999\n")
    n = len(r.read_text().splitlines())
    with pytest.raises(DataError, match=rf"ratings.dat, line {n}: duplicate \(user, movie\) rating"):
        mll.load_1m(path=d)
    d = write_ml1m(tmp_path / "b" / "ml-1m")
    _edit(d / "movies.dat", 2, "2::Toy Story (1995)")
    with pytest.raises(DataError, match=r"movies.dat, line 2: expected 3 '::'-separated fields, found 2"):
        mll.load_1m(path=d)
    d = write_ml1m(tmp_path / "c" / "ml-1m")
    _edit(d / "users.dat", 4, "4::M::old::3::12345")
    with pytest.raises(DataError, match=r"users.dat, line 4, field 'Age': age 'old'"):
        mll.load_1m(path=d)
    d = write_csv_variant(tmp_path / "d" / "ml-25m")
    (d / "movies.csv").write_text(CSV_MOVIES.replace('"American President, The (1995)"',
                                                     "American President, The (1995)"), encoding="utf-8")
    with pytest.raises(DataError, match=r"movies.csv, line 3: expected 3 comma-separated fields, found 4 \(quote"):
        mll.load_25m(path=d)
    (d / "movies.csv").write_bytes(CSV_MOVIES.encode("utf-8").replace("Amélie".encode(), b"Am\xe9lie", 1))
    with pytest.raises(DataError, match=r"movies.csv, line 4: not valid UTF-8"):
        mll.load_25m(path=d)


def test_missing_files(tmp_path):
    d = write_ml1m(tmp_path / "ml-1m")
    (d / "movies.dat").unlink()
    with pytest.raises(DataError) as e:
        mll.load_1m(path=d)
    assert str(d / "movies.dat") in str(e.value) and "file not found" in str(e.value)
    assert "ratings.dat, movies.dat, users.dat" in str(e.value)
    z = tmp_path / "ml-1m.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("ml-1m/movies.dat", "1::A (1995)::Drama\n")
    with pytest.raises(DataError, match=r"ml-1m.zip: archive has no ratings.dat"):
        mll.load_1m(path=z)
    with pytest.raises(DataError, match=r"nope: file not found"):
        mll.load_1m(path=tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=r"no MovieLens-25M here \(expected ratings.csv, a ml-25m folder"):
        mll.load_25m(path=empty)
    d = write_ml10m(tmp_path / "ml-10M100K")
    (d / "tags.dat").unlink()
    assert len(mll.load_10m(path=d).interactions)  # tags are only read when asked for
    with pytest.raises(DataError, match=r"tags.dat: file not found"):
        mll.load_10m(path=d, tags=True)
    bad_zip = tmp_path / "bad" / "ml-20m.zip"
    bad_zip.parent.mkdir()
    bad_zip.write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"not a valid zip archive .*download ml-20m.zip again"):
        mll.load_20m(path=bad_zip)


# -- the command, the registry, the cards, the download --------------------------------------------------
def test_xrbench_run_on_ml1m(tmp_path):
    d = write_ml1m(tmp_path / "ml-1m")
    out = tmp_path / "out"
    p = cli("run", "--dataset", "ml-1m", "--data-path", str(d), "--recommender", "bias", "--out", str(out), "-q")
    assert p.returncode == 0, p.stderr
    rec = json.loads(next(out.rglob("record.json")).read_text())
    assert rec["status"] == "ok" and rec["dataset"] == "ml-1m"
    assert rec["provenance"]["dataset"]["card"] == "ml-1m" and rec["provenance"]["dataset"]["card_version"] == 1
    assert 0 < rec["metrics"]["rmse"] < 5
    _edit(d / "ratings.dat", 2, "1::2::9::978300000")
    bad = cli_here("run", "--dataset", "ml-1m", "--data-path", str(d), "--recommender", "bias",
                   "--out", str(tmp_path / "o2"))
    assert_clean_error(bad, "ratings.dat", "line 2", "field 'rating'", "rating 9 is outside the 1-5 scale")


def test_registry_cards_and_params():
    from xrbench.registry import REGISTRY
    from xrbench.runner import _check_dataset_params

    for name, v in mll.VARIANTS.items():
        card = load_card(name)
        assert card["name"] == name and card["title"].startswith("MovieLens")
        src = card["source"][0]
        assert src["url"] == v.url == f"https://files.grouplens.org/datasets/movielens/{name}.zip"
        assert src["checksum"] == f"md5:{v.md5}" and src.get("sha256") is None
        assert (card["sizes"]["ratings"], card["sizes"]["users"], card["sizes"]["items"]) == v.sizes
        assert "Harper" in card["citation"] and "TiiS" in card["citation"] and "redistribution" in card["licence"]
        assert "split" in card and "tags" in card and "format" in card
        caps = set(REGISTRY.meta("dataset", name)["capabilities"])
        assert ("user_attributes" in caps) == v.has_users and {"ratings", "item_attributes"} <= caps
    assert load_card("ml-1m")["user_groups"]["gender"] == {"a": "M", "b": "F"}
    _check_dataset_params("ml-25m", {"tags": True})
    with pytest.raises(XRBenchError, match=r"dataset 'ml-25m': param 'tags' must be true or false"):
        _check_dataset_params("ml-25m", {"tags": "yes"})
    with pytest.raises(XRBenchError, match=r"dataset 'ml-1m': unknown parameter\(s\) \['tags'\]"):
        _check_dataset_params("ml-1m", {"tags": True})


def test_download_path_is_checksummed_and_offline_is_unavailable(tmp_path, monkeypatch):
    seen = {}
    real_download, real_sha256 = mll.download, mll._card_sha256
    z = zipped(write_ml1m(tmp_path / "fetched" / "ml-1m"), tmp_path / "ml-1m.zip")

    def fake_download(url, dest, *, sha256=None, md5=None, alternatives=""):
        seen.update(url=url, dest=dest, sha256=sha256, md5=md5)
        return z
    monkeypatch.setattr(mll, "download", fake_download)
    ds = mll.load_1m()
    assert seen["url"] == "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
    assert seen["md5"] == "c4d9eecfca2ab87c1945afe126590906" and seen["sha256"] is None
    assert seen["dest"].name == "ml-1m.zip" and seen["dest"].parent.name == "downloads"
    assert ds.source.startswith("grouplens-zip:")
    monkeypatch.setattr(mll, "_card_sha256", lambda name: "ab" * 32)  # a card that records a sha256: checked
    mll.load_1m()
    assert seen["sha256"] == "ab" * 32
    # (not monkeypatch.undo(): that would also restore the user's cache folder the autouse fixture replaced)
    monkeypatch.setattr(mll, "download", real_download)
    monkeypatch.setattr(mll, "_card_sha256", real_sha256)

    def offline(*a, **k):
        raise OSError("network unreachable")
    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(DatasetUnavailable) as e:
        mll.load_32m()
    assert "--data-path" in str(e.value) and "ml-32m.zip" in str(e.value)
    with pytest.raises(DatasetUnavailable, match="downloads are off"):
        mll.load_10m(allow_download=False)


def test_a_larger_csv_loads_in_canonical_order(tmp_path):
    """60,000 ratings, ids up to 6 digits: the same rows and order as a plain pandas sort of the text ids."""
    import pandas as pd

    rng = np.random.default_rng(0)
    n_users, n_items = 3000, 400
    pairs = rng.choice(n_users * n_items, size=60_000, replace=False)
    users, items = pairs // n_items * 37 + 1, pairs % n_items * 251 + 1
    stars = rng.integers(1, 11, len(pairs)) / 2
    d = tmp_path / "ml-20m"
    d.mkdir()
    frame = pd.DataFrame({"userId": users, "movieId": items, "rating": stars, "timestamp": 1_400_000_000 + pairs})
    frame.to_csv(d / "ratings.csv", index=False)
    (d / "movies.csv").write_text("movieId,title,genres\n" + "".join(f"{i},M{i} (2000),Drama\n"
                                                                      for i in sorted(set(items))))
    ds = mll.load_20m(path=d)
    want = frame.astype({"userId": str, "movieId": str}).sort_values(["userId", "movieId"]).reset_index(drop=True)
    assert ds.interactions["user"].tolist() == want["userId"].tolist()
    assert ds.interactions["item"].tolist() == want["movieId"].tolist()
    assert np.array_equal(ds.interactions["rating"].to_numpy(), want["rating"].to_numpy())
    assert np.array_equal(ds.interactions["timestamp"].to_numpy(), want["timestamp"].to_numpy())

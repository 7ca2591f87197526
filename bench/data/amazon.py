"""Amazon review datasets: the 2014 and 2018 5-core dumps and the 2023 JSONL release.

One parser for all three; each release only differs in field names. Duplicate (user, item) rows
(the 2018 dumps have many) keep the latest review and are counted; a missing or empty review text
stays missing and is counted.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DataError, DatasetUnavailable, XRBenchError
from .cards import load_card
from .io import cache_dir, download, iter_json_lines, sha256_file
from .schema import Dataset, finalize


@dataclass(frozen=True)
class Release:
    name: str
    user: str
    item: tuple[str, ...]  # first present wins
    rating: str
    text: str
    summary: str
    time: str
    time_scale: float  # divide to get seconds
    filename: str  # with {category}
    url: str
    sha256: dict[str, str]


RELEASES = {
    "amazon-2014-5core": Release(
        "amazon-2014-5core", "reviewerID", ("asin",), "overall", "reviewText", "summary", "unixReviewTime", 1.0,
        "reviews_{category}_5.json.gz",
        "http://snap.stanford.edu/data/amazon/productGraph/categoryFiles/reviews_{category}_5.json.gz",
        {"Musical_Instruments": "03f9cc27ae13a454cb4ea6cb620fb10546cc1194ef921441d1c5f34addff2748"}),
    "amazon-2018-5core": Release(
        "amazon-2018-5core", "reviewerID", ("asin",), "overall", "reviewText", "summary", "unixReviewTime", 1.0,
        "{category}_5.json.gz",
        "https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_v2/categoryFilesSmall/{category}_5.json.gz", {}),
    "amazon-2023": Release(
        "amazon-2023", "user_id", ("parent_asin", "asin"), "rating", "text", "title", "timestamp", 1000.0,
        "{category}.jsonl.gz",
        "https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_2023/raw/review_categories/{category}.jsonl.gz", {}),
}


def _candidates(root: Path, filename: str) -> list[Path]:
    names = [filename]
    if filename.endswith(".gz"):
        names.append(filename[:-3])
    out = []
    for base in (root, root / "amazon"):
        out += [base / n for n in names]
    return out


def find_file(release: Release, category: str, path: Path | None, root: Path | None, allow_download: bool) -> Path:
    filename = release.filename.format(category=category)
    how = (f"Pass --data-path with the file {filename} (or a folder holding amazon/{filename}), "
           "or set XRBENCH_DATA to such a folder.")
    if path is not None:
        if path.is_file():
            return path
        for c in _candidates(path, filename):
            if c.is_file():
                return c
        if not path.exists():
            raise DataError(f"not found. {how}", path=path)
    if root is not None:
        for c in _candidates(root, filename):
            if c.is_file():
                return c
    cached = cache_dir() / "downloads" / filename
    if cached.is_file():
        return cached
    if not allow_download:
        raise DatasetUnavailable(f"{release.name} ({category}) not found locally. {how}")
    try:
        return download(release.url.format(category=category), cached, sha256=release.sha256.get(category),
                        alternatives=how)
    except DatasetUnavailable:
        raise
    except XRBenchError as exc:
        raise DatasetUnavailable(str(exc)) from None


def _rating(value: Any, path: Path, line: int, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"rating {value!r} is not a number", path=path, line=line, field=field)
    if not (math.isfinite(value) and 1.0 <= value <= 5.0):
        raise DataError(f"rating {value} is outside the 1-5 scale", path=path, line=line, field=field)
    return float(value)


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


def parse(path: Path, release: Release) -> tuple[pd.DataFrame, dict[str, int]]:
    rows: list[tuple[str, str, float, int, str | None, str | None, int]] = []
    for lineno, obj in iter_json_lines(path):
        user = obj.get(release.user)
        if not isinstance(user, str) or not user:
            raise DataError(f"missing user id (this loader reads the {release.name} format)", path=path,
                            line=lineno, field=release.user)
        item = next((obj[f] for f in release.item if isinstance(obj.get(f), str) and obj[f]), None)
        if item is None:
            raise DataError(f"missing item id (this loader reads the {release.name} format)", path=path,
                            line=lineno, field=release.item[0])
        if release.rating not in obj:
            raise DataError(f"missing rating (this loader reads the {release.name} format)", path=path,
                            line=lineno, field=release.rating)
        rating = _rating(obj[release.rating], path, lineno, release.rating)
        ts = obj.get(release.time)
        if isinstance(ts, bool) or not isinstance(ts, (int, float)):
            raise DataError(f"timestamp {ts!r} is not a number", path=path, line=lineno, field=release.time)
        rows.append((user, item, rating, int(ts / release.time_scale), _text(obj.get(release.text)),
                     _text(obj.get(release.summary)), lineno))
    if not rows:
        raise DataError("no reviews in file", path=path)
    df = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp", "text", "summary", "line"])
    n_before = len(df)
    # Keep the latest review of each (user, item); on equal timestamps the later line wins.
    df = df.sort_values(["user", "item", "timestamp", "line"], kind="mergesort")
    df = df.drop_duplicates(["user", "item"], keep="last").drop(columns="line")
    stats = {"duplicates_dropped": n_before - len(df), "missing_text": int(df["text"].isna().sum()),
             "rows_read": n_before}
    return df, stats


def load(name: str, path: Path | None = None, root: Path | None = None, category: str = "Musical_Instruments",
         allow_download: bool = True) -> Dataset:
    release = RELEASES[name]
    f = find_file(release, category, path, root, allow_download)
    inter, stats = parse(f, release)
    card = load_card(name)
    return finalize(name, inter, None, None, rating_min=1.0, rating_max=5.0, source=str(f),
                    file_hash=sha256_file(f), card=card, stats=stats)


def load_2014(**kw: object) -> Dataset:
    return load("amazon-2014-5core", **kw)  # type: ignore[arg-type]


def load_2018(**kw: object) -> Dataset:
    return load("amazon-2018-5core", **kw)  # type: ignore[arg-type]


def load_2023(**kw: object) -> Dataset:
    return load("amazon-2023", **kw)  # type: ignore[arg-type]

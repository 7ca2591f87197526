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
from .io import (cache_dir, check_timestamp, download, iter_json_lines, missing_reason, reading, sha256_file,
                 show_number)
from .schema import MIN_INTERACTIONS, Dataset, finalize, require_interactions


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
    if path is not None:  # the user's path is strict: never fall back to another copy
        with reading(path):
            if path.is_file():
                return path
            for c in _candidates(path, filename):
                if c.is_file():
                    return c
            if not path.exists():
                raise DataError(f"{missing_reason(path)}. {how}", path=path)
            if not path.is_dir():
                raise DataError(f"not a regular file. {how}", path=path)
            raise DataError(f"no {filename} in this folder (nor in its amazon/ folder). {how}", path=path)
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
    if value is None:
        raise DataError("rating is null; every review needs a 1-5 star rating", path=path, line=line, field=field)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"rating {_show(value)} is not a number", path=path, line=line, field=field)
    if isinstance(value, float) and math.isnan(value):
        raise DataError("rating NaN is not a number", path=path, line=line, field=field)
    if not 1.0 <= value <= 5.0:  # compared exactly: an integer too large for a float is refused here too
        raise DataError(f"rating {show_number(value)} is outside the 1-5 scale", path=path, line=line, field=field)
    return float(value)


def _show(value: Any, limit: int = 40) -> str:
    """A short repr of a JSON value for an error message."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, (int, float)):
        return show_number(value)
    text = repr(value[:limit]) if isinstance(value, str) else type(value).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _id(value: Any, what: str, release: Release, path: Path, line: int, field: str) -> str:
    """A user or item id: a non-empty string (a JSON null, a number or a list is refused, never turned
    into the id 'None')."""
    if isinstance(value, str) and value.strip():
        return value
    fmt = f"(this loader reads the {release.name} format)"
    if value is None:
        raise DataError(f"{what} id is null; every review needs one {fmt}", path=path, line=line, field=field)
    if isinstance(value, str):
        raise DataError(f"{what} id is empty; every review needs one {fmt}", path=path, line=line, field=field)
    raise DataError(f"{what} id must be a string, not {_show(value)} {fmt}", path=path, line=line, field=field)


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


def parse(path: Path, release: Release) -> tuple[pd.DataFrame, dict[str, int]]:
    rows: list[tuple[str, str, float, int, str | None, str | None, int]] = []
    unit = "milliseconds" if release.time_scale == 1000.0 else "seconds"
    for lineno, obj in iter_json_lines(path):
        if release.user not in obj:
            raise DataError(f"missing user id (this loader reads the {release.name} format)", path=path,
                            line=lineno, field=release.user)
        user = _id(obj[release.user], "user", release, path, lineno, release.user)
        # the first usable item field wins (2023: parent_asin, else asin)
        item = next((obj[f] for f in release.item if isinstance(obj.get(f), str) and obj[f].strip()), None)
        if item is None:
            present = [f for f in release.item if f in obj]
            if not present:
                raise DataError(f"missing item id (this loader reads the {release.name} format)", path=path,
                                line=lineno, field=release.item[0])
            _id(obj[present[0]], "item", release, path, lineno, present[0])  # says what is wrong with it
        if release.rating not in obj:
            raise DataError(f"missing rating (this loader reads the {release.name} format)", path=path,
                            line=lineno, field=release.rating)
        rating = _rating(obj[release.rating], path, lineno, release.rating)
        if release.time not in obj:
            raise DataError(f"missing timestamp (this loader reads the {release.name} format)", path=path,
                            line=lineno, field=release.time)
        ts = check_timestamp(obj[release.time], scale=release.time_scale, unit=unit, path=path, line=lineno,
                             field=release.time)
        rows.append((user, item, rating, ts, _text(obj.get(release.text)), _text(obj.get(release.summary)), lineno))
    if not rows:
        raise DataError("no reviews in file (it is empty or has only blank lines)", path=path)
    df = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp", "text", "summary", "line"])
    n_before = len(df)
    # Keep the latest review of each (user, item); on equal timestamps the later line wins.
    df = df.sort_values(["user", "item", "timestamp", "line"], kind="mergesort")
    df = df.drop_duplicates(["user", "item"], keep="last").drop(columns="line")
    stats = {"duplicates_dropped": n_before - len(df), "missing_text": int(df["text"].isna().sum()),
             "rows_read": n_before}
    return df, stats


def load(name: str, path: Path | None = None, root: Path | None = None, category: str = "Musical_Instruments",
         allow_download: bool = True, min_interactions: int = 0) -> Dataset:
    """Read one release's file. ``min_interactions``: refuse a file with fewer (distinct) interactions;
    the registered datasets (:func:`load_2014` ...) ask for enough to make a train/validation/test split."""
    release = RELEASES[name]
    f = find_file(release, category, path, root, allow_download)
    inter, stats = parse(f, release)
    require_interactions(len(inter), min_interactions, path=f, dropped=stats["duplicates_dropped"])
    card = load_card(name)
    with reading(f):
        file_hash = sha256_file(f)
    return finalize(name, inter, None, None, rating_min=1.0, rating_max=5.0, source=str(f),
                    file_hash=file_hash, card=card, stats=stats)


def load_2014(**kw: object) -> Dataset:
    kw.setdefault("min_interactions", MIN_INTERACTIONS)
    return load("amazon-2014-5core", **kw)  # type: ignore[arg-type]


def load_2018(**kw: object) -> Dataset:
    kw.setdefault("min_interactions", MIN_INTERACTIONS)
    return load("amazon-2018-5core", **kw)  # type: ignore[arg-type]


def load_2023(**kw: object) -> Dataset:
    kw.setdefault("min_interactions", MIN_INTERACTIONS)
    return load("amazon-2023", **kw)  # type: ignore[arg-type]

"""Amazon review datasets: the 2014 and 2018 5-core dumps and the 2023 JSONL release.

One parser for all three; each release only differs in field names. Duplicate (user, item) rows
(the 2018 dumps have many) keep the latest review and are counted; a missing or empty review text
stays missing and is counted. ``--dataset-param category=NAME`` picks the category's file.

Amazon 2023: when ``meta_<NAME>.jsonl(.gz)`` lies beside the reviews (``<NAME>`` the reviews file's name
without ``.jsonl(.gz)``, else the category), the reviewed items' metadata become the item table: ``title``,
``attributes`` (the ``categories`` path), ``features`` (the bullet points) and ``store``; ``average_rating``
and ``rating_number`` are left out (they count the test reviews too). Only the meta lines of reviewed items
are checked (a bad one names its file, line and field); the first line of an item wins.

The first load of a file parses it; the tables are then kept in the Arrow cache (:mod:`.arrow_cache`),
keyed by the file's sha256, and later loads map them.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from ..errors import DataError, DatasetUnavailable, XRBenchError
from ..params import Param, check_values
from . import arrow_cache
from .cards import load_card
from .io import (cache_dir, check_timestamp, download, iter_json_lines, missing_reason, reading, sha256_file,
                 show_number)
from .schema import MIN_INTERACTIONS, Dataset, finalize, require_interactions

#: bump when the tables a file parses into change (the Arrow cache is keyed by it)
PARSER_VERSION = 1
#: a category names a file and a URL: letters, digits, '_', '-', '&' only
_CATEGORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_&-]{0,99}$")
#: Amazon Reviews 2023's categories (its all_categories.txt: 33 categories and "Unknown")
CATEGORIES_2023 = (
    "All_Beauty", "Amazon_Fashion", "Appliances", "Arts_Crafts_and_Sewing", "Automotive", "Baby_Products",
    "Beauty_and_Personal_Care", "Books", "CDs_and_Vinyl", "Cell_Phones_and_Accessories", "Clothing_Shoes_and_Jewelry",
    "Digital_Music", "Electronics", "Gift_Cards", "Grocery_and_Gourmet_Food", "Handmade_Products",
    "Health_and_Household", "Health_and_Personal_Care", "Home_and_Kitchen", "Industrial_and_Scientific",
    "Kindle_Store", "Magazine_Subscriptions", "Movies_and_TV", "Musical_Instruments", "Office_Products",
    "Patio_Lawn_and_Garden", "Pet_Supplies", "Software", "Sports_and_Outdoors", "Subscription_Boxes",
    "Tools_and_Home_Improvement", "Toys_and_Games", "Video_Games", "Unknown")


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
    categories: tuple[str, ...] = ()  # the release's categories, when known: another one is never downloaded
    meta_url: str = ""  # the item metadata file (with {category}); empty: no metadata read


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
        "https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_2023/raw/review_categories/{category}.jsonl.gz", {},
        CATEGORIES_2023,
        "https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_2023/raw/meta_categories/meta_{category}.jsonl.gz"),
}


def _candidates(root: Path, filename: str) -> list[Path]:
    names = [filename]
    if filename.endswith(".gz"):
        names.append(filename[:-3])
    out = []
    for base in (root, root / "amazon"):
        out += [base / n for n in names]
    return out


def check_category(release: Release, category: Any) -> str:
    """A category name that can name a file and a URL (letters, digits, '_', '-', '&')."""
    if not isinstance(category, str) or not _CATEGORY.match(category):
        known = f" (e.g. {', '.join(release.categories[:3])}, ...)" if release.categories else \
            " (e.g. Musical_Instruments)"
        raise XRBenchError(f"dataset '{release.name}': param 'category' must be a category name of letters, digits, "
                           f"'_', '-' or '&'{known}, got {str(category)[:60]!r}")
    return category


def _unknown_category(release: Release, category: str) -> XRBenchError:
    return XRBenchError(f"dataset '{release.name}': unknown category '{category}' (it is not one of the release's "
                        f"{len(release.categories)} categories: {', '.join(release.categories)}); fix "
                        "--dataset-param category=..., or pass the file with --data-path")


def find_file(release: Release, category: str, path: Path | None, root: Path | None, allow_download: bool) -> Path:
    category = check_category(release, category)
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
    if release.categories and category not in release.categories:
        raise _unknown_category(release, category)
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


# -- Amazon 2023 item metadata ------------------------------------------------------------------------------
#: longest title, feature line, category or store name kept from a meta line (longer ones are cut)
MAX_META_CHARS = 2000


def find_meta(reviews: Path, category: str) -> Path | None:
    """``meta_<name>.jsonl(.gz)`` beside the reviews file: ``<name>`` the file's own name without
    ``.jsonl(.gz)``/``.json(.gz)``, then the category."""
    stem = reviews.name
    for ext in (".gz", ".jsonl", ".json"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
    for name in dict.fromkeys((stem, category)):
        for suffix in (".jsonl.gz", ".jsonl"):
            c = reviews.parent / f"meta_{name}{suffix}"
            if c.is_file():
                return c
    return None


def _meta_text(value: Any, path: Path, line: int, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise DataError(f"{field} must be text or null, not {_show(value)} (this loader reads the amazon-2023 item "
                        "metadata format)", path=path, line=line, field=field)
    value = value.strip()
    return value[:MAX_META_CHARS] if value else None


def _meta_list(value: Any, path: Path, line: int, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise DataError(f"{field} must be a list of text, not {_show(value)} (this loader reads the amazon-2023 item "
                        "metadata format)", path=path, line=line, field=field)
    return list(dict.fromkeys(x.strip()[:MAX_META_CHARS] for x in value if x.strip()))


def parse_meta(path: Path, items: Iterable[str]) -> tuple[pd.DataFrame, dict[str, int]]:
    """The item table of the reviewed ``items`` from an Amazon 2023 meta file (indexed by item, sorted):
    ``title`` (the item id when the line has none), ``attributes`` (categories), ``features``, ``store``."""
    wanted = set(items)
    rows: dict[str, tuple[str | None, list[str], list[str], str | None]] = {}
    duplicates = 0
    for lineno, obj in iter_json_lines(path):
        item = obj.get("parent_asin")
        if not isinstance(item, str) or not item.strip():
            if "parent_asin" not in obj:
                raise DataError("missing item id (this loader reads the amazon-2023 item metadata format)", path=path,
                                line=lineno, field="parent_asin")
            raise DataError(f"item id must be a non-empty string, not {_show(item)}", path=path, line=lineno,
                            field="parent_asin")
        if item not in wanted:
            continue
        if item in rows:
            duplicates += 1
            continue
        rows[item] = (_meta_text(obj.get("title"), path, lineno, "title"),
                      _meta_list(obj.get("categories"), path, lineno, "categories"),
                      _meta_list(obj.get("features"), path, lineno, "features"),
                      _meta_text(obj.get("store"), path, lineno, "store"))
    ids = sorted(rows)
    titles = [rows[i][0] for i in ids]
    table = pd.DataFrame({
        "title": pd.Series([t if t is not None else i for i, t in zip(ids, titles)], dtype=str),
        "attributes": pd.Series([rows[i][1] for i in ids], dtype=object),
        "features": pd.Series([rows[i][2] for i in ids], dtype=object),
        "store": pd.Series([rows[i][3] for i in ids], dtype=object),
    })
    table.index = pd.Index(ids, dtype=str, name="item")
    stats = {"meta_items": len(ids), "meta_missing_title": sum(t is None for t in titles),
             "meta_duplicates": duplicates}
    return table, stats


def load(name: str, path: Path | None = None, root: Path | None = None, category: str = "Musical_Instruments",
         allow_download: bool = True, min_interactions: int = 0, meta: bool = True) -> Dataset:
    """Read one release's file. ``min_interactions``: refuse a file with fewer (distinct) interactions;
    the registered datasets (:func:`load_2014` ...) ask for enough to make a train/validation/test split.
    ``meta``: read the item metadata file beside the reviews when there is one (Amazon 2023)."""
    release = RELEASES[name]
    f = find_file(release, category, path, root, allow_download)
    with reading(f):
        file_hash = sha256_file(f)
    meta_file = find_meta(f, category) if meta and release.meta_url else None
    inputs = arrow_cache.hash_inputs({"meta": meta_file}) if meta_file is not None else {}

    def build() -> arrow_cache.Parsed:
        inter, stats = parse(f, release)
        require_interactions(len(inter), min_interactions, path=f, dropped=stats["duplicates_dropped"])
        items = None
        if meta_file is not None:
            items, meta_stats = parse_meta(meta_file, inter["item"].unique())
            stats.update(meta_stats)
        ds = finalize(name, inter, items, None, rating_min=1.0, rating_max=5.0, source=str(f), file_hash=file_hash,
                      card={}, stats=stats)
        return arrow_cache.Parsed({"interactions": ds.interactions, "items": ds.items, "users": ds.users}, stats)

    key = None if inputs is None else arrow_cache.Key(name, PARSER_VERSION, file_hash, __name__, inputs)
    parsed = arrow_cache.load(key, build, what=f)
    inter, stats = parsed.tables["interactions"], parsed.stats
    require_interactions(len(inter), min_interactions, path=f, dropped=stats["duplicates_dropped"])
    card = load_card(name)
    if meta_file is not None:
        card = {**card, "item_metadata": str(meta_file)}
    return Dataset(name=name, interactions=inter, items=parsed.tables["items"], users=parsed.tables["users"],
                   rating_min=1.0, rating_max=5.0, source=str(f), file_hash=file_hash, card=card, stats=stats)


def _checker(name: str) -> Any:
    release = RELEASES[name]

    def check_params(**params: Any) -> dict[str, Any]:
        """The dataset params, checked before anything is read: category a category name (for Amazon 2023 one
        of the release's, unless its file is given), min_interactions an integer >= 1, meta true or false."""
        specs = {"category": Param(str), "min_interactions": Param(int, ge=1)}
        if release.meta_url:
            specs["meta"] = Param(bool)
        out = check_values(params, specs, f"dataset '{name}'", "param",
                           {"category": "Musical_Instruments", "min_interactions": MIN_INTERACTIONS, "meta": True})
        if "category" in out:
            check_category(release, out["category"])
        return out
    return check_params


def load_2014(path: Path | None = None, root: Path | None = None, allow_download: bool = True,
              category: str = "Musical_Instruments", min_interactions: int = MIN_INTERACTIONS) -> Dataset:
    """Amazon 2014 5-core ``reviews_<category>_5.json.gz`` (SNAP)."""
    return load("amazon-2014-5core", path, root, category, allow_download, min_interactions)


def load_2018(path: Path | None = None, root: Path | None = None, allow_download: bool = True,
              category: str = "Musical_Instruments", min_interactions: int = MIN_INTERACTIONS) -> Dataset:
    """Amazon 2018 5-core ``<category>_5.json.gz`` (UCSD)."""
    return load("amazon-2018-5core", path, root, category, allow_download, min_interactions)


def load_2023(path: Path | None = None, root: Path | None = None, allow_download: bool = True,
              category: str = "Musical_Instruments", min_interactions: int = MIN_INTERACTIONS,
              meta: bool = True) -> Dataset:
    """Amazon Reviews 2023 ``<category>.jsonl(.gz)`` (UCSD), with ``meta_<category>.jsonl(.gz)`` beside it when
    there is one (``meta=False``: ignore it)."""
    return load("amazon-2023", path, root, category, allow_download, min_interactions, meta)


for _fn, _name in ((load_2014, "amazon-2014-5core"), (load_2018, "amazon-2018-5core"), (load_2023, "amazon-2023")):
    _fn.check_params = _checker(_name)  # type: ignore[attr-defined]  (found by the runner's validate)

"""The one in-memory form every loader produces."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError

#: fewest interactions a loaded dataset may have: an 80/10/10 random split of 10 rows has a non-empty
#: train (8), validation (1) and test (1) part; fewer cannot be scored meaningfully
MIN_INTERACTIONS = 10


@dataclass(frozen=True)
class Dataset:
    """Interactions plus optional item and user side information.

    ``interactions`` columns: ``user``, ``item`` (str ids), ``rating`` (float), ``timestamp`` (int,
    seconds), and when the source has them ``text`` and ``summary`` (str or None). Rows are sorted by
    (user, item) so that a split depends only on the data, never on the file's row order.
    ``items``: indexed by item id; ``title`` (str), ``attributes`` (list of str, e.g. genres),
    ``year`` (float, NaN when unknown). ``users``: indexed by user id; e.g. ``age``, ``gender``,
    ``occupation``.
    """

    name: str
    interactions: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame
    rating_min: float
    rating_max: float
    source: str
    file_hash: str
    card: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)
    #: predefined splits (e.g. NLG4RS folds): name -> (train, valid, test) row positions
    folds: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)

    # -- index maps -------------------------------------------------------------------------------
    @property
    def user_ids(self) -> np.ndarray:
        return _sorted_ids(self.interactions["user"], self.users.index)

    @property
    def item_ids(self) -> np.ndarray:
        return _sorted_ids(self.interactions["item"], self.items.index)

    def capabilities(self) -> frozenset[str]:
        caps = {"ratings"}
        if "text" in self.interactions and self.interactions["text"].notna().any():
            caps.add("text")
        if "attributes" in self.items and self.items["attributes"].map(bool).any():
            caps.add("item_attributes")
        if len(self.users.columns) and len(self.users):
            caps.add("user_attributes")
        if "title" in self.items and self.items["title"].notna().any():
            caps.add("item_titles")
        return frozenset(caps)

    def inspect(self) -> dict[str, Any]:
        """The summary ``xrbench data inspect`` prints."""
        inter = self.interactions
        return {
            "name": self.name,
            "source": self.source,
            "file_hash": self.file_hash,
            "interactions": int(len(inter)),
            "users": int(inter["user"].nunique()),
            "items": int(inter["item"].nunique()),
            "duplicates_dropped": int(self.stats.get("duplicates_dropped", 0)),
            "missing_text": int(self.stats.get("missing_text", 0)),
            "rating_min": _finite(inter["rating"].min()) if len(inter) else None,
            "rating_max": _finite(inter["rating"].max()) if len(inter) else None,
            "rating_scale": [_finite(self.rating_min), _finite(self.rating_max)],
            "capabilities": sorted(self.capabilities()),
        }


def _finite(value: Any) -> float | None:
    """A float for a summary, None when it is NaN or infinite (JSON has neither)."""
    v = float(value)
    return v if math.isfinite(v) else None


def require_interactions(n: int, minimum: int, *, path: object, dropped: int = 0) -> None:
    """Refuse a dataset with fewer than ``minimum`` interactions, naming the file and both numbers."""
    if n < minimum:
        after = f" (after dropping {dropped} duplicates)" if dropped else ""
        raise DataError(f"only {n} interactions{after}; a benchmark needs at least {minimum} (enough for non-empty "
                        "train, validation and test parts)", path=path)


def finalize(name: str, inter: pd.DataFrame, items: pd.DataFrame | None, users: pd.DataFrame | None, *,
             rating_min: float, rating_max: float, source: str, file_hash: str, card: dict[str, Any],
             stats: dict[str, int]) -> Dataset:
    """Sort interactions canonically and fill empty side tables; no interactions at all is a
    :class:`DataError` naming ``source``."""
    if len(inter) == 0:
        raise DataError("no interactions (the file is empty or every row was dropped)", path=source)
    inter = inter.sort_values(["user", "item"], kind="mergesort").reset_index(drop=True)
    for col in ("text", "summary"):  # missing text is None (pandas 3 would otherwise store NaN floats)
        if col in inter:
            inter[col] = pd.Series([v if isinstance(v, str) else None for v in inter[col]], dtype=object)
    if items is None:
        items = pd.DataFrame(index=pd.Index(sorted(inter["item"].unique()), name="item"))
    if users is None:
        users = pd.DataFrame(index=pd.Index(sorted(inter["user"].unique()), name="user"))
    return Dataset(name=name, interactions=inter, items=items, users=users, rating_min=rating_min,
                   rating_max=rating_max, source=source, file_hash=file_hash, card=card, stats=stats)


def _sorted_ids(column: Any, index: Any) -> np.ndarray:
    """The ids of a column and an index, sorted (as Python sorts them), as an object array. The column's
    distinct values are found by pandas (a hash table in C) before Python sees them: iterating a 10M-row
    column value by value took most of a view's build."""
    return np.asarray(sorted(set(column.unique().tolist()) | set(index)), dtype=object)

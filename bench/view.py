"""What a method sees when it is fitted: the train and validation rows of a split, never the test rows.

A :class:`TrainView` is built by the runner from a dataset and a split and keeps copies of the train and
validation interactions only (contiguous ``uidx``/``iidx`` indices first), the side tables (item titles
and attributes, user demographics), the rating scale, the reference explanations mined from training
reviews (:class:`TrainReferences`), and a scope of shared fits (:class:`FitScope`: e.g. the ``attr-mf``
that ``causal-llm`` and the fidelity metrics both use, fitted once on this same view). It holds no
dataset, no split and no test row, text or reference explanation: nothing reachable from it can rebuild
the test set (``tests/test_sealed_view.py`` searches everything reachable for them).
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .aspects import Tuple4

if TYPE_CHECKING:
    from .data.schema import Dataset
    from .data.split import Split
    from .references import References


@dataclass(frozen=True)
class TrainReferences:
    """The feature vocabulary and the reference explanation of each training row that has one."""

    vocabulary: tuple[str, ...]
    by_train: dict[int, Tuple4]  # position in ``view.train`` -> (feature, opinion, sentence, polarity)
    #: position in ``view.valid`` -> its reference (validation reviews are the method's to see: early stopping)
    by_valid: dict[int, Tuple4] = field(default_factory=dict)


class FitScope:
    """Methods fitted once on one view (same data, split and seed) and shared within a run's process.

    The runner owns the cache these scopes live in (``xrbench.tasks.FitCache``); a scope only ever holds
    fits of its own view, so nothing in it was trained on another split's rows."""

    def __init__(self) -> None:
        self._fits: dict[tuple[str, tuple[tuple[str, Any], ...]], Any] = {}

    def get(self, view: TrainView, name: str, kind: str = "recommender", **params: Any) -> Any:
        from .registry import REGISTRY

        key = (f"{kind}:{name}", tuple(sorted(params.items())))
        if key not in self._fits:
            model = REGISTRY.get(kind, name)(**params)
            model.bind(view)
            model.fit(view)
            self._fits[key] = model
        return self._fits[key]


@dataclass(frozen=True, eq=False)
class DatasetIndex:
    """A dataset's contiguous ids, computed once per dataset object (``dataset_index``): the raw id of
    each user and item index (``Dataset.user_ids`` / ``item_ids``) and the index of every interaction
    row's user and item. It is the runner's, never a view's: a view gets copies of its rows' entries."""

    user_ids: np.ndarray
    item_ids: np.ndarray
    uidx: np.ndarray  # per row of ``interactions``
    iidx: np.ndarray
    n_rows: int


_INDEXES: dict[int, tuple[weakref.ref, DatasetIndex]] = {}  # id(dataset) -> (the dataset, its index)


def dataset_index(ds: Dataset) -> DatasetIndex:
    """``ds``'s :class:`DatasetIndex`, built on the first call for this dataset object and kept while it
    lives (building it, ~0.2-1 s on ML-100K, was repeated by every run)."""
    key = id(ds)
    hit = _INDEXES.get(key)
    if hit is not None and hit[0]() is ds and hit[1].n_rows == len(ds.interactions):
        return hit[1]
    user_ids, item_ids = ds.user_ids, ds.item_ids
    inter = ds.interactions
    uidx = pd.Index(user_ids).get_indexer(inter["user"]).astype(np.int64, copy=False)  # every id is there
    iidx = pd.Index(item_ids).get_indexer(inter["item"]).astype(np.int64, copy=False)
    for a in (user_ids, item_ids, uidx, iidx):
        a.flags.writeable = False
    index = DatasetIndex(user_ids, item_ids, uidx, iidx, len(inter))
    _INDEXES[key] = (weakref.ref(ds, lambda _ref, key=key: _INDEXES.pop(key, None)), index)
    return index


def _part(inter: pd.DataFrame, rows: np.ndarray, index: DatasetIndex) -> pd.DataFrame:
    """A detached copy of ``inter``'s ``rows`` (no pandas view or reference back to the full table; the
    index columns are fresh arrays of these rows only)."""
    rows = np.asarray(rows, dtype=np.int64) if not len(rows) else rows  # an empty part may come as float []
    part = inter.take(rows).reset_index(drop=True).copy(deep=True)
    part.insert(0, "iidx", index.iidx[rows])
    part.insert(0, "uidx", index.uidx[rows])
    return part


@dataclass(frozen=True, eq=False)
class TrainView:
    train: pd.DataFrame  # uidx, iidx, user, item, rating, timestamp (and text, summary, ... when present)
    valid: pd.DataFrame
    user_ids: np.ndarray  # index -> raw id, every user and item of the dataset
    item_ids: np.ndarray
    items: pd.DataFrame  # side tables indexed by raw id (title, attributes; age, gender, ...)
    users: pd.DataFrame
    rating_min: float
    rating_max: float
    capabilities: frozenset[str]
    seed: int
    device: str = "cpu"
    data_hash: str = ""  # the dataset file's hash and the split's: identify the view, reveal no row
    split_hash: str = ""
    references: TrainReferences | None = None  # None when the dataset has no review text
    fits: FitScope = field(default_factory=FitScope, repr=False)

    @classmethod
    def build(cls, ds: Dataset, split: Split, seed: int, device: str = "cpu", *, refs: References | None = None,
              fits: FitScope | None = None) -> TrainView:
        """The view of ``split``'s train and validation rows. ``refs``: the split's references (mined
        from training reviews); only the training rows' entries are kept."""
        index = dataset_index(ds)
        user_ids, item_ids = index.user_ids.copy(), index.item_ids.copy()  # the view's own, writable
        train = _part(ds.interactions, split.train, index)
        tref = None
        if refs is not None:
            tref = TrainReferences(refs.train_vocabulary, {k: refs.by_row[int(r)] for k, r in enumerate(split.train)
                                                            if int(r) in refs.by_row},
                                   {k: refs.by_row[int(r)] for k, r in enumerate(split.valid) if int(r) in refs.by_row})
        return cls(train, _part(ds.interactions, split.valid, index), user_ids, item_ids,
                   ds.items.copy(deep=True), ds.users.copy(deep=True), ds.rating_min, ds.rating_max,
                   ds.capabilities(), seed, device, ds.file_hash, split.hash, tref, fits or FitScope())

    def fitted(self, name: str, kind: str = "recommender", **params: Any) -> Any:
        """The registered method ``name`` fitted on this view, once per view (e.g. ``view.fitted("attr-mf")``)."""
        return self.fits.get(self, name, kind, **params)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @cached_property
    def user_index(self) -> dict[str, int]:
        return {u: i for i, u in enumerate(self.user_ids)}

    @cached_property
    def item_index(self) -> dict[str, int]:
        return {u: i for i, u in enumerate(self.item_ids)}

    @cached_property
    def item_attributes(self) -> list[list[str]]:
        """Attributes of each item index (empty list when the dataset has none)."""
        if "attributes" not in self.items:
            return [[] for _ in range(self.n_items)]
        attrs = self.items["attributes"].to_dict()
        return [list(attrs.get(i, []) or []) for i in self.item_ids]

    @cached_property
    def item_titles(self) -> list[str]:
        titles = self.items["title"].to_dict() if "title" in self.items else {}
        return [str(titles.get(i, i)) for i in self.item_ids]

    @property
    def has_titles(self) -> bool:
        return "title" in self.items

    @cached_property
    def train_item_counts(self) -> np.ndarray:
        return np.bincount(self.train["iidx"].to_numpy(), minlength=self.n_items)

    @cached_property
    def seen(self) -> list[np.ndarray]:
        """Train items of each user index."""
        tr = self.train
        order = np.argsort(tr["uidx"].to_numpy(), kind="stable")
        u = tr["uidx"].to_numpy()[order]
        it = tr["iidx"].to_numpy()[order]
        bounds = np.searchsorted(u, np.arange(self.n_users + 1))
        return [it[bounds[k]:bounds[k + 1]] for k in range(self.n_users)]

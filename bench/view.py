"""What a method sees when it is fitted: the train and validation parts of a split, with contiguous
user/item indices and the side information. Test ratings are never in it."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from .data.schema import Dataset
from .data.split import Split


@dataclass(frozen=True)
class TrainView:
    dataset: Dataset
    split: Split
    seed: int
    device: str = "cpu"

    @cached_property
    def user_ids(self) -> np.ndarray:
        return self.dataset.user_ids

    @cached_property
    def item_ids(self) -> np.ndarray:
        return self.dataset.item_ids

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

    def _part(self, rows: np.ndarray) -> pd.DataFrame:
        df = self.dataset.interactions.iloc[rows].reset_index(drop=True)
        df.insert(0, "iidx", df["item"].map(self.item_index).to_numpy(dtype=np.int64))
        df.insert(0, "uidx", df["user"].map(self.user_index).to_numpy(dtype=np.int64))
        return df

    @cached_property
    def train(self) -> pd.DataFrame:
        return self._part(self.split.train)

    @cached_property
    def valid(self) -> pd.DataFrame:
        return self._part(self.split.valid)

    def test_pairs(self) -> pd.DataFrame:
        """Only used by the runner: the test rows to score."""
        return self._part(self.split.test)

    @cached_property
    def item_attributes(self) -> list[list[str]]:
        """Attributes of each item index (empty list when the dataset has none)."""
        items = self.dataset.items
        if "attributes" not in items:
            return [[] for _ in range(self.n_items)]
        attrs = items["attributes"].to_dict()
        return [list(attrs.get(i, []) or []) for i in self.item_ids]

    @cached_property
    def item_titles(self) -> list[str]:
        items = self.dataset.items
        titles = items["title"].to_dict() if "title" in items else {}
        return [str(titles.get(i, i)) for i in self.item_ids]

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

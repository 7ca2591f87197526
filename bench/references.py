"""Reference explanations and the feature vocabulary of a split, mined from its review text
(training reviews give the vocabulary; every review gives its own reference sentence)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from . import aspects
from .data.schema import Dataset
from .data.split import Split


@dataclass(frozen=True)
class References:
    vocabulary: tuple[str, ...]
    by_row: dict[int, aspects.Tuple4]  # interaction row -> tuple (rows without one are absent)


_GIVEN: dict[tuple[str, str], References] = {}


@lru_cache(maxsize=8)
def _mine(dataset_key: tuple[str, str], split_hash: str, texts: tuple[str | None, ...],
          train_rows: tuple[int, ...]) -> References:
    vocab = aspects.mine_vocabulary(texts[r] for r in train_rows)
    vs = frozenset(vocab)
    by_row = {}
    for r, t in enumerate(texts):
        tup = aspects.extract(t, vs)
        if tup is not None:
            by_row[r] = tup
    return References(tuple(vocab), by_row)


def _given(ds: Dataset) -> References:
    """Datasets that carry their own (feature, sentence) templates, like NLG4RS: no mining."""
    inter = ds.interactions
    adj = inter["ref_adjective"].tolist() if "ref_adjective" in inter else [""] * len(inter)
    by_row = {r: aspects.Tuple4(f, a, s, 1) for r, (f, a, s) in
              enumerate(zip(inter["ref_feature"].tolist(), adj, inter["text"].tolist())) if f and s}
    return References(tuple(sorted(set(inter["ref_feature"].dropna()))), by_row)


def references(ds: Dataset, split: Split) -> References | None:
    """None when the dataset has no review text."""
    if "text" not in ds.capabilities():
        return None
    if "ref_feature" in ds.interactions:
        key = ("given", ds.file_hash)
        if key not in _GIVEN:
            _GIVEN[key] = _given(ds)
        return _GIVEN[key]
    texts = tuple(ds.interactions["text"].tolist())
    return _mine((ds.name, ds.file_hash), split.hash, texts, tuple(split.train.tolist()))

"""Reference explanations and the feature vocabulary of a split, mined from its review text
(training reviews give the vocabulary; every review gives its own reference sentence)."""
from __future__ import annotations

from dataclasses import dataclass

from . import aspects
from .data.schema import Dataset
from .data.split import Split


@dataclass(frozen=True)
class References:
    vocabulary: tuple[str, ...]
    by_row: dict[int, aspects.Tuple4]  # interaction row -> tuple (rows without one are absent)


_CACHE: dict[tuple[str, str], References] = {}  # (dataset file hash, split hash or "given") -> references


def _mine(texts: list[str | None], train_rows: list[int]) -> References:
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
    given = "ref_feature" in ds.interactions  # the dataset carries its own templates (NLG4RS): no mining
    key = (ds.file_hash, "given" if given else split.hash)
    if key not in _CACHE:
        _CACHE[key] = _given(ds) if given else _mine(ds.interactions["text"].tolist(), split.train.tolist())
    return _CACHE[key]

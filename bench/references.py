"""Reference explanations and the feature vocabulary of a split, mined from its review text
(training reviews give the vocabulary; every review gives its own reference sentence).

The full :class:`References` (test rows included) is read only by the explain task's scorer; a method
gets :class:`xrbench.view.TrainReferences`, the training rows' entries (``TrainView.build``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import aspects
from .data.schema import Dataset
from .data.split import Split


@dataclass(frozen=True)
class References:
    vocabulary: tuple[str, ...]  # the scoring vocabulary (FCR, DIV)
    by_row: dict[int, aspects.Tuple4]  # interaction row -> tuple (rows without one are absent)
    train_vocabulary: tuple[str, ...] = ()  # what a method may see: from training rows only


def _mine(texts: list[str | None], train_rows: list[int]) -> References:
    vocab = tuple(aspects.mine_vocabulary(texts[r] for r in train_rows))
    vs = frozenset(vocab)
    by_row = {}
    for r, t in enumerate(texts):
        tup = aspects.extract(t, vs)
        if tup is not None:
            by_row[r] = tup
    return References(vocab, by_row, vocab)


def _given(ds: Dataset, split: Split) -> References:
    """Datasets that carry their own (feature, sentence) templates, like NLG4RS: no mining. The scoring
    vocabulary is every feature of the dataset (the NLG4RS protocol); a method sees the training rows' ones."""
    inter = ds.interactions
    adj = inter["ref_adjective"].tolist() if "ref_adjective" in inter else [""] * len(inter)
    by_row = {r: aspects.Tuple4(f, a, s, 1) for r, (f, a, s) in
              enumerate(zip(inter["ref_feature"].tolist(), adj, inter["text"].tolist())) if f and s}
    train = sorted({by_row[int(r)].feature for r in split.train if int(r) in by_row})
    return References(tuple(sorted(set(inter["ref_feature"].dropna()))), by_row, tuple(train))


def references(ds: Dataset, split: Split, cache: dict[Any, Any] | None = None) -> References | None:
    """None when the dataset has no review text. ``cache`` (owned by the caller, e.g. the runner) keeps
    one result per (data, split)."""
    if "text" not in ds.capabilities():
        return None
    given = "ref_feature" in ds.interactions  # the dataset carries its own templates (NLG4RS): no mining
    key = ("references", ds.file_hash, split.hash)
    if cache is not None and key in cache:
        return cache[key]
    refs = _given(ds, split) if given else _mine(ds.interactions["text"].tolist(), split.train.tolist())
    if cache is not None:
        cache[key] = refs
    return refs

"""NLG4RS datasets (PETER / PEPLER: TripAdvisor, Amazon Movies & TV, Yelp) as users have them:
``reviews.pickle`` (a list of dicts: ``user``, ``item``, ``rating``, ``template`` = (feature, adjective,
sentence, score), optional ``predicted``) and fold folders ``k/{train,validation,test}.index`` (space-
separated positions into the list).

The pickle is read by a restricted unpickler that admits only builtin containers and scalars: a pickle
that names any class or function (which could run code) is refused with a clear error. The template's
sentence is the pair's reference explanation and its feature the ground truth for FMR; the feature
vocabulary is the set of template features, as in the NLG4RS code. ``--split predefined`` with seed s uses
fold folder s + 1 (PETER's folds are 1-5).
"""
from __future__ import annotations

import io
import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from .cards import load_card
from .io import sha256_file
from .schema import Dataset, finalize


class RestrictedUnpickler(pickle.Unpickler):
    """Builtin containers and scalars only: every global lookup (class, function) is refused."""

    def __init__(self, fh: io.BufferedIOBase, path: Path) -> None:
        super().__init__(fh)
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        raise DataError(f"refused to unpickle '{module}.{name}': an NLG4RS reviews.pickle holds only lists, dicts, "
                        "tuples, strings and numbers (a pickle naming classes or functions could run code)",
                        path=self.path)


def read_pickle(path: Path) -> Any:
    if not path.is_file():
        raise DataError("file not found; pass the NLG4RS folder holding reviews.pickle", path=path)
    with open(path, "rb") as fh:
        try:
            return RestrictedUnpickler(fh, path).load()
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"not a readable pickle ({type(exc).__name__}: {exc})", path=path) from None


def _read_index(path: Path, n: int) -> np.ndarray:
    if not path.is_file():
        raise DataError("fold index file not found", path=path)
    try:
        idx = np.array([int(x) for x in path.read_text(encoding="utf-8").split()], dtype=np.int64)
    except ValueError as exc:
        raise DataError(f"expected space-separated positions ({exc})", path=path) from None
    if len(idx) and (idx.min() < 0 or idx.max() >= n):
        raise DataError(f"position out of range 0..{n - 1}", path=path)
    return idx


def load(path: Path | None = None, root: Path | None = None, allow_download: bool = True,
         corpus: str | None = None) -> Dataset:
    folder = path if path is not None else None
    if folder is None or not folder.exists():
        from ..errors import DatasetUnavailable
        raise DatasetUnavailable("NLG4RS data is not downloadable here: pass --data-path with the folder holding "
                                 "reviews.pickle and its fold folders 1/ .. 5/")
    pkl = folder / "reviews.pickle" if folder.is_dir() else folder
    folder = pkl.parent
    data = read_pickle(pkl)
    if not isinstance(data, list) or not data:
        raise DataError("expected a non-empty list of review dicts", path=pkl)
    rows = []
    for k, r in enumerate(data):
        where = dict(path=pkl, line=k + 1)
        if not isinstance(r, dict):
            raise DataError("each review must be a dict", **where)
        for key in ("user", "item", "rating", "template"):
            if key not in r:
                raise DataError(f"missing '{key}' (review {k})", field=key, **where)
        rating = r["rating"]
        if isinstance(rating, bool) or not isinstance(rating, (int, float)) or not math.isfinite(rating):
            raise DataError(f"rating {rating!r} is not a number (review {k})", field="rating", **where)
        if not 1 <= rating <= 5:
            raise DataError(f"rating {rating} is outside the 1-5 scale (review {k})", field="rating", **where)
        t = r["template"]
        if not isinstance(t, (tuple, list)) or len(t) != 4 or not all(isinstance(x, str) for x in t[:3]):
            raise DataError(f"template must be (feature, adjective, sentence, score) (review {k})",
                            field="template", **where)
        if not t[2].strip():
            raise DataError(f"empty template sentence (review {k})", field="template", **where)
        rows.append((str(r["user"]), str(r["item"]), float(rating), k, t[2], t[0], t[1], k))
    inter = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp", "text", "ref_feature", "ref_adjective",
                                        "orig"])
    ds = finalize("nlg4rs", inter, None, None, rating_min=1.0, rating_max=5.0, source=str(pkl),
                  file_hash=sha256_file(pkl), card={**load_card("nlg4rs"), "corpus": corpus or folder.name,
                                                     "lowercase_text": False},
                  stats={"duplicates_dropped": 0, "missing_text": 0})
    new_pos = np.empty(len(inter), dtype=np.int64)
    new_pos[ds.interactions["orig"].to_numpy()] = np.arange(len(inter))
    folds = {}
    for d in sorted(p for p in folder.iterdir() if p.is_dir() and (p / "train.index").is_file()):
        folds[d.name] = tuple(np.sort(new_pos[_read_index(d / f"{part}.index", len(inter))])
                              for part in ("train", "validation", "test"))
    object.__setattr__(ds, "folds", folds)
    return ds

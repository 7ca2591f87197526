"""Resolve a dataset name (+ params) and the user's data locations to a loaded :class:`Dataset`.

Data locations: ``--data-path NAME=PATH`` is strict for that dataset; a plain ``--data-path PATH``
is strict when one dataset is run, else a root searched by every dataset; ``$XRBENCH_DATA`` is a
root laid out like ``shared/data`` (``amazon/reviews_Musical_Instruments_5.json.gz``...). A dataset
not under a root falls back to its other sources (for ML-100K the RecBole wheel, then GroupLens).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DatasetUnavailable, XRBenchError
from ..registry import REGISTRY
from .schema import Dataset


@dataclass(frozen=True)
class DataPaths:
    explicit: dict[str, Path] = field(default_factory=dict)
    roots: tuple[Path, ...] = ()
    allow_download: bool = True

    @classmethod
    def from_args(cls, values: list[str] | None, *, single_dataset: str | None = None,
                  allow_download: bool = True) -> "DataPaths":
        explicit: dict[str, Path] = {}
        roots: list[Path] = []
        for v in values or []:
            name, sep, p = v.partition("=")
            if sep and not os.path.exists(v):
                explicit[name] = Path(p).expanduser()
            elif single_dataset is not None:
                explicit[single_dataset] = Path(v).expanduser()
            else:
                roots.append(Path(v).expanduser())
        env = os.environ.get("XRBENCH_DATA")
        if env:
            roots.append(Path(env).expanduser())
        return cls(explicit, tuple(roots), allow_download)


_CACHE: dict[tuple[Any, ...], Dataset] = {}


def load_dataset(name: str, params: dict[str, Any] | None = None, paths: DataPaths | None = None) -> Dataset:
    """Load (once per process) the dataset registered as ``name``."""
    paths = paths or DataPaths.from_args(None)
    params = dict(params or {})
    key = (name, tuple(sorted(params.items())), tuple(sorted(paths.explicit.items())), paths.roots,
           paths.allow_download)
    if key in _CACHE:
        return _CACHE[key]
    loader = REGISTRY.get("dataset", name)
    explicit = paths.explicit.get(name)
    last: DatasetUnavailable | None = None
    ds = None
    for root in paths.roots or (None,):
        try:
            ds = loader(path=explicit, root=root, allow_download=paths.allow_download, **params)
            break
        except TypeError as exc:
            raise XRBenchError(f"dataset '{name}': bad parameters {params}: {exc}") from None
        except DatasetUnavailable as exc:
            if explicit is not None:
                raise
            last = exc
    if ds is None:
        assert last is not None
        raise last
    _CACHE[key] = ds
    return ds

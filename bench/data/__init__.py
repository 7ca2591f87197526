"""Datasets: one in-memory form (:class:`Dataset`) for every source, loaders, cards and splits."""
from .schema import Dataset
from .split import Split, make_split

__all__ = ["Dataset", "Split", "make_split"]

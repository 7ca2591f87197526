"""Seeded splits of a dataset's interactions, identical on any machine for the same seed.

``random`` (default): a numpy PCG64 permutation of the canonically sorted interactions, cut 80/10/10.
``predefined``: the dataset's own folds (NLG4RS ``k/{train,validation,test}.index``).
``leave-last-out``: per user, the latest interaction is the test row and the one before it the
validation row (ties broken by item id); users with fewer than 3 interactions stay in train.
``kfold`` (``folds`` F, default 5): user-stratified folds. Seed s is fold ``s mod F`` of partition ``s div F``
(seeds 0..F-1: the F folds of one partition). Each user's interactions are shuffled (PCG64 seeded by the
partition) and dealt to the folds in turn from a random starting fold, so every user with at least F
interactions has about 1/F of them in each fold; the fold is the test part, and 10% of all rows, drawn from
the other folds (seeded by partition and fold), are the validation part.
The split's hash (sha256 over the three index arrays; for ``kfold`` also the fold and F) goes into every record.
A leave-last-out or predefined split without validation or test rows is refused (:class:`DataError`);
the loaders refuse files with fewer than ``schema.MIN_INTERACTIONS`` interactions, which the random
split needs for non-empty parts.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..errors import DataError, XRBenchError
from .schema import Dataset

PROTOCOLS = ("random", "leave-last-out", "predefined", "kfold")


@dataclass(frozen=True)
class Split:
    protocol: str
    seed: int
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    fold: int | None = None  # kfold: which fold is the test part (0-based), of ``folds``
    folds: int | None = None

    @property
    def hash(self) -> str:
        h = hashlib.sha256()
        for part in (self.train, self.valid, self.test):
            h.update(np.sort(part).astype("<i8").tobytes())
            h.update(b"|")
        if self.fold is not None:
            h.update(f"fold {self.fold} of {self.folds}".encode())
        return h.hexdigest()[:16]

    def describe(self) -> dict:
        """The split as records state it: protocol, seed, hash, sizes (and fold, folds for kfold)."""
        out = {"protocol": self.protocol, "seed": self.seed, "hash": self.hash,
               "sizes": [len(self.train), len(self.valid), len(self.test)]}
        if self.fold is not None:
            out.update(fold=self.fold, folds=self.folds)
        return out


def kfold_split(ds: Dataset, seed: int, folds: int, valid_fraction: float = 0.1) -> Split:
    """Fold ``seed mod folds`` of the user-stratified partition ``seed div folds`` (see the module's doc)."""
    n = len(ds.interactions)
    if folds < 2:
        raise XRBenchError(f"kfold needs at least 2 folds, got {folds}")
    fold, partition = seed % folds, seed // folds
    rng = np.random.default_rng(partition)
    users = ds.interactions["user"].to_numpy()
    _, codes = np.unique(users, return_inverse=True)
    order = np.lexsort((rng.random(n), codes))  # grouped by user, shuffled within each user
    grouped = codes[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, n]))
    position = np.arange(n) - run_start
    offset = rng.integers(0, folds, size=int(codes.max()) + 1 if n else 0)
    fold_of = np.empty(n, dtype=np.int64)
    fold_of[order] = (position + offset[grouped]) % folds
    test = np.flatnonzero(fold_of == fold)
    rest = np.flatnonzero(fold_of != fold)
    pick = np.random.default_rng([partition, fold]).permutation(len(rest))[:int(round(valid_fraction * n))]
    valid = np.sort(rest[pick])
    train = np.setdiff1d(rest, valid, assume_unique=True)
    if not len(test) or not len(train):
        raise DataError(f"kfold with {folds} folds leaves fold {fold} with no {'test' if not len(test) else 'train'} "
                        f"rows ({n} interactions); use fewer folds", path=ds.source)
    return Split("kfold", seed, train, valid, test, fold, folds)


def make_split(ds: Dataset, protocol: str = "random", seed: int = 0,
               fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), folds: int = 5) -> Split:
    n = len(ds.interactions)
    if protocol == "kfold":
        return kfold_split(ds, seed, folds)
    if protocol == "random":
        perm = np.random.default_rng(seed).permutation(n)
        n_train = int(round(fractions[0] * n))
        n_valid = int(round(fractions[1] * n))
        return Split(protocol, seed, np.sort(perm[:n_train]), np.sort(perm[n_train:n_train + n_valid]),
                     np.sort(perm[n_train + n_valid:]))
    if protocol == "leave-last-out":
        inter = ds.interactions
        order = np.lexsort((inter["item"].to_numpy(), inter["timestamp"].to_numpy(), inter["user"].to_numpy()))
        users = inter["user"].to_numpy()[order]
        # position from the end within each user's run
        run_id = np.cumsum(np.r_[True, users[1:] != users[:-1]]) - 1
        counts = np.bincount(run_id)
        end_index = np.cumsum(counts) - 1
        from_end = end_index[run_id] - np.arange(n)
        eligible = counts[run_id] >= 3
        test = np.sort(order[(from_end == 0) & eligible])
        valid = np.sort(order[(from_end == 1) & eligible])
        train = np.sort(order[~(((from_end == 0) | (from_end == 1)) & eligible)])
        if not len(test):
            raise DataError(f"leave-last-out needs users with at least 3 interactions; none of the {len(counts)} "
                            f"users (with {n} interactions) has 3, so there would be no validation or test rows. "
                            "Use --split random or a larger dataset", path=ds.source)
        return Split(protocol, seed, train, valid, test)
    if protocol == "predefined":  # the dataset's own folds (NLG4RS: seed s -> fold folder s + 1)
        fold = str(seed + 1)
        if fold not in ds.folds:
            have = ", ".join(sorted(ds.folds)) or "none"
            raise XRBenchError(f"dataset '{ds.name}' has no predefined fold '{fold}' for seed {seed} (folds: {have}); "
                               "use seeds 0-4 for folds 1-5, or --split random")
        train, valid, test = ds.folds[fold]
        empty = [name for name, part in (("train", train), ("validation", valid), ("test", test)) if not len(part)]
        if empty:
            raise DataError(f"predefined fold '{fold}' has an empty {' and '.join(empty)} part; every fold needs "
                            "train, validation and test rows", path=ds.source)
        return Split(protocol, seed, train, valid, test)
    raise XRBenchError(f"unknown split protocol '{protocol}'; choose one of: {', '.join(PROTOCOLS)}")

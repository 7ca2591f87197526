"""Bootstrap uncertainty from per-unit sufficient statistics.

A decomposable metric returns ``Units``: one row of sufficient statistics per unit (user, pair, or
evaluation row) and a ``finish`` function turning column sums into the metric (e.g. RMSE: rows
[squared-error sum, count], finish sqrt(s0 / s1); corpus BLEU: rows of n-gram matches, possible n-grams
and lengths, finish the BLEU formula). The metric's value is ``finish`` of the column sums; a bootstrap
replicate resamples units with replacement and applies ``finish`` to the resampled sums, so
corpus-level metrics get exact replicates.

The resampling depends only on (dataset, seed, metric key, unit ids): two methods scored on the same
units get the same resamples (common random numbers), which makes their replicates paired, so the
leaderboard runs a paired bootstrap test from the records alone.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

N_REPLICATES = 200


@dataclass(frozen=True)
class Units:
    ids: Sequence[str]
    values: np.ndarray  # (n_units, d)
    finish: Callable[[np.ndarray], np.ndarray]  # (B, d) column sums -> (B,) metric values
    note: str | None = None  # recorded with the metric (e.g. which encoder scored the units)


def units_hash(ids: Sequence[str]) -> str:
    h = hashlib.sha256()
    for i in ids:
        h.update(str(i).encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:16]


def resample_counts(n: int, key: str, b: int = N_REPLICATES) -> np.ndarray:
    """(b, n) multinomial counts: how often each unit is drawn in each replicate."""
    seed = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(b, n))
    counts = np.zeros((b, n), dtype=np.float64)
    np.add.at(counts, (np.repeat(np.arange(b), n), idx.ravel()), 1.0)
    return counts


def replicates(u: Units, key: str, b: int = N_REPLICATES) -> tuple[np.ndarray, str]:
    """Bootstrap replicates of the metric and the hash of the units they resample."""
    order = np.argsort(np.asarray(u.ids, dtype=str), kind="stable")
    ids = [str(u.ids[i]) for i in order]
    values = np.asarray(u.values, dtype=np.float64)[order]
    uh = units_hash(ids)
    counts = resample_counts(len(ids), f"{key}|{uh}", b)
    with np.errstate(divide="ignore", invalid="ignore"):
        reps = np.asarray(u.finish(counts @ values), dtype=np.float64)
    return reps, uh


def pack(per_key: dict[str, tuple[np.ndarray, str]]) -> dict:
    """A record's ``bootstrap`` block: all replicates as one base64 float32 (keys x B) array, so a
    leaderboard decodes one string per record."""
    keys = list(per_key)
    if not keys:
        return {}
    block = np.stack([per_key[k][0] for k in keys])
    return {"scheme": "paired-bootstrap-v1", "B": int(block.shape[1]), "keys": keys,
            "units": {k: per_key[k][1] for k in keys}, "replicates": encode(block)}


def unpack(block: dict) -> dict[str, tuple[str, np.ndarray]]:
    """key -> (units hash, replicates) of a record's ``bootstrap`` block."""
    if not block:
        return {}
    keys = block["keys"]
    arr = decode(block["replicates"]).reshape(len(keys), int(block["B"]))
    return {k: (block["units"][k], arr[j]) for j, k in enumerate(keys)}


def encode(x: np.ndarray) -> str:
    return base64.b64encode(np.asarray(x, dtype="<f4").tobytes()).decode("ascii")


def decode(s: str) -> np.ndarray:
    return np.frombuffer(binascii.a2b_base64(s), dtype="<f4").astype(np.float64)


def percentile_interval(reps: np.ndarray) -> tuple[float, float] | None:
    """The 2.5th and 97.5th percentiles (numpy's default linear interpolation), or None for fewer than
    10 finite replicates. Written out because ``np.percentile``'s overhead dominates on 200 values."""
    x = np.sort(reps[np.isfinite(reps)])
    n = len(x)
    if n < 10:
        return None
    out = []
    for q in (0.025, 0.975):
        pos = q * (n - 1)
        i = int(pos)
        j = min(i + 1, n - 1)
        out.append(float(x[i] + (x[j] - x[i]) * (pos - i)))
    return out[0], out[1]


def ratio(cols: np.ndarray) -> np.ndarray:
    return cols[:, 0] / cols[:, 1]

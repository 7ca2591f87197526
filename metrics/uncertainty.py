"""Bootstrap uncertainty from per-unit sufficient statistics.

A decomposable metric returns ``Units``: one row of sufficient statistics per unit (user, pair, or
evaluation row) and a ``finish`` function turning column sums into the metric (e.g. RMSE: rows
[squared-error sum, count], finish sqrt(s0 / s1); corpus BLEU: rows of n-gram matches, possible n-grams
and lengths, finish the BLEU formula). The metric's value is ``finish`` of the column sums; a bootstrap
replicate resamples units with replacement and applies ``finish`` to the resampled sums, so
corpus-level metrics get exact replicates.

The resampling depends only on (dataset, seed, metric key, unit ids): two methods scored on the same
units get the same resamples (common random numbers), which makes their replicates paired, so the
leaderboard runs paired tests from the records alone (the bootstrap within one seed; over several seeds,
a t test that adds the seed-to-seed variance: see the seeds section below).
"""
from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import math
from collections import OrderedDict
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


#: resample_counts' recent results, by (n, key, b): every method scored on the same units (same key) in one
#: process gets the same draws, so the second one reuses them. Bounded by COUNTS_CACHE_BYTES (least recently used
#: out first; an array larger than the bound is not kept).
_COUNTS_CACHE: "OrderedDict[tuple[int, str, int], np.ndarray]" = OrderedDict()
COUNTS_CACHE_BYTES = 128 << 20


def resample_counts(n: int, key: str, b: int = N_REPLICATES) -> np.ndarray:
    """(b, n) multinomial counts: how often each unit is drawn in each replicate (one ``bincount`` over the
    draws' flat positions: the counts ``np.add.at`` gave, ~10x faster). Read-only (it may be shared)."""
    cache_key = (n, key, b)
    hit = _COUNTS_CACHE.get(cache_key)
    if hit is not None:
        _COUNTS_CACHE.move_to_end(cache_key)
        return hit
    seed = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(b, n))
    idx += (np.arange(b) * n)[:, None]  # flat positions: row r's draws land in [r * n, (r + 1) * n)
    counts = np.bincount(idx.ravel(), minlength=b * n).astype(np.float64).reshape(b, n)
    counts.flags.writeable = False
    if counts.nbytes <= COUNTS_CACHE_BYTES:
        _COUNTS_CACHE[cache_key] = counts
        total = sum(x.nbytes for x in _COUNTS_CACHE.values())
        while total > COUNTS_CACHE_BYTES:
            total -= _COUNTS_CACHE.popitem(last=False)[1].nbytes
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


# -- seeds: intervals and paired tests with two levels of variation ---------------------------------
# A method's score varies with the units scored (users, pairs: the within-seed bootstrap above) and with
# the seed (split, initialisation). With S >= 2 seeds the per-seed values are S draws that carry both;
# their sample variance s2 estimates the variance of one seed's value, which is never below the
# within-seed bootstrap variance w, so the variance of the S-seed mean is max(s2, mean w) / S, with a
# Student t (S - 1 df) for the few seeds. With one seed only the within-seed part is known.

def t_two_sided_p(t: float, df: int) -> float:
    """P(|T| >= |t|) for Student's t with integer ``df`` >= 1 (closed form, Abramowitz & Stegun
    26.7.3-4: no scipy import on the leaderboard path)."""
    theta = math.atan(abs(t) / math.sqrt(df))
    c2, s = math.cos(theta) ** 2, math.sin(theta)
    if df % 2:  # odd: (2/pi) (theta + sin cos (1 + 2/3 c2 + 2*4/(3*5) c2^2 + ...))
        term, acc = 1.0, 1.0 if df > 1 else 0.0
        for k in range(1, (df - 1) // 2):
            term *= 2 * k / (2 * k + 1) * c2
            acc += term
        inside = 2 / math.pi * (theta + s * math.cos(theta) * acc)
    else:  # even: sin (1 + 1/2 c2 + 1*3/(2*4) c2^2 + ...)
        term = acc = 1.0
        for k in range(1, df // 2):
            term *= (2 * k - 1) / (2 * k) * c2
            acc += term
        inside = s * acc
    return min(1.0, max(0.0, 1.0 - inside))


@functools.lru_cache(maxsize=None)
def t_critical(df: int, level: float = 0.95) -> float:
    """The t with P(|T| >= t) = 1 - level (bisection on ``t_two_sided_p``)."""
    lo, hi = 0.0, 1e6
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if t_two_sided_p(mid, df) > 1 - level else (lo, mid)
    return (lo + hi) / 2


def within_variance(reps: np.ndarray) -> float:
    """The bootstrap variance of one seed's value (NaN with fewer than 10 finite replicates). Written out:
    ``np.var``'s overhead dominates on 200 values, and a leaderboard takes tens of thousands."""
    total = float(reps.sum())
    if not math.isfinite(total):  # some replicate is not finite (a finite sum means none is)
        reps = reps[np.isfinite(reps)]
        total = float(reps.sum())
    n = len(reps)
    if n < 10:
        return math.nan
    d = reps - total / n
    return float(d @ d) / (n - 1)


def _sample_variance(x: Sequence[float]) -> float:
    m = sum(x) / len(x)
    return sum((v - m) ** 2 for v in x) / (len(x) - 1)


def seeds_se(values: Sequence[float], within: Sequence[float]) -> float:
    """Standard error of the mean of S >= 2 per-seed values, each with its within-seed variance."""
    return math.sqrt(max(_sample_variance(values), sum(within) / len(within)) / len(values))


def seeds_interval(values: Sequence[float], within: Sequence[float], level: float = 0.95) -> tuple[float, float] | None:
    """mean ± t(S - 1) · ``seeds_se`` over S >= 2 seeds (None if a within-seed variance is unknown)."""
    if len(values) < 2 or not all(math.isfinite(w) for w in within):
        return None
    m, half = sum(values) / len(values), t_critical(len(values) - 1, level) * seeds_se(values, within)
    return m - half, m + half


def seeds_p(diffs: Sequence[float], within: Sequence[float]) -> float | None:
    """Two-sided p of a zero mean difference over S >= 2 common seeds: per-seed differences of two methods'
    values and the within-seed variances of their paired replicate differences (t with S - 1 df)."""
    if len(diffs) < 2 or not all(math.isfinite(w) for w in within) or not all(map(math.isfinite, diffs)):
        return None
    d, se = sum(diffs) / len(diffs), seeds_se(diffs, within)
    if se == 0.0:
        return 1.0 if d == 0.0 else 0.0
    return t_two_sided_p(d / se, len(diffs) - 1)


def clopper_pearson(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """The exact (Clopper-Pearson) 1 - alpha interval of a binomial share k/n: never below its nominal level."""
    from scipy.stats import beta

    lo = 0.0 if k <= 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k >= n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi


def bootstrap_p(diff_reps: np.ndarray) -> float | None:
    """Two-sided paired-bootstrap p of a zero difference, 2 · min(share <= 0, share >= 0) (None with fewer than
    10 finite replicates). When no replicate reaches zero that share says only p < 1/B, so the p is then the
    normal tail of the replicates, 2 · Φ(-|mean| / sd), capped at 1/B (1/B itself when they do not vary): with
    B = 200 a floor of 1/B would leave Holm's correction over more than alpha · B = 10 rows unable to reject
    anything, however far apart."""
    x = diff_reps[np.isfinite(diff_reps)]
    if len(x) < 10:
        return None
    share = 2 * min(float(np.mean(x <= 0)), float(np.mean(x >= 0)))
    floor = 1 / len(x)
    if share > 0:  # at least 2/B: above the floor
        return min(1.0, share)
    sd = float(np.std(x, ddof=1))
    if sd == 0.0:  # every resample the same (e.g. one unit in common): no spread to measure a tail with
        return floor
    return min(floor, math.erfc(abs(float(np.mean(x))) / sd / math.sqrt(2)))


def holm(pvalues: Sequence[float], alpha: float = 0.05) -> list[bool]:
    """Holm's step-down procedure: which of the m hypotheses are rejected (family-wise error <= alpha)."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    out = [False] * len(pvalues)
    for j, i in enumerate(order):
        if pvalues[i] > alpha / (len(pvalues) - j):
            break
        out[i] = True
    return out

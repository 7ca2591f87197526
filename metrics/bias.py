"""Popularity bias and user-group gaps of recommendation lists (metrics.md, "Bias").

phi(i) = train interactions of item i; L_u = the user's top-K list; head = the most popular items
covering 80% of train interactions (tail = the rest)."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from .base import MetricValue, NotApplicable, metric
from .outputs import RecOutputs
from .ranking import per_user_ndcg, per_user_units
from .rating import per_user_errors
from .uncertainty import Units, ratio

N_BOOT = 1000


def tail_items(item_counts: dict[str, int], head_share: float = 0.8) -> set[str]:
    items = sorted(item_counts, key=lambda i: (-item_counts[i], i))
    counts = np.array([item_counts[i] for i in items], dtype=float)
    total = counts.sum()
    if total == 0:
        return set(items)
    n_head = int(np.searchsorted(np.cumsum(counts) / total, head_share) + 1)
    return set(items[n_head:])


def _arp_per_user(out: RecOutputs) -> dict[str, float]:
    return {u: float(np.mean([out.item_counts.get(i, 0) for i in L])) for u, L in out.lists.items() if L}


def _aplt_per_user(out: RecOutputs) -> dict[str, float]:
    tail = tail_items(out.item_counts)
    return {u: len(tail.intersection(L)) / out.k for u, L in out.lists.items()}


@metric("arp", task="recommend", group="popularity bias", rankable=False)
def arp(out: RecOutputs) -> Units:
    """`arp` = mean_u mean_{i in L_u} phi(i)."""
    return per_user_units(_arp_per_user(out))


@metric("aplt", task="recommend", group="popularity bias")
def aplt(out: RecOutputs) -> Units:
    """`aplt` = mean_u |L_u ∩ tail| / K; head = most popular items covering 80% of train interactions."""
    return per_user_units(_aplt_per_user(out))


@metric("gini", task="recommend", group="popularity bias", lower_is_better=True)
def gini(out: RecOutputs) -> float:
    """`gini` (↓) of item exposure counts over all items (items never recommended count 0)."""
    exposure = dict.fromkeys(out.item_counts, 0)
    for L in out.lists.values():
        for i in L:
            exposure[i] = exposure.get(i, 0) + 1
    x = np.sort(np.array(list(exposure.values()), dtype=float))
    n = len(x)
    if n == 0 or x.sum() == 0:
        return 0.0
    return float((2 * np.arange(1, n + 1) - n - 1).dot(x) / (n * x.sum()))


@metric("coverage", task="recommend", group="popularity bias")
def coverage(out: RecOutputs) -> float:
    """`coverage` = |∪ L_u| / |I|."""
    return len({i for L in out.lists.values() for i in L}) / len(out.item_counts)


@metric("poplift", task="recommend", group="popularity bias", rankable=False)
def poplift(out: RecOutputs) -> Units:
    """`poplift` = (GAP_rec - GAP_profile) / GAP_profile, GAP = mean over users of the mean phi of the
    items in the list (rec) or in the train profile (profile)."""
    rec = _arp_per_user(out)
    users = [u for u in rec if u in out.profile_pop]
    stats = np.column_stack([[rec[u] for u in users], [out.profile_pop[u] for u in users]])
    return Units(users, stats, lambda c: ratio(c) - 1.0)


_M32 = np.uint64(0xFFFFFFFF)
MAX_REJECTIONS = 4  # _choice_rounds: above this many expected in a chunk, the chunk is drawn by rng.choice itself


def _choice_rounds(rng: np.random.Generator, pops: list[np.ndarray], rounds: int,
                   chunk_values: int = 1 << 20) -> Iterator[list[np.ndarray]]:
    """``rounds`` rounds of ``rng.choice(pop, len(pop))`` for each ``pop`` in turn, bit for bit what those calls
    return, drawn from blocks of the generator's raw output (``rng`` must be PCG64): yields, for consecutive
    chunks of rounds (about ``chunk_values`` values each), one (rounds in the chunk, len(pop)) array per ``pop``.

    What the calls do (numpy's ``Generator.choice`` with replacement, no ``p``): ``integers(0, m, m)``, each value
    by Lemire's method on 32-bit draws: x * m, kept when its low 32 bits are not below (2**32 - m) % m, else
    the next 32-bit draw is tried; the value is the high 32 bits. A population of one draws nothing. PCG64's
    32-bit draws are the low then the high half of each 64-bit output, the unused half carried over to the next
    call, so the calls together read one stream of 32-bit draws. Rejections are rare (at most m / 2**32 a draw):
    each shifts every later value by one draw, and the rest of the chunk is checked again. Where more than a few
    are expected in a chunk (populations of ~10^5 and more) the chunk is drawn by the calls themselves, which are
    then few and large. ``tests/test_speed_equivalence.py`` checks both against the calls."""
    if type(rng.bit_generator) is not np.random.PCG64:
        raise TypeError(f"_choice_rounds reproduces PCG64's draws, not {type(rng.bit_generator).__name__}'s")
    sizes = [len(p) for p in pops]
    drawn = [m for m in sizes if m > 1]
    thresholds = [(2**32 - m) % m for m in drawn]  # a draw whose low 32 bits (x * m) fall below is rejected
    per_round = sum(drawn)
    step = max(1, chunk_values // max(per_round, 1))
    by_calls = sum(m * t for m, t in zip(drawn, thresholds)) / 2**32 * step > MAX_REJECTIONS  # expected, a chunk
    bound1 = np.repeat(np.array(drawn, dtype=np.uint64), drawn)  # one round's values, population after population
    threshold1 = np.repeat(np.array(thresholds, dtype=np.uint64), drawn)

    def halves(raw: np.ndarray) -> np.ndarray:
        out = np.empty(2 * len(raw), dtype=np.uint64)
        out[0::2], out[1::2] = raw & _M32, raw >> np.uint64(32)
        return out

    stream = np.empty(0, dtype=np.uint64)  # 32-bit draws made and not yet used
    for first in range(0, rounds, step):
        n = min(step, rounds - first)
        if not per_round:
            yield [p[np.zeros((n, m), dtype=np.intp)] for p, m in zip(pops, sizes)]
            continue
        if by_calls:
            calls = [[rng.choice(p, len(p)) for p in pops] for _ in range(n)]
            yield [np.stack([c[j] for c in calls]) for j in range(len(pops))]
            continue
        bound, threshold = np.tile(bound1, n), np.tile(threshold1, n)
        at = np.arange(len(bound))  # which draw of ``stream`` each value is made from
        start = 0
        while True:
            if at[-1] >= len(stream):
                more = at[-1] + 1 - len(stream)
                stream = np.concatenate([stream, halves(rng.bit_generator.random_raw((more + 1) // 2 + 8))])
            low = (stream[at[start:]] * bound[start:]) & _M32
            rejected = np.flatnonzero(low < threshold[start:])
            if not len(rejected):
                break
            start += int(rejected[0])
            at[start:] += 1
        values = ((stream[at] * bound) >> np.uint64(32)).astype(np.intp).reshape(n, per_round)
        stream = stream[at[-1] + 1:]
        out, col = [], 0
        for p, m in zip(pops, sizes):
            if m > 1:
                out.append(p[values[:, col:col + m]])
                col += m
            else:
                out.append(p[np.zeros((n, m), dtype=np.intp)])
        yield out


def _gap(users: list[str], group_of: dict[str, str], a: str, b: str, stat, seed: int, label: str) -> MetricValue:
    """stat(positions into ``users``) of group a minus that of group b, with a stratified bootstrap over
    each group's users. ``stat`` maps a 2-D array of positions to one value per row (row sums and means
    along the last axis are numpy's pairwise sums, the same bits as those of each row on its own)."""
    ia = np.array([k for k, u in enumerate(users) if group_of.get(u) == a])
    ib = np.array([k for k, u in enumerate(users) if group_of.get(u) == b])
    if not len(ia) or not len(ib):
        raise NotApplicable(f"no users in group {a!r} or {b!r}")
    value = float(stat(ia[None, :])[0] - stat(ib[None, :])[0])
    rng = np.random.default_rng(seed)
    boots = np.empty(N_BOOT)
    at = 0
    for ra, rb in _choice_rounds(rng, [ia, ib], N_BOOT):  # the draws of one resample of a, then one of b, in turn
        boots[at:at + len(ra)] = stat(ra) - stat(rb)
        at += len(ra)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return MetricValue(float(value), (float(lo), float(hi)),
                       f"{label}: group a = {a} ({len(ia)} users), group b = {b} ({len(ib)} users); "
                       f"stratified bootstrap over users, {N_BOOT} resamples")


def _rmse_gap(out: RecOutputs, attr: str, a: str, b: str) -> MetricValue:
    groups = {u: g.get(attr) for u, g in out.user_groups.items()}
    if not any(groups.values()):
        raise NotApplicable(f"the dataset has no user attribute '{attr.removesuffix('_group')}'")
    per_user = per_user_errors(out, squared=True)  # rows [squared-error sum, count]: a group's RMSE pools them
    sse, cnt = per_user.values[:, 0], per_user.values[:, 1]
    return _gap(list(per_user.ids), groups, a, b, lambda ix: np.sqrt(sse[ix].sum(axis=-1) / cnt[ix].sum(axis=-1)),
                out.seed, f"rmse gap by {attr}")


@metric("rmse_gap_gender", task="recommend", group="user-group gaps", rankable=False)
def rmse_gap_gender(out: RecOutputs) -> MetricValue:
    """`rmse_gap_gender` = rmse(group a = M) - rmse(group b = F), bootstrap 95% interval over users."""
    return _rmse_gap(out, "gender", "M", "F")


@metric("rmse_gap_age", task="recommend", group="user-group gaps", rankable=False)
def rmse_gap_age(out: RecOutputs) -> MetricValue:
    """`rmse_gap_age` = rmse(age < 25) - rmse(age >= 25), bootstrap 95% interval over users."""
    return _rmse_gap(out, "age_group", "<25", ">=25")


@metric("ndcg_gap_gender", task="recommend", group="user-group gaps", rankable=False)
def ndcg_gap_gender(out: RecOutputs) -> MetricValue:
    """`ndcg_gap_gender` = ndcg@10(M) - ndcg@10(F), bootstrap 95% interval over users."""
    groups = {u: g.get("gender") for u, g in out.user_groups.items()}
    if not any(groups.values()):
        raise NotApplicable("the dataset has no user attribute 'gender'")
    ndcg = per_user_ndcg(out, out.k)
    v = np.array(list(ndcg.values()))
    return _gap(list(ndcg), groups, "M", "F", lambda ix: v[ix].mean(axis=-1), out.seed, "ndcg@10 gap by gender")

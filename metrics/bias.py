"""Popularity bias and user-group gaps of recommendation lists (metrics.md, "Bias").

phi(i) = train interactions of item i; L_u = the user's top-K list; head = the most popular items
covering 80% of train interactions (tail = the rest)."""
from __future__ import annotations

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
    for start in range(0, N_BOOT, 100):  # draws in the order of one resample of a, then one of b, as before
        n = min(100, N_BOOT - start)
        ra, rb = np.empty((n, len(ia)), dtype=ia.dtype), np.empty((n, len(ib)), dtype=ib.dtype)
        for j in range(n):
            ra[j] = rng.choice(ia, len(ia))
            rb[j] = rng.choice(ib, len(ib))
        boots[start:start + n] = stat(ra) - stat(rb)
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

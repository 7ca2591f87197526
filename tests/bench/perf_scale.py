"""Benchmark: how cost grows with data size -- wall time and peak RSS of each stage of a recommend run at
100k, 1M and 10M interactions, and the slope of log time against log size.

    python tests/bench/perf_scale.py [--sizes 100000,1000000,10000000] [--reviews-max 1000000]
                                     [--plot docs/perf_scale.svg] [--out results.jsonl] [--seed 0]

Run it alone on an idle machine: all three sizes take about 12 minutes (10M: a 250 MB ``ratings.csv`` and its
Arrow cache under ``--workdir``, written first). Targets (issue 14): at 10M interactions, load + split +
``bias`` + ``most-pop`` + the ranking metrics over all items finish on a 2-core machine with peak RSS <= 6 GB;
every stage's time grows about linearly (slope <= 1.15); the second (cached) load of any file is >= 5x faster
than the first.

Data (seeded numpy, written before anything is timed; the writing is reported as ``generate_s``):

* MovieLens in the ML-20M/25M/32M format: a folder with ``ratings.csv`` (``userId,movieId,rating,timestamp``,
  half stars, sorted by user then movie as GroupLens ships it) and ``movies.csv`` (``movieId,title,genres``),
  read by the ``ml-20m`` loader through ``--data-path`` (:func:`xrbench.data.catalog.load_dataset` with an
  explicit path), as a user's own copy is. Users and items grow like MovieLens's (100k: ~940 users, ~1.7k
  items; 1M: ~8k, ~4.2k; 10M: ~70k, ~10.7k). Item popularity is a power law (p_j ~ 1/(j + n_items/37): the most
  rated item ~10x, the median item ~0.5x the mean, as in ML-1M); user activity is Pareto-tailed with at least
  20 ratings a user (at most 40% of the items); each user's items are distinct. Ratings: item quality +
  user bias + noise, rounded to half stars; timestamps 1996-2015.
* Amazon 2018 5-core reviews (``Synthetic_5.json.gz``: ``reviewerID``, ``asin``, ``overall``, ``reviewText``,
  ``summary``, ``unixReviewTime``, ``reviewTime``, ...) at each size up to ``--reviews-max`` (default 1M),
  read by the ``amazon-2018-5core`` loader: first and cached load only.

Each size runs in fresh processes with an empty ``XRBENCH_CACHE`` of its own: one for the first load (the
parse, and the Arrow cache written when ``datasets`` is installed), one for the rest: the cached load, then
``split`` (:func:`make_split`, random 80/10/10), ``view`` (:meth:`TrainView.build`), and per recommender
``fit:NAME``, ``rank:NAME`` (as the recommend task: the test rows' predictions and the top-20 unseen items of
every test user over all items, :meth:`Recommender.rank`) and ``metrics:NAME`` (the task's
:class:`RecOutputs`, then :func:`xrbench.scoring.score` of ndcg/recall/precision/mrr/hit at 5, 10, 20 and
the popularity metrics arp/aplt/gini/coverage/poplift, with their bootstrap). Recommenders: ``bias``, ``most-pop``, ``biased-mf`` (``max_epochs`` ``--mf-epochs``, 1) and
``item-knn`` (its similarities are sparse, computed in blocks of item rows: fitted at every size; ranked only
up to ``--knn-max-items``, 6000 items, because its ranking costs test users x items x rated items: a note
says so above that). Stage times are wall seconds of that call;
``peak_rss_mb`` is the process's largest resident set during the stage (Linux: the kernel's high-water mark
``VmHWM``, reset at each stage's start through /proc/self/clear_refs; elsewhere sampled every 5 ms), and
``process_peak_rss_mb`` the process's largest so far (not ``ru_maxrss``: a child forked from a large parent
starts with the parent's resident set as its maximum).

Output: one JSON line per (size, stage), then one summary line: per stage the times, the fitted slope (least
squares of log time on log size over the sizes it ran at) and peak RSS; per size the peak RSS; the targets.
``--plot FILE.svg`` draws the times on log-log axes (a hand-written SVG, no matplotlib).
"""
from __future__ import annotations

import argparse
import gc
import gzip
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator
from xml.sax.saxutils import escape

import numpy as np

DEFAULT_SIZES = (100_000, 1_000_000, 10_000_000)
#: the recommend task's default cutoffs; the lists are ranked to the largest
CUTOFFS = (5, 10, 20)
FAMILIES = ("ndcg", "recall", "precision", "mrr", "hit")
POPULARITY = ("arp", "aplt", "gini", "coverage", "poplift")  # read the top-10 lists and train counts only
METHODS = ("bias", "most-pop", "biased-mf", "item-knn")
#: the stages the 10M target covers (load + split + bias + most-pop + ranking metrics over all items)
CORE_STAGES = ("load_first", "load_cached", "split", "view", "fit:bias", "rank:bias", "metrics:bias",
               "fit:most-pop", "rank:most-pop", "metrics:most-pop")
RSS_TARGET_MB = 6 * 1024
SLOPE_TARGET = 1.15
SPEEDUP_TARGET = 5.0
#: stages whose longest time is below this are timer noise: their slope is reported, not held to the target
NOISE_FLOOR_S = 0.1
GENRES = ("Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
          "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western")
WORDS = ("sound great price quality strings tone pedal amp picks strap cable tuner stand guitar bass works fine "
         "cheap solid good bad noise clear loud warm bright sturdy light heavy case bag the a and it is this for "
         "with but not very well would recommend bought use after months easy product really nice love").split()
T_START, T_END = 820_454_400, 1_427_760_000  # 1996-01-01 .. 2015-03-31 (ML-20M's range)


# -- data ---------------------------------------------------------------------------------------------------
def movielens_shape(n: int) -> tuple[int, int]:
    """(users, items) for ``n`` interactions, grown as MovieLens grows (ML-100K 943 x 1682 -> ML-10M
    69,878 x 10,677: users ~ n^0.935, items ~ n^0.40)."""
    scale = n / 100_000
    return max(10, round(943 * scale ** 0.935)), max(20, round(1682 * scale ** 0.40))


def _counts(rng: np.random.Generator, n: int, n_users: int, lo: int, hi: int) -> np.ndarray:
    """Per user a number of interactions: Pareto-tailed, within [lo, hi], summing to exactly ``n``."""
    lo = min(lo, n // n_users)
    hi = max(hi, -(-n // n_users))
    w = rng.pareto(1.6, n_users) + 1.0
    c = n * w / w.sum()
    for _ in range(50):  # clip, then rescale the unclipped users to keep the total
        c = np.clip(c, lo, hi)
        free = (c > lo) & (c < hi)
        gap = n - c.sum()
        if abs(gap) < 0.5 or not free.any():
            break
        c[free] *= 1 + gap / c[free].sum()
    k = np.floor(c).astype(np.int64)
    short = n - int(k.sum())
    if short > 0:  # the largest fractional parts get one more, where there is room
        order = np.argsort(-(c - k), kind="stable")
        order = order[k[order] < hi][:short]
        k[order] += 1
    elif short < 0:
        order = np.argsort(c - k, kind="stable")
        order = order[k[order] > lo][:-short]
        k[order] -= 1
    return k


def sample_pairs(rng: np.random.Generator, counts: np.ndarray, item_p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (user, item) pairs: user u gets ``counts[u]`` items drawn by ``item_p`` without replacement
    (a repeat is drawn again; the few left after many rounds are filled uniformly from the items not yet
    drawn). Returned sorted by (user, item)."""
    n_items = len(item_p)
    users = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    items = rng.choice(n_items, size=len(users), p=item_p)
    cdf = np.cumsum(item_p)
    cdf /= cdf[-1]
    for _ in range(60):
        key = users * n_items + items
        order = np.argsort(key, kind="stable")
        dup = np.zeros(len(key), dtype=bool)
        dup[order[1:]] = key[order[1:]] == key[order[:-1]]
        if not dup.any():
            break
        items[dup] = np.minimum(np.searchsorted(cdf, rng.random(int(dup.sum())), side="right"), n_items - 1)
    else:
        for u in np.unique(users[dup]):
            rows = np.flatnonzero(users == u)
            mine = items[rows]
            repeat = np.zeros(len(rows), dtype=bool)
            _, first = np.unique(mine, return_index=True)
            repeat[np.setdiff1d(np.arange(len(rows)), first)] = True
            free = np.setdiff1d(np.arange(n_items), mine)
            items[rows[repeat]] = rng.choice(free, size=int(repeat.sum()), replace=False)
    order = np.lexsort((items, users))
    return users[order], items[order]


def power_law_items(n_items: int) -> np.ndarray:
    """Item popularity p_j ~ 1 / (j + n_items/37), the most popular first."""
    w = 1.0 / (np.arange(n_items) + n_items / 37.0)
    return w / w.sum()


def write_movielens(folder: Path, n: int, seed: int = 0) -> dict[str, Any]:
    """An ML-20M-format copy (``ratings.csv``, ``movies.csv``) of exactly ``n`` ratings in ``folder``."""
    import pandas as pd

    rng = np.random.default_rng([seed, n, 20])
    n_users, n_items = movielens_shape(n)
    item_p = power_law_items(n_items)
    counts = _counts(rng, n, n_users, 20, int(0.4 * n_items))
    u, i = sample_pairs(rng, counts, item_p)
    # raw ids: users 1..n_users in a random order of activity; movies sparse like GroupLens's (gaps)
    user_id = rng.permutation(n_users) + 1
    movie_id = np.sort(rng.choice(np.arange(1, 3 * n_items + 1), size=n_items, replace=False))
    movie_id = movie_id[rng.permutation(n_items)]  # popularity rank -> id, unrelated to the id's order
    logp = np.log(item_p)
    quality = 0.25 * (logp - logp.mean()) / logp.std() + rng.normal(0, 0.4, n_items)
    bias = rng.normal(0, 0.35, n_users)
    raw = 3.55 + quality[i] + bias[u] + rng.normal(0, 0.85, len(u))
    rating = np.clip(np.round(raw * 2) / 2, 0.5, 5.0)
    start = rng.integers(T_START, T_END - 86_400, n_users)
    span = np.exp(rng.normal(np.log(200 * 86_400), 1.5, n_users))
    ts = np.minimum(start[u] + rng.exponential(1.0, len(u)) * span[u], T_END).astype(np.int64)
    df = pd.DataFrame({"userId": user_id[u], "movieId": movie_id[i], "rating": rating, "timestamp": ts})
    df = df.sort_values(["userId", "movieId"], kind="stable")
    folder.mkdir(parents=True, exist_ok=True)
    df.to_csv(folder / "ratings.csv", index=False, lineterminator="\n", chunksize=1_000_000)
    del df
    years = rng.integers(1920, 2015, n_items)
    n_genres = rng.integers(1, 4, n_items)
    with open(folder / "movies.csv", "w", encoding="utf-8", newline="\n") as fh:
        fh.write("movieId,title,genres\n")
        for k in np.argsort(movie_id):
            genres = "|".join(GENRES[g] for g in sorted(rng.choice(len(GENRES), n_genres[k], replace=False)))
            fh.write(f"{movie_id[k]},Synthetic Movie {movie_id[k]} ({years[k]}),{genres}\n")
    return {"users": int(len(np.unique(u))), "items": int(len(np.unique(i))), "listed_items": n_items,
            "ratings": int(len(u)), "bytes": (folder / "ratings.csv").stat().st_size}


def amazon_shape(n: int) -> tuple[int, int]:
    """(users, items) of an Amazon 2018 5-core category of ``n`` reviews (about 8.5 reviews a user, 22 an item,
    as in Musical_Instruments)."""
    return max(2, round(n / 8.5)), max(10, round(n / 22))


def write_amazon(path: Path, n: int, seed: int = 0) -> dict[str, Any]:
    """``n`` Amazon 2018 5-core reviews (JSON lines, gzipped as UCSD ships them), distinct (user, item) pairs,
    at least 5 per user, power-law item popularity, 5-80 word texts."""
    rng = np.random.default_rng([seed, n, 2018])
    n_users, n_items = amazon_shape(n)
    counts = _counts(rng, n, n_users, 5, max(5, int(0.2 * n_items)))
    u, i = sample_pairs(rng, counts, power_law_items(n_items))
    order = rng.permutation(len(u))  # the dumps are not sorted by user
    u, i = u[order], i[order]
    stars = np.clip(np.round(4.2 + rng.normal(0, 1.1, n)), 1, 5)
    ts = rng.integers(1_262_304_000, 1_538_352_000, n)  # 2010-01-01 .. 2018-10-01
    lengths = np.clip(np.round(np.exp(rng.normal(np.log(25), 0.7, n))), 5, 80).astype(np.int64)
    wp = 1.0 / np.arange(1, len(WORDS) + 1)
    words = rng.choice(len(WORDS), size=int(lengths.sum()), p=wp / wp.sum())
    ends = np.cumsum(lengths)
    months = ("January February March April May June July August September October November December").split()
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as fh:
        for k in range(n):
            text = " ".join([WORDS[w] for w in words[ends[k] - lengths[k]:ends[k]]])
            day = time.gmtime(int(ts[k]))
            row = {"overall": float(stars[k]), "verified": bool(k % 4), "reviewTime":
                   f"{day.tm_mon:02d} {day.tm_mday}, {day.tm_year}", "reviewerID": f"A{u[k] * 7919 + 13:012X}",
                   "asin": f"B{i[k] * 104729 + 7:09d}", "reviewerName": f"Reviewer {u[k]}", "reviewText": text,
                   "summary": " ".join(text.split()[:4]).capitalize(), "unixReviewTime": int(ts[k])}
            if k % 5 == 0:
                row["vote"] = str(k % 13 + 2)
            if k % 3 == 0:
                row["style"] = {"Color:": f" {months[k % 12]}"}
            fh.write(json.dumps(row) + "\n")
    return {"users": n_users, "items": int(len(np.unique(i))), "reviews": n, "bytes": path.stat().st_size}


# -- measuring ----------------------------------------------------------------------------------------------
def _vm_hwm() -> int | None:
    """The process's peak resident set (bytes) since it started or since the last :func:`_reset_hwm`."""
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _reset_hwm() -> bool:
    """Reset the peak resident set to the current one (Linux: ``5`` to /proc/self/clear_refs); False when
    this system cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _statm_rss() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _ru_maxrss() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


class PeakRss:
    """The largest resident set of each stage, and of the process so far.

    Linux: exact, from the kernel's high-water mark (``VmHWM``), reset at the start of each stage. Else a
    daemon thread samples the resident set every 5 ms (it misses short peaks inside calls that hold the GIL)
    and the process peak is ``ru_maxrss``."""

    def __init__(self) -> None:
        self.exact = _vm_hwm() is not None and _reset_hwm()
        self.method = "VmHWM" if self.exact else "sampled"
        self.process_peak = _vm_hwm() or _ru_maxrss()
        self._sampled = 0
        self._stop = threading.Event()
        if not self.exact and _statm_rss() is not None:
            threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            rss = _statm_rss() or 0
            if rss > self._sampled:
                self._sampled = rss

    def begin(self) -> None:
        if self.exact:
            self.process_peak = max(self.process_peak, _vm_hwm() or 0)  # (what ran between stages)
            _reset_hwm()
        else:
            self._sampled = _statm_rss() or 0

    def end(self) -> int:
        """The peak of the stage that began last (bytes)."""
        peak = (_vm_hwm() or 0) if self.exact else max(self._sampled, _statm_rss() or 0)
        self.process_peak = max(self.process_peak, peak, 0 if self.exact else _ru_maxrss())
        return peak

    def process(self) -> int:
        if self.exact:
            self.process_peak = max(self.process_peak, _vm_hwm() or 0)
        else:
            self.process_peak = max(self.process_peak, _ru_maxrss())
        return self.process_peak

    def stop(self) -> None:
        self._stop.set()


def _mb(n: int) -> float:
    return round(n / (1 << 20), 1)


class Stages:
    """Times each stage and records one JSON-able row for it (``emit``: called with each row): ``wall_s``,
    ``peak_rss_mb`` (the stage's own peak), ``process_peak_rss_mb`` (the process's so far), ``rss_after_mb``."""

    def __init__(self, emit: Callable[[dict[str, Any]], None], role: str) -> None:
        self.emit, self.role = emit, role
        self.rss = PeakRss()
        self.rows: list[dict[str, Any]] = []

    @contextmanager
    def stage(self, name: str, **extra: Any) -> Iterator[dict[str, Any]]:
        row: dict[str, Any] = {"stage": name, **extra}
        gc.collect()
        self.rss.begin()
        t0 = time.perf_counter()
        yield row
        row["wall_s"] = round(time.perf_counter() - t0, 6)
        row["peak_rss_mb"] = _mb(self.rss.end())
        row["process_peak_rss_mb"] = _mb(self.rss.process())
        row["rss_after_mb"] = _mb(_statm_rss() or 0)
        self.rows.append(row)
        self.emit(row)

    def skip(self, name: str, why: str) -> None:
        row = {"stage": name, "skipped": why}
        self.rows.append(row)
        self.emit(row)

    def close(self) -> None:
        """The process row: its peak resident set (and how it was measured)."""
        self.rss.stop()
        self.emit({"stage": "process", "role": self.role, "peak_rss_mb": _mb(self.rss.process()),
                   "rss_method": self.rss.method})


def _paths(name: str, path: Path) -> Any:
    from xrbench.data.catalog import DataPaths

    return DataPaths({name: path}, (), allow_download=False)


def load(name: str, path: Path, params: dict[str, Any] | None = None) -> Any:
    """The dataset as a run loads it: the registry's loader, the user's path (strict), no download."""
    from xrbench.data.catalog import load_dataset

    return load_dataset(name, params or {}, _paths(name, path))


def child_first_load(name: str, path: Path, emit: Callable[[dict[str, Any]], None]) -> None:
    """The first load of a file (an empty cache): parse + write the Arrow cache."""
    import xrbench.builtins  # noqa: F401  (the registry's names; imported before the timer, as the CLI does)

    from xrbench.data import arrow_cache

    st = Stages(emit, "first_load")
    with st.stage("load_first", arrow_cache=arrow_cache.enabled()) as row:
        ds = load(name, path)
        row["interactions"] = len(ds.interactions)
    st.close()


def child_pipeline(path: Path, emit: Callable[[dict[str, Any]], None], *, seed: int = 0, mf_epochs: int = 1,
                   knn_max_items: int = 6000, methods: tuple[str, ...] = METHODS) -> None:
    """The cached load, split, view, and per recommender fit / rank / metrics, each a stage."""
    import xrbench.builtins  # noqa: F401
    from xrbench.data.split import make_split
    from xrbench.metrics.outputs import RecOutputs
    from xrbench.registry import REGISTRY
    from xrbench.scoring import resample_key, score
    from xrbench.tasks.recommend import user_groups
    from xrbench.view import TrainView

    st = Stages(emit, "pipeline")
    with st.stage("load_cached") as row:
        ds = load("ml-20m", path)
        row["interactions"] = len(ds.interactions)
    with st.stage("split") as row:
        split = make_split(ds, "random", seed)
        row["sizes"] = [len(split.train), len(split.valid), len(split.test)]
    with st.stage("view") as row:
        view = TrainView.build(ds, split, seed)
        row["users"], row["items"] = view.n_users, view.n_items
    test = ds.interactions.iloc[split.test]
    uidx = test["user"].map(view.user_index).to_numpy(dtype=np.int64)
    iidx = test["item"].map(view.item_index).to_numpy(dtype=np.int64)
    eval_users = np.unique(uidx)
    keys = tuple(f"{f}@{k}" for f in FAMILIES for k in CUTOFFS) + POPULARITY
    params = {"biased-mf": {"max_epochs": mf_epochs, "patience": 1}}
    for name in methods:
        model = REGISTRY.get("recommender", name)(**params.get(name, {}))
        with st.stage(f"fit:{name}") as row:
            model.bind(view)
            model.fit(view)
            if isinstance(getattr(model, "history", None), list):  # biased-mf: validation RMSE per epoch
                row["epochs"] = len(model.history)
            if name == "item-knn":
                row["positive_similarities"] = model.n_positive_similarities
        if name == "item-knn" and view.n_items > knn_max_items:
            for what in ("rank", "metrics"):
                st.skip(f"{what}:{name}", f"{view.n_items} items > --knn-max-items {knn_max_items}: item-knn's "
                        "ranking costs test users x items x rated items")
            del model
            continue
        with st.stage(f"rank:{name}", users=len(eval_users), items=view.n_items):  # as the recommend task
            preds = np.asarray(model.predict(uidx, iidx), dtype=float) if model.predicts_ratings else None
            top = model.rank(eval_users, max(CUTOFFS), exclude_seen=True)
            uid, iid = view.user_ids, view.item_ids
            topk = {str(uid[u]): [str(iid[i]) for i in r] for u, r in zip(eval_users, top)}
        with st.stage(f"metrics:{name}") as row:
            counts = view.train_item_counts
            profile_pop = {str(uid[u]): float(counts[view.seen[u]].mean()) if len(view.seen[u]) else 0.0
                           for u in eval_users}
            out = RecOutputs(test["user"].to_numpy(str), test["item"].to_numpy(str), test["rating"].to_numpy(float),
                             preds, ds.rating_min, ds.rating_max, topk,
                             {str(i): int(c) for i, c in zip(iid, counts)}, profile_pop,
                             user_groups(ds.users, list(topk)), 10, seed, CUTOFFS)
            s = score("recommend", out, keys, resample_key(ds.name, split.protocol, seed))
            row["ndcg@10"] = round(s.metrics.get("ndcg@10", float("nan")), 4)
            row["metrics"] = len(s.metrics)
        del model, top, topk, out, s, preds
    st.close()


def child_amazon(path: Path, emit: Callable[[dict[str, Any]], None], stage: str) -> None:
    import xrbench.builtins  # noqa: F401

    from xrbench.data import arrow_cache

    st = Stages(emit, stage)
    with st.stage(stage, arrow_cache=arrow_cache.enabled()) as row:
        ds = load("amazon-2018-5core", path)
        row["interactions"] = len(ds.interactions)
    st.close()


# -- the driver ---------------------------------------------------------------------------------------------
def run_child(args: list[str], cache: Path) -> list[dict[str, Any]]:
    """Run this script as a child (``--child ...``) with its own ``XRBENCH_CACHE``; its JSON rows."""
    env = {**os.environ, "XRBENCH_CACHE": str(cache)}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], capture_output=True, text=True,
                          env=env)
    wall = time.perf_counter() - t0
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"perf_scale: the child {' '.join(args)} failed (exit {proc.returncode})")
    for r in rows:
        if r.get("stage") == "process":
            r["process_s"] = round(wall, 2)
    return rows


def measure_size(n: int, workdir: Path, emit: Callable[[dict[str, Any]], None], *, seed: int, reviews: bool,
                 mf_epochs: int, knn_max_items: int, methods: tuple[str, ...] = METHODS) -> None:
    """Generate the files of one size, then measure them in fresh processes; each row is emitted with the size."""
    def out(row: dict[str, Any], dataset: str) -> None:
        emit({"benchmark": "perf_scale", "size": n, "dataset": dataset, **row})

    folder = workdir / f"ml-synthetic-{n}"
    t0 = time.perf_counter()
    info = write_movielens(folder, n, seed)
    out({"stage": "generate", "generate_s": round(time.perf_counter() - t0, 2), **info}, "ml-20m")
    cache = workdir / f"cache-{n}"
    for r in run_child(["--child", "first", "--path", str(folder)], cache):
        out(r, "ml-20m")
    for r in run_child(["--child", "pipeline", "--path", str(folder), "--seed", str(seed), "--mf-epochs",
                        str(mf_epochs), "--knn-max-items", str(knn_max_items), "--methods", ",".join(methods)],
                       cache):
        out(r, "ml-20m")
    _remove_tree(folder)
    _remove_tree(cache)
    if reviews:
        f = workdir / "Synthetic_5.json.gz"
        t0 = time.perf_counter()
        info = write_amazon(f, n, seed)
        out({"stage": "generate", "generate_s": round(time.perf_counter() - t0, 2), **info}, "amazon-2018-5core")
        cache = workdir / f"cache-amazon-{n}"
        for stage in ("amazon_load_first", "amazon_load_cached"):
            for r in run_child(["--child", stage, "--path", str(f)], cache):
                out(r, "amazon-2018-5core")
        f.unlink()
        _remove_tree(cache)


def _remove_tree(p: Path) -> None:
    import shutil

    shutil.rmtree(p, ignore_errors=True)


def fit_slope(sizes: list[float], times: list[float]) -> float | None:
    """Least-squares slope of log(time) on log(size); None with fewer than two sizes or a time <= 0."""
    pts = [(math.log(s), math.log(t)) for s, t in zip(sizes, times) if s > 0 and t > 0]
    if len(pts) < 2 or len(pts) != len(sizes) or len({x for x, _ in pts}) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sxx


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per stage the times, slope and peak RSS over the sizes; per size the peak RSS; the targets.

    ``slope``: of log time on log interactions (with three sizes or more, also ``slope_last``: between the two
    largest). Ranking stages also get ``slope_per_scores``: on log(test
    users x items), the number of scores ranked (it grows faster than the interactions when users and items
    both grow). ``core_peak_rss_mb``: the largest resident set of the processes up to the end of the target's
    stages (:data:`CORE_STAGES`: load, split, view, bias and most-pop with their ranking and metrics)."""
    sizes = sorted({r["size"] for r in rows})
    stages: dict[str, dict[str, Any]] = {}
    for r in rows:
        name = r["stage"]
        if name in ("generate", "process"):
            continue
        s = stages.setdefault(name, {"sizes": [], "wall_s": [], "peak_rss_mb": [], "skipped": {}})
        if "skipped" in r:
            s["skipped"][str(r["size"])] = r["skipped"]
            continue
        s["sizes"].append(r["size"])
        s["wall_s"].append(r["wall_s"])
        s["peak_rss_mb"].append(r.get("peak_rss_mb"))
        if "users" in r and "items" in r and name.startswith("rank:"):
            s.setdefault("scores", []).append(r["users"] * r["items"])
    for s in stages.values():
        s["slope"] = None if (v := fit_slope(s["sizes"], s["wall_s"])) is None else round(v, 3)
        # between the two largest sizes: where fixed costs and cache-sized working sets no longer hide the growth
        v = fit_slope(s["sizes"][-2:], s["wall_s"][-2:]) if len(s["sizes"]) > 2 else None
        if v is not None:
            s["slope_last"] = round(v, 3)
        if "scores" in s:
            v = fit_slope(s["scores"], s["wall_s"])
            s["slope_per_scores"] = None if v is None else round(v, 3)
        s["above_noise_floor"] = bool(s["wall_s"]) and max(s["wall_s"]) >= NOISE_FLOOR_S
        if not s["skipped"]:
            del s["skipped"]
    by_size: dict[str, Any] = {}
    for n in sizes:
        mine = [r for r in rows if r["size"] == n]
        done = [r for r in mine if "wall_s" in r]
        procs = {r["role"]: r["peak_rss_mb"] for r in mine if r["stage"] == "process"}
        core = [r["process_peak_rss_mb"] for r in done if r["stage"] in CORE_STAGES]
        wall = {(r["dataset"], r["stage"]): r["wall_s"] for r in done}
        entry: dict[str, Any] = {"process_peak_rss_mb": procs, "core_peak_rss_mb": max(core) if core else None,
                                 "core_wall_s": round(sum(r["wall_s"] for r in done if r["stage"] in CORE_STAGES),
                                                      2)}
        for label, ds, first, cached in (("load_speedup", "ml-20m", "load_first", "load_cached"),
                                         ("amazon_load_speedup", "amazon-2018-5core", "amazon_load_first",
                                          "amazon_load_cached")):
            if wall.get((ds, first)) and wall.get((ds, cached)):
                entry[label] = round(wall[(ds, first)] / wall[(ds, cached)], 1)
        by_size[str(n)] = entry
    held = {k: v for k, v in stages.items() if v["slope"] is not None and v["above_noise_floor"]}
    speedups = [v[k] for v in by_size.values() for k in ("load_speedup", "amazon_load_speedup") if k in v]
    big = [e["core_peak_rss_mb"] for n, e in by_size.items() if int(n) >= 10_000_000 and e["core_peak_rss_mb"]]
    targets: dict[str, Any] = {
        "slope_max": max((v["slope"] for v in held.values()), default=None),
        "stages_over_slope_target": sorted(k for k, v in held.items() if v["slope"] > SLOPE_TARGET),
        "all_slopes_within_target": all(v["slope"] <= SLOPE_TARGET for v in held.values()) if held else None,
        "min_load_speedup": min(speedups) if speedups else None,
        "loads_within_target": all(x >= SPEEDUP_TARGET for x in speedups) if speedups else None,
        "core_peak_rss_mb_at_10m": max(big) if big else None,
        "rss_within_target_at_10m": max(big) <= RSS_TARGET_MB if big else None,
    }
    return {"benchmark": "perf_scale_summary", "sizes": sizes, "stages": stages, "by_size": by_size,
            "targets": {"slope": SLOPE_TARGET, "load_speedup": SPEEDUP_TARGET, "rss_mb_at_10m": RSS_TARGET_MB,
                        "noise_floor_s": NOISE_FLOOR_S, **targets}}


# -- the plot -----------------------------------------------------------------------------------------------
PLOT_STAGES = ("load_first", "load_cached", "split", "view", "fit:bias", "rank:bias", "metrics:bias",
               "rank:most-pop", "fit:biased-mf", "fit:item-knn", "amazon_load_first", "amazon_load_cached")
COLOURS = ("#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728", "#9467bd", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def _fmt_size(n: float) -> str:
    return f"{n / 1e6:g}M" if n >= 1e6 else f"{n / 1e3:g}k"


def _fmt_s(t: float) -> str:
    return f"{t:g} s" if t >= 1 else f"{t * 1000:g} ms"


def render_svg(summary: dict[str, Any]) -> str:
    """A log-log plot of each plotted stage's wall time against the number of interactions, with its slope,
    and a dashed slope-1 reference; plain SVG text."""
    stages = {k: v for k, v in summary["stages"].items() if k in PLOT_STAGES and v["wall_s"]}
    width, height, left, right, top, bottom = 720, 420, 64, 230, 30, 46
    pw, ph = width - left - right, height - top - bottom
    sizes = [s for v in stages.values() for s in v["sizes"]] or [1e5, 1e6]
    times = [t for v in stages.values() for t in v["wall_s"] if t > 0] or [0.01, 1.0]
    x0, x1 = math.floor(math.log10(min(sizes)) - 0.05), math.ceil(math.log10(max(sizes)) + 0.05)
    y0, y1 = math.floor(math.log10(min(times))), math.ceil(math.log10(max(times)))
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)

    def X(n: float) -> float:
        return left + (math.log10(n) - x0) / (x1 - x0) * pw

    def Y(t: float) -> float:
        return top + (y1 - math.log10(t)) / (y1 - y0) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           '<title>xrbench: wall time of each stage against the number of interactions (log-log)</title>',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    for e in range(x0, x1 + 1):
        x = left + (e - x0) / (x1 - x0) * pw
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="middle">{_fmt_size(10 ** e)}</text>')
    for e in range(y0, y1 + 1):
        y = top + (y1 - e) / (y1 - y0) * ph
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt_s(10.0 ** e)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>')
    out.append(f'<text x="{left + pw / 2:.1f}" y="{height - 10}" text-anchor="middle">interactions '
               f'(sizes {", ".join(_fmt_size(n) for n in summary["sizes"])})</text>')
    out.append(f'<text x="{left}" y="{top - 10}">wall time per stage; dashed: slope 1 (linear)</text>')
    # slope-1 reference through the first plotted stage's first point
    ref = next(iter(stages.values()), None)
    if ref:
        n0, t0 = ref["sizes"][0], ref["wall_s"][0]
        na, nb = 10.0 ** x0, 10.0 ** x1
        ta, tb = t0 * na / n0, t0 * nb / n0
        out.append(f'<clipPath id="plot"><rect x="{left}" y="{top}" width="{pw}" height="{ph}"/></clipPath>')
        out.append(f'<line x1="{X(na):.1f}" y1="{Y(ta):.1f}" x2="{X(nb):.1f}" y2="{Y(tb):.1f}" stroke="#888" '
                   'stroke-dasharray="5,4" clip-path="url(#plot)"/>')
    for k, (name, v) in enumerate(stages.items()):
        colour = COLOURS[k % len(COLOURS)]
        pts = [(X(n), Y(t)) for n, t in zip(v["sizes"], v["wall_s"]) if t > 0]
        if len(pts) > 1:
            out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="'
                       + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
        for x, y in pts:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.8" fill="{colour}"/>')
        ly = top + 6 + k * 16
        slope = "" if v["slope"] is None else f" (slope {v['slope']:.2f})"
        out.append(f'<line x1="{left + pw + 12}" y1="{ly:.1f}" x2="{left + pw + 30}" y2="{ly:.1f}" '
                   f'stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{left + pw + 34}" y="{ly + 4:.1f}">{escape(name + slope)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# -- entry points -------------------------------------------------------------------------------------------
def _emit_stdout(row: dict[str, Any]) -> None:
    print(json.dumps(row), flush=True)


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(float(s)) for s in text.split(",") if s.strip()})
    except ValueError:
        raise SystemExit(f"perf_scale: --sizes must be comma-separated numbers of interactions, got {text!r}")
    if not sizes or min(sizes) < 1000:
        raise SystemExit(f"perf_scale: --sizes must be at least 1000 interactions each, got {text!r}")
    return sizes


def parse_methods(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    unknown = [m for m in names if m not in METHODS]
    if unknown or not names:
        raise SystemExit(f"perf_scale: --methods takes some of {', '.join(METHODS)}, got {text!r}")
    return names


def run(sizes: list[int], *, workdir: Path | None = None, seed: int = 0, reviews_max: int = 1_000_000,
        mf_epochs: int = 1, knn_max_items: int = 6000, methods: tuple[str, ...] = METHODS,
        emit: Callable[[dict[str, Any]], None] = _emit_stdout) -> dict[str, Any]:
    """Measure every size (each in fresh processes), emitting each row; the summary (also emitted)."""
    rows: list[dict[str, Any]] = []

    def keep(row: dict[str, Any]) -> None:
        rows.append(row)
        emit(row)

    with tempfile.TemporaryDirectory(prefix="xrbench-perf-scale-", dir=workdir) as tmp:
        for n in sizes:
            measure_size(n, Path(tmp), keep, seed=seed, reviews=n <= reviews_max, mf_epochs=mf_epochs,
                         knn_max_items=knn_max_items, methods=methods)
    summary = summarise(rows)
    emit(summary)
    return summary


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=",".join(str(n) for n in DEFAULT_SIZES),
                    help="numbers of interactions, comma-separated (default 100000,1000000,10000000)")
    ap.add_argument("--reviews-max", type=int, default=1_000_000,
                    help="the Amazon review file is generated and loaded at the sizes up to this (0: never)")
    ap.add_argument("--plot", type=Path, help="write a log-log plot of the times to this SVG file")
    ap.add_argument("--out", type=Path, help="also write the JSON lines to this file")
    ap.add_argument("--workdir", type=Path, help="where the temporary data files go (default: the temp folder)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mf-epochs", type=int, default=1, help="biased-mf's max_epochs (a fixed number)")
    ap.add_argument("--knn-max-items", type=int, default=6000, help="rank with item-knn only up to this many items (it is fitted at every size)")
    ap.add_argument("--methods", default=",".join(METHODS),
                    help=f"the recommenders, comma-separated (default {','.join(METHODS)})")
    ap.add_argument("--child", choices=("first", "pipeline", "amazon_load_first", "amazon_load_cached"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    methods = parse_methods(a.methods)
    if a.child == "first":
        return child_first_load("ml-20m", a.path, _emit_stdout)
    if a.child == "pipeline":
        return child_pipeline(a.path, _emit_stdout, seed=a.seed, mf_epochs=a.mf_epochs,
                              knn_max_items=a.knn_max_items, methods=methods)
    if a.child:
        return child_amazon(a.path, _emit_stdout, a.child)
    sizes = parse_sizes(a.sizes)
    sink = open(a.out, "w", encoding="utf-8") if a.out else None

    def emit(row: dict[str, Any]) -> None:
        _emit_stdout(row)
        if sink:
            sink.write(json.dumps(row) + "\n")
            sink.flush()

    try:
        summary = run(sizes, workdir=a.workdir, seed=a.seed, reviews_max=a.reviews_max, mf_epochs=a.mf_epochs,
                      knn_max_items=a.knn_max_items, methods=methods, emit=emit)
    finally:
        if sink:
            sink.close()
    if a.plot:
        a.plot.parent.mkdir(parents=True, exist_ok=True)
        a.plot.write_text(render_svg(summary), encoding="utf-8")


if __name__ == "__main__":
    main()

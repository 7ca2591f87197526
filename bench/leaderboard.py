"""Leaderboards from result records: one section per (task, dataset), one table per metric group,
methods as rows. A cell is the mean over seeds with a 95% interval; the best value per column is
marked, and so is every method a paired test cannot tell from the best. A missing value is "—" with a
footnote naming the failed, absent or not-applicable runs, never averaged away; a method's average
rank is taken only over the columns it has.

Intervals: decomposable metrics carry bootstrap replicates in their records (see
``xrbench.metrics.uncertainty``); the replicates of each seed are averaged across seeds, replicate by
replicate, and the 2.5/97.5 percentiles give the interval. Metrics with an interval but no replicates
(the user-group gaps) pool their per-seed intervals as normal approximations. Paired test: the
difference of two methods' replicates on the same units (same resamples), averaged across their common
seeds; not significant when its 95% interval contains 0.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from .metrics import info, uncertainty
from .records import RunRecord
from .registry import REGISTRY
from .tasks import Section, Task


def task_of(name: str) -> Task | None:
    """The registered task of a board (None for records of a task whose plugin is not loaded)."""
    from . import tasks
    from .errors import XRBenchError

    try:
        return tasks.get(name)
    except XRBenchError:
        return None


def task_title(name: str) -> str:
    t = task_of(name)
    return t.title if t is not None else name


def task_order(name: str) -> int:
    t = task_of(name)
    return t.order if t is not None else 1_000

DASH = "—"
Z95 = 1.959963984540054
FOOTER = ("Cells: mean over seeds [95% interval: bootstrap over users/pairs/units within each seed, "
          "pooled across seeds]; ± = sample std over seeds where a metric has no interval. "
          "**Bold** = best in column; *italic* = not significantly different from the best "
          "(paired bootstrap over the same units, 95%); ↓ = lower is better.")


@dataclass
class Cell:
    values: list[float] = field(default_factory=list)
    reps: dict[int, tuple[str, np.ndarray]] = field(default_factory=dict)  # seed -> (units hash, replicates)
    seed_intervals: list[list[float]] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    tie_with_best: bool = False
    _interval: tuple[float, float] | None | str = "unset"

    @property
    def mean(self) -> float:
        m = self.__dict__.get("_mean")
        if m is None or m[0] != len(self.values):  # cached per number of values
            m = self.__dict__["_mean"] = (len(self.values), sum(self.values) / len(self.values))
        return m[1]

    @property
    def std(self) -> float:
        n = len(self.values)
        if n < 2:
            return 0.0
        m = self.mean
        return math.sqrt(sum((v - m) ** 2 for v in self.values) / (n - 1))

    def interval(self) -> tuple[float, float] | None:
        """The pooled 95% interval (computed once: a board is not changed after ``build``)."""
        if self._interval == "unset":
            self._interval = self._pooled_interval()
        return self._interval  # type: ignore[return-value]

    def _pooled_interval(self) -> tuple[float, float] | None:
        if self.values and len(self.reps) == len(self.values):
            return uncertainty.percentile_interval(_mean_of([r for _, r in self.reps.values()]))
        if self.values and len(self.seed_intervals) == len(self.values):
            se = [(hi - lo) / (2 * Z95) for lo, hi in self.seed_intervals]
            half = Z95 * math.sqrt(sum(s * s for s in se)) / len(se)
            return self.mean - half, self.mean + half
        return None


@dataclass
class Board:
    task: str
    dataset: str
    methods: list[str]
    keys: list[str]
    cells: dict[tuple[str, str], Cell]
    seeds: dict[str, list[int]]
    notes: list[str]
    missing: dict[tuple[str, str], int]  # (method, key) -> footnote number
    best_of: dict[str, str | None] = field(default_factory=dict)
    ranks: dict[tuple[str, str], int] = field(default_factory=dict)  # (method, key) -> rank in the column
    sections: list[Section] = field(default_factory=list)  # the task's extra tables (e.g. backbone comparison)
    source: str = ""  # the suite the records come from, when a page shows boards of several suites

    @property
    def title(self) -> str:
        t = f"{task_title(self.task)} — {self.dataset}"
        return f"{t} ({self.source})" if self.source else t

    def best(self, key: str) -> str | None:
        return self.best_of.get(key)

    def avg_rank(self, method: str, keys: list[str]) -> float | None:
        """Mean rank over the ranked columns among ``keys`` that the method has."""
        r = [self.ranks[(method, k)] for k in keys if (method, k) in self.ranks]
        return sum(r) / len(r) if r else None


def _mean_of(arrays: list[np.ndarray]) -> np.ndarray:
    """Element-wise mean of equal-length arrays (a loop: np.mean's overhead dominates on a few arrays)."""
    acc = arrays[0].copy()
    for a in arrays[1:]:
        acc += a
    return acc / len(arrays)


def paired_tie(a: Cell, b: Cell) -> bool | None:
    """True when a and b are not significantly different (paired bootstrap); None when not testable."""
    diffs = [a.reps[s][1] - b.reps[s][1] for s in a.reps if s in b.reps and a.reps[s][0] == b.reps[s][0]]
    if not diffs:
        return None
    ci = uncertainty.percentile_interval(_mean_of(diffs))
    if ci is None:
        return None
    return ci[0] <= 0.0 <= ci[1]


def _metric_order(task: str) -> list[str]:
    return [k for k in REGISTRY.in_order("metric") if info(k).task == task]


def build(records: list[RunRecord]) -> list[Board]:
    by_group: dict[tuple[str, str], list[RunRecord]] = defaultdict(list)
    for r in records:
        by_group[(r.task, r.dataset)].append(r)
    boards = []
    for (task, dataset), recs in sorted(by_group.items(), key=lambda kv: (task_order(kv[0][0]), kv[0])):
        methods = sorted({r.method_label for r in recs})
        present = {k for r in recs for k in (*r.metrics, *r.skipped_metrics)}
        keys = [k for k in _metric_order(task) if k in present]
        cells: dict[tuple[str, str], Cell] = {(m, k): Cell() for m in methods for k in keys}
        seeds: dict[str, list[int]] = defaultdict(list)
        # (method, reason) -> keys it affects; one footnote per (method, reason)
        reasons: dict[tuple[str, str], list[str]] = defaultdict(list)
        for r in sorted(recs, key=lambda r: (r.method_label, r.seed)):
            seeds[r.method_label].append(r.seed)
            reps = uncertainty.unpack(r.bootstrap)
            for k in keys:
                if r.status != "ok":
                    why = f"seed {r.seed} failed ({r.error})"
                elif k in r.metrics:
                    c = cells[(r.method_label, k)]
                    c.values.append(r.metrics[k])
                    c.seeds.append(r.seed)
                    if k in reps:
                        c.reps[r.seed] = reps[k]
                    if k in r.intervals:
                        c.seed_intervals.append(r.intervals[k])
                    continue
                else:
                    why = r.skipped_metrics.get(k, "not computed in this run")
                if k not in reasons[(r.method_label, why)]:
                    reasons[(r.method_label, why)].append(k)
        notes: list[str] = []
        # A column no method has (e.g. gender gaps on a dataset without genders) is left out, with one note.
        empty = [k for k in keys if not any(cells[(m, k)].values for m in methods)]
        if empty:
            whys = sorted({why for (_, why), ks in reasons.items() if set(ks) & set(empty)})
            notes.append(f"columns left out, no method has them — {', '.join(empty)}: {'; '.join(whys)}")
            keys = [k for k in keys if k not in empty]
            reasons = {mw: [k for k in ks if k not in empty] for mw, ks in reasons.items()}
            reasons = {mw: ks for mw, ks in reasons.items() if ks}
        missing: dict[tuple[str, str], int] = {}
        for (meth, why), ks in reasons.items():
            notes.append(f"{meth} — {', '.join(ks)}: {why}")
            for k in ks:
                missing.setdefault((meth, k), len(notes))
        board = Board(task, dataset, methods, keys, cells, dict(seeds), notes, missing)
        _rank_columns(board)
        owner = task_of(task)
        if owner is not None:
            board.notes.extend(owner.board_notes(board, recs))
            board.sections = owner.board_sections(board, recs)
        boards.append(board)
    return boards


def _rank_columns(board: Board) -> None:
    """Ranks, the best method and the paired-test ties of every rankable column."""
    methods, cells = board.methods, board.cells
    for k in board.keys:
        mi = info(k)
        if not mi.rankable:
            continue
        have = sorted(((c.mean if mi.lower_is_better else -c.mean), meth) for meth in methods
                      for c in (cells[(meth, k)],) if c.values)
        for rank, (_, meth) in enumerate(have, start=1):
            board.ranks[(meth, k)] = rank
        best = board.best_of[k] = have[0][1] if have else None
        if best is None:
            continue
        for m in methods:
            c = cells[(m, k)]
            if m != best and c.values:
                c.tie_with_best = bool(paired_tie(c, cells[(best, k)]))


def fmt_number(x: float) -> str:
    a = abs(x)
    if a >= 100:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.3f}"
    return f"{x:.4f}"


def cell_text(board: Board, meth: str, key: str) -> tuple[str, str]:
    """(text, mark) with mark in {"best", "tie", ""}."""
    c = board.cells[(meth, key)]
    foot = board.missing.get((meth, key))
    if not c.values:
        return (f"{DASH}[{foot}]" if foot else DASH), ""
    ci = c.interval()
    if ci is not None:
        text = f"{fmt_number(c.mean)} [{fmt_number(ci[0])}, {fmt_number(ci[1])}]"
    else:
        text = fmt_number(c.mean) + (f" ± {fmt_number(c.std)}" if len(c.values) > 1 else "")
    if len(c.values) < len(board.seeds.get(meth, [])) and foot:
        text += f" [{foot}]"
    mark = "best" if meth == board.best(key) else ("tie" if c.tie_with_best else "")
    return text, mark


def header(key: str) -> str:
    return key + (" ↓" if info(key).lower_is_better else "")


def groups(board: Board) -> list[tuple[str, list[str]]]:
    out: dict[str, list[str]] = {}
    for k in board.keys:
        out.setdefault(info(k).group, []).append(k)
    return list(out.items())


def seeds_line(board: Board) -> str:
    n_seeds = sorted({len(s) for s in board.seeds.values()})
    return f"Seeds per method: {', '.join(map(str, n_seeds))}."

"""Leaderboards from result records: one section per (task, dataset), one table per metric group,
methods as rows. A cell is the mean over seeds with a 95% interval; the best value per column is
marked, and so is every method a paired test cannot tell from the best. A missing value is "—" with a
footnote naming the failed, absent or not-applicable runs, never averaged away.

Intervals take both levels of variation, units (users, pairs: the bootstrap replicates in the records,
see ``xrbench.metrics.uncertainty``) and seeds: with one seed, the within-seed percentile interval (a
board note says seed variance is left out); with S >= 2 seeds, mean ± t(S-1) · SE with SE² = max(sample
variance of the per-seed values, mean within-seed variance) / S. Metrics with an interval but no
replicates (the user-group gaps) take the within-seed variance from their per-seed normal intervals;
metrics with values only show mean ± std.

Paired test against the best, paired on seed and unit: the per-seed differences of the two methods over
their common seeds scored on the same units, with the same rule (one common seed: the paired bootstrap
p of the replicate differences; more: the t test), Holm-adjusted over the column's comparisons with the
best. A method without replicates or without common units with the best is marked untestable, never
"significantly worse". A column is ranked only where at least two methods were scored on the same units
(metrics without replicates: in a common seed); the average rank is over all the ranked columns of a
table, and a method missing one of them has none.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .curves import CURVE_FILE, record_curve
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
ALPHA = 0.05
UNTESTABLE = "†"  # appended to the value of a cell the paired test cannot compare with the best
FOOTER = ("Cells: mean over seeds [95% interval: one seed, bootstrap over users/pairs/units; S ≥ 2 seeds, "
          "mean ± t(S−1)·SE with SE² = max(variance of the per-seed values, mean within-seed bootstrap "
          "variance)/S]; ± = sample std over seeds where a metric has no interval. "
          "**Bold** = best in column (equal means: all best); *italic* = not significantly different from the "
          "best (paired on seed and unit: the same rule on the per-seed differences, one common seed: paired "
          "bootstrap; Holm-adjusted over the column, 5%); plain = significantly different; "
          f"{UNTESTABLE} = not testable against the best (no replicates or no units in common); "
          "a column is ranked only where two methods were scored on the same units; ↓ = lower is better.")


@dataclass
class Cell:
    values: list[float] = field(default_factory=list)
    reps: dict[int, tuple[str, np.ndarray]] = field(default_factory=dict)  # seed -> (units hash, replicates)
    seed_intervals: list[list[float]] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    tie_with_best: bool = False
    mark: str = ""  # "best", "tie", "untestable" or "" (significantly different, or a column without marks)
    test_seeds: int = 0  # common seeds of the paired test against the best (0: no test)
    binomial: bool = False  # 0/1 per seed: the interval is the exact binomial one over the seeds
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
        """The 95% interval over units and seeds (computed once: a board is not changed after ``build``)."""
        if self._interval == "unset":
            self._interval = self._pooled_interval()
        return self._interval  # type: ignore[return-value]

    def within(self) -> list[float] | None:
        """Each seed's within-seed variance (from its replicates, else its normal interval), or None."""
        if self.values and len(self.reps) == len(self.values):
            return [uncertainty.within_variance(self.reps[s][1]) for s in self.seeds]
        if self.values and len(self.seed_intervals) == len(self.values):
            return [((hi - lo) / (2 * Z95)) ** 2 for lo, hi in self.seed_intervals]
        return None

    def _pooled_interval(self) -> tuple[float, float] | None:
        if self.binomial and self.values:
            return uncertainty.clopper_pearson(int(round(sum(self.values))), len(self.values))
        if len(self.values) == 1 and len(self.reps) == 1:
            return uncertainty.percentile_interval(next(iter(self.reps.values()))[1])
        w = self.within()
        if w is None:
            return None
        if len(self.values) == 1:
            half = Z95 * math.sqrt(w[0])
            return (self.mean - half, self.mean + half) if math.isfinite(half) else None
        return uncertainty.seeds_interval(self.values, w)

    @property
    def one_seed(self) -> bool:
        """Its interval or its paired test leaves seed-to-seed variance out."""
        return (len(self.values) == 1 and self.interval() is not None) or self.test_seeds == 1


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
    best_of: dict[str, str | None] = field(default_factory=dict)  # None: the column is not ranked
    ranks: dict[tuple[str, str], int] = field(default_factory=dict)  # (method, key) -> rank in the column
    sections: list[Section] = field(default_factory=list)  # the task's extra tables (e.g. backbone comparison)
    source: str = ""  # the suite the records come from, when a page shows boards of several suites
    suite: str = ""  # the suite that made the records (records' provenance, or the committed board's folder)
    #: method -> seed -> its learning curve rows (``xrbench.curves``), for the records whose folder was given
    curves: dict[str, dict[int, list[dict]]] = field(default_factory=dict)
    #: rows shown but never ranked, marked best or tested (the task's ``unranked_methods``, e.g. oracle inputs)
    unranked: frozenset[str] = frozenset()

    @property
    def title(self) -> str:
        t = f"{task_title(self.task)} — {self.dataset}"
        return f"{t} ({self.source})" if self.source else t

    def best(self, key: str) -> str | None:
        """The best method of a ranked column (the first by name when several have the best mean)."""
        return self.best_of.get(key)

    def ranked_keys(self, keys: list[str]) -> list[str]:
        return [k for k in keys if self.best_of.get(k) is not None]

    def avg_rank(self, method: str, keys: list[str]) -> float | None:
        """Mean rank over all the ranked columns among ``keys``; None when the method misses one of them."""
        ranked = self.ranked_keys(keys)
        if not ranked or any((method, k) not in self.ranks for k in ranked):
            return None
        return sum(self.ranks[(method, k)] for k in ranked) / len(ranked)


def paired_p(a: Cell, b: Cell) -> tuple[float, int] | None:
    """(two-sided p of "a and b score the same", number of common seeds), paired on seed and unit: over
    the common seeds scored on the same units, the bootstrap p of the replicate differences with one such
    seed, the t test of the per-seed differences with more; None when not testable."""
    common = [s for s in a.seeds if s in a.reps and s in b.reps and a.reps[s][0] == b.reps[s][0]]
    if not common:
        return None
    if len(common) == 1:
        p = uncertainty.bootstrap_p(a.reps[common[0]][1] - b.reps[common[0]][1])
    else:
        av, bv = dict(zip(a.seeds, a.values)), dict(zip(b.seeds, b.values))
        p = uncertainty.seeds_p([av[s] - bv[s] for s in common],
                                [uncertainty.within_variance(a.reps[s][1] - b.reps[s][1]) for s in common])
    return None if p is None else (p, len(common))


def paired_tie(a: Cell, b: Cell) -> bool | None:
    """True when a and b are not significantly different at 5% (one comparison, no multiplicity
    adjustment); None when not testable."""
    r = paired_p(a, b)
    return None if r is None else r[0] > ALPHA


def _metric_order(task: str) -> list[str]:
    return [k for k in REGISTRY.in_order("metric") if info(k).task == task]


def build(records: list[RunRecord], folders: Sequence[Path | None] | None = None) -> list[Board]:
    """The boards of ``records``, one per (task, dataset). ``folders`` (the folder of each record, in the same
    order; e.g. from :func:`xrbench.records.iter_records`) lets a board read the unit files it shows beside the
    tables (learning curves); without it, or for a None, the record's unit files are not read."""
    if folders is not None and len(folders) != len(records):
        raise ValueError(f"{len(folders)} folders for {len(records)} records")
    by_group: dict[tuple[str, str], list[RunRecord]] = defaultdict(list)
    folder_of: dict[int, Path] = {}  # id(record) -> its folder
    for i, r in enumerate(records):
        by_group[(r.task, r.dataset)].append(r)
        if folders is not None and folders[i] is not None:
            folder_of[id(r)] = Path(folders[i])  # type: ignore[arg-type]
    boards = []
    for (task, dataset), recs in sorted(by_group.items(), key=lambda kv: (task_order(kv[0][0]), kv[0])):
        methods = sorted({r.method_label for r in recs})
        present = {k for r in recs for k in (*r.metrics, *r.skipped_metrics)}
        keys = [k for k in _metric_order(task) if k in present]
        cells: dict[tuple[str, str], Cell] = {(m, k): Cell(binomial=info(k).binomial) for m in methods for k in keys}
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
        for k in keys:
            m = info(k)
            if m.target is not None or m.binomial:
                how = [f"ranked by the distance of the mean from {m.target:g}"] if m.target is not None else []
                how += ["interval: exact (Clopper-Pearson) binomial over the replications (seeds), each 0 or 1"
                        ] if m.binomial else []
                notes.append(f"{k}: {'; '.join(how)}")
        board = Board(task, dataset, methods, keys, cells, dict(seeds), notes, missing)
        made_by = {str((r.provenance or {}).get("suite", "")) for r in recs}
        board.suite = made_by.pop() if len(made_by) == 1 else ""
        owner = task_of(task)
        if owner is not None:
            board.unranked = frozenset(owner.unranked_methods(recs))
        _rank_columns(board)
        board.curves = _curves(recs, folder_of)
        if owner is not None:
            board.notes.extend(owner.board_notes(board, recs))
            board.sections = owner.board_sections(board, recs)
        boards.append(board)
    return boards


def _curves(recs: list[RunRecord], folder_of: dict[int, Path]) -> dict[str, dict[int, list[dict]]]:
    """method -> seed -> learning curve rows, of the ok records that list one and whose folder is known (a
    missing, changed or malformed file: left out with a warning)."""
    out: dict[str, dict[int, list[dict]]] = {}
    for r in sorted(recs, key=lambda r: (r.method_label, r.seed)):
        folder = folder_of.get(id(r))
        if folder is None or r.status != "ok" or CURVE_FILE not in r.units:
            continue
        rows = record_curve(folder, r.units, r.unit_sha256, f"{r.method_label}, seed {r.seed}")
        if rows is not None:
            out.setdefault(r.method_label, {})[r.seed] = rows
    return out


def _rank_columns(board: Board) -> None:
    """Ranks, the best methods and the marks of every rankable column, then the board's notes on them."""
    unranked = []
    for k in board.keys:
        if info(k).rankable and not _rank_column(board, k):
            unranked.append(k)
    if unranked:
        board.notes.append(f"not ranked, fewer than two methods scored on the same units: {', '.join(unranked)}")
    _seed_and_rank_notes(board)


def _comparable(cells: dict[str, Cell]) -> list[str]:
    """The methods scored on the same units as at least one other: same units hash in a common seed
    (a cell without replicates: any common seed)."""
    units: Counter = Counter()  # (seed, units hash) -> methods with replicates there
    seeds: Counter = Counter()  # seed -> methods scored there
    plain: Counter = Counter()  # seed -> methods scored there without replicates
    for c in cells.values():
        units.update(set((s, h) for s, (h, _) in c.reps.items()))
        seeds.update(set(c.seeds))
        plain.update(set(c.seeds) if not c.reps else ())
    out = []
    for m, c in cells.items():
        if c.reps:
            ok = any(units[(s, h)] > 1 for s, (h, _) in c.reps.items()) or any(plain[s] for s in c.seeds)
        else:
            ok = any(seeds[s] > 1 for s in c.seeds)
        if ok:
            out.append(m)
    return out


def _rank_column(board: Board, k: str) -> bool:
    """Rank the comparable methods of column k (equal means share a rank and are all best) and mark the
    cells; False when fewer than two methods are comparable (no ranks, no marks)."""
    scored = {m: c for m in board.methods if m not in board.unranked
              for c in (board.cells[(m, k)],) if c.values and math.isfinite(c.mean)}
    ranked = _comparable(scored)
    board.best_of[k] = None
    if len(ranked) < 2:
        return False
    sign = 1.0 if info(k).lower_is_better else -1.0
    target = info(k).target
    score = {m: abs(scored[m].mean - target) if target is not None else sign * scored[m].mean for m in ranked}
    for m in ranked:
        board.ranks[(m, k)] = 1 + sum(1 for o in ranked if score[o] < score[m])
    top = min(score.values())
    bests = sorted(m for m in ranked if score[m] == top)
    board.best_of[k] = bests[0]
    ref = scored[bests[0]]
    tests: dict[str, tuple[float, int]] = {}
    for m, c in scored.items():
        r = None if m in bests else paired_p(c, ref)
        c.mark, c.tie_with_best, c.test_seeds = ("best" if m in bests else "untestable"), False, 0
        if r is not None:
            tests[m] = r
    for (m, (_, n)), rejected in zip(tests.items(), uncertainty.holm([p for p, _ in tests.values()], ALPHA)):
        c = scored[m]
        c.mark, c.tie_with_best, c.test_seeds = ("" if rejected else "tie"), not rejected, n
    return True


def _seed_and_rank_notes(board: Board) -> None:
    """One note for the methods whose intervals or tests leave seed variance out, one for the average rank
    when a method misses a ranked column of a table."""
    scored = {m for (m, _), c in board.cells.items() if c.values}
    one = sorted({m for (m, _), c in board.cells.items() if c.values and c.one_seed})
    if one:
        who = "" if set(one) == scored else f" of {', '.join(one)}"
        board.notes.append(f"one seed: the intervals and paired tests{who} leave seed-to-seed variance out")
    tables = [(g, board.ranked_keys(keys)) for g, keys in groups(board)]
    tables = [(g, ks) for g, ks in tables if ks]
    if any(board.avg_rank(m, ks) is None for _, ks in tables for m in board.methods
           if any((m, k) in board.ranks for k in ks)):
        per = ", ".join(f"{g}: {len(ks)}" for g, ks in tables)
        board.notes.append(f"avg rank: over all the ranked columns of a table ({per}); "
                           "a method missing one of them is not ranked")


def fmt_number(x: float) -> str:
    a = abs(x)
    if a >= 100:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.3f}"
    return f"{x:.4f}"


def cell_text(board: Board, meth: str, key: str) -> tuple[str, str]:
    """(text, mark) with mark in {"best", "tie", "untestable", ""}; an untestable value carries a "†"."""
    c = board.cells[(meth, key)]
    foot = board.missing.get((meth, key))
    if not c.values:
        return (f"{DASH}[{foot}]" if foot else DASH), ""
    mean = fmt_number(c.mean) + (UNTESTABLE if c.mark == "untestable" else "")
    ci = c.interval()
    if ci is not None:
        text = f"{mean} [{fmt_number(ci[0])}, {fmt_number(ci[1])}]"
    else:
        text = mean + (f" ± {fmt_number(c.std)}" if len(c.values) > 1 else "")
    if len(c.values) < len(board.seeds.get(meth, [])) and foot:
        text += f" [{foot}]"
    return text, c.mark


def header(key: str) -> str:
    m = info(key)
    if m.target is not None:
        return f"{key} → {m.target:g}"
    return key + (" ↓" if m.lower_is_better else "")


def groups(board: Board) -> list[tuple[str, list[str]]]:
    out: dict[str, list[str]] = {}
    for k in board.keys:
        out.setdefault(info(k).group, []).append(k)
    return list(out.items())


def seeds_line(board: Board) -> str:
    n_seeds = sorted({len(s) for s in board.seeds.values()})
    return f"Seeds per method: {', '.join(map(str, n_seeds))}."

"""Leaderboards from result records: one section per (task, dataset), one table per metric group,
methods as rows, mean ± std over seeds, the best value per column marked, ↓ on lower-is-better keys.
A missing value is shown as "—" with a footnote naming the failed, absent or not-applicable runs;
it is never averaged away."""
from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from tabulate import tabulate

from .metrics import info
from .records import RunRecord, iter_records
from .registry import REGISTRY

TASK_TITLES = {"recommend": "Recommendation", "explain": "Explanation", "estimate": "Causal estimation"}
DASH = "—"


@dataclass
class Cell:
    values: list[float] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return sum(self.values) / len(self.values)

    @property
    def std(self) -> float:
        n = len(self.values)
        if n < 2:
            return 0.0
        m = self.mean
        return math.sqrt(sum((v - m) ** 2 for v in self.values) / (n - 1))


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

    def best(self, key: str) -> str | None:
        m = info(key)
        if not m.rankable:
            return None
        have = [(c.mean, meth) for (meth, k), c in self.cells.items() if k == key and c.values]
        if not have:
            return None
        return (min(have) if m.lower_is_better else max(have))[1]


def _metric_order(task: str) -> list[str]:
    return [k for k in REGISTRY.in_order("metric") if info(k).task == task]


def build(records: list[RunRecord]) -> list[Board]:
    by_group: dict[tuple[str, str], list[RunRecord]] = defaultdict(list)
    for r in records:
        by_group[(r.task, r.dataset)].append(r)
    boards = []
    order = list(TASK_TITLES)
    for (task, dataset), recs in sorted(by_group.items(), key=lambda kv: (order.index(kv[0][0]) if kv[0][0] in order
                                                                          else len(order), kv[0])):
        methods = sorted({r.method_label for r in recs})
        present = {k for r in recs for k in (*r.metrics, *r.skipped_metrics)}
        keys = [k for k in _metric_order(task) if k in present]
        cells: dict[tuple[str, str], Cell] = {(m, k): Cell() for m in methods for k in keys}
        seeds: dict[str, list[int]] = defaultdict(list)
        # (method, reason) -> keys it affects; one footnote per (method, reason)
        reasons: dict[tuple[str, str], list[str]] = defaultdict(list)
        for r in sorted(recs, key=lambda r: (r.method_label, r.seed)):
            seeds[r.method_label].append(r.seed)
            for k in keys:
                if r.status != "ok":
                    why = f"seed {r.seed} failed ({r.error})"
                elif k in r.metrics:
                    cells[(r.method_label, k)].values.append(r.metrics[k])
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
        boards.append(Board(task, dataset, methods, keys, cells, dict(seeds), notes, missing))
    return boards


def _fmt(x: float) -> str:
    a = abs(x)
    if a >= 100:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.3f}"
    return f"{x:.4f}"


def _cell_text(board: Board, meth: str, key: str, best: str | None, bold: tuple[str, str]) -> str:
    c = board.cells[(meth, key)]
    foot = board.missing.get((meth, key))
    if not c.values:
        return f"{DASH}[{foot}]" if foot else DASH
    text = _fmt(c.mean) + (f" ± {_fmt(c.std)}" if len(c.values) > 1 else "")
    if len(c.values) < len(board.seeds.get(meth, [])) and foot:
        text += f" [{foot}]"
    return f"{bold[0]}{text}{bold[1]}" if meth == best else text


def _header(key: str) -> str:
    return key + (" ↓" if info(key).lower_is_better else "")


def groups(board: Board) -> list[tuple[str, list[str]]]:
    out: dict[str, list[str]] = {}
    for k in board.keys:
        out.setdefault(info(k).group, []).append(k)
    return list(out.items())


def render_markdown(boards: list[Board]) -> str:
    parts = []
    for b in boards:
        parts.append(f"## {TASK_TITLES.get(b.task, b.task)} — {b.dataset}\n")
        n_seeds = sorted({len(s) for s in b.seeds.values()})
        for group, keys in groups(b):
            rows = []
            for meth in b.methods:
                rows.append([meth, *[_cell_text(b, meth, k, b.best(k), ("**", "**")) for k in keys]])
            parts.append(f"**{group}**\n")
            parts.append(tabulate(rows, headers=["method", *map(_header, keys)], tablefmt="github",
                                  disable_numparse=True))
            parts.append("")
        parts.append(f"Mean ± sample std over seeds (seeds per method: {', '.join(map(str, n_seeds))}); "
                     "**bold** = best in column; ↓ = lower is better.")
        for i, note in enumerate(b.notes, start=1):
            parts.append(f"[{i}] {note}")
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def render_csv(boards: list[Board]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["task", "dataset", "method", "metric", "mean", "std", "n_seeds", "best", "lower_is_better", "note"])
    for b in boards:
        for k in b.keys:
            best = b.best(k)
            for meth in b.methods:
                c = b.cells[(meth, k)]
                foot = b.missing.get((meth, k))
                w.writerow([b.task, b.dataset, meth, k, repr(c.mean) if c.values else "",
                            repr(c.std) if c.values else "", len(c.values), int(meth == best),
                            int(info(k).lower_is_better), b.notes[foot - 1] if foot else ""])
    return buf.getvalue()


RENDERERS = {"md": render_markdown, "csv": render_csv}


def leaderboard(results_dir: Path, fmt: str = "md") -> str:
    from .errors import XRBenchError

    if fmt not in RENDERERS:
        raise XRBenchError(f"unknown leaderboard format '{fmt}'; use one of {', '.join(RENDERERS)}")
    records = [r for _, r in iter_records(Path(results_dir))]
    if not records:
        raise XRBenchError(f"{results_dir}: no result records found (run 'xrbench run' with --out here first)")
    return RENDERERS[fmt](build(records))

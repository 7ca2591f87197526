"""The Markdown of an ``xrbench compare`` report, fit for a pull-request comment: regressions first (worst
first by relative change), then improvements, then other changes; cost metrics summarised in one line each;
then the count of unchanged cells and the records missing from NEW."""
from __future__ import annotations

import math
import statistics

from .compare import Report, Row, is_cost

HEADER = ["dataset", "method", "seed", "metric", "baseline", "new", "change", "relative", "tolerance", "test"]


def severity(row: Row) -> float:
    """How bad a row is, for sorting: a failed run first, then the largest relative change (a change from
    0, which has no relative size, counts as infinite)."""
    if row.metric == "status":
        return math.inf
    if row.relative is None:
        return math.inf if row.change else 0.0
    return abs(row.relative)


def _cell(x: object) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.6g}"
    return str(x).replace("|", "\\|").replace("\n", " ")


def _signed(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "—"
    return f"{x:+.2%}" if pct else f"{x:+.4g}"


def table(rows: list[Row]) -> list[str]:
    out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for r in rows:
        tol = "—" if r.tolerance is None else f"{r.tolerance:g}"
        cells = [_cell(r.dataset), _cell(r.method), str(r.seed), _cell(r.metric), _cell(r.baseline), _cell(r.new),
                 _signed(r.change), _signed(r.relative, pct=True), tol, _cell(r.test)]
        out.append("| " + " | ".join(cells) + " |")
    return out


def _cost_lines(rows: list[Row]) -> list[str]:
    out = []
    for key in sorted({r.metric for r in rows}):
        rel = [r.relative for r in rows if r.metric == key and r.relative is not None]
        med = f", median change {statistics.median(rel):+.1%}" if rel else ""
        n = sum(r.metric == key for r in rows)
        out.append(f"- `{key}` changed in {n} cell(s){med} (cost: measures the machine, never a regression)")
    return out


def render_markdown(report: Report) -> str:
    s = report.summary()
    verdict = f"**{s['regression']} regression(s)**" if s["regression"] else "**no regressions**"
    lines = ["## xrbench compare", "",
             f"Baseline `{report.baseline}` → new `{report.new}`: {verdict}, {s['improvement']} improvement(s), "
             f"{s['changed']} other change(s), {s['unchanged']} unchanged cell(s), {s['missing']} missing "
             f"record(s), {s['added']} new record(s).", ""]
    by = {st: sorted((r for r in report.rows if r.status == st), key=severity, reverse=True)
          for st in ("regression", "improvement", "changed")}
    for title, rows in (("Regressions", by["regression"]), ("Improvements", by["improvement"]),
                        ("Other changes (no better side, or worse within the bootstrap noise)",
                         [r for r in by["changed"] if not is_cost(r.metric)])):
        if rows:
            lines += [f"### {title}", "", *table(rows), ""]
    cost = [r for r in by["changed"] if is_cost(r.metric)]
    if cost:
        lines += ["### Cost", "", *_cost_lines(cost), ""]
    lines += [f"unchanged: {s['unchanged']} cells", ""]
    for title, keys in (("Missing from NEW" + (" (allowed)" if report.allow_missing else ""), report.missing),
                        ("New in NEW", report.added)):
        if keys:
            lines += [f"### {title}", ""]
            lines += [f"- {d} / {t} / {m} / seed {seed}" for d, t, m, seed in keys] + [""]
    if report.warnings:
        lines += ["### Warnings", "", *(f"- {w}" for w in report.warnings), ""]
    return "\n".join(lines)

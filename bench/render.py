"""Leaderboard renderers: Markdown, CSV, LaTeX and one static HTML page."""
from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path

from tabulate import tabulate

from .leaderboard import DASH, FOOTER, Board, cell_text, fmt_number, groups, header, seeds_line, task_title
from .metrics import info
from .tasks import Section


# -- escaping ----------------------------------------------------------------------------------------
# Every string that reaches a leaderboard may come from a user or a plugin (dataset labels with their
# parameters, method labels, task names, metric keys and groups, notes such as error messages, section
# titles and rows): each format escapes it for its context, in one pass.

_SURROGATES = re.compile("[\ud800-\udfff]")  # lone surrogates (from JSON) cannot be encoded as UTF-8
_BREAKS = re.compile("\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")  # every str.splitlines() boundary
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # (after _BREAKS; tab stays)


def _clean(s: object) -> str:
    return _SURROGATES.sub("\ufffd", str(s))


def _control_picture(m: re.Match) -> str:
    c = ord(m.group())
    return chr(0x2400 + c) if c < 0x20 else ("\u2421" if c == 0x7f else "\ufffd")


# Markdown: backslash escapes for what would start emphasis, code, strikethrough, math, a link or end a
# table cell; entities for what would start raw HTML or an entity; "_" only where it could emphasise
# (GFM never does inside a word, so metric keys like tokens_per_s stay as they are); "]" only before
# "(" or "[" (an inline or reference link); line breaks become spaces (a row is one line) and control
# characters visible symbols (Markdown is printed to terminals).
_MD_SPECIAL = re.compile(r"[\\`*~|$#<>&]|\](?=[(\[])|(?<![^\W_])_|_(?![^\W_])")
_MD_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}


def md_escape(s: object) -> str:
    """``s`` as literal text of one Markdown table cell, heading or paragraph line."""
    s = _CONTROLS.sub(_control_picture, _BREAKS.sub(" ", _clean(s)))
    return _MD_SPECIAL.sub(lambda m: _MD_ENTITIES.get(m.group(), "\\" + m.group()), s)


# CSV: a text cell that a spreadsheet would read as a formula gets a leading "'" (so does one that starts
# with "'" itself, so that dropping one leading "'" always gives the text back). Numeric columns are not
# text cells: their values (negative numbers included) are written as they are.
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "'", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_text(s: object) -> str:
    s = _clean(s)
    return "'" + s if s.startswith(_CSV_FORMULA_START) else s


# LaTeX: one pass over the string (an escape's own backslash and braces are never escaped again).
_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}",
        ">": r"\textgreater{}", "|": r"\textbar{}", "[": "{[}", "]": "{]}",  # "{[}": never a \\[<length>]
        "—": "---", "↓": r"$\downarrow$", "→": r"$\rightarrow$", "≥": r"$\geq$", "≤": r"$\leq$", "–": "--", "±": r"$\pm$"}
_TEX_SPECIAL = re.compile("|".join(map(re.escape, _TEX)))


def _latex_escape(s: object) -> str:
    s = _CONTROLS.sub("", _BREAKS.sub(" ", _clean(s).replace("\t", " ")))
    return _TEX_SPECIAL.sub(lambda m: _TEX[m.group()], s)


# HTML: text and quoted attribute values (html.escape with quote=True: & < > " '); JSON inside a
# <script> element with < > & U+2028 U+2029 as \uXXXX escapes (never "</script>" or "<!--").
def _h(s: object) -> str:
    return html.escape(_clean(s).replace("\x00", "\ufffd"), quote=True)


_JSON_IN_SCRIPT = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def json_for_script(obj: object) -> str:
    """``obj`` as JSON that is safe inside an HTML ``<script>`` element and parses back to ``obj``."""
    text = json.dumps(obj)
    return re.sub("[<>&\u2028\u2029]", lambda m: _JSON_IN_SCRIPT[m.group()], _clean(text))


def _rows(b: Board, keys: list[str], wrap: dict[str, tuple[str, str]], esc=lambda s: s) -> list[list[str]]:
    rows = []
    for meth in b.methods:
        row = [esc(meth)]
        for k in keys:
            text, mark = cell_text(b, meth, k)
            lo, hi = wrap.get(mark, ("", ""))
            row.append(f"{lo}{esc(text)}{hi}")
        rank = b.avg_rank(meth, keys)
        row.append(DASH if rank is None else f"{rank:.2f}")
        rows.append(row)
    return rows


def md_table(rows: list[list[str]], headers: list[str]) -> str:
    """A GitHub Markdown table of already escaped cells."""
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def section_table(sec: Section) -> str:
    """A task's extra table as a Markdown table, every cell escaped (also the README blocks use it)."""
    return md_table([[md_escape(c) for c in row] for row in sec.rows], [md_escape(h) for h in sec.header])


def section_markdown(sec: Section) -> list[str]:
    """A task's extra table (e.g. the backbone comparison) as Markdown lines."""
    title = f"**{md_escape(sec.title)}**" + (f" ({md_escape(sec.note)})" if sec.note else "")
    return [title + "\n", section_table(sec), ""]


def curves_line(b: Board) -> str:
    """The Markdown line naming the methods of a board with learning curves (the HTML page draws them)."""
    return (f"Learning curves (loss per epoch): {', '.join(md_escape(m) for m in b.curves)}; "
            "drawn on the HTML page.")


def render_markdown(boards: list[Board]) -> str:
    parts = []
    for b in boards:
        parts.append(f"## {md_escape(b.title)}\n")
        for group, keys in groups(b):
            parts.append(f"**{md_escape(group)}**\n")
            parts.append(md_table(_rows(b, keys, {"best": ("**", "**"), "tie": ("*", "*")}, md_escape),
                                  ["method", *(md_escape(header(k)) for k in keys), "avg rank"]))
            parts.append("")
        for sec in b.sections:
            parts += section_markdown(sec)
        if b.curves:
            parts += [curves_line(b), ""]
        parts.append(f"{FOOTER} {seeds_line(b)} Avg rank: over all ranked columns of the table (a method missing "
                     "one has none).")
        for i, note in enumerate(b.notes, start=1):
            parts.append(f"[{i}] {md_escape(note)}")
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


class _CsvRows:
    """csv.writer rows ending in "\\n" whose cells with a "\\r" or a "\\n" are quoted (the csv module quotes
    only the characters of its line terminator: with "\\n" alone, a bare "\\r" in a cell would end the row
    for a reader)."""

    def __init__(self, out: io.StringIO) -> None:
        self.out, self.line = out, io.StringIO()
        self.w = csv.writer(self.line, lineterminator="\r\n")

    def writerow(self, row: list) -> None:
        self.line.seek(0)
        self.line.truncate()
        self.w.writerow(row)
        self.out.write(self.line.getvalue()[:-2] + "\n")


def render_csv(boards: list[Board]) -> str:
    buf = io.StringIO()
    w = _CsvRows(buf)
    w.writerow(["suite", "task", "dataset", "method", "metric", "mean", "ci_low", "ci_high", "std", "n_seeds", "best",
                "tie_with_best", "mark", "lower_is_better", "target", "note"])
    for b in boards:
        for k in b.keys:
            for meth in b.methods:
                c = b.cells[(meth, k)]
                ci = c.interval() if c.values else None
                foot = b.missing.get((meth, k))
                w.writerow([csv_text(b.suite), csv_text(b.task), csv_text(b.dataset), csv_text(meth), csv_text(k),
                            repr(c.mean) if c.values else "", repr(ci[0]) if ci else "", repr(ci[1]) if ci else "",
                            repr(c.std) if c.values else "", len(c.values), int(c.mark == "best"),
                            int(c.tie_with_best), c.mark, int(info(k).lower_is_better),
                            "" if info(k).target is None else repr(info(k).target),
                            csv_text(b.notes[foot - 1]) if foot else ""])
    return buf.getvalue()


LATEX_KEY = (r"Bold: best; italic: not significantly different from the best (paired on seed and unit, "
             r"Holm-adjusted, 5\%); \dag: not testable against the best. Brackets: 95\% interval (one seed: "
             r"bootstrap over units; more: $t$-interval over seeds). [n]: the notes below the table.")


def _latex_table(caption: str, head: list[str], body: list[list[str]], notes: list[str]) -> list[str]:
    """One booktabs table scaled to the text width (adjustbox), its notes set under it."""
    cols = "l" + "r" * (len(head) - 1)
    lines = [r"\begin{table}[t]", r"\centering", r"\small", r"\begin{adjustbox}{max width=\textwidth}",
             rf"\begin{{tabular}}{{{cols}}}", r"\toprule", " & ".join(head) + r" \\", r"\midrule",
             *(" & ".join(r) + r" \\" for r in body), r"\bottomrule", r"\end{tabular}", r"\end{adjustbox}"]
    if notes:
        lines += [r"\par\smallskip\begin{minipage}{\textwidth}\footnotesize",
                  *(rf"[{i}] {n}\par" for i, n in notes), r"\end{minipage}"]
    return lines + [rf"\caption{{{caption}}}", r"\end{table}", ""]


def render_latex(boards: list[Board]) -> str:
    parts = ["% generated by xrbench; needs \\usepackage{booktabs,adjustbox}"]
    for b in boards:
        notes = [(i, _latex_escape(n)) for i, n in enumerate(b.notes, start=1)]
        for group, keys in groups(b):
            head = ["method", *[_latex_escape(header(k)) for k in keys], "avg rank"]
            body = _rows(b, keys, {"best": (r"\textbf{", "}"), "tie": (r"\textit{", "}")}, _latex_escape)
            body = [[c.replace("†", r"\dag{}") for c in row] for row in body]
            caption = _latex_escape(f"{b.title}: {group}. {seeds_line(b)}") + " " + LATEX_KEY
            parts += _latex_table(caption, head, body, notes)
        for sec in b.sections:
            caption = _latex_escape(f"{b.title}: {sec.title}" + (f" ({sec.note})" if sec.note else ""))
            parts += _latex_table(caption, [_latex_escape(h) for h in sec.header],
                                  [[_latex_escape(c).replace("†", r"\dag{}") for c in row] for row in sec.rows], [])
    return "\n".join(parts)


# -- HTML ---------------------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#1d1d1f;max-width:1400px}
h2{margin-top:2.5rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}
th,td{padding:.3rem .6rem;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
th{cursor:pointer;background:#f6f6f8;user-select:none}
th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
td.best{font-weight:700}td.tie{font-style:italic}td.untestable{color:#666}.ci{color:#777;font-size:.8em}
.note{color:#555;font-size:.85rem;margin:.2rem 0}.controls{margin:1rem 0}
svg{border:1px solid #eee;background:#fff}svg text{font-size:11px}
"""

_JS = """
function cellValue(td){const v=td.getAttribute('data-value');return v===null||v===''?null:parseFloat(v);}
function sortTable(th){
  const table=th.closest('table'),idx=[...th.parentNode.children].indexOf(th),tbody=table.tBodies[0];
  const asc=th.getAttribute('aria-sort')!=='ascending';
  [...th.parentNode.children].forEach(h=>h.removeAttribute('aria-sort'));
  th.setAttribute('aria-sort',asc?'ascending':'descending');
  const rows=[...tbody.rows];
  rows.sort((a,b)=>{
    if(idx===0){const x=a.cells[0].textContent,y=b.cells[0].textContent;return asc?x.localeCompare(y):y.localeCompare(x);}
    const x=cellValue(a.cells[idx]),y=cellValue(b.cells[idx]);
    if(x===null&&y===null)return 0;if(x===null)return 1;if(y===null)return -1;
    return asc?x-y:y-x;});
  rows.forEach(r=>tbody.appendChild(r));
}
function applyFilter(){
  const d=document.getElementById('f-dataset').value,t=document.getElementById('f-task').value;
  document.querySelectorAll('section.board').forEach(s=>{
    const ok=(d===''||s.dataset.dataset===d)&&(t===''||s.dataset.task===t);s.hidden=!ok;});
}
document.addEventListener('DOMContentLoaded',()=>{
  document.querySelectorAll('th').forEach(th=>th.addEventListener('click',()=>sortTable(th)));
  document.getElementById('f-dataset').addEventListener('change',applyFilter);
  document.getElementById('f-task').addEventListener('change',applyFilter);
});
"""


def _svg_plot(b: Board) -> str:
    """A scatter of the board's two headline metrics (x, y), with interval whiskers, inline SVG."""
    from .leaderboard import task_of

    owner = task_of(b.task)
    xk, yk = (owner.plot_axes if owner is not None else None) or (None, None)
    if xk not in b.keys or yk not in b.keys:
        ranked = [k for k in b.keys if info(k).rankable]
        if len(ranked) < 2:
            return ""
        xk, yk = ranked[0], ranked[1]
    pts = []
    for m in b.methods:
        cx, cy = b.cells[(m, xk)], b.cells[(m, yk)]
        if cx.values and cy.values:
            pts.append((m, cx.mean, cy.mean, cx.interval(), cy.interval()))
    if not pts:
        return ""
    W, H, P = 460, 300, 50
    xs = [v for p in pts for v in ([p[1]] + (list(p[3]) if p[3] else []))]
    ys = [v for p in pts for v in ([p[2]] + (list(p[4]) if p[4] else []))]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)
    sx = lambda v: P + (v - x0) / (x1 - x0) * (W - 2 * P)  # noqa: E731
    sy = lambda v: H - P - (v - y0) / (y1 - y0) * (H - 2 * P)  # noqa: E731
    out = [f'<svg class="plot" width="{W}" height="{H}" role="img" '
           f'aria-label="{_h(yk)} against {_h(xk)}">',
           f'<line x1="{P}" y1="{H - P}" x2="{W - P}" y2="{H - P}" stroke="#999"/>',
           f'<line x1="{P}" y1="{P}" x2="{P}" y2="{H - P}" stroke="#999"/>',
           f'<text x="{W / 2}" y="{H - 12}" text-anchor="middle">{_h(header(xk))}</text>',
           f'<text x="14" y="{H / 2}" transform="rotate(-90 14 {H / 2})" text-anchor="middle">'
           f'{_h(header(yk))}</text>',
           f'<text x="{P}" y="{H - P + 14}" text-anchor="middle">{fmt_number(x0)}</text>',
           f'<text x="{W - P}" y="{H - P + 14}" text-anchor="middle">{fmt_number(x1)}</text>',
           f'<text x="{P - 4}" y="{H - P}" text-anchor="end">{fmt_number(y0)}</text>',
           f'<text x="{P - 4}" y="{P + 4}" text-anchor="end">{fmt_number(y1)}</text>']
    for m, x, y, cix, ciy in pts:
        if cix:
            out.append(f'<line x1="{sx(cix[0]):.1f}" y1="{sy(y):.1f}" x2="{sx(cix[1]):.1f}" y2="{sy(y):.1f}" '
                       'stroke="#9bb"/>')
        if ciy:
            out.append(f'<line x1="{sx(x):.1f}" y1="{sy(ciy[0]):.1f}" x2="{sx(x):.1f}" y2="{sy(ciy[1]):.1f}" '
                       'stroke="#9bb"/>')
        out.append(f'<circle class="point" cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="4" fill="#2a6f97">'
                   f'<title>{_h(m)}: {_h(xk)}={fmt_number(x)}, {_h(yk)}={fmt_number(y)}</title></circle>')
        out.append(f'<text x="{sx(x) + 6:.1f}" y="{sy(y) - 6:.1f}">{_h(m)}</text>')
    out.append("</svg>")
    return "".join(out)


# Learning curves: one plot per method, x = epochs of every stage in training order (a stage spans its
# longest run over the seeds, so that the seeds' stages line up; dotted lines mark where a stage begins),
# y = loss; per seed one colour, train loss solid, validation loss dashed. Inline SVG attributes only: a page
# without curves is byte for byte what it was before they existed.
_SEED_COLOURS = ("#2a6f97", "#c44e52", "#55a868", "#8172b2", "#b8860b", "#64b5cd")


def _stage_offsets(curves: dict[int, list[dict]]) -> tuple[list[tuple[str, int]], int]:
    """([(stage, epochs before it)], epochs in all): stages in the order they first appear over the seeds."""
    span: dict[str, int] = {}
    for rows in curves.values():
        for r in rows:
            span[r["stage"]] = max(span.get(r["stage"], 0), r["epoch"])
    starts, total = [], 0
    for stage, n in span.items():
        starts.append((stage, total))
        total += n
    return starts, total


def _svg_curve(label: str, curves: dict[int, list[dict]]) -> str:
    """One method's learning curves as a captioned inline SVG ("" when no loss is finite)."""
    from .curves import finite

    starts, total = _stage_offsets(curves)
    offset = dict(starts)
    ys = [r[k] for rows in curves.values() for r in rows for k in ("train_loss", "valid_loss") if finite(r[k])]
    if not ys:
        return ""
    W, H, L, R, T, B = 340, 210, 52, 12, 22, 38
    x0, x1 = 1, max(total, 2)
    y0, y1 = min(ys), max(ys)
    y1 = y1 if y1 > y0 else y0 + 1
    sx = lambda e: L + (e - x0) / (x1 - x0) * (W - L - R)  # noqa: E731
    sy = lambda v: H - B - (v - y0) / (y1 - y0) * (H - B - T)  # noqa: E731
    out = [f'<figure class="curve" style="margin:0 1.5rem 1rem 0"><svg class="curve" width="{W}" height="{H}" '
           f'role="img" aria-label="learning curve of {_h(label)}">',
           f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="#999"/>',
           f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="#999"/>',
           f'<text x="{(L + W - R) / 2}" y="{H - 6}" text-anchor="middle">epoch</text>',
           f'<text x="12" y="{(T + H - B) / 2}" transform="rotate(-90 12 {(T + H - B) / 2})" '
           'text-anchor="middle">loss</text>',
           f'<text x="{L}" y="{H - B + 14}" text-anchor="middle">{x0}</text>',
           f'<text x="{W - R}" y="{H - B + 14}" text-anchor="middle">{x1}</text>',
           f'<text x="{L - 4}" y="{H - B}" text-anchor="end">{fmt_number(y0)}</text>',
           f'<text x="{L - 4}" y="{T + 4}" text-anchor="end">{fmt_number(y1)}</text>']
    for i, (stage, before) in enumerate(starts):
        x = sx(before + 0.5) if i else sx(x0)
        if i:
            out.append(f'<line class="stage" x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{H - B}" stroke="#bbb" '
                       'stroke-dasharray="2 2"/>')
        out.append(f'<text class="stage" x="{x + 3:.1f}" y="{T - 6}">{_h(stage)}</text>')
    for n, (seed, rows) in enumerate(sorted(curves.items())):
        colour = _SEED_COLOURS[n % len(_SEED_COLOURS)]
        for key, what, dash in (("train_loss", "train", ""), ("valid_loss", "validation", ' stroke-dasharray="5 3"')):
            run: list[str] = []
            runs: list[tuple[str, list[str]]] = []
            stage = None
            for r in rows + [None]:  # a run ends at a stage boundary, a missing or non-finite value, the end
                if r is None or r["stage"] != stage or not finite(r[key]):
                    if run:
                        runs.append((str(stage), run))
                    run = []
                if r is None:
                    break
                stage = r["stage"]
                if finite(r[key]):
                    run.append(f"{sx(offset[stage] + r['epoch']):.1f},{sy(r[key]):.1f}")
            for st, pts in runs:
                title = f"<title>seed {seed}, {what} loss, stage {_h(st)}</title>"
                if len(pts) == 1:  # one epoch in the stage: a dot
                    cx, cy = pts[0].split(",")
                    out.append(f'<circle class="{what}" data-seed="{seed}" cx="{cx}" cy="{cy}" r="2.5" '
                               f'fill="{colour}">{title}</circle>')
                else:
                    out.append(f'<polyline class="{what}" data-seed="{seed}" points="{" ".join(pts)}" fill="none" '
                               f'stroke="{colour}" stroke-width="1.5"{dash}>{title}</polyline>')
    out.append("</svg>")
    seeds = ", ".join(f'<span style="color:{_SEED_COLOURS[n % len(_SEED_COLOURS)]}">{s}</span>'
                      for n, s in enumerate(sorted(curves)))
    out.append(f'<figcaption>{_h(label)} <span class="ci">(solid: train loss, dashed: validation loss; '
               f'seed{"s" if len(curves) > 1 else ""} {seeds})</span></figcaption></figure>')
    return "".join(out)


def _curves_block(b: Board) -> str:
    plots = [_svg_curve(m, b.curves[m]) for m in b.curves]
    return ('<h3>learning curves</h3><div class="curves" style="display:flex;flex-wrap:wrap">'
            + "".join(p for p in plots if p) + "</div>")


def render_html(boards: list[Board]) -> str:
    datasets = sorted({b.dataset for b in boards})
    tasks = list(dict.fromkeys(b.task for b in boards))
    body = ['<div class="controls">Dataset <select id="f-dataset"><option value="">all</option>',
            *[f'<option value="{_h(d)}">{_h(d)}</option>' for d in datasets],
            '</select> Task <select id="f-task"><option value="">all</option>',
            *[f'<option value="{_h(t)}">{_h(task_title(t))}</option>' for t in tasks],
            "</select></div>"]
    for b in boards:
        body.append(f'<section class="board" data-task="{_h(b.task)}" '
                    f'data-dataset="{_h(b.dataset)}">')
        body.append(f"<h2>{_h(b.title)}</h2>")
        body.append(_svg_plot(b))
        for group, keys in groups(b):
            body.append(f"<h3>{_h(group)}</h3><table><thead><tr><th>method</th>"
                        + "".join(f'<th title="{_h(info(k).doc.splitlines()[0] if info(k).doc else k)}">'
                                  f"{_h(header(k))}</th>" for k in keys)
                        + "<th>avg rank</th></tr></thead><tbody>")
            for meth in b.methods:
                tds = [f"<td>{_h(meth)}</td>"]
                for k in keys:
                    c = b.cells[(meth, k)]
                    text, mark = cell_text(b, meth, k)
                    value = repr(c.mean) if c.values else ""
                    ci = c.interval() if c.values else None
                    shown = _h(text.split(" [")[0] if ci else text)
                    if ci:
                        shown += f' <span class="ci">[{fmt_number(ci[0])}, {fmt_number(ci[1])}]</span>'
                    tds.append(f'<td class="{mark}" data-value="{_h(value)}">{shown}</td>')
                rank = b.avg_rank(meth, keys)
                tds.append(f'<td data-value="{"" if rank is None else rank}">{DASH if rank is None else f"{rank:.2f}"}'
                           "</td>")
                body.append("<tr>" + "".join(tds) + "</tr>")
            body.append("</tbody></table>")
        for sec in b.sections:
            body.append(f'<h3>{_h(sec.title)}</h3><table class="section"><thead><tr>'
                        + "".join(f"<th>{_h(h)}</th>" for h in sec.header) + "</tr></thead><tbody>"
                        + "".join("<tr>" + "".join(f"<td>{_h(c)}</td>" for c in row) + "</tr>"
                                  for row in sec.rows) + "</tbody></table>")
        if b.curves:
            body.append(_curves_block(b))
        plain = FOOTER.replace("**Bold**", "Bold").replace("*italic*", "italic")
        body.append(f'<p class="note">{_h(plain)} {_h(seeds_line(b))}</p>')
        body += [f'<p class="note">[{i}] {_h(n)}</p>' for i, n in enumerate(b.notes, start=1)]
        body.append("</section>")
    meta = json_for_script({"boards": len(boards), "datasets": datasets})
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>xrbench leaderboard</title>"
            f"<style>{_CSS}</style><script>{_JS}</script></head><body><h1>xrbench leaderboard</h1>"
            f"<script type=\"application/json\" id=\"meta\">{meta}</script>" + "\n".join(body) + "</body></html>\n")


RENDERERS = {"md": render_markdown, "csv": render_csv, "latex": render_latex, "html": render_html}


def leaderboard(results_dir: Path, fmt: str = "md", skip_bad: bool = False) -> str:
    """The leaderboard of every record under ``results_dir`` in format ``fmt`` (md, csv, latex, html)."""
    from .errors import XRBenchError
    from .leaderboard import build
    from .records import iter_records

    if fmt not in RENDERERS:
        raise XRBenchError(f"unknown leaderboard format '{fmt}'; use one of {', '.join(RENDERERS)}")
    found = list(iter_records(Path(results_dir), skip_bad))
    if not found:
        raise XRBenchError(f"{results_dir}: no result records found (run 'xrbench run' with --out here first)")
    return RENDERERS[fmt](build([r for _, r in found], [p.parent for p, _ in found]))

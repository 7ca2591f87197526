"""Hostile strings through every leaderboard format.

Dataset labels (``--dataset-param``), method labels, task names, metric keys and groups (plugins), notes
(error messages) and section tables come from users. Each format must keep them as text: Markdown table
rows keep their number of cells and raw HTML stays text, CSV cells are never formulas, LaTeX has no
unescaped special character, and the HTML page has no element, attribute or script of a user's making.
Also: the three leaderboards of a run are written together, and ``leaderboard --output`` to a place that
cannot be written ends in one error line.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_leaderboard import explain_rec
from xrbench import cli, publish
from xrbench.leaderboard import build, groups
from xrbench.metrics import metric
from xrbench.records import MethodRef, RunRecord, write_record
from xrbench.registry import REGISTRY
from xrbench.render import _latex_escape, render_csv, render_html, render_latex, render_markdown, section_markdown
from xrbench.tasks import Section

HOSTILE = [
    "</script><script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "</ScRiPt ><!--<script>",
    "a|b", "|", "\\|", "a\\", "x\\|y|z",
    "line\nbreak", "cr\rlf\r\n", "\u2028sep\u2029",
    "\"double\" 'single'", "back\\slash\\\\",
    "=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)", "\tTAB", "'=quoted", "＝1+1",
    "**bold** _em_ `code` ~~s~~ $x$", "[link](javascript:alert(1))", "![i](x)", "# h #",
    "&amp; &lt;b&gt; &#60;", "{\\textbf{x}}", "100% & $5 #1 ~y ^z",
    "emoji 🎉👩‍🔬", " ", "", "\x1b]0;title\x07\x1b[31mred", "nul\x00",
]

# -- readers of each format (written from the format's rules, not from the renderer) -------------------


def breaks_to_spaces(s: str) -> str:
    """Every line break (as str.splitlines sees them: \\n, \\r\\n, U+2028, ...) as one space."""
    return "".join(line.splitlines()[0] + (" " if line != line.splitlines()[0] else "")
                   for line in s.splitlines(keepends=True))


def md_text(s: str) -> str:
    """What a Markdown cell or line shows for ``s``: line breaks as spaces, control characters as symbols."""
    out = []
    for ch in breaks_to_spaces(s):
        c = ord(ch)
        out.append(chr(0x2400 + c) if c < 0x20 and ch != "\t" else "\u2421" if c == 0x7F
                   else "\ufffd" if 0x80 <= c <= 0x9F else ch)
    return "".join(out)


def md_cell(s: str) -> str:
    return md_text(s).strip()


_MD_DECODE = re.compile(r"\\([!-/:-@\[-`{-~])|&(lt|gt|amp);")


def md_decode(text: str) -> str:
    """GFM inline decoding of what the escaper may produce: backslash escapes and the three entities."""
    return _MD_DECODE.sub(lambda m: m.group(1) or {"lt": "<", "gt": ">", "amp": "&"}[m.group(2)], text)


def md_tables(md: str) -> list[list[list[str]]]:
    """The tables of a Markdown text, as GFM splits them (a pipe after a backslash does not end a cell),
    cells decoded; every row must have the header's number of cells."""
    tables, cur = [], None
    for line in md.split("\n"):
        if not line.startswith("|"):
            cur = None
            continue
        assert line.endswith("|"), line
        cells = re.split(r"(?<!\\)\|", line[1:-1])
        row = [md_decode(c.strip(" ").replace("\\|", "|")) for c in cells]
        if cur is None:
            cur = [row]
            tables.append(cur)
        else:
            assert len(row) == len(cur[0]), (line, cur[0])
            cur.append(row)
    for t in tables:
        assert set(t[1][0]) <= set("-:"), t[1]  # the delimiter row
        del t[1]
    return tables


class Page(HTMLParser):
    """The elements, attributes, scripts, table rows and svg titles of an HTML page (html.parser)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[list] = []  # [attrs, text]
        self.rows: list[tuple[str, list[str]]] = []  # (class of the table, td texts)
        self.titles: list[str] = []
        self.texts: dict[str, list[str]] = {"h2": [], "h3": [], "option": [], "p": []}
        self._table_class = ""
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "script":
            self.scripts.append([a, ""])
            self._in = "script"
        elif tag == "table":
            self._table_class = a.get("class") or ""
        elif tag == "tr":
            self.rows.append((self._table_class, []))
        elif tag == "td":
            self.rows[-1][1].append("")
            self._in = "td"
        elif tag == "title":
            self.titles.append("")
            self._in = "title"
        elif tag in self.texts:
            self.texts[tag].append("")
            self._in = tag

    def handle_endtag(self, tag):
        if tag in ("script", "td", "title", *self.texts):
            self._in = None

    def handle_data(self, data):
        if self._in == "script":
            self.scripts[-1][1] += data
        elif self._in == "td":
            self.rows[-1][1][-1] += data
        elif self._in == "title":
            self.titles[-1] += data
        elif self._in in self.texts:
            self.texts[self._in][-1] += data


TAGS = {"html", "head", "meta", "title", "style", "script", "body", "h1", "h2", "h3", "div", "select", "option",
        "section", "table", "thead", "tbody", "tr", "th", "td", "span", "p", "svg", "line", "text", "circle"}
ATTRS = {"lang", "charset", "type", "id", "class", "value", "data-task", "data-dataset", "title", "data-value",
         "width", "height", "role", "aria-label", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "stroke",
         "fill", "text-anchor", "transform"}


def parse_page(page: str) -> Page:
    p = Page()
    p.feed(page)
    p.close()
    assert {t for t, _ in p.tags} <= TAGS, {t for t, _ in p.tags} - TAGS
    assert {k for _, a in p.tags for k in a} <= ATTRS, {k for _, a in p.tags for k in a} - ATTRS
    assert [a for a, _ in p.scripts] == [{}, {"type": "application/json", "id": "meta"}]  # only the page's own
    return p


def html_text(s: str) -> str:
    return s.replace("\x00", "\ufffd")


CSV_TEXT_COLUMNS = ("task", "dataset", "method", "metric", "note")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_rows(text: str) -> list[dict[str, str]]:
    """The CSV rows, text cells checked (no formula start) and their "'" guard removed."""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    head = rows[0]
    out = []
    for r in rows[1:]:
        assert len(r) == len(head)
        d = dict(zip(head, r))
        for col in CSV_TEXT_COLUMNS:
            assert not d[col].startswith(FORMULA_START), d[col]
            if d[col].startswith("'"):
                d[col] = d[col][1:]
        out.append(d)
    return out


_TEX_DECODE = {r"\textbackslash{}": "\\", r"\textasciitilde{}": "~", r"\textasciicircum{}": "^",
               r"\textless{}": "<", r"\textgreater{}": ">", r"\textbar{}": "|", "{[}": "[", "{]}": "]",
               r"$\downarrow$": "↓", r"$\pm$": "±", **{"\\" + c: c for c in "&%$#_{}"}}
_TEX_TOKEN = re.compile("|".join(map(re.escape, sorted(_TEX_DECODE, key=len, reverse=True))))
TEX_SPECIAL = set("\\&%$#_{}~^<>|[]\n\r")


def tex_decode(s: str) -> str:
    return _TEX_TOKEN.sub(lambda m: _TEX_DECODE[m.group()], s)


def assert_tex_clean(escaped: str) -> None:
    left = _TEX_TOKEN.sub("", escaped)
    assert not (set(left) & TEX_SPECIAL), (escaped, set(left) & TEX_SPECIAL)


def tex_expected(s: str) -> str:
    """What the LaTeX shows for ``s``: line breaks and tabs as spaces, control characters dropped."""
    s = breaks_to_spaces(s.replace("\t", " "))
    return "".join(ch for ch in s if not (ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F)).replace("—", "---")


def latex_rows(tex: str) -> list[list[str]]:
    """The body rows of every tabular, split at the unescaped "&"."""
    rows, inside = [], False
    for line in tex.split("\n"):
        if line == r"\midrule":
            inside = True
        elif line == r"\bottomrule":
            inside = False
        elif inside:
            assert line.endswith(r" \\"), line
            rows.append(re.split(r"(?<!\\)&", line[: -len(r" \\")]))
    return rows


# -- boards of hostile records -------------------------------------------------------------------------


def hostile_records(methods: list[str], datasets: list[str], failing_error: str | None = None) -> list[RunRecord]:
    out = []
    for d in datasets:
        for i, m in enumerate(methods):
            # mae negative on purpose: a numeric CSV column keeps its "-" (never a formula guard)
            out.append(RunRecord(d, "recommend", MethodRef(m, "recommender", {}, m), 0, "ok",
                                 {"rmse": 0.9 + i / 100, "mae": -0.01 * (i + 1), "ndcg@10": 0.1 + i / 50}))
            if failing_error is not None and i == 0:
                out.append(RunRecord(d, "recommend", MethodRef(m, "recommender", {}, m), 1, "failed",
                                     error=failing_error))
    return out


def check_markdown(boards, datasets: list[str]) -> None:
    """Every row the header's number of cells; the method column, headings and notes give the text back."""
    md = render_markdown(boards)
    assert "<" not in md and ">" not in md  # no raw HTML of any kind
    tables = md_tables(md)
    assert [[r[0] for r in t[1:]] for t in tables] == [[md_cell(m) for m in b.methods] for b in boards
                                                       for _ in groups(b)]
    assert [len(t[0]) for t in tables] == [len(keys) + 2 for b in boards for _, keys in groups(b)]
    headings = [md_decode(line[3:]) for line in md.split("\n") if line.startswith("## ")]
    assert headings == [md_text(b.title) for b in boards]
    notes = [line for line in md.split("\n") if re.match(r"\[\d+\] ", line)]
    assert [md_decode(n.split(" ", 1)[1]).rstrip() for n in notes] == \
        [md_text(n).rstrip() for b in boards for n in b.notes]


def check_csv(boards, datasets: list[str]) -> None:
    """Every name exactly (after the "'" guard), no formula start in a text cell, numbers as numbers."""
    rows = csv_rows(render_csv(boards))
    assert len(rows) == sum(len(b.keys) * len(b.methods) for b in boards)
    assert {r["method"] for r in rows} == {m for b in boards for m in b.methods}
    assert {r["dataset"] for r in rows} == set(datasets)
    assert {r["note"] for r in rows} - {""} <= {n for b in boards for n in b.notes}
    assert [r["mean"] for r in rows if r["metric"] == "mae"] and \
        all(r["mean"].startswith("-") and float(r["mean"]) < 0 for r in rows if r["metric"] == "mae")


def check_latex(boards, datasets: list[str]) -> None:
    """Rows keep their number of columns; the method cell has no unescaped special character."""
    body = latex_rows(render_latex(boards))
    assert [len(r) for r in body] == [len(keys) + 2 for b in boards for _, keys in groups(b) for _ in b.methods]
    for r, m in zip(body, [m for b in boards for _ in groups(b) for m in b.methods]):
        assert_tex_clean(r[0][:-1])
        assert tex_decode(r[0][:-1]) == tex_expected(m)


def check_html(boards, datasets: list[str]) -> None:
    """Only the page's own elements, attributes and scripts; the meta JSON and the cells give the text back."""
    page = parse_page(render_html(boards))
    meta = json.loads(page.scripts[1][1])
    assert meta == {"boards": len(boards), "datasets": sorted(set(datasets))}
    options = [a["value"] for t, a in page.tags if t == "option"]
    assert options[1:len(set(datasets)) + 1] == [html_text(d) for d in sorted(set(datasets))]
    assert [a["data-dataset"] for t, a in page.tags if t == "section"] == [html_text(b.dataset) for b in boards]
    assert [r[0] for cls, r in page.rows if cls == "" and r] == \
        [html_text(m) for b in boards for _ in groups(b) for m in b.methods]
    assert [t.rsplit(": ", 1)[0] for t in page.titles[1:]] == [html_text(m) for b in boards for m in b.methods]


CHECKS = {"md": check_markdown, "csv": check_csv, "latex": check_latex, "html": check_html}

NAME = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=10),
    st.text(alphabet=st.sampled_from(list("|<>&\"'\\\n\r=+-@\t`*_[]()#$~^{}% a\u2028\u2029\x00\x1b🎉")),
            max_size=8),
)


@pytest.mark.parametrize("fmt", CHECKS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(methods=st.lists(NAME, min_size=1, max_size=4, unique_by=md_cell),
       datasets=st.lists(NAME, min_size=1, max_size=2, unique_by=md_cell),
       error=st.one_of(st.none(), NAME))
def test_hostile_names_survive_every_format(fmt, methods, datasets, error):
    CHECKS[fmt](build(hostile_records(methods, datasets, error)), datasets)


@pytest.mark.parametrize("fmt", CHECKS)
def test_every_fixed_hostile_name_at_once(fmt):
    boards = build(hostile_records(HOSTILE, HOSTILE[:6], failing_error="</p><script>alert(2)</script>|x\ny"))
    CHECKS[fmt](boards, HOSTILE[:6])


def test_the_reported_dataset_label_cannot_close_the_meta_script():
    label = "amazon-2014-5core[category=</script><script>alert(1)</script>]"
    page = render_html(build(hostile_records(["a", "b"], [label])))
    meta = page.split('<script type="application/json" id="meta">', 1)[1].split("</script>", 1)[0]
    assert json.loads(meta)["datasets"] == [label]
    assert "<" not in meta and ">" not in meta and "&" not in meta
    assert page.count("<script") == 2 and "<script>alert" not in page


# -- strings from plugins: task, metric keys, groups, docs, section tables ------------------------------

EVIL_TASK = '"><svg onload=alert(4)>|task\n'
EVIL_KEYS = ('<img src=x onerror=alert(5)>|k\n', "=HYPERLINK(\"http://x\")&'\"")


@pytest.fixture(scope="module")
def evil_metrics():
    for i, key in enumerate(EVIL_KEYS):
        def fn(outputs):
            """"><script>alert(6)</script> first line of the doc
            second line"""
            return 0.0
        metric(key, task=EVIL_TASK, group="</h3><script>alert(7)</script>|g\r\n", lower_is_better=bool(i))(fn)
    yield EVIL_KEYS
    for key in EVIL_KEYS:
        REGISTRY._entries["metric"].pop(key, None)


EVIL_SECTION = Section("</h3><img src=x onerror=alert(10)>|t\n", ["<th>|h", "=x\ny"],
                       [["<td>|1", "a\\|b"], ["\u2028", "**x**"]], note="<script>|n\n")


@pytest.fixture(scope="module")
def evil_board(evil_metrics):
    recs = [RunRecord("</script>d", EVIL_TASK, MethodRef(m, "x", {}, m), 0, "ok",
                      {EVIL_KEYS[0]: v, EVIL_KEYS[1]: -v}) for m, v in (("<b>a</b>", 1.0), ("|b|", 2.0))]
    recs.append(RunRecord("</script>d", EVIL_TASK, MethodRef("-c", "x", {}, "-c"), 0, "failed",
                          error='ValueError: <script>alert(9)</script>\n| x |'))
    (b,) = build(recs)
    assert b.keys == list(EVIL_KEYS) and b.notes
    return dataclasses.replace(b, sections=[EVIL_SECTION])


def test_plugin_strings_in_markdown(evil_board):
    b, sec = evil_board, EVIL_SECTION
    md = render_markdown([b])
    assert "<" not in md and ">" not in md
    tables = md_tables(md)
    assert tables[0][0] == ["method", *[md_cell(k + (" ↓" if i else "")) for i, k in enumerate(EVIL_KEYS)],
                            "avg rank"]
    assert md_decode(md.split("\n")[2]) == f"**{md_text(groups(b)[0][0])}**"
    assert tables[-1] == [[md_cell(c) for c in sec.header], *[[md_cell(c) for c in r] for r in sec.rows]]
    sec_md = section_markdown(sec)
    assert md_decode(sec_md[0].strip()) == f"**{md_text(sec.title)}** ({md_text(sec.note)})"
    assert md_tables(sec_md[1]) == [tables[-1]]


def test_plugin_strings_in_csv(evil_board):
    rows = csv_rows(render_csv([evil_board]))
    assert {r["metric"] for r in rows} == set(EVIL_KEYS) and {r["task"] for r in rows} == {EVIL_TASK}
    assert {r["method"] for r in rows} == {"<b>a</b>", "|b|", "-c"}
    assert any(r["note"].startswith("-c — ") for r in rows)


def test_plugin_strings_in_latex(evil_board):
    b = evil_board
    tex = render_latex([b])
    rows = latex_rows(tex)
    sec = b.sections[0]  # the task's extra table follows the metric table
    assert [len(r) for r in rows] == [len(EVIL_KEYS) + 2] * len(b.methods) + [len(sec.header)] * len(sec.rows)
    for r, m in zip(rows, b.methods):
        assert_tex_clean(r[0][:-1])
        assert tex_decode(r[0][:-1]) == tex_expected(m)
    head = [line for line in tex.split("\n") if line.startswith("method & ")]
    assert [tex_decode(c.strip()) for c in re.split(r"(?<!\\)&", head[0][:-3])][1:3] == \
        [tex_expected(k + (" ↓" if i else "")).strip() for i, k in enumerate(EVIL_KEYS)]


def test_plugin_strings_in_html(evil_board):
    """Headers, th titles, the svg title and aria-label, the section table, notes: all text."""
    b, sec = evil_board, EVIL_SECTION
    page = parse_page(render_html([b]))
    ths = [a.get("title") for t, a in page.tags if t == "th" and a.get("title")]
    assert ths == ['"><script>alert(6)</script> first line of the doc'] * 2
    svg = [a for t, a in page.tags if t == "svg"]
    assert svg and all(EVIL_KEYS[0] in a["aria-label"] and EVIL_KEYS[1] in a["aria-label"] for a in svg)
    assert [t for t in page.titles[1:] if EVIL_KEYS[0] in t and EVIL_KEYS[1] in t] == page.titles[1:]
    assert page.texts["h3"] == [groups(b)[0][0], sec.title]
    assert [cells for cls, cells in page.rows if cls == "section"][1:] == [[html_text(c) for c in r] for r in sec.rows]
    assert [a["data-task"] for t, a in page.tags if t == "section"] == [EVIL_TASK]
    assert [a["value"] for t, a in page.tags if t == "option"] == ["", "</script>d", "", EVIL_TASK]
    assert page.texts["p"][1:] == [f"[{i}] {n}" for i, n in enumerate(b.notes, start=1)]


def test_readme_blocks_escape_section_and_group_tables(tmp_path):
    """publish's README blocks (a section table, a group table) are escaped Markdown too."""
    hostile = ["</td>|<script>x", "b|\n2"]
    recs = [explain_rec(hostile[0], 1.0), explain_rec(hostile[1], 2.0)]
    for i, r in enumerate(recs):
        write_record(tmp_path / "s" / "runs" / f"r{i}" / "seed-0", r)
    publish.boards_of.cache_clear()
    try:
        sec_block = publish.readme_block(tmp_path, "s", "amz", "backbone comparison")
        (sec,) = md_tables(sec_block)
        assert sorted(r[1] for r in sec[1:]) == sorted(md_cell(h) for h in hostile)
        group = publish.groups(publish.boards_of(tmp_path / "s")[0])[0][0]
        (tab,) = md_tables(publish.readme_block(tmp_path, "s", "amz", group))
        assert sorted(r[0] for r in tab[1:]) == sorted(md_cell(r.method_label) for r in recs)
        assert "<" not in sec_block
    finally:
        publish.boards_of.cache_clear()


# -- LaTeX: hand-written expectations ------------------------------------------------------------------

LATEX_CASES = [
    ("a\\b", r"a\textbackslash{}b"),
    ("\\{x}", r"\textbackslash{}\{x\}"),
    ("{\\textbf{x}}", r"\{\textbackslash{}textbf\{x\}\}"),
    ("100% & $5 #1 _x_", r"100\% \& \$5 \#1 \_x\_"),
    ("~y ^z", r"\textasciitilde{}y \textasciicircum{}z"),
    ("<a|b>", r"\textless{}a\textbar{}b\textgreater{}"),
    ("line\nbreak\r\nx\u2028y", "line break x y"),
    ("[0.1, 0.2]", "{[}0.1, 0.2{]}"),
    ("— ↓ ±", r"--- $\downarrow$ $\pm$"),
    ("\\\\", r"\textbackslash{}\textbackslash{}"),
    ("\\&", r"\textbackslash{}\&"),
    ("emoji 🎉", "emoji 🎉"),
]


@pytest.mark.parametrize("raw,expected", LATEX_CASES)
def test_latex_escape_by_hand(raw, expected):
    assert _latex_escape(raw) == expected


@settings(max_examples=80, deadline=None)
@given(st.one_of(NAME, st.text(alphabet=st.sampled_from(list("\\&%$#_{}~^<>|[]—↓± ab\n")), max_size=12)))
def test_latex_escape_is_one_pass_and_reversible(s):
    out = _latex_escape(s)
    assert_tex_clean(out)
    assert tex_decode(out) == tex_expected(s)


# -- writing: the three leaderboards together; --output errors -----------------------------------------


def _results(tmp_path: Path) -> Path:
    out = tmp_path / "results"
    for r in hostile_records(["a", "b"], ["d"]):
        write_record(out / r.dataset / r.method_label / f"seed-{r.seed}", r)
    return out


OLD = {"leaderboard.md": "old md\n", "leaderboard.csv": "old csv\n", "leaderboard.html": "old html\n"}


def _fill_old(out: Path) -> None:
    for name, text in OLD.items():
        (out / name).write_text(text, encoding="utf-8")


def _state(out: Path) -> dict[str, str]:
    return {name: (out / name).read_text(encoding="utf-8") for name in OLD if (out / name).is_file()}


def _no_temporaries(out: Path) -> bool:
    return not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def _kill_while_writing(monkeypatch, name: str) -> None:
    """A kill (KeyboardInterrupt) while the file called ``name`` is being written (at its fsync)."""
    real = os.fsync

    def fsync(fd):
        if name in os.readlink(f"/proc/self/fd/{fd}"):
            raise KeyboardInterrupt
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc (Linux)")


@needs_proc
def test_a_kill_while_writing_the_html_leaves_all_three_as_they_were(tmp_path, monkeypatch):
    out = _results(tmp_path)
    _fill_old(out)
    _kill_while_writing(monkeypatch, "leaderboard.html")
    with pytest.raises(KeyboardInterrupt):
        cli._write_leaderboards(out)
    assert _state(out) == OLD and _no_temporaries(out)
    monkeypatch.undo()
    md = cli._write_leaderboards(out)
    state = _state(out)
    assert state["leaderboard.md"] == md and "method" in state["leaderboard.csv"]
    assert state["leaderboard.html"].startswith("<!DOCTYPE html>") and _no_temporaries(out)


def test_a_failing_renderer_writes_nothing(tmp_path, monkeypatch):
    from xrbench import render

    out = _results(tmp_path)
    _fill_old(out)

    def broken(boards):
        raise RuntimeError("a plugin's section failed")

    monkeypatch.setattr(render, "render_html", broken)
    with pytest.raises(RuntimeError):
        cli._write_leaderboards(out)
    assert _state(out) == OLD


def test_a_directory_in_the_way_is_one_error_and_nothing_replaced(tmp_path):
    out = _results(tmp_path)
    _fill_old(out)
    (out / "leaderboard.html").unlink()
    (out / "leaderboard.html").mkdir()
    with pytest.raises(cli.XRBenchError, match="leaderboard.html"):
        cli._write_leaderboards(out)
    assert _state(out) == {k: v for k, v in OLD.items() if k != "leaderboard.html"} and _no_temporaries(out)


@needs_proc
def test_publish_writes_a_suites_files_together(tmp_path, monkeypatch):
    suite = tmp_path / "root" / "s"
    for r in hostile_records(["a", "b"], ["d"]):
        write_record(suite / "runs" / r.dataset / r.method_label / f"seed-{r.seed}", r)
    publish.boards_of.cache_clear()
    _kill_while_writing(monkeypatch, "leaderboard.html")
    try:
        with pytest.raises(KeyboardInterrupt):
            publish.main(["--root", str(tmp_path / "root"), "--readme", str(tmp_path / "none.md")])
        assert _state(suite) == {} and _no_temporaries(suite)
        monkeypatch.undo()
        assert publish.main(["--root", str(tmp_path / "root"), "--readme", str(tmp_path / "none.md")]) == 0
        assert set(_state(suite)) == set(OLD)
        assert publish.main(["--root", str(tmp_path / "root"), "--readme", str(tmp_path / "none.md"), "--check"]) == 0
    finally:
        publish.boards_of.cache_clear()


def _targets(tmp_path: Path) -> list[Path]:
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x")
    out = [tmp_path / "adir", tmp_path / "afile" / "board.md"]
    if os.path.isdir("/proc/self"):
        out.append(Path("/proc/xrbench-board.md"))  # read-only even for root
    if getattr(os, "geteuid", lambda: 0)() != 0:  # (root writes anywhere a mode forbids)
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        out.append(ro / "board.md")
    return out


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_leaderboard_output_that_cannot_be_written_is_one_error_line(tmp_path, capsys, fmt):
    results = _results(tmp_path)
    (tmp_path / fmt).mkdir()
    for target in _targets(tmp_path / fmt):
        assert cli.main(["leaderboard", str(results), "--format", fmt, "--output", str(target)]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        lines = captured.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"xrbench: error: {target}: "), captured.err
        assert "Traceback" not in captured.err
    assert not [p for p in (tmp_path / fmt).rglob("*.tmp")]

"""Learning curves of trained explainers (``learning_curve.csv`` beside a record): written and read back
(``xrbench.curves``), drawn on the HTML leaderboard (one SVG per method, every epoch a point, hostile labels
and stage names as text), named in the Markdown, left out with a warning when missing, changed or malformed,
and accepted by ``validate``, ``rescore`` and ``submit`` (hash-checked, copied into a board with the record)."""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from conftest import REPO, cli, cli_here
from xrbench.curves import CURVE_FILE, read_learning_curve, write_learning_curve
from xrbench.errors import DataError
from xrbench.leaderboard import build
from xrbench.records import RECORD_FILE, iter_records, read_record, write_record
from xrbench.render import leaderboard, md_escape, render_html, render_markdown

COMMITTED = REPO / "leaderboards/explain/runs/amazon-2014-5core/explainer"
HOSTILE = "</script><script>alert(1)</script>|<img src=x onerror=alert(2)>&amp;\"'"
HOSTILE_STAGE = '<b onmouseover="alert(3)">warm</b>'


def rows(stages: dict[str, int], seed: int = 0, valid: bool = True) -> list[dict]:
    """Epoch rows: per stage, its number of epochs; losses fall by epoch (valid above train), extra columns."""
    out, k = [], 0
    for stage, n in stages.items():
        for e in range(1, n + 1):
            k += 1
            out.append({"stage": stage, "epoch": e, "train_loss": 7.0 - 0.5 * k - 0.01 * seed,
                        "valid_loss": (7.2 - 0.4 * k) if valid else None, "lr": 1e-3 / e, "seconds": 40.0 + e,
                        "train_text": 3.0 - 0.1 * k})
    return out


def add_curve(folder: Path, data: list[dict] | bytes, *, label: str | None = None, seed: int | None = None,
              hash_it: bool = True) -> None:
    """Add a learning curve unit to the record in ``folder`` (its ``units`` and ``unit_sha256`` updated)."""
    if isinstance(data, bytes):
        (folder / CURVE_FILE).write_bytes(data)
        name = CURVE_FILE
    else:
        name = write_learning_curve(folder, data)
    rec = read_record(folder / RECORD_FILE)
    sha = {**rec.unit_sha256, name: hashlib.sha256((folder / name).read_bytes()).hexdigest()} if hash_it \
        else rec.unit_sha256
    rec = dataclasses.replace(rec, units=[*rec.units, name], unit_sha256=sha)
    if label is not None:
        rec = dataclasses.replace(rec, method=dataclasses.replace(rec.method, label=label))
    if seed is not None:
        rec = dataclasses.replace(rec, seed=seed)
    write_record(folder, rec)


def copy_record(name: str, dest: Path) -> Path:
    """A committed explain record (Amazon) copied into ``dest`` (its unit files are not committed)."""
    shutil.copytree(COMMITTED / name / "seed-0", dest)
    return dest


class Page(HTMLParser):
    """Elements (with attributes) and the text inside figcaption, title and svg text elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.texts: dict[str, list[str]] = {"figcaption": [], "title": [], "text": [], "script": []}
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in self.texts:
            self.texts[tag].append("")
            self.open.append(tag)

    def handle_endtag(self, tag):
        if self.open and self.open[-1] == tag:
            self.open.pop()

    def handle_data(self, data):
        if self.open:
            self.texts[self.open[-1]][-1] += data


# the page's own elements and attributes (tests/robustness/test_hostile_boards.py), plus the curves'
TAGS = {"html", "head", "meta", "title", "style", "script", "body", "h1", "h2", "h3", "div", "select", "option",
        "section", "table", "thead", "tbody", "tr", "th", "td", "span", "p", "svg", "line", "text", "circle",
        "figure", "figcaption", "polyline"}
ATTRS = {"lang", "charset", "type", "id", "class", "value", "data-task", "data-dataset", "title", "data-value",
         "width", "height", "role", "aria-label", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "stroke",
         "fill", "text-anchor", "transform", "style", "points", "stroke-width", "stroke-dasharray", "data-seed"}


def parse(page: str) -> Page:
    p = Page()
    p.feed(page)
    p.close()
    assert {t for t, _ in p.tags} <= TAGS, {t for t, _ in p.tags} - TAGS
    assert {k for _, a in p.tags for k in a} <= ATTRS, {k for _, a in p.tags for k in a} - ATTRS
    assert [a for t, a in p.tags if t == "script"] == [{}, {"type": "application/json", "id": "meta"}]
    return p


def points(a: dict) -> list[tuple[float, float]]:
    return [tuple(map(float, xy.split(","))) for xy in a["points"].split()]  # type: ignore[misc]


# -- the file ------------------------------------------------------------------------------------------


def test_write_then_read_gives_the_rows_back(tmp_path):
    want = rows({"prompt": 2, "full": 3}) + [{"stage": "full", "epoch": 4, "train_loss": 0.1 + 0.2,
                                              "valid_loss": None, "lr": 5e-5, "seconds": 1.0}]
    assert write_learning_curve(tmp_path, want) == CURVE_FILE == "learning_curve.csv"
    assert [p.name for p in tmp_path.iterdir()] == [CURVE_FILE]  # no temporary file left
    text = (tmp_path / CURVE_FILE).read_text(encoding="utf-8")
    assert text.splitlines()[0] == "stage,epoch,train_loss,valid_loss,lr,seconds,train_text"
    assert text.splitlines()[-1] == "full,4,0.30000000000000004,,5e-05,1.0,"  # exact floats, empties
    got = read_learning_curve(tmp_path / CURVE_FILE)
    assert got == [{**r, "train_text": r.get("train_text")} for r in want]
    assert type(got[0]["epoch"]) is int and got[-1]["valid_loss"] is None


@pytest.mark.parametrize("bad, why", [
    ([{"stage": "main", "epoch": 0, "train_loss": 1.0, "valid_loss": 1.0, "lr": 1.0, "seconds": 1.0}], "epoch 0"),
    ([{"stage": "main", "epoch": 1, "valid_loss": 1.0, "lr": 1.0, "seconds": 1.0}], "lacks train_loss"),
    (rows({"a": 2}) + rows({"b": 1}) + rows({"a": 1}), "stage 'a' comes back"),
    (rows({"a": 2}) + rows({"a": 1}), "does not follow epoch 2"),
    ([{"stage": "main", "epoch": 1.5, "train_loss": 1.0, "lr": 1.0, "seconds": 1.0}], "integer"),
])
def test_rows_that_break_the_format_are_not_written(tmp_path, bad, why):
    with pytest.raises((ValueError, TypeError), match=why):
        write_learning_curve(tmp_path, bad)
    assert not (tmp_path / CURVE_FILE).exists()


@pytest.mark.parametrize("text, why", [
    ("", "header must start with"),
    ("epoch,stage,train_loss,valid_loss,lr,seconds\n1,main,1,1,1,1\n", "header must start with"),
    ("stage,epoch,train_loss,valid_loss,lr,seconds\nmain,1,x,1,1,1\n", "line 2: train_loss 'x' is not a number"),
    ("stage,epoch,train_loss,valid_loss,lr,seconds\nmain,1,1,1,,1\n", "lr '' is not a number"),
    ("stage,epoch,train_loss,valid_loss,lr,seconds\nmain,one,1,1,1,1\n", "epoch 'one' is not a whole number"),
    ("stage,epoch,train_loss,valid_loss,lr,seconds\nmain,1,1,1,1\n", "5 cells, the header has 6"),
    ("stage,epoch,train_loss,valid_loss,lr,seconds\n,1,1,1,1,1\n", "empty stage"),
    ("stage,epoch,train_loss,valid_loss,lr,seconds\nmain,2,1,1,1,1\nmain,2,1,1,1,1\n", "does not follow"),
])
def test_a_malformed_file_is_a_data_error_naming_it(tmp_path, text, why):
    (tmp_path / CURVE_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=re.escape(why)) as exc:
        read_learning_curve(tmp_path / CURVE_FILE)
    assert str(tmp_path / CURVE_FILE) in str(exc.value)
    (tmp_path / CURVE_FILE).write_bytes(b"stage,epoch\n\xff\n")
    with pytest.raises(DataError, match="not UTF-8"):
        read_learning_curve(tmp_path / CURVE_FILE)


# -- the leaderboards ------------------------------------------------------------------------------------


@pytest.fixture
def results(tmp_path) -> Path:
    """Two committed explain records (template, retrieval) as a results folder; template gets a curve in two
    seeds (prompt then full tuning; seed 1 stops its prompt stage one epoch earlier), retrieval none."""
    runs = tmp_path / "res" / "runs"
    add_curve(copy_record("template", runs / "t0"), rows({"prompt": 3, "full": 2}))
    add_curve(copy_record("template", runs / "t1"), rows({"prompt": 2, "full": 2}, seed=1), seed=1)
    copy_record("retrieval", runs / "r0")
    return tmp_path / "res"


def test_the_html_page_draws_one_plot_per_method_with_every_epoch(results):
    page = leaderboard(results, "html")
    p = parse(page)
    figs = [a for t, a in p.tags if t == "figure"]
    assert len(figs) == 1 and p.texts["figcaption"][0].startswith("template (solid: train loss, dashed: validation")
    (svg,) = [a for t, a in p.tags if t == "svg" and a.get("class") == "curve"]
    assert svg["aria-label"] == "learning curve of template"
    lines = {(a["class"], a["data-seed"], i): points(a) for i, (t, a) in enumerate(p.tags) if t == "polyline"}
    by = {}
    for (cls, seed, _), pts in lines.items():
        by.setdefault((cls, seed), []).append(pts)
    # per seed and loss one line per stage, one point per epoch
    assert {k: [len(x) for x in v] for k, v in by.items()} == {
        ("train", "0"): [3, 2], ("validation", "0"): [3, 2], ("train", "1"): [2, 2], ("validation", "1"): [2, 2]}
    assert sum(len(x) for v in by.values() for x in v) == 2 * (5 + 4)
    dashed = [a for t, a in p.tags if t == "polyline" and a.get("stroke-dasharray")]
    assert {a["class"] for a in dashed} == {"validation"} and len(dashed) == 4
    # the stages line up over the seeds: "full" starts after the longest prompt stage (3 epochs)
    (boundary,) = [a for t, a in p.tags if t == "line" and a.get("class") == "stage"]
    bx = float(boundary["x1"])
    for seed in "01":
        prompt, full = by[("train", seed)]
        assert prompt[-1][0] < bx < full[0][0]
        assert [x for x, _ in full] == [x for x, _ in by[("train", "0")][1]]  # epochs 4 and 5 of the x axis
        ys = [y for _, y in prompt + full]
        assert ys == sorted(ys, reverse=False)  # losses fall: SVG y grows downwards
    assert [t for t in p.texts["text"] if t in ("prompt", "full")] == ["prompt", "full"]
    assert {"epoch", "loss"} <= set(p.texts["text"])
    assert "seed 0, validation loss, stage full" in p.texts["title"]
    assert "http" not in page.replace("http-equiv", "")  # no network


def test_the_markdown_names_the_methods_with_curves_and_is_otherwise_unchanged(results):
    md = leaderboard(results, "md")
    assert "Learning curves (loss per epoch): template; drawn on the HTML page." in md
    found = list(iter_records(results))
    recs = [r for _, r in found]
    without = [dataclasses.replace(r, units=[u for u in r.units if u != CURVE_FILE]) for r in recs]
    plain = build(without, [p.parent for p, _ in found])
    assert all(not b.curves for b in plain)
    # a board without curves renders byte for byte as one built without record folders
    assert render_markdown(plain) == render_markdown(build(without))
    assert render_html(plain) == render_html(build(without))
    assert md.replace("Learning curves (loss per epoch): template; drawn on the HTML page.\n\n", "") == \
        render_markdown(build(recs))


def test_hostile_labels_and_stage_names_stay_text(tmp_path):
    runs = tmp_path / "runs"
    add_curve(copy_record("template", runs / "a"), rows({HOSTILE_STAGE: 2, "main": 2}), label=HOSTILE)
    page = leaderboard(tmp_path, "html")
    p = parse(page)  # only the page's own elements, attributes and scripts
    assert "<script>alert" not in page and "<img" not in page and "<b " not in page
    (cap,) = p.texts["figcaption"]
    assert cap.startswith(HOSTILE + " (solid")
    assert [a["aria-label"] for t, a in p.tags if t == "svg" and a.get("class") == "curve"] == \
        [f"learning curve of {HOSTILE}"]
    assert HOSTILE_STAGE in p.texts["text"]
    assert f"seed 0, train loss, stage {HOSTILE_STAGE}" in p.texts["title"]
    md = leaderboard(tmp_path, "md")
    line = next(x for x in md.splitlines() if x.startswith("Learning curves"))
    assert line == f"Learning curves (loss per epoch): {md_escape(HOSTILE)}; drawn on the HTML page."
    assert "<" not in line and ">" not in line


def test_missing_changed_or_malformed_curves_are_left_out_with_a_warning(tmp_path, caplog):
    runs = tmp_path / "runs"
    bad = b"stage,epoch,train_loss,valid_loss,lr,seconds\nmain,1,6.1,6.2,1.0,41.0\nmain,2,oops,6.0,1.0,40.0\n"
    add_curve(copy_record("template", runs / "malformed"), bad, label="malformed")
    add_curve(copy_record("template", runs / "changed"), rows({"main": 3}), label="changed")
    (runs / "changed" / CURVE_FILE).write_text((runs / "changed" / CURVE_FILE).read_text().replace("6.5", "1.5"))
    add_curve(copy_record("template", runs / "missing"), rows({"main": 3}), label="missing")
    (runs / "missing" / CURVE_FILE).unlink()
    add_curve(copy_record("template", runs / "empty"), b"stage,epoch,train_loss,valid_loss,lr,seconds\n", label="empty")
    add_curve(copy_record("template", runs / "ok"), rows({"main": 3}, valid=False), label="ok", hash_it=False)
    with caplog.at_level(logging.WARNING, logger="xrbench"):
        page = leaderboard(tmp_path, "html")
        md = leaderboard(tmp_path, "md")
    p = parse(page)
    assert [c.split(" (")[0] for c in p.texts["figcaption"]] == ["ok"]  # no unit_sha256 entry: not hash-checked
    assert [a["class"] for t, a in p.tags if t == "polyline"] == ["train"]  # no validation loss: no dashed line
    assert "Learning curves (loss per epoch): ok; drawn" in md
    warned = [r.getMessage() for r in caplog.records if "learning curve left out" in r.getMessage()]
    assert len(warned) == 2 * 4  # each of the four, once per rendering
    for label, why in (("malformed", "line 3: train_loss 'oops' is not a number"), ("changed", "changed after the run"),
                       ("missing", "unreadable"), ("empty", "no epochs")):
        assert any(f"({label}, seed 0)" in w and why in w for w in warned), (label, warned)
    # a page whose only curve is bad has no curves block at all
    shutil.rmtree(runs / "ok")
    assert "learning curves" not in leaderboard(tmp_path, "html")


# -- validate, rescore, submit --------------------------------------------------------------------------


def problems(p) -> list[str]:
    return [line for line in p.stdout.splitlines() if line.strip()]


def test_validate_rescore_and_submit_accept_a_curve_and_check_its_hash(amazon2014, tmp_path):
    out, data = tmp_path / "e", ["--data-path", f"amazon-2014-5core={amazon2014}"]
    run = cli_here("run", "--dataset", "amazon-2014-5core", "--explainer", "template", "--sample", "20", "--seeds",
                   "0", "--metrics", "bleu1", "usr", "--out", str(out), "-q", "--data-path", str(amazon2014))
    assert run.returncode == 0, run.stderr
    ((record, _),) = iter_records(out)
    add_curve(record.parent, rows({"main": 4}))
    before = record.read_bytes()
    p = cli("validate", str(out), *data)  # hashes checked, metrics recomputed from the other unit files
    assert p.returncode == 0 and problems(p) == [], p.stdout + p.stderr
    p = cli_here("rescore", str(out))
    assert p.returncode == 0, p.stdout + p.stderr
    assert record.read_bytes() == before  # nothing changed: the curve is not a metric's input
    curve = record.parent / CURVE_FILE
    good = curve.read_bytes()
    curve.write_bytes(good.replace(b"main,4,", b"main,5,"))
    p = cli_here("validate", str(out), *data)
    assert p.returncode == 1
    (line,) = problems(p)
    assert line == f"{record}: unit file {CURVE_FILE} was changed after the run (its sha256 is not the record's " \
                   "unit_sha256)"
    curve.unlink()
    (line,) = problems(cli_here("validate", str(out), *data))
    assert line == f"{record}: unit file {CURVE_FILE} is missing"
    curve.write_bytes(good)
    # submit copies the record and its curve (no data of the dataset), not the other unit files
    board = tmp_path / "leaderboards" / "mini"
    (board / "runs").mkdir(parents=True)
    card = tmp_path / "card.yaml"
    card.write_text(yaml.safe_dump({"name": "template", "authors": ["A"], "licence": "MIT", "description": "d",
                                    "code": "https://example.org/t"}))
    p = cli_here("submit", str(out), "--board", str(board), "--card", str(card), *data)
    assert p.returncode == 0, p.stdout + p.stderr
    (target,) = board.rglob(RECORD_FILE)
    assert sorted(f.name for f in target.parent.iterdir()) == [CURVE_FILE, RECORD_FILE]
    assert (target.parent / CURVE_FILE).read_bytes() == good
    html = (board / "leaderboard.html").read_text(encoding="utf-8")
    assert html.count("<polyline") == 2 and 'aria-label="learning curve of template"' in html
    assert "Learning curves (loss per epoch): template" in (board / "leaderboard.md").read_text(encoding="utf-8")
    # the board's record validates (outputs not committed: a note) and its curve is still hash-checked
    p = cli_here("validate", str(board), "--no-data-check")
    assert p.returncode == 0 and problems(p) == [], p.stdout + p.stderr
    assert "units not committed: checked the record only" in p.stderr
    (target.parent / CURVE_FILE).write_bytes(good + b"main,5,1,1,1,1,\n")
    (line,) = problems(cli_here("validate", str(board), "--no-data-check"))
    assert f"unit file {CURVE_FILE} was changed after the run" in line
    # a resubmitted record without a curve leaves no stale curve behind
    rec = read_record(record)
    write_record(record.parent, dataclasses.replace(rec, units=[u for u in rec.units if u != CURVE_FILE],
                                                    unit_sha256={u: h for u, h in rec.unit_sha256.items()
                                                                 if u != CURVE_FILE}))
    p = cli_here("submit", str(out), "--board", str(board), "--card", str(card), "--replace", *data)
    assert p.returncode == 0, p.stdout + p.stderr
    assert sorted(f.name for f in target.parent.iterdir()) == [RECORD_FILE]
    assert "<polyline" not in (board / "leaderboard.html").read_text(encoding="utf-8")


def test_a_record_without_its_folder_has_no_curve(results):
    """Boards built from records alone (no folders: e.g. the Python API's in-memory records) read no file."""
    recs = [r for _, r in iter_records(results)]
    assert all(not b.curves for b in build(recs))
    with pytest.raises(ValueError, match="folders for"):
        build(recs, [results])

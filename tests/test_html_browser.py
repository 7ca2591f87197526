"""The HTML leaderboard in a real headless Chromium: the table renders, sorting a column reorders the rows,
the filter hides boards, and the plot is present. In CI (CI=true) a missing browser is a failure."""
from __future__ import annotations

import os
import shutil

import pytest

from tests.test_leaderboard import scored_records
from xrbench.leaderboard import build
from xrbench.render import render_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover
    sync_playwright = None

if os.environ.get("CI") != "true":
    pytestmark = pytest.mark.skipif(CHROMIUM is None or sync_playwright is None,
                                    reason="needs Debian chromium and the playwright package (CI installs both)")

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM is not None and sync_playwright is not None, "CI must install chromium and playwright"
    with sync_playwright() as p:  # (one Playwright per thread: the pages below share this browser)
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(browser, tmp_path_factory):
    recs = scored_records({"alpha": (1, 0.0), "beta": (2, 0.6), "gamma": (3, 0.3)}, seeds=(0,))
    other = scored_records({"alpha": (1, 0.0), "delta": (4, 0.1)}, seeds=(0,))
    other = [type(r)(**{**r.__dict__, "dataset": "other"}) for r in other]
    path = tmp_path_factory.mktemp("html") / "leaderboard.html"
    path.write_text(render_html(build(recs + other)), encoding="utf-8")
    pg = browser.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(path.as_uri())
    yield pg, errors
    pg.close()


def methods_in(pg, board: int = 0) -> list[str]:
    return pg.eval_on_selector_all(f"section.board:nth-of-type({board + 1}) table:first-of-type tbody tr",
                                   "rows => rows.map(r => r.cells[0].textContent)")


def test_table_renders_and_sorts_by_a_column(page):
    pg, errors = page
    first = pg.locator("section.board").first
    assert first.locator("table tbody tr").count() == 3
    rmse_header = first.locator("table").first.locator("th", has_text="rmse")
    values = lambda: first.locator("table").first.evaluate(  # noqa: E731
        "t => [...t.tBodies[0].rows].map(r => parseFloat(r.cells[1].getAttribute('data-value')))")
    rmse_header.click()
    asc = values()
    assert asc == sorted(asc)
    order_asc = methods_in(pg)
    rmse_header.click()
    desc = values()
    assert desc == sorted(desc, reverse=True)
    assert methods_in(pg) == list(reversed(order_asc))
    assert order_asc[0] == "alpha" and order_asc[-1] == "beta"  # alpha has no shift, beta the largest
    assert not errors


def test_plot_interval_and_filter(page):
    pg, errors = page
    first = pg.locator("section.board").first
    assert first.locator("svg.plot circle.point").count() == 3
    assert first.locator("span.ci").count() >= 3  # intervals are shown
    assert pg.locator("section.board").count() == 2
    pg.select_option("#f-dataset", "other")
    visible = pg.eval_on_selector_all("section.board", "s => s.filter(x => !x.hidden).map(x => x.dataset.dataset)")
    assert visible == ["other"]
    pg.select_option("#f-dataset", "")
    assert pg.eval_on_selector_all("section.board", "s => s.filter(x => !x.hidden).length") == 2
    assert not errors


# -- a page built from hostile strings: names stay text, nothing runs ------------------------------------

PWN_SCRIPT = "</script><script>window.__pwned=1</script>"
PWN_IMG = '<img src=x onerror="window.__pwned=1">'
QUOTES = "q\"uo'te\" onmouseover=\"window.__pwned=1"
HOSTILE_LABEL = f"amazon-2014-5core[category={PWN_SCRIPT}]"
HOSTILE_METHODS = [PWN_SCRIPT, PWN_IMG, QUOTES, "<svg onload=alert(1)>", "\u2028x</script><!--"]


@pytest.fixture(scope="module")
def hostile_page(browser, tmp_path_factory):
    names = {m: (i + 1, 0.1 * i) for i, m in enumerate(HOSTILE_METHODS)}
    recs = scored_records(names, seeds=(0,))
    recs = [type(r)(**{**r.__dict__, "dataset": HOSTILE_LABEL}) for r in recs]
    recs += scored_records({"alpha": (1, 0.0), "beta": (2, 0.4)}, seeds=(0,))  # a second, harmless board
    path = tmp_path_factory.mktemp("hostile") / "leaderboard.html"
    path.write_text(render_html(build(recs)), encoding="utf-8")
    pg = browser.new_page()
    errors: list[str] = []
    dialogs: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))

    def on_dialog(d):
        dialogs.append(d.message)
        d.dismiss()

    pg.on("dialog", on_dialog)
    pg.goto(path.as_uri())
    pg.wait_for_load_state("load")
    yield pg, errors, dialogs
    pg.close()


def test_hostile_names_run_nothing_and_stay_text(hostile_page):
    pg, errors, dialogs = hostile_page
    pg.locator("table th").first.hover()  # (an injected onmouseover would fire)
    for row in pg.locator("section.board tbody tr td:first-child").all():
        row.hover()
    pg.wait_for_timeout(300)  # (an injected img's onerror would have fired by now)
    assert pg.evaluate("typeof window.__pwned") == "undefined"
    assert not dialogs and not errors
    assert pg.evaluate("document.scripts.length") == 2  # the page's own script and its JSON
    assert pg.locator("img").count() == 0 and pg.locator("section.board svg:not(.plot)").count() == 0
    meta = pg.evaluate("JSON.parse(document.getElementById('meta').textContent)")
    assert HOSTILE_LABEL in meta["datasets"]
    board = [i for i, d in enumerate(pg.eval_on_selector_all("section.board", "s => s.map(x => x.dataset.dataset)"))
             if d == HOSTILE_LABEL]
    assert board, "the hostile label is the board's data-dataset, unchanged"
    assert sorted(methods_in(pg, board[0])) == sorted(HOSTILE_METHODS)
    titles = pg.eval_on_selector_all(f"section.board:nth-of-type({board[0] + 1}) svg.plot circle title",
                                     "ts => ts.map(t => t.textContent.split(': ')[0])")
    assert sorted(titles) == sorted(HOSTILE_METHODS)
    assert HOSTILE_LABEL in pg.locator("h2").all_text_contents()[board[0]]


def test_hostile_label_filters_like_any_other(hostile_page):
    pg, errors, dialogs = hostile_page
    pg.select_option("#f-dataset", HOSTILE_LABEL)
    visible = pg.eval_on_selector_all("section.board", "s => s.filter(x => !x.hidden).map(x => x.dataset.dataset)")
    assert visible == [HOSTILE_LABEL]
    pg.select_option("#f-dataset", "")
    assert pg.eval_on_selector_all("section.board", "s => s.filter(x => !x.hidden).length") == 2
    assert pg.evaluate("typeof window.__pwned") == "undefined" and not dialogs and not errors

from __future__ import annotations

from pathlib import Path

import pytest

from xrbench import publish
from xrbench.leaderboard import build
from xrbench.render import render_csv, render_markdown
from xrbench.records import MethodRef, RunRecord

REPO = Path(__file__).resolve().parents[1]


def test_committed_leaderboards_are_not_stale():
    assert publish.main(["--root", str(REPO / "leaderboards"), "--readme", str(REPO / "README.md"), "--check"]) == 0


def rec(method, seed, metrics, status="ok", skipped=None, error=None):
    return RunRecord("d", "recommend", MethodRef(method, "recommender", {}, method), seed, status, metrics,
                     skipped_metrics=skipped or {}, error=error)


def test_missing_values_are_dashes_with_footnotes_never_averaged_away():
    recs = [rec("a", 0, {"rmse": 1.0, "ndcg@10": 0.1}), rec("a", 1, {"rmse": 3.0, "ndcg@10": 0.3}),
            rec("b", 0, {"rmse": 0.5, "ndcg@10": 0.5}), rec("b", 1, {}, status="failed", error="ValueError: x"),
            rec("c", 0, {"ndcg@10": 0.2}, skipped={"rmse": "not applicable: ranking only"})]
    md = render_markdown(build(recs))
    rows = {line.split("|")[1].strip(): line for line in md.splitlines() if line.startswith("| ") and "method" not in line}
    assert "2.000† ± 1.414" in rows["a"]  # mean ± sample std over seeds; no replicates: not testable (†)
    assert "0.5000" in rows["b"] and "[" in rows["b"]  # one seed only: footnoted, not silently averaged
    assert "—[" in rows["c"]
    assert "seed 1 failed (ValueError: x)" in md and "not applicable: ranking only" in md
    assert "**0.5000**" in rows["b"].replace(" [1]", "").replace(" [2]", "")  # best rmse (lower is better)
    csv = render_csv(build(recs))
    assert ",recommend,d,c,rmse,,,,,0,0,0,,1,,c — rmse: not applicable: ranking only" in csv  # no suite: ad hoc


def scored_records(seed_noise: dict[str, tuple[int, float]], seeds=(0, 1)) -> list[RunRecord]:
    """Methods whose predictions are the truth plus noise (noise seed, shift), scored like the runner does."""
    import numpy as np

    from xrbench.metrics import RecOutputs
    from xrbench.scoring import score

    out = []
    for seed in seeds:
        rng = np.random.default_rng(100 + seed)
        users = np.repeat([f"u{i}" for i in range(300)], 8)
        truth = rng.integers(1, 6, len(users)).astype(float)
        for name, (noise_seed, shift) in seed_noise.items():
            noise = np.random.default_rng(noise_seed * 1000 + seed).normal(0, 0.9, len(users))
            o = RecOutputs(users, np.arange(len(users)).astype(str), truth, truth + noise + shift, 1, 5, {}, {}, {})
            s = score("recommend", o, ("rmse", "mae"), f"d|random|{seed}")
            out.append(RunRecord("d", "recommend", MethodRef(name, "recommender", {}, name), seed, "ok", s.metrics,
                                 intervals=s.intervals, bootstrap=s.bootstrap))
    return out


def test_paired_test_separates_noise_from_a_real_gap():
    # five seeds: the test now takes seed-to-seed variance into account (t with S - 1 df), and two seeds
    # (t with 1 df) no longer separate this gap
    boards = build(scored_records({"a": (1, 0.0), "b": (2, 0.0), "c": (3, 0.35)}, seeds=(0, 1, 2, 3, 4)))
    (b,) = boards
    best = b.best("rmse")
    assert best in ("a", "b")
    other = "b" if best == "a" else "a"
    assert b.cells[(other, "rmse")].tie_with_best  # differs only by noise: not significantly different
    assert not b.cells[("c", "rmse")].tie_with_best  # a real gap: significantly different
    assert b.cells[("c", "rmse")].mark == "" and b.cells[(other, "rmse")].mark == "tie"
    lo, hi = b.cells[("c", "rmse")].interval()
    assert lo < b.cells[("c", "rmse")].mean < hi
    md = render_markdown(boards)
    assert f"*{other} " not in md and "| *" in md  # the tie is italic, the best bold
    assert "**" in md


def test_latex_and_html_render():
    from xrbench.render import render_html, render_latex

    boards = build(scored_records({"a": (1, 0.0), "c_x": (3, 0.35)}, seeds=(0,)))
    tex = render_latex(boards)
    assert r"\begin{tabular}" in tex and r"c\_x" in tex and r"\textbf{" in tex
    page = render_html(boards)
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "http" not in page.replace("http-equiv", "")


def explain_rec(backbone, bleu4, pairs_hash="h1", batch=32, wall=100.0, name="llm-few-shot"):
    import numpy as np

    from xrbench.metrics import uncertainty

    params = {"backbone": backbone, "batch_size": batch, "shots": 3}
    label = f"{name}[backbone={backbone},batch_size={batch}]"
    return RunRecord("amz", "explain", MethodRef(name, "explainer", params, label), 0, "ok",
                     {"bleu4": bleu4, "tokens_per_s": 50.0, "wall_s": wall, "peak_rss_mb": 900.0},
                     bootstrap=uncertainty.pack({"bleu4": (np.full(uncertainty.N_REPLICATES, bleu4), pairs_hash)}))


def test_backbone_comparison_table_rows_per_backbone():
    recs = [explain_rec("smollm2-135m", 1.0), explain_rec("gemma3-270m", 2.0, wall=150.0),
            explain_rec("smollm2-135m", 0.5, name="llm-zero-shot"),  # one backbone only: no comparison
            RunRecord("amz", "explain", MethodRef("template", "explainer", {}, "template"), 0, "ok", {"bleu4": 0.1})]
    (b,) = build(recs)
    (sec,) = b.sections
    assert sec.title == "backbone comparison"
    assert [(r[0], r[1]) for r in sec.rows] == [("llm-few-shot", "gemma3-270m"), ("llm-few-shot", "smollm2-135m")]
    head, rows = sec.header, sec.rows
    assert head[:3] == ["explainer", "backbone", "bleu4"] and rows[0][-1] == "yes" and rows[0][head.index("wall_s ↓")] == "150.0"
    assert "**backbone comparison**" in render_markdown([b])
    # different scored pairs are flagged
    (b2,) = build([explain_rec("smollm2-135m", 1.0), explain_rec("gemma3-270m", 2.0, pairs_hash="other")])
    assert all(r[-1] == "no" for r in b2.sections[0].rows)


def test_a_page_includes_the_boards_of_the_suites_it_names(tmp_path):
    from xrbench.records import write_record

    for suite, r in (("explain", explain_rec("smollm2-135m", 1.0)),
                     ("fidelity", RunRecord("ml", "explain", MethodRef("template", "explainer", {}, "template"), 0,
                                            "ok", {"pn": 0.9}))):
        write_record(tmp_path / suite / "runs" / r.dataset / "x" / "seed-0", r)
    (tmp_path / "explain" / "include.txt").write_text("fidelity\n")
    publish.boards_of.cache_clear()
    titles = [b.title for b in publish.page_boards(tmp_path / "explain")]
    assert titles == ["Explanation — amz (explain suite)", "Explanation — ml (fidelity suite)"]
    assert [b.title for b in publish.page_boards(tmp_path / "fidelity")] == ["Explanation — ml"]


def test_every_csv_row_names_its_suite_so_keys_are_unique():
    """The explain page shows two suites' boards (explain and fidelity): without the suite column the same
    (task, dataset, method, metric) appeared twice with different values."""
    import csv as _csv

    from tests.conftest import REPO

    for path in sorted((REPO / "leaderboards").glob("*/leaderboard.csv")):
        rows = list(_csv.DictReader(path.open(encoding="utf-8")))
        assert rows and all(r["suite"] for r in rows), path
        keys = [(r["suite"], r["task"], r["dataset"], r["method"], r["metric"]) for r in rows]
        assert len(keys) == len(set(keys)), path


def test_latex_is_paper_ready():
    from xrbench.render import render_latex

    (b,) = build([explain_rec("smollm2-135m", 1.0), explain_rec("gemma3-270m", 2.0, wall=150.0),
                  RunRecord("amz", "explain", MethodRef("template", "explainer", {}, "template"), 0, "failed",
                            error="ValueError: x")])
    tex = render_latex([b])
    assert "adjustbox}{max width=\\textwidth}" in tex and "\\toprule" in tex
    assert "[1] template" in tex  # the footnote text is set under the table
    assert "backbone comparison" in tex  # every section the Markdown has


def test_coverage_is_ranked_by_distance_from_nominal_with_a_binomial_interval():
    """An estimator whose intervals always cover (absurdly wide) must not beat one at the nominal level;
    the cell's interval is the exact binomial one over the replications."""
    from scipy.stats import binomtest

    def est(method, seed, covered):
        return RunRecord("semi", "estimate", MethodRef(method, "estimator", {}, method), seed, "ok",
                         {"ci_coverage": float(covered)})

    recs = [est("wide", s, 1) for s in range(20)]
    recs += [est("nominal", s, s != 7) for s in range(20)]  # 19/20 = 0.95
    recs += [est("narrow", s, s % 2) for s in range(20)]  # 10/20
    (board,) = build(recs)
    assert board.best("ci_coverage") == "nominal"
    assert board.ranks[("wide", "ci_coverage")] == 2 and board.ranks[("narrow", "ci_coverage")] == 3
    # the exact interval: scipy's Clopper-Pearson for 19 of 20 and 20 of 20
    ci = binomtest(19, 20).proportion_ci(0.95, method="exact")
    assert board.cells[("nominal", "ci_coverage")].interval() == pytest.approx((ci.low, ci.high), abs=1e-12)
    lo, hi = board.cells[("wide", "ci_coverage")].interval()
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / 20), abs=1e-12)  # (alpha/2)^(1/n) when k = n
    md = render_markdown([board])
    assert "ci_coverage → 0.95" in md and "Clopper-Pearson" in md
    assert "**0.9500 [0.7513, 0.9987]**" in md


def test_a_method_entry_can_run_on_its_own_seeds(tmp_path):
    from xrbench.specs import parse_suite

    suite = parse_suite({"datasets": ["ml100k-semisynth"], "seeds": [0, 1],
                         "methods": {"estimator": ["s-learner", {"name": "ipw", "seeds": list(range(5))}]}}, "s.yaml")
    runs = [(r.method.name, r.seed) for r in suite.runs()]
    assert runs == [("s-learner", 0), ("s-learner", 1)] + [("ipw", s) for s in range(5)]
    assert [r.seed for r in suite.with_seeds((3,)).runs()] == [3, 3]  # --seeds overrides every method's seeds
    from xrbench.errors import XRBenchError

    with pytest.raises(XRBenchError, match=r"methods.estimator\[0\].seeds"):
        parse_suite({"datasets": ["ml100k-semisynth"], "methods": {"estimator": [{"name": "ipw", "seeds": [-1]}]}},
                    "s.yaml")


def test_a_row_given_the_test_answer_is_shown_but_never_ranked_or_marked():
    """PETER+ (each test pair's reference feature as an input) must not become the best row nor the reference
    of the other rows' paired tests: its values are shown plain and its average rank is a dash."""
    import dataclasses

    recs = [explain_rec("a", 1.0), explain_rec("b", 0.9), explain_rec("c", 0.2, name="peter+")]
    oracle = dataclasses.replace(recs[2], provenance={"explain": {"oracle_feature": True}})
    (plain,) = build(recs)
    assert plain.best("bleu4") == "llm-few-shot[backbone=a,batch_size=32]"
    boosted = dataclasses.replace(oracle, metrics={**oracle.metrics, "bleu4": 9.0})
    (board,) = build([recs[0], recs[1], boosted])
    label = boosted.method_label
    assert board.best("bleu4") == "llm-few-shot[backbone=a,batch_size=32]"  # not the oracle's 9.0
    assert board.cells[(label, "bleu4")].mark == "" and (label, "bleu4") not in board.ranks
    assert board.avg_rank(label, board.keys) is None
    md = render_markdown([board])
    row = next(line for line in md.splitlines() if line.startswith(f"| {label}"))
    assert "9.000" in row and "**" not in row and "*9" not in row
    assert any("not ranked, marked or tested against" in n for n in board.notes)

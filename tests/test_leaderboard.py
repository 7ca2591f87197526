from __future__ import annotations

from pathlib import Path

from xrbench import publish
from xrbench.leaderboard import build, render_csv, render_markdown
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
    assert "2.000 ± 1.414" in rows["a"]  # mean ± sample std over seeds
    assert "0.5000" in rows["b"] and "[" in rows["b"]  # one seed only: footnoted, not silently averaged
    assert "—[" in rows["c"]
    assert "seed 1 failed (ValueError: x)" in md and "not applicable: ranking only" in md
    assert "**0.5000**" in rows["b"].replace(" [1]", "").replace(" [2]", "")  # best rmse (lower is better)
    csv = render_csv(build(recs))
    assert "recommend,d,c,rmse,,,0,0,1,c — rmse: not applicable: ranking only" in csv

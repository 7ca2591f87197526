"""The quick suite end to end, on small files in the real formats."""
from __future__ import annotations

import json

import yaml

from tests.conftest import cli, cli_here
from xrbench.specs import load_suite


def test_builtin_quick_suite_shape():
    s = load_suite("quick")
    assert s.seeds == (0, 1, 2)
    assert {d.name for d in s.datasets} == {"ml-100k", "amazon-2014-5core"}
    assert {m.name for m in s.methods if m.kind == "recommender"} == {"global-mean", "bias", "biased-mf", "item-knn",
                                                                      "most-pop"}
    assert len(s.runs()) == 2 * len(s.methods) * 3


def suite_file(tmp_path):
    quick = load_suite("quick")
    data = {"name": "quick-subset", "seeds": [0, 1], "sample": 40,
            "datasets": ["ml-100k", {"name": "amazon-2014-5core", "optional": True}],
            "methods": {"recommender": [m.name for m in quick.methods if m.kind == "recommender"],
                        "explainer": [m.name for m in quick.methods if m.kind == "explainer"]}}
    f = tmp_path / "suite.yaml"
    f.write_text(yaml.safe_dump(data))
    return f


def test_quick_suite_subset_end_to_end(tmp_path, grouplens_dir, amazon2014):
    out = tmp_path / "out"
    p = cli("run", "--suite", str(suite_file(tmp_path)), "--out", str(out), "--data-path",
            f"ml-100k={grouplens_dir}", "--data-path", f"amazon-2014-5core={amazon2014}", env={"XRBENCH_DATA": ""})
    assert p.returncode == 0, p.stderr
    recs = [json.loads(f.read_text()) for f in out.rglob("record.json")]
    # 5 recommenders x 2 datasets + template on both + retrieval on amazon only (ml-100k has no text), x 2 seeds
    assert len(recs) == (10 + 3) * 2
    assert all(r["status"] == "ok" for r in recs)
    assert "skipped: explainer 'retrieval' needs text" in p.stderr
    board = (out / "leaderboard.md").read_text()
    for title in ("## Recommendation — ml-100k", "## Recommendation — amazon-2014-5core",
                  "## Explanation — amazon-2014-5core", "## Explanation — ml-100k"):
        assert title in board
    assert p.stdout.strip() == board.strip()
    amazon_expl = [r for r in recs if r["dataset"] == "amazon-2014-5core" and r["task"] == "explain"]
    assert all("bleu4" in r["metrics"] and "usr" in r["metrics"] for r in amazon_expl)
    csv = (out / "leaderboard.csv").read_text().splitlines()
    assert csv[0].startswith("suite,task,dataset,method,metric,mean,ci_low,ci_high,std")
    assert all(line.startswith("quick-subset,") for line in csv[1:])
    # a rerun reuses everything (the same main in this process: the run above was the subprocess)
    again = cli_here("run", "--suite", str(suite_file(tmp_path)), "--out", str(out), "--data-path",
                     f"ml-100k={grouplens_dir}", "--data-path", f"amazon-2014-5core={amazon2014}", "-q",
                     env={"XRBENCH_DATA": ""})
    assert again.returncode == 0 and "0 run(s) done, 26 reused" in again.stderr


def test_quick_suite_skips_absent_amazon_with_one_line(tmp_path, grouplens_dir):
    out = tmp_path / "out"
    p = cli("run", "--suite", str(suite_file(tmp_path)), "--out", str(out), "--data-path",
            f"ml-100k={grouplens_dir}", "--seeds", "0", "-q", env={"XRBENCH_DATA": "", "HOME": str(tmp_path)})
    assert p.returncode == 0, p.stderr
    lines = [line for line in p.stderr.splitlines() if "skipping dataset amazon-2014-5core" in line]
    assert len(lines) == 1 and "--data-path" in lines[0] and "XRBENCH_DATA" in lines[0]
    assert not any("amazon" in str(f) for f in out.rglob("record.json"))

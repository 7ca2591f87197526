"""``xrbench compare``: the CI regression check between two results folders."""
from __future__ import annotations

import gzip
import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import assert_clean_error, cli
from xrbench.compare import decide, default_tolerance, parse_tolerances, worse_sign
from xrbench.errors import XRBenchError
from xrbench.metrics import uncertainty

BIAS0 = Path("runs/ml-100k/recommender/bias/seed-0")


@pytest.fixture
def base(ml_bias_runs) -> Path:
    """One small real run (ml-100k, bias and most-pop, seeds 0 and 1), made once for the session (conftest's
    ``ml_bias_runs``, shared with test_validate and the robustness tests) and only read by the tests (they
    perturb copies)."""
    return ml_bias_runs


@pytest.fixture
def new(base, tmp_path) -> Path:
    out = tmp_path / "new"
    shutil.copytree(base, out)
    return out


def edit(record: Path, fn) -> None:
    d = json.loads(record.read_text())
    fn(d)
    record.write_text(json.dumps(d))


def shift(record: Path, key: str, delta: float, noise: float = 0.0) -> None:
    """Move metric ``key`` by ``delta``: its value, interval and bootstrap replicates (plus ``noise``)."""
    def fn(d):
        d["metrics"][key] += delta
        d["intervals"][key] = [x + delta for x in d["intervals"][key]]
        b = d["bootstrap"]
        arr = uncertainty.decode(b["replicates"]).reshape(len(b["keys"]), b["B"])
        j = b["keys"].index(key)
        arr[j] += delta + noise * np.random.default_rng(0).standard_normal(b["B"])
        b["replicates"] = uncertainty.encode(arr)
    edit(record / "record.json", fn)


@pytest.fixture
def compare(capsys):
    """``xrbench compare BASE NEW FLAGS...`` in this process (as fast as the check itself); exit code, stdout,
    stderr. The error paths run in a subprocess (``cli``), exactly as a user sees them."""
    def run(base: Path, new: Path, *flags: str) -> subprocess.CompletedProcess:
        from xrbench.cli import main

        capsys.readouterr()
        code = main(["compare", str(base), str(new), *flags])
        out = capsys.readouterr()
        return subprocess.CompletedProcess([], code, out.out, out.err)
    return run


def test_identical_results_folders_compare_clean(base, new, compare):
    p = compare(base, new)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "**no regressions**" in p.stdout
    cells = sum(len(json.loads(r.read_text())["metrics"]) for r in base.rglob("record.json"))
    assert f"\nunchanged: {cells} cells" in p.stdout
    assert "### Regressions" not in p.stdout and p.stderr == ""


def test_worse_predictions_are_a_significant_regression_named_by_cell(base, new, compare):
    preds = new / BIAS0 / "predictions.csv.gz"
    df = pd.read_csv(preds, dtype={"user": str, "item": str})
    df["prediction"] += 0.7
    preds.write_bytes(gzip.compress(df.to_csv(index=False).encode()))
    assert cli("rescore", str(new)).returncode == 0  # metrics and replicates move together
    p = compare(base, new)
    assert p.returncode == 1, p.stdout + p.stderr
    out = p.stdout
    assert "**2 regression(s)**" in out
    rmse, mae = out.index("| ml-100k | bias | 0 | rmse |"), out.index("| ml-100k | bias | 0 | mae |")
    assert out.index("### Regressions") < mae < rmse < out.index("unchanged:")  # worst (relative) first
    assert "paired: 95% CI of the change" in out[rmse:].splitlines()[0]
    # signed gaps have no better side: reported as changes, never regressions
    assert "| rmse_gap_gender |" in out.split("### Other changes")[1]
    rows = json.loads(compare(base, new, "--format", "json").stdout)["rows"]
    bad = {(r["method"], r["seed"], r["metric"]) for r in rows if r["status"] == "regression"}
    assert bad == {("bias", 0, "rmse"), ("bias", 0, "mae")}


def test_move_within_tolerance_passes_beyond_it_fails(base, new, tmp_path, compare):
    shift(new / BIAS0, "rmse", 0.001)
    assert compare(base, new, "--tolerance", "rmse=0.005").returncode == 0
    strict = compare(base, new)  # default 1e-9: a deterministic rerun must match
    assert strict.returncode == 1 and "| ml-100k | bias | 0 | rmse |" in strict.stdout
    tol = tmp_path / "tol.yaml"
    tol.write_text("rmse: 0.005\nmae: 0.1\n")
    assert compare(base, new, "--tolerance-file", str(tol)).returncode == 0
    assert compare(base, new, "--tolerance-file", str(tol), "--tolerance", "rmse=0").returncode == 1  # CLI wins


def test_worse_but_within_the_bootstrap_noise_is_not_a_regression(base, new, compare):
    shift(new / BIAS0, "rmse", 0.01, noise=0.2)  # the paired interval of the change includes 0
    p = compare(base, new, "--format", "json")
    assert p.returncode == 0, p.stdout
    row = next(r for r in json.loads(p.stdout)["rows"] if r["metric"] == "rmse" and r["status"] != "unchanged")
    assert row["status"] == "changed" and row["ci"][0] < 0 < row["ci"][1]


def test_improvement_is_listed_with_exit_0(base, new, compare):
    shift(new / BIAS0, "rmse", -0.05)
    p = compare(base, new)
    assert p.returncode == 0, p.stdout
    assert "1 improvement(s)" in p.stdout
    assert "| ml-100k | bias | 0 | rmse |" in p.stdout.split("### Improvements")[1]


def test_different_split_hashes_are_refused(base, new):
    edit(new / BIAS0 / "record.json", lambda d: d["provenance"]["split"].update(hash="0123456789abcdef"))
    p = cli("compare", str(base), str(new))  # as a user sees it: one line, no traceback
    assert p.returncode == 2
    line = assert_clean_error(p, "split hash differs")
    assert str(base / BIAS0 / "record.json") in line and str(new / BIAS0 / "record.json") in line


def test_missing_records_fail_unless_allowed(base, new, compare):
    shutil.rmtree(new / "runs/ml-100k/recommender/most-pop/seed-1")
    p = compare(base, new)
    assert p.returncode == 1 and "**no regressions**" in p.stdout
    assert "- ml-100k / recommend / most-pop / seed 1" in p.stdout.split("### Missing from NEW")[1]
    assert compare(base, new, "--allow-missing").returncode == 0


def test_failed_run_is_a_regression_and_json_parses(base, new, compare):
    edit(new / BIAS0 / "record.json", lambda d: d.update(status="failed", error="RuntimeError: boom", metrics={},
                                                          intervals={}, bootstrap={}))
    p = compare(base, new, "--format", "json")
    assert p.returncode == 1
    data = json.loads(p.stdout)
    assert data["summary"]["regression"] == 1 and data["summary"]["exit_code"] == 1
    (row,) = [r for r in data["rows"] if r["status"] == "regression"]
    assert (row["metric"], row["baseline"], row["new"]) == ("status", "ok", "failed") and "boom" in row["test"]
    assert {"dataset", "task", "method", "seed", "change", "relative", "tolerance", "test", "ci"} <= set(row)


def test_version_differences_are_warned_one_line_per_package(base, new, compare):
    for rec in new.rglob("record.json"):
        edit(rec, lambda d: d["provenance"]["packages"].update(numpy="0.0.1"))
    p = compare(base, new)
    assert p.returncode == 0
    warnings = [line for line in p.stderr.splitlines() if line.startswith("xrbench: warning:")]
    assert len(warnings) == 1 and "numpy" in warnings[0] and "0.0.1 in NEW" in warnings[0]


def test_bad_input_exits_2(base, new, tmp_path, compare):
    assert_clean_error(compare(base, new, "--tolerance", "rmse=-1"), "--tolerance rmse")
    assert_clean_error(compare(base, new, "--tolerance", "rmsee=1"), "unknown metric")
    (tmp_path / "empty").mkdir()
    p = compare(base, tmp_path / "empty")
    assert p.returncode == 2 and "no records" in assert_clean_error(p)
    bad = tmp_path / "bad.yaml"
    bad.write_text("- rmse\n")
    assert compare(base, new, "--tolerance-file", str(bad)).returncode == 2


def test_committed_board_compares_with_itself():
    p = cli("compare", "leaderboards/quick", "leaderboards/quick", cwd=Path(__file__).resolve().parents[1])
    assert p.returncode == 0, p.stderr
    assert "**no regressions**" in p.stdout


def test_default_tolerances_and_directions():
    assert default_tolerance("rmse") == 1e-9 and default_tolerance("bertscore_f") > 1e-9
    for cost in ("wall_s", "peak_rss_mb", "tokens_per_s"):
        assert worse_sign(cost) == 0  # never a regression, whatever the tolerance
    assert worse_sign("rmse") == 1 and worse_sign("ndcg@10") == -1 and worse_sign("rmse_gap_gender") == 0
    assert parse_tolerances(["rmse=0.005", "bleu4=inf"]) == {"rmse": 0.005, "bleu4": math.inf}
    with pytest.raises(XRBenchError):
        parse_tolerances(["rmse"])


def test_decision_rule():
    assert decide(1e-10, 1e-9, 1, (0.1, 0.2)) == "unchanged"
    assert decide(0.1, 1e-9, 1, (0.05, 0.2)) == "regression"  # worse, interval excludes 0 on the worse side
    assert decide(0.1, 1e-9, 1, (-0.05, 0.2)) == "changed"  # worse within the noise
    assert decide(0.1, 1e-9, 1, "no paired test (scored on different units)") == "regression"  # tolerance alone
    assert decide(-0.1, 1e-9, -1, (-0.2, -0.05)) == "regression"  # higher is better
    assert decide(0.1, 1e-9, -1, (0.05, 0.2)) == "improvement"
    assert decide(5.0, 0.0, 0, (1.0, 9.0)) == "changed"  # no better side

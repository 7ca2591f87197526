"""Estimators on ml100k-semisynth through the runner (needs ML-100K from the recbole wheel)."""
from __future__ import annotations

import json

import pytest

from tests.conftest import cli, has_recbole

pytestmark = pytest.mark.skipif(not has_recbole(), reason="needs ML-100K from the recbole wheel")


def test_estimators_scored_against_ground_truth(tmp_path):
    out = tmp_path / "out"
    p = cli("run", "--dataset", "ml100k-semisynth", "--dataset-param", "n=4000", "--estimator", "zero-effect",
            "constant-ate", "naive-difference", "ipw", "linear-dml", "--seeds", "0", "--out", str(out), "-q")
    assert p.returncode == 0, p.stderr
    recs = {json.loads(f.read_text())["method"]["name"]: json.loads(f.read_text()) for f in out.rglob("record.json")}
    assert recs["linear-dml"]["dataset"] == "ml100k-semisynth[n=4000]"
    pehe = {k: r["metrics"]["pehe"] for k, r in recs.items()}
    assert pehe["linear-dml"] < pehe["constant-ate"] < pehe["zero-effect"]
    assert "ci_coverage" in recs["linear-dml"]["metrics"] and "ci_coverage" in recs["naive-difference"]["metrics"]
    assert "ci_coverage" in recs["zero-effect"]["skipped_metrics"]
    prov = recs["ipw"]["provenance"]
    assert prov["spec_version"] == "v1" and len(prov["generated_data_hash"]) == 16
    assert "## Causal estimation — ml100k-semisynth[n=4000]" in (out / "leaderboard.md").read_text()

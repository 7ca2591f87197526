"""A suite's ``tuned: true`` entry: the method is tuned on each seed's validation rows, then run with the best
params; the record names the study, the board shows tuned beside default, and a rerun reuses the study."""
from __future__ import annotations

import json

import pytest

from tests.conftest import assert_clean_error, cli, cli_here

pytest.importorskip("optuna")

SUITE = """
name: tuned-smoke
datasets: [smoke-reviews]
seeds: [0, 1]
methods:
  recommender: [bias, {name: bias, tuned: {trials: 3}}]
"""


def test_a_tuned_entry_runs_with_the_best_params_of_its_own_seed(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text(SUITE)
    p = cli("run", "--suite", str(suite), "--out", str(tmp_path / "o"), "-q")
    assert p.returncode == 0, p.stderr
    recs = {(r["method"]["label"], r["seed"]): r for r in
            (json.loads(f.read_text()) for f in (tmp_path / "o").rglob("record.json"))}
    assert set(recs) == {("bias", 0), ("bias", 1), ("bias[tuned]", 0), ("bias[tuned]", 1)}
    studies = set()
    for seed in (0, 1):
        t = recs[("bias[tuned]", seed)]["provenance"]["tuning"]
        studies.add(t["study"])
        assert t["split"]["seed"] == seed and t["split"]["hash"] == recs[("bias", seed)]["provenance"]["split"]["hash"]
        assert t["trials"] == 3 and t["metric"] == "rmse" and len(t["hash"]) == 64
        assert t["best_value"] <= t["default_value"]  # the defaults are the study's first trial
        params_file = tmp_path / "o" / "tuning" / t["params_file"]
        import yaml
        best = yaml.safe_load(params_file.read_text())["params"]
        assert {k: recs[("bias[tuned]", seed)]["method"]["params"][k] for k in best} == best
    assert len(studies) == 2  # one study per seed: no seed's params saw another seed's test rows as validation
    board = (tmp_path / "o" / "leaderboard.md").read_text()
    assert "**tuned vs default**" in board and "| bias     | rmse ↓   | 3 " in board
    # a second run: the finished studies are read back (no new trials) and the records reused
    again = cli_here("run", "--suite", str(suite), "--out", str(tmp_path / "o"))
    assert again.returncode == 0, again.stderr
    assert "4 reused" in again.stderr and "resuming study" in again.stderr and "; 0 to run" in again.stderr


@pytest.mark.parametrize("entry, what", [
    ("{name: most-pop, tuned: true}", "no parameters to tune"),
    ("{name: bias, tuned: {trials: 0}}", "tuned.trials: must be an integer >= 1"),
    ("{name: bias, tuned: {metric: bleu4}}", "belongs to the explain task"),
    ("{name: bias, tuned: yes-please}", "must be true, false or {trials: N, metric: KEY}"),
])
def test_a_bad_tuned_entry_is_refused_before_any_work(tmp_path, entry, what, request):
    suite = tmp_path / "s.yaml"
    suite.write_text(f"name: x\ndatasets: [smoke-reviews]\nmethods:\n  recommender: [{entry}]\n")
    run = cli if request.node.callspec.id.endswith("0]") or "most-pop" in entry else cli_here
    p = run("run", "--suite", str(suite), "--out", str(tmp_path / "o"))
    assert_clean_error(p, what)
    assert not (tmp_path / "o" / "runs").exists()

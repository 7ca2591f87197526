"""Runner: records, resume after a crash, failed runs, overwrite policies, rescoring, determinism."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import cli
from xrbench.api import Experiment
from xrbench.records import iter_records
from xrbench.rescore import rescore

CRASHY = '''
import os
import numpy as np
import xrbench
from xrbench.baselines.recommenders import Bias

@xrbench.register("recommender", "crashy")
class Crashy(Bias):
    """Kills the whole process (no cleanup) on seed 1 unless CRASHY_OK is set; raises on seed 7."""
    def fit(self, view):
        if view.seed == 1 and not os.environ.get("CRASHY_OK"):
            os._exit(9)
        if view.seed == 7:
            raise ValueError("broken on purpose")
        super().fit(view)
'''


def _records(out: Path) -> dict[tuple[str, int], dict]:
    return {(r.method.name, r.seed): r for _, r in iter_records(out)}


def test_resume_after_a_hard_crash_loses_and_duplicates_nothing(tmp_path, amazon2014):
    plugin = tmp_path / "crashy.py"
    plugin.write_text(CRASHY)
    out = tmp_path / "out"
    args = ["run", "--dataset", "amazon-2014-5core", "--data-path", str(amazon2014), "--recommender", "crashy",
            "--seeds", "0", "1", "2", "--out", str(out), "--plugin", str(plugin), "-q"]
    first = cli(*args)
    assert first.returncode == 9  # died mid-suite, after seed 0
    recs = list(out.rglob("record.json"))
    assert len(recs) == 1 and json.loads(recs[0].read_text())["seed"] == 0
    mtime = recs[0].stat().st_mtime_ns
    second = cli(*args, env={"CRASHY_OK": "1"})
    assert second.returncode == 0, second.stderr
    assert "1 reused" in second.stderr
    recs = sorted(out.rglob("record.json"))
    assert [json.loads(p.read_text())["seed"] for p in recs] == [0, 1, 2]
    assert (out / "runs/amazon-2014-5core/recommender/crashy/seed-0/record.json").stat().st_mtime_ns == mtime
    assert not list(out.rglob("*.tmp"))


def test_failed_run_is_recorded_and_the_suite_goes_on(tmp_path, amazon2014):
    plugin = tmp_path / "crashy.py"
    plugin.write_text(CRASHY)
    out = tmp_path / "out"
    args = ["run", "--dataset", "amazon-2014-5core", "--data-path", str(amazon2014), "--recommender", "crashy",
            "bias", "--seeds", "7", "--out", str(out), "--plugin", str(plugin), "-q"]
    proc = cli(*args)
    assert proc.returncode == 1
    assert "run failed: amazon-2014-5core crashy seed 7: ValueError: broken on purpose" in proc.stderr
    recs = _records(out)
    assert recs[("crashy", 7)].status == "failed" and "broken on purpose" in recs[("crashy", 7)].error
    assert recs[("bias", 7)].status == "ok"
    board = (out / "leaderboard.md").read_text()
    assert "crashy" in board and "seed 7 failed (ValueError: broken on purpose)" in board
    # --overwrite failed reruns only the failed one (still failing here), and keeps the ok one
    ok_mtime = next(out.rglob("bias/seed-7/record.json")).stat().st_mtime_ns
    again = cli(*args, "--overwrite", "failed")
    assert again.returncode == 1 and "1 reused" in again.stderr
    assert next(out.rglob("bias/seed-7/record.json")).stat().st_mtime_ns == ok_mtime


def test_experiment_api_records_provenance_and_rescore(tmp_path, amazon2014):
    exp = Experiment(datasets=["amazon-2014-5core"], recommenders=["bias", ("biased-mf", {"max_epochs": 3})],
                     explainers=["template"], seeds=[0])
    records = exp.run(tmp_path / "out", data_path=[f"amazon-2014-5core={amazon2014}"], progress=False)
    assert {r.method.label for r in records} == {"bias", "biased-mf[max_epochs=3]", "template"}
    rec = next(r for r in records if r.method.name == "bias")
    prov = rec.provenance
    for key in ("schema_version", "xrbench_version", "python", "packages", "dataset", "split", "device", "wall_s",
                "peak_rss_mb"):
        assert key in prov
    assert prov["dataset"]["file_hash"] and len(prov["split"]["hash"]) == 16
    assert set(rec.units) == {"predictions.csv.gz", "rankings.json.gz"}
    assert 0 < rec.metrics["rmse"] < 3 and "ndcg@10" in rec.metrics
    assert "## Recommendation — amazon-2014-5core" in exp.leaderboard()
    # metrics recompute from the saved per-unit outputs alone, to the same values
    assert rescore(tmp_path / "out") == 0
    # tamper with a saved prediction: rescore notices and rewrites the record
    import gzip
    p = next((tmp_path / "out").rglob("bias/seed-0/predictions.csv.gz"))
    lines = gzip.decompress(p.read_bytes()).decode().splitlines()
    head, row = lines[0], lines[1].split(",")
    row[-1] = "1.0" if float(row[-1]) > 3 else "5.0"
    p.write_bytes(gzip.compress(("\n".join([head, ",".join(row), *lines[2:]]) + "\n").encode()))
    assert rescore(tmp_path / "out") == 1


def test_same_command_twice_gives_identical_metrics(tmp_path, amazon2014):
    a = cli("run", "--dataset", "amazon-2014-5core", "--data-path", str(amazon2014), "--recommender", "biased-mf",
            "item-knn", "--explainer", "template", "retrieval", "--seeds", "0", "1", "--out", str(tmp_path / "a"), "-q")
    b = cli("run", "--dataset", "amazon-2014-5core", "--data-path", str(amazon2014), "--recommender", "biased-mf",
            "item-knn", "--explainer", "template", "retrieval", "--seeds", "0", "1", "--out", str(tmp_path / "b"), "-q")
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    from xrbench.metrics import info

    def results(folder):  # costs (wall time, memory, tokens/s) are measurements of the machine, not results
        return {(k, s): {m: v for m, v in r.metrics.items() if info(m).group != "cost"}
                for (k, s), r in _records(folder).items()}
    ma, mb = results(tmp_path / "a"), results(tmp_path / "b")
    assert ma == mb and len(ma) == 8 and all(ma.values())


def test_a_runs_peak_memory_is_its_own(tmp_path):
    """The high-water mark is reset when a run starts: memory an earlier run used is not charged to it."""
    import sys

    from xrbench import provenance

    if not sys.platform.startswith("linux") or not provenance.reset_peak_rss():
        pytest.skip("resetting the peak resident memory needs Linux /proc/self/clear_refs")
    big = bytearray(300 * 1024 * 1024)
    big[::4096] = b"x" * len(big[::4096])  # touch every page
    before = provenance.peak_rss_mb()
    del big
    start = provenance.start_measuring()
    assert start["peak_rss_scope"] == "run" and start["load_avg_start"] is not None
    after = provenance.finish_measuring()
    assert after["peak_rss_mb"] < before - 250 and after["cpu_count"] >= 1


def test_a_param_added_since_a_record_at_its_default_keeps_the_record(tmp_path):
    """A record written before a param existed (it lacks the param) is reused while the run leaves the param at
    its default; a record whose param value differs from this run's is rerun."""
    out = tmp_path / "out"
    args = ["run", "--dataset", "smoke-reviews", "--recommender", "bias", "--seeds", "0", "--out", str(out)]
    assert cli(*args, "-q").returncode == 0
    (path,) = out.rglob("record.json")
    rec = json.loads(path.read_text())
    dropped = sorted(rec["method"]["params"])[0]
    del rec["method"]["params"][dropped]  # as an older xrbench, without this param, wrote it
    path.write_text(json.dumps(rec))
    again = cli(*args, "-q")
    assert again.returncode == 0 and "1 reused" in again.stderr, again.stderr
    assert dropped not in json.loads(path.read_text())["method"]["params"]  # the record itself was kept
    rec["method"]["params"][dropped] = "not the default"
    path.write_text(json.dumps(rec))
    third = cli(*args)
    assert third.returncode == 0 and "1 reused" not in third.stderr
    assert "its params differ" in third.stderr
    assert json.loads(path.read_text())["method"]["params"][dropped] != "not the default"

"""Runs as a careless or hostile user drives them: colliding labels, stale records, non-finite numbers,
broken plugins, a broken generation cache, leftovers of killed runs, machine paths in records."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import assert_clean_error, cli, cli_here
from xrbench.specs import folder_name

PLUGIN = '''
import os
import numpy as np
import xrbench
from xrbench.extend import MetricValue, Recommender, metric

@xrbench.register("recommender", "plug-mf")
class PlugMF(Recommender):
    @classmethod
    def default_params(cls):
        return {{"dim": {dim}}}

    def fit(self, view):
        if os.environ.get("PLUG_FAIL_DISK"):
            raise OSError(28, "No space left on device")
        self.mu = float(view.train["rating"].mean())

    def predict(self, users, items):
        return np.full(len(users), self.mu)

@metric("plug_nan_interval", task="recommend", default=False)
def plug_nan_interval(out):
    """a metric whose interval is not a number"""
    return MetricValue(0.5, (float("nan"), 1.0))
'''


def plugin(tmp_path: Path, dim: int = 16) -> Path:
    f = tmp_path / "plug.py"
    f.write_text(PLUGIN.format(dim=dim))
    return f


def run(tmp_path: Path, data: Path, *args: str, env: dict | None = None):
    return cli("run", "--dataset", "ml-100k", "--data-path", str(data), "--out", str(tmp_path / "out"), "-q", *args,
               env=env)


def records(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.rglob("record.json"))]


BIAS0 = Path("runs/ml-100k/recommender/bias/seed-0")


@pytest.fixture
def bias_out(ml_bias_runs, tmp_path) -> Path:
    """``tmp_path/out``: a copy (the test's to edit) of conftest's ``ml_bias_runs``, the session's one real
    ``run --recommender bias most-pop --seeds 0 1`` on ``shared_grouplens``; a test's first
    ``run(tmp_path, shared_grouplens, "--recommender", "bias")`` would have made its bias seed-0 record."""
    shutil.copytree(ml_bias_runs, tmp_path / "out")
    return tmp_path / "out"


@pytest.fixture(scope="module")
def plug_runs(tmp_path_factory, shared_grouplens) -> Path:
    """One real ``run --recommender plug-mf --plugin plug.py`` (dim 16), made once for this module, only read
    (a test copies its ``out`` and writes its own ``plug.py``: the same bytes, so the same code sha256)."""
    from tests.conftest import isolated_env

    where = tmp_path_factory.mktemp("plug-runs")
    p = run(where, shared_grouplens, "--recommender", "plug-mf", "--plugin", str(plugin(where, 16)),
            env=isolated_env(tmp_path_factory))  # (set up before the autouse fixture that sets these for a test)
    assert p.returncode == 0, p.stderr
    return where / "out"


def copy_of(runs: Path, tmp_path: Path) -> Path:
    shutil.copytree(runs, tmp_path / "out")
    return tmp_path / "out"


# -- run folders --------------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=40), min_size=2, max_size=6, unique=True))
def test_folder_names_are_one_to_one_and_single_components(labels):
    names = [folder_name(x) for x in labels]
    assert len(set(names)) == len(names)
    for n in names:
        assert n not in (".", "..") and "/" not in n and "\0" not in n and not n.startswith(".")
        assert len(n.encode("utf-8")) <= 255 and n.isascii()


def test_labels_the_old_sanitiser_merged_get_their_own_folders():
    labels = ["a|b", "a_b", "a/b", "a b", "é", "ü", "..", "."]
    assert len({folder_name(x) for x in labels}) == len(labels)
    assert folder_name("llm-few-shot[backbone=gemma3-270m,batch_size=32]") == "llm-few-shot[backbone=gemma3-270m,batch_size=32]"


# -- reuse only the same run -----------------------------------------------------------------------------
def test_a_changed_default_param_reruns_and_says_why(tmp_path, shared_grouplens, plug_runs):
    grouplens_dir = shared_grouplens  # the data of the first run (plug_runs), as before the shared fixture
    copy_of(plug_runs, tmp_path)  # the first run: plug-mf, dim 16
    (rec,) = records(tmp_path / "out")
    assert rec["method"]["params"] == {"dim": 16}
    src = rec["provenance"]["method_source"]
    assert src["class"] == "PlugMF" and src["file"] == "plug.py" and len(src["sha256"]) == 64
    again = run(tmp_path, grouplens_dir, "--recommender", "plug-mf", "--plugin", str(plugin(tmp_path, 16)))
    assert "1 reused" in again.stderr
    changed = run(tmp_path, grouplens_dir, "--recommender", "plug-mf", "--plugin", str(plugin(tmp_path, 32)))
    assert changed.returncode == 0 and "0 reused" in changed.stderr and "dim: 16 -> 32" in changed.stderr
    (rec,) = records(tmp_path / "out")
    assert rec["method"]["params"] == {"dim": 32}


def test_a_record_of_other_options_or_data_is_not_reused(tmp_path, shared_grouplens, bias_out):
    grouplens_dir = shared_grouplens  # bias_out: the first run, ``--recommender bias`` on this data
    p = run(tmp_path, grouplens_dir, "--recommender", "bias", "--k", "5")
    assert "0 reused" in p.stderr and "options differs" in p.stderr
    path = bias_out / BIAS0 / "record.json"  # the record the run above wrote
    rec = json.loads(path.read_text())
    rec["provenance"]["dataset"]["file_hash"] = "0" * 64  # a record of another file
    path.write_text(json.dumps(rec))
    p = run(tmp_path, grouplens_dir, "--recommender", "bias", "--k", "5")
    assert "0 reused" in p.stderr and "data file hash differs" in p.stderr


# -- non-finite numbers, environment failures ---------------------------------------------------------------
def test_a_non_finite_interval_is_a_failed_run_and_the_suite_goes_on(tmp_path, grouplens_dir):
    p = run(tmp_path, grouplens_dir, "--recommender", "plug-mf", "bias", "--plugin", str(plugin(tmp_path)),
            "--metrics", "rmse", "plug_nan_interval")
    assert p.returncode == 1 and "Traceback" not in p.stderr
    recs = {r["method"]["name"]: r for r in records(tmp_path / "out")}
    assert recs["bias"]["status"] == "failed" and "non-finite" in recs["bias"]["error"]
    assert recs["plug-mf"]["status"] == "failed"


def test_an_environment_failure_never_replaces_an_ok_record(tmp_path, shared_grouplens, plug_runs):
    grouplens_dir = shared_grouplens
    plug = str(plugin(tmp_path))
    copy_of(plug_runs, tmp_path)  # the ok record of plug-mf
    p = run(tmp_path, grouplens_dir, "--recommender", "plug-mf", "--plugin", plug, "--overwrite", "always",
            env={"PLUG_FAIL_DISK": "1"})
    assert p.returncode == 1 and "No space left on device" in p.stderr and "is kept" in p.stderr
    (rec,) = records(tmp_path / "out")
    assert rec["status"] == "ok"


# -- leftovers and paths ------------------------------------------------------------------------------
def test_leftover_temporaries_are_removed_and_outputs_follow_the_umask(tmp_path, shared_grouplens, bias_out):
    grouplens_dir = shared_grouplens  # bias_out: the first run (copied with its files' modes)
    folder = bias_out / BIAS0
    (folder / ".record.json.x1y2.tmp").write_text("{")
    (tmp_path / "out" / ".leaderboard.md.a1.tmp").write_text("half")
    assert run(tmp_path, grouplens_dir, "--recommender", "bias").returncode == 0
    assert not list((tmp_path / "out").rglob("*.tmp"))
    mode = stat.S_IMODE(os.stat(folder / "record.json").st_mode)
    assert mode == 0o666 & ~0o022, oct(mode)  # the test process runs with umask 022


def test_records_hold_no_machine_paths(ml_bias_runs, shared_grouplens):
    # the session's run: its results folder and its data lie in temporary folders of their own
    for path in sorted(ml_bias_runs.rglob("record.json")):
        text = path.read_text()
        for where in (ml_bias_runs.parent, shared_grouplens.parent):
            assert str(where) not in text, (path, where)
        assert str(Path.home()) + "/" not in text
        assert json.loads(text)["provenance"]["dataset"]["file_hash"]


def test_an_incompatible_pair_is_refused_before_the_data_is_generated(tmp_path):
    cache = tmp_path / "cache"
    p = cli("run", "--dataset", "ml100k-semisynth", "--recommender", "bias", "--out", str(tmp_path / "out"),
            env={"XRBENCH_CACHE": str(cache)})
    assert_clean_error(p, "needs ratings", "ml100k-semisynth")
    assert not (cache / "semisynth").exists() and not (tmp_path / "out").exists()


# -- plugins ---------------------------------------------------------------------------------------------
def broken_entry_point(tmp_path: Path) -> dict:
    site = tmp_path / "site"
    dist = site / "brokenplug-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenplug\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[xrbench.plugins]\nbroken-rec = brokenplug_mod\n")
    (site / "brokenplug_mod.py").write_text("raise ImportError('this plugin is broken')\n")
    return {"PYTHONPATH": str(site), "XRBENCH_NO_ENTRY_POINTS": ""}


def test_a_broken_entry_point_is_one_warning_unless_named(tmp_path):
    env = broken_entry_point(tmp_path)
    p = cli("list", "recommender", env=env)
    assert p.returncode == 0 and "bias" in p.stdout
    warnings = [x for x in p.stderr.splitlines() if "broken-rec" in x]
    assert len(warnings) == 1 and "left out" in warnings[0] and "Traceback" not in p.stderr
    named = cli("run", "--dataset", "ml-100k", "--recommender", "broken-rec", "--out", str(tmp_path / "o"), env=env)
    assert_clean_error(named, "broken-rec", "this plugin is broken")


# -- the generation cache -----------------------------------------------------------------------------------
def test_a_corrupt_or_foreign_generation_cache_is_moved_aside_and_rebuilt(tmp_path, caplog):
    from xrbench.generation import GenerationCache

    path = tmp_path / "generations.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    c = GenerationCache(path)
    c.put("m", "p", "s", "text", 3, 0.1)
    c.commit()
    assert c.get("m", "p", "s") == ("text", 3)
    assert len(list(tmp_path.glob("generations.sqlite.corrupt-*"))) == 1
    c.db.close()
    path.unlink()
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE gen (a TEXT)")  # another program's table of that name
    db.commit()
    db.close()
    c = GenerationCache(path)
    assert c.get("m", "p", "s") is None and len(list(tmp_path.glob("generations.sqlite.corrupt-*"))) >= 1


def test_a_locked_generation_cache_names_the_file(tmp_path):
    from xrbench.errors import XRBenchError
    from xrbench.generation import GenerationCache

    path = tmp_path / "generations.sqlite"
    GenerationCache(path).db.close()
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    with pytest.raises(XRBenchError, match=str(path)):
        GenerationCache(path, timeout=0.2)
    holder.rollback()
    holder.close()



def test_an_unreachable_hub_backbone_fails_fast_offline(tmp_path, grouplens_dir):
    p = cli("run", "--dataset", "ml-100k", "--data-path", str(grouplens_dir), "--explainer", "llm-zero-shot",
            "--param", "backbone=someorg/no-such-model", "--out", str(tmp_path / "out"),
            env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
    assert_clean_error(p, "someorg/no-such-model", "offline")
    assert not (tmp_path / "out").exists()


def test_quiet_silences_generation_progress_bars(monkeypatch):
    from xrbench import cli as xcli
    from xrbench import generation

    monkeypatch.setattr(generation, "SHOW_PROGRESS", True)
    with pytest.raises(Exception):  # stops at the missing dataset, after -q took effect
        xcli.cmd_run(xcli.parser().parse_args(["run", "--dataset", "no-such", "--recommender", "bias", "-q"]))
    assert generation.SHOW_PROGRESS is False


# -- results that cannot be written, records that cannot be read ------------------------------------------------
def test_a_directory_where_the_record_belongs_is_one_line(tmp_path, grouplens_dir):
    folder = tmp_path / "out" / "runs" / "ml-100k" / "recommender" / "bias" / "seed-0"
    (folder / "record.json").mkdir(parents=True)
    assert_clean_error(run(tmp_path, grouplens_dir, "--recommender", "bias"), "record.json")


def test_an_out_path_under_a_file_is_one_line(tmp_path, grouplens_dir):
    (tmp_path / "afile").write_text("x")
    p = cli("run", "--dataset", "ml-100k", "--data-path", str(grouplens_dir), "--recommender", "bias",
            "--out", str(tmp_path / "afile" / "out"), "-q")
    assert_clean_error(p, "afile")


def test_corrupt_records_and_unit_files_are_named_or_skipped(bias_out):
    out = bias_out  # a real run of bias and most-pop
    bad = out / "runs" / "ml-100k" / "recommender" / "bias" / "seed-0"
    (bad / "predictions.csv.gz").write_bytes(b"\x1f\x8b garbage")
    assert_clean_error(cli("rescore", str(out)), "bias", "unit files", "--skip-bad")
    # (the commands after the first: the same main in this process, faster)
    p = cli_here("rescore", str(out), "--skip-bad")
    assert p.returncode == 0 and "left out" in p.stderr
    (bad / "record.json").write_text('{"dataset": ')
    assert_clean_error(cli_here("leaderboard", str(out)), "record.json", "--skip-bad")
    p = cli_here("leaderboard", str(out), "--skip-bad")
    assert p.returncode == 0 and "most-pop" in p.stdout and "left out" in p.stderr


@settings(max_examples=80, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=6), max_leaves=30)))
def test_the_record_reader_never_crashes(tmp_path_factory, blob):
    """Arbitrary bytes or JSON where a record belongs: a RunRecord or one DataError naming the file."""
    from xrbench.errors import DataError
    from xrbench.records import read_record

    path = tmp_path_factory.mktemp("rec") / "record.json"
    path.write_bytes(blob if isinstance(blob, bytes) else json.dumps(blob).encode())
    try:
        read_record(path)
    except DataError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)


def test_a_corrupt_record_in_out_is_run_again(tmp_path, shared_grouplens, bias_out):
    grouplens_dir = shared_grouplens  # bias_out: the first run, ``--recommender bias`` on this data
    path = bias_out / BIAS0 / "record.json"
    path.write_text('{"dataset": ')
    p = run(tmp_path, grouplens_dir, "--recommender", "bias")
    assert p.returncode == 0 and "running it again" in p.stderr and "Traceback" not in p.stderr
    assert json.loads(path.read_text())["status"] == "ok"

"""``xrbench tune``: a study resumes after kill -9 without repeating a finished trial, no objective can reach a
test row, the same seed gives the same best params, the params file goes into a run and its record's
provenance, and bad search spaces are refused in one line."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import xrbench  # noqa: E402
from xrbench.baselines.recommenders import Bias  # noqa: E402
from xrbench.data import movielens  # noqa: E402
from xrbench.data.split import make_split  # noqa: E402
from xrbench.tune import read_params_file, tune, tuning_data  # noqa: E402

from conftest import assert_clean_error, cli, cli_for, cli_here  # noqa: E402

BIAS_SPACE = "reg_user: {type: float, low: 0.5, high: 50, log: true}\nreg_item: {type: float, low: 0.5, high: 50, log: true}\n"

SLOW_PLUGIN = '''
import os
import time

import xrbench
from xrbench.baselines.recommenders import Bias


@xrbench.register("recommender", "tune-slow-bias")
class SlowBias(Bias):
    """Bias whose fit takes a moment, and hangs while the file $TUNE_HANG exists (so a test can kill a trial)."""

    def fit(self, view):
        time.sleep(0.3)
        while os.environ.get("TUNE_HANG") and os.path.exists(os.environ["TUNE_HANG"]):
            time.sleep(0.05)
        super().fit(view)
'''


def _trials(db: Path) -> list[tuple]:
    """(number, state, params, value, start) of every trial in a study file, read with sqlite3 alone."""
    c = sqlite3.connect(db)
    try:
        rows = c.execute("SELECT trial_id, number, state, datetime_start FROM trials ORDER BY number").fetchall()
        params: dict = {}
        for tid, name, value in c.execute("SELECT trial_id, param_name, param_value FROM trial_params"):
            params.setdefault(tid, {})[name] = value
        values = dict(c.execute("SELECT trial_id, value FROM trial_values").fetchall())
    finally:
        c.close()
    return [(n, s, params.get(tid, {}), values.get(tid), start) for tid, n, s, start in rows]


def test_a_killed_study_resumes_without_repeating_a_finished_trial(tmp_path):
    plugin = tmp_path / "slow.py"
    plugin.write_text(SLOW_PLUGIN, encoding="utf-8")
    space = tmp_path / "space.yaml"
    space.write_text(BIAS_SPACE, encoding="utf-8")
    hang = tmp_path / "hang"
    n = 7

    def args(study_dir: Path) -> list[str]:
        return ["tune", "--plugin", str(plugin), "--dataset", "smoke-reviews", "--recommender", "tune-slow-bias",
                "--space", str(space), "--trials", str(n), "--study-dir", str(study_dir), "-q"]

    study_dir = tmp_path / "studies"
    env = {**os.environ, "TUNE_HANG": str(hang)}
    proc = subprocess.Popen([sys.executable, "-m", "xrbench.cli", *args(study_dir)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        killed = False
        while time.monotonic() < deadline and proc.poll() is None:
            dbs = list(study_dir.glob("*.db"))
            try:
                states = [t[1] for t in _trials(dbs[0])] if dbs else []
            except sqlite3.OperationalError:  # the study's tables are being made
                states = []
            if states.count("COMPLETE") >= 3 and not hang.exists():
                hang.touch()  # the next fit hangs: its trial stays RUNNING until the kill
            if hang.exists() and "RUNNING" in states:
                time.sleep(0.3)
                proc.send_signal(signal.SIGKILL)
                proc.wait(30)
                killed = True
                break
            time.sleep(0.05)
        assert killed, f"the study ended before it could be killed: {proc.communicate()}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    (db,) = study_dir.glob("*.db")
    before = _trials(db)
    done_before = [t for t in before if t[1] == "COMPLETE"]
    running = [t for t in before if t[1] == "RUNNING"]
    assert len(done_before) >= 3 and len(running) == 1, before
    assert len(done_before) < n

    hang.unlink()
    p = cli(*args(study_dir), env={"TUNE_HANG": str(hang)})
    assert p.returncode == 0, p.stderr
    assert f"{len(done_before)} finished trial(s) kept, 1 interrupted trial(s) marked failed" in p.stderr, p.stderr
    after = _trials(db)
    complete = [t for t in after if t[1] == "COMPLETE"]
    assert len(complete) == n
    assert complete[:len(done_before)] == done_before  # kept as they were (params, value, start time)
    assert {t[0]: t[1] for t in after}[running[0][0]] == "FAIL"  # the killed trial: failed, not counted
    new = [t for t in after if t[0] > running[0][0]]
    assert len(new) == n - len(done_before)  # only the missing trials ran
    assert yaml.safe_load(next(study_dir.glob("*.params.yaml")).read_text())["tuning"]["trials"] == n

    # the study is the one an uninterrupted run with the same seed makes: same params, trial by trial
    p = cli(*args(tmp_path / "uninterrupted"))
    assert p.returncode == 0, p.stderr
    (db2,) = (tmp_path / "uninterrupted").glob("*.db")
    assert [(t[2], t[3]) for t in _trials(db2)] == [(t[2], t[3]) for t in complete]


RECORDED: dict[str, set] = {"fit": set(), "predict": set(), "scored_users": set()}


@xrbench.register("recommender", "tune-peek-recorder")
class Recorder(Bias):
    """Records every (user, item) it is fitted on or asked to predict, and every user it ranks items for."""

    def fit(self, view):
        for part in (view.train, view.valid):
            RECORDED["fit"].update(zip(part["user"], part["item"]))
        super().fit(view)

    def predict(self, users, items):
        RECORDED["predict"].update(zip(self.view.user_ids[users], self.view.item_ids[items]))
        return super().predict(users, items)

    def scores(self, users):
        RECORDED["scored_users"].update(self.view.user_ids[users])
        return super().scores(users)


@pytest.mark.parametrize("metric", ["rmse", "ndcg@10"])
def test_no_test_row_reaches_the_objective(tmp_path, shared_grouplens, metric):
    full = movielens.load(path=shared_grouplens)
    split = make_split(full, "random", 0)
    pairs = lambda rows: set(zip(full.interactions["user"].iloc[rows], full.interactions["item"].iloc[rows]))  # noqa: E731
    test, valid, train = pairs(split.test), pairs(split.valid), pairs(split.train)
    assert test and not test & (valid | train)

    # the tuning dataset has the train and validation rows of the split, and no test row
    data = tuning_data(full, "random", 0)
    inter = data.data.interactions
    assert set(zip(inter["user"], inter["item"])) == train | valid
    assert not data.data.folds
    fit_rows, carve, scored = (set(zip(inter["user"].iloc[r], inter["item"].iloc[r]))
                               for r in (data.split.train, data.split.valid, data.split.test))
    assert fit_rows | carve == train and not fit_rows & carve and scored == valid

    for v in RECORDED.values():
        v.clear()
    space = tmp_path / "space.yaml"
    space.write_text(BIAS_SPACE, encoding="utf-8")
    tune("ml-100k", "tune-peek-recorder", trials=4, metric=metric, space=str(space), seed=0,
         study_dir=tmp_path / "st", data_path=[str(shared_grouplens)], progress=False)
    assert RECORDED["fit"] and RECORDED["predict"]
    assert not RECORDED["fit"] & test and not RECORDED["predict"] & test
    assert RECORDED["fit"] <= train  # fitted on train rows (and early-stopped on a carve of them) ...
    assert RECORDED["predict"] <= valid  # ... scored on the validation rows
    if metric == "ndcg@10":
        assert RECORDED["scored_users"] <= {u for u, _ in valid}


def test_same_seed_gives_the_same_study_and_best_params(tmp_path, shared_grouplens):
    kw = dict(trials=5, metric="rmse", data_path=[str(shared_grouplens)], progress=False)
    a = tune("ml-100k", "bias", seed=0, study_dir=tmp_path / "a", **kw)
    b = tune("ml-100k", "bias", seed=0, study_dir=tmp_path / "b", **kw)
    assert a.study == b.study and a.params == b.params and a.best_value == b.best_value and a.hash == b.hash
    assert a.params_file.read_text().replace(str(a.wall_s), "") != ""  # (written; wall times differ)
    fa, fb = read_params_file(str(a.params_file)), read_params_file(str(b.params_file))
    assert fa.params == fb.params and fa.tuning["hash"] == fb.tuning["hash"]
    c = tune("ml-100k", "bias", seed=1, study_dir=tmp_path / "a", **kw)
    assert c.study != a.study and c.hash != a.hash
    again = tune("ml-100k", "bias", seed=0, study_dir=tmp_path / "a", **kw)  # finished: nothing runs
    assert again.ran == 0 and again.resumed == 5 and again.hash == a.hash and again.params == a.params


def test_the_params_file_sets_a_run_and_its_provenance(tmp_path, shared_grouplens):
    r = tune("ml-100k", "bias", trials=4, study_dir=tmp_path / "st", out=tmp_path / "bias.params.yaml",
             data_path=[str(shared_grouplens)], progress=False)
    f = read_params_file(str(tmp_path / "bias.params.yaml"))
    assert f.method == "bias" and f.params == r.params
    assert f.tuning["hash"] == r.hash and f.tuning["trials"] == 4 and f.tuning["scored_on"] == "validation"
    assert f.tuning["best_value"] == r.best_value and f.tuning["wall_s"] >= 0

    out = tmp_path / "out"
    p = cli_here("run", "--dataset", "ml-100k", "--data-path", str(shared_grouplens), "--recommender", "bias",
                 "most-pop", "--params-file", str(tmp_path / "bias.params.yaml"), "--out", str(out), "-q")
    assert p.returncode == 0, p.stderr
    (path,) = out.glob("runs/ml-100k/recommender/bias*/seed-0/record.json")
    rec = json.loads(path.read_text())
    assert {k: rec["method"]["params"][k] for k in r.params} == r.params
    tuning = rec["provenance"]["tuning"]
    assert tuning["hash"] == r.hash and tuning["trials"] == 4 and tuning["wall_s"] == r.wall_s
    assert tuning["params_file"] == "bias.params.yaml" and tuning["metric"] == "rmse"
    (pop,) = out.glob("runs/ml-100k/recommender/most-pop/seed-0/record.json")
    assert "tuning" not in json.loads(pop.read_text())["provenance"]  # the file sets its own method only
    p = cli_here("validate", str(out), "--data-path", str(shared_grouplens))
    assert p.returncode == 0, p.stdout + p.stderr

    # --param for a key of the file, a file for a method the run does not name, a suite: refused in one line
    p = cli("run", "--dataset", "ml-100k", "--data-path", str(shared_grouplens), "--recommender", "bias",
            "--param", "reg_user=3", "--params-file", str(tmp_path / "bias.params.yaml"), "--out", str(out), "-q")
    assert p.returncode == 2
    assert_clean_error(p, "--param reg_user=... and --params-file", "give it once")
    p = cli_here("run", "--dataset", "ml-100k", "--recommender", "global-mean", "--params-file",
                 str(tmp_path / "bias.params.yaml"), "--out", str(out))
    assert p.returncode == 2
    assert_clean_error(p, "recommender 'bias', which this run does not name")
    p = cli_here("run", "--suite", "smoke", "--params-file", str(tmp_path / "bias.params.yaml"), "--out", str(out))
    assert p.returncode == 2
    assert_clean_error(p, "--params-file applies to an ad-hoc run")


def test_the_epoch_callback_reports_each_epoch_and_changes_nothing(shared_grouplens):
    from xrbench.baselines.mf import BiasedMF
    from xrbench.baselines.training import EPOCH_CALLBACK
    from xrbench.view import TrainView

    full = movielens.load(path=shared_grouplens)
    view = TrainView.build(full, make_split(full, "random", 0), 0)
    plain = BiasedMF(dim=4, max_epochs=6)
    plain.bind(view)
    plain.fit(view)
    seen: list[tuple[int, float]] = []
    token = EPOCH_CALLBACK.set(lambda epoch, rmse: seen.append((epoch, rmse)))
    try:
        observed = BiasedMF(dim=4, max_epochs=6)
        observed.bind(view)
        observed.fit(view)
    finally:
        EPOCH_CALLBACK.reset(token)
    assert seen == list(enumerate(plain.history)) and observed.history == plain.history
    assert np.array_equal(observed.P, plain.P) and np.array_equal(observed.bi, plain.bi)

    class Pruned(Exception):
        pass

    def prune(epoch, rmse):
        if epoch == 1:
            raise Pruned
    token = EPOCH_CALLBACK.set(prune)
    try:
        with pytest.raises(Pruned):
            BiasedMF(dim=4, max_epochs=6).fit(view)
    finally:
        EPOCH_CALLBACK.reset(token)


BAD_SPACES = [
    ("dim: {type: int, low: 8, high: 64}", "unknown param(s) ['dim'] of recommender 'bias'"),
    ("reg_user: {type: float, low: 5, high: 1}", "low (5.0) must be less than high (1.0)"),
    ("reg_user: {type: float, low: 0, high: 1, log: true}", "a log-scale range needs low > 0"),
    ("reg_user: {type: normal, low: 0, high: 1}", "type must be one of float, int, categorical"),
    ("reg_user: {type: float, low: -1, high: 1}", "low must be a number >= 0"),
    ("iters: {type: float, low: 1, high: 5}", "use type: int"),
    ("iters: {type: int, low: 1.5, high: 5}", "low must be an integer"),
    ("reg_user: {type: float, low: 1}", "'high' is missing"),
    ("reg_user: {type: float, low: 1, high: 2, step: 1}", "unknown key(s) ['step']"),
    ("iters: {type: categorical, choices: []}", "choices must be a non-empty list"),
    ("iters: {type: categorical, choices: [5, 0]}", "a choice must be an integer >= 1"),
    ("[reg_user, reg_item]", "a search space is a non-empty YAML mapping"),
    ("reg_user: [1, 2]", "param 'reg_user': must be a mapping"),
]


@pytest.mark.parametrize("text,needle", BAD_SPACES)
def test_a_bad_search_space_is_refused_in_one_line(request, tmp_path, text, needle):
    space = tmp_path / "space.yaml"
    space.write_text(text + "\n", encoding="utf-8")
    p = cli_for(request)("tune", "--dataset", "smoke-reviews", "--recommender", "bias", "--space", str(space),
                         "--trials", "2", "--study-dir", str(tmp_path / "st"))
    assert p.returncode == 2
    assert_clean_error(p, str(space), needle)
    assert not (tmp_path / "st").exists()  # refused before any study is made


@pytest.mark.parametrize("args,needle", [
    (["--recommender", "global-mean"], "recommender 'global-mean' has no parameters to tune"),
    (["--recommender", "most-pop"], "recommender 'most-pop' has no parameters to tune"),
    (["--recommender", "bias", "--metric", "rmsee"], "rmsee"),
    (["--recommender", "bias", "--metric", "bleu4"], "belongs to the explain task"),
    (["--recommender", "bias", "--trials", "0"], "--trials must be an integer >= 1"),
])
def test_what_cannot_be_tuned_is_refused_in_one_line(request, tmp_path, args, needle):
    base = ["tune", "--dataset", "smoke-reviews", "--trials", "2", "--study-dir", str(tmp_path / "st")]
    p = cli_for(request)(*base, *args)
    assert p.returncode == 2
    assert_clean_error(p, needle)
    assert not (tmp_path / "st").exists()


def test_a_method_without_a_shipped_space_needs_one(tmp_path):
    plugin = tmp_path / "slow.py"
    plugin.write_text(SLOW_PLUGIN, encoding="utf-8")
    p = cli("tune", "--plugin", str(plugin), "--dataset", "smoke-reviews", "--recommender", "tune-slow-bias",
            "--trials", "2", "--study-dir", str(tmp_path / "st"))
    assert p.returncode == 2
    assert_clean_error(p, "no default search space for recommender 'tune-slow-bias'; pass --space FILE")
    assert not (tmp_path / "st").exists()

"""The local process executor (``xrbench run --executor process --jobs N``): the same records as the sequential
executor on real data, a dead worker is one clear error that keeps what finished, and its flags are checked."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import assert_clean_error, cli, has_recbole
from xrbench.compare import is_cost
from xrbench.records import RECORD_FILE

pytestmark = pytest.mark.skipif(not has_recbole(), reason="ML-100K comes from the RecBole wheel")

RUN = ["run", "--dataset", "ml-100k", "--recommender", "bias", "item-knn", "--seeds", "0", "1", "-q"]


def _results(out: Path) -> dict[str, dict]:
    def keep(d):
        return {k: v for k, v in (d or {}).items() if not is_cost(k)}
    recs = {str(p.relative_to(out)): json.loads(p.read_text(encoding="utf-8")) for p in out.rglob(RECORD_FILE)}
    return {k: {"status": r["status"], "metrics": keep(r["metrics"]), "intervals": keep(r.get("intervals")),
                "bootstrap": r.get("bootstrap"), "units": r.get("units")} for k, r in recs.items()}


def test_process_and_sequential_executors_give_identical_records(tmp_path):
    seq = cli(*RUN, "--out", str(tmp_path / "seq"))
    assert seq.returncode == 0, seq.stderr
    par = cli(*RUN, "--out", str(tmp_path / "par"), "--executor", "process", "--jobs", "2")
    assert par.returncode == 0, par.stderr
    a, b = _results(tmp_path / "seq"), _results(tmp_path / "par")
    assert len(a) == 4 and all(r["status"] == "ok" for r in a.values())
    assert a == b
    assert (tmp_path / "par" / "leaderboard.md").is_file()


def test_a_dead_worker_is_one_clear_error_and_finished_records_are_kept(tmp_path):
    plugin = tmp_path / "dies.py"
    plugin.write_text(
        "import os\n"
        "import numpy as np\n"
        "from xrbench import register\n"
        "from xrbench.baselines.recommenders import Bias\n"
        "@register('recommender', 'dies')\n"
        "class Dies(Bias):\n"
        "    def fit(self, view):\n"
        "        os._exit(3)\n", encoding="utf-8")
    p = cli("run", "--dataset", "ml-100k", "--recommender", "bias", "dies", "--seeds", "0", "--plugin", str(plugin),
            "--out", str(tmp_path / "o"), "-q", "--executor", "process", "--jobs", "1")
    assert_clean_error(p, "worker process died", "rerun the same command")
    done = list((tmp_path / "o").rglob(RECORD_FILE))
    assert [r.parent.parent.name for r in done] == ["bias"]  # the run before it finished and is kept
    assert not list((tmp_path / "o").rglob(".*.tmp"))


def test_process_flags_are_checked(tmp_path):
    p = cli(*RUN, "--out", str(tmp_path / "o"), "--jobs", "2")
    assert_clean_error(p, "--jobs applies to --executor process")
    p = cli(*RUN, "--out", str(tmp_path / "o"), "--executor", "process", "--jobs", "0")
    assert_clean_error(p, "--jobs must be at least 1")
    p = cli(*RUN, "--out", str(tmp_path / "o"), "--executor", "process", "--ray-cpus", "2")
    assert_clean_error(p, "--ray-cpus applies to --executor ray")


def test_the_first_error_kills_the_runs_still_going(tmp_path):
    """A run that dies while another one, in the other worker, has minutes left: the command ends at once (it
    would take 10 minutes otherwise) and the killed run leaves no record."""
    import subprocess
    import sys
    import time

    plugin = tmp_path / "slow_and_dies.py"
    plugin.write_text(
        "import os, time\n"
        "from xrbench import register\n"
        "from xrbench.baselines.recommenders import Bias\n"
        "@register('recommender', 'slow')\n"
        "class Slow(Bias):\n"
        "    def fit(self, view):\n"
        "        time.sleep(600)\n"
        "@register('recommender', 'dies')\n"
        "class Dies(Bias):\n"
        "    def fit(self, view):\n"
        "        time.sleep(2)\n"
        "        os._exit(3)\n", encoding="utf-8")
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "xrbench.cli", "run", "--dataset", "ml-100k", "--recommender", "slow",
                        "dies", "--seeds", "0", "--plugin", str(plugin), "--out", str(tmp_path / "o"), "-q",
                        "--executor", "process", "--jobs", "2"], capture_output=True, text=True, timeout=240)
    assert time.perf_counter() - t0 < 200
    assert_clean_error(p, "worker process died")
    assert not list((tmp_path / "o").rglob(RECORD_FILE))


@pytest.mark.parametrize("overwrite", ["never", "always"])
def test_the_same_run_named_twice_is_run_once_by_the_workers(tmp_path, overwrite):
    """Two identical specs in one command never run in two workers at once (they would write one folder):
    the repeat goes to the workers in a later wave and is reused or rerun as the sequential executor would."""
    from xrbench.api import run_specs
    from xrbench.executors import ProcessExecutor
    from xrbench.specs import DatasetSpec, MethodSpec, RunSpec

    bias, knn = (RunSpec(DatasetSpec("ml-100k"), MethodSpec("recommender", m), 0) for m in ("bias", "item-knn"))
    specs = [bias, knn, bias, bias]
    par = run_specs(specs, out=tmp_path / "par", executor=ProcessExecutor(2), progress=False, overwrite=overwrite)
    seq = run_specs(specs, out=tmp_path / "seq", progress=False, overwrite=overwrite)
    assert [o.spec for o in par] == specs
    assert [o.action for o in par] == [o.action for o in seq]
    assert [o.action for o in par] == ["ran", "ran"] + (["reused"] * 2 if overwrite == "never" else ["ran"] * 2)
    assert _results(tmp_path / "par") == _results(tmp_path / "seq")
    assert len(list((tmp_path / "par").rglob(RECORD_FILE))) == 2


def test_a_parallel_executor_gets_each_folder_once_a_wave(tmp_path):
    from xrbench.api import run_specs
    from xrbench.runner import SequentialExecutor
    from xrbench.specs import DatasetSpec, MethodSpec, RunSpec

    class Recording(SequentialExecutor):
        def __init__(self):
            self.waves = []

        def run_specs(self, runner, specs, done):
            self.waves.append(list(specs))
            return [runner.run_checked(s) for s in specs]

    a, b, c = (RunSpec(DatasetSpec("ml-100k"), MethodSpec("recommender", "bias"), s) for s in (0, 1, 2))
    ex = Recording()
    out = run_specs([a, b, a, c, b, a], out=tmp_path / "o", executor=ex, progress=False, overwrite="always")
    assert ex.waves == [[a, b, c], [a, b], [a]]
    assert [o.spec for o in out] == [a, b, a, c, b, a] and all(o.action == "ran" for o in out)

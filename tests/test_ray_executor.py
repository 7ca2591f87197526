"""The Ray executor (``xrbench run --executor ray``) on a local 2-CPU Ray started once for this module: the same
records as the sequential executor, a worker killed mid-run retried without a lost or duplicated record, and
one clear line for a Ray that cannot be had."""
from __future__ import annotations

import json
import logging
import os
import socket
import sys
from collections import Counter
from pathlib import Path

import pytest

# The Ray of these tests listens on the loopback interface only (a Ray cluster uses the machine's address):
# read when ray is first imported, and inherited by the CLI subprocesses that join this Ray.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
ray = pytest.importorskip("ray")

from conftest import assert_clean_error, cli, cli_here, has_recbole  # noqa: E402
from xrbench.compare import is_cost  # noqa: E402
from xrbench.records import RECORD_FILE  # noqa: E402

pytestmark = pytest.mark.skipif(not has_recbole(), reason="ML-100K comes from the RecBole wheel")


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray with 2 CPUs for the module; its GCS address (HOST:PORT) for the CLI subprocesses."""
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _records(out: Path) -> dict[str, dict]:
    return {str(p.relative_to(out)): json.loads(p.read_text(encoding="utf-8")) for p in out.rglob(RECORD_FILE)}


def _results(rec: dict) -> dict:
    """What the two executors must give bit for bit: status, every metric but the cost ones (time and memory
    measure the machine), intervals and bootstrap replicates."""
    keep = lambda d: {k: v for k, v in (d or {}).items() if not is_cost(k)}  # noqa: E731
    return {"status": rec["status"], "metrics": keep(rec.get("metrics")), "intervals": keep(rec.get("intervals")),
            "bootstrap": keep(rec.get("bootstrap"))}


def test_ray_and_sequential_give_identical_records_on_the_smoke_suite(local_ray, tmp_path):
    from xrbench.api import run_specs
    from xrbench.executors import RayExecutor
    from xrbench.specs import load_suite

    specs = load_suite("smoke").runs()
    finished: list = []

    class Counting(RayExecutor):  # the runner's progress callback, as each task finishes
        def run_specs(self, runner, specs, done):
            return super().run_specs(runner, specs, lambda s: (finished.append(s), done(s)))

    seq = run_specs(specs, out=tmp_path / "seq", progress=False)
    with Counting() as executor:
        par = run_specs(specs, out=tmp_path / "ray", progress=False, executor=executor)
    assert ray.is_initialized()  # the module's Ray was used as it is, not shut down by the executor

    assert [o.spec for o in par] == specs  # the outcomes come back in the specs' order
    assert [o.action for o in par] == [o.action for o in seq]
    assert Counter(finished) == Counter(specs)
    assert [o.path for o in par] == [o.path and tmp_path / "ray" / o.path.relative_to(tmp_path / "seq") for o in seq]
    a, b = _records(tmp_path / "seq"), _records(tmp_path / "ray")
    assert a and sorted(a) == sorted(b)
    assert {k: r["status"] for k, r in b.items()} == {k: "ok" for k in b}
    for key in a:
        assert _results(b[key]) == _results(a[key]), key
        assert b[key]["metrics"].keys() == a[key]["metrics"].keys()
    assert sum(len(_results(r)["metrics"]) for r in a.values()) > 50  # every family of the smoke suite compared


CRASH_PLUGIN = '''
import os
from pathlib import Path

import numpy as np
from xrbench.extend import Recommender, register

LOG = Path({log!r})


@register("recommender", "crash-once", description="test only: its worker dies on its first try")
class CrashOnce(Recommender):
    needs = ("ratings",)

    @classmethod
    def default_params(cls):
        return {{}}

    def fit(self, view):
        with LOG.open("a") as fh:
            fh.write(f"{{os.getpid()}}\\n")
        if len(LOG.read_text().split()) <= {crashes}:
            os._exit(1)  # as a killed worker: no exception, no cleanup
        self.mu = float(view.train["rating"].mean())

    def predict(self, users, items):
        return np.full(len(items), self.mu)
'''


def _crash_plugin(tmp_path: Path, crashes: int) -> tuple[Path, Path]:
    log = tmp_path / "fit-pids.txt"
    plugin = tmp_path / "crash_once.py"
    plugin.write_text(CRASH_PLUGIN.format(log=str(log), crashes=crashes), encoding="utf-8")
    return plugin, log


def test_a_killed_worker_is_retried_without_a_lost_or_duplicated_record(local_ray, tmp_path):
    plugin, log = _crash_plugin(tmp_path, crashes=1)
    out = tmp_path / "out"
    args = ("run", "--dataset", "ml-100k", "--recommender", "crash-once", "bias", "--plugin", str(plugin),
            "--executor", "ray", "--ray-address", local_ray, "--out", str(out), "-q")
    p = cli(*args)
    assert p.returncode == 0, p.stderr
    pids = log.read_text().split()
    assert len(pids) == 2 and pids[0] != pids[1]  # the first worker died in fit; a new one ran it again
    assert str(os.getpid()) not in pids  # (in Ray workers, not in this process)
    folder = out / "runs" / "ml-100k" / "recommender" / "crash-once" / "seed-0"
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []  # no temporary left
    recs = _records(out)
    assert sorted(recs) == [f"runs/ml-100k/recommender/{m}/seed-0/{RECORD_FILE}" for m in ("bias", "crash-once")]
    crash = recs[f"runs/ml-100k/recommender/crash-once/seed-0/{RECORD_FILE}"]
    assert crash["status"] == "ok" and 0.5 < crash["metrics"]["rmse"] < 2.0
    assert "crash-once" in (out / "leaderboard.md").read_text(encoding="utf-8")  # the driver wrote the board

    again = cli(*args)  # the same command: both records reused, nothing run (the method would not crash now)
    assert again.returncode == 0, again.stderr
    assert "0 run(s) done, 2 reused" in again.stderr
    assert len(log.read_text().split()) == 2
    assert _records(out) == recs


def test_a_worker_that_dies_on_every_try_ends_in_one_clear_error(local_ray, tmp_path):
    plugin, log = _crash_plugin(tmp_path, crashes=99)
    out = tmp_path / "out"
    p = cli("run", "--dataset", "ml-100k", "--recommender", "crash-once", "--plugin", str(plugin),
            "--executor", "ray", "--ray-address", local_ray, "--ray-retries", "1", "--out", str(out), "-q")
    assert p.returncode == 2
    assert_clean_error(p, "crash-once seed 0", "Ray worker died 2 time(s)", "rerun the same command")
    assert len(log.read_text().split()) == 2  # the first try and one retry
    assert _records(out) == {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_address_where_no_ray_answers_is_one_clear_line(tmp_path):
    p = cli("run", "--dataset", "ml-100k", "--recommender", "bias", "--executor", "ray",
            "--ray-address", f"127.0.0.1:{_free_port()}", "--out", str(tmp_path / "out"), "-q")
    assert p.returncode == 2
    assert_clean_error(p, "--ray-address 127.0.0.1:", "no Ray cluster answers there", "ray start --head")
    assert not (tmp_path / "out" / "runs").exists()


@pytest.mark.parametrize("args, needles", [
    (("--ray-address", "no-port-here"), ("expected HOST:PORT",)),
    (("--ray-address", "127.0.0.1:6379", "--ray-cpus", "2"), ("--ray-cpus sizes a local Ray",)),
    (("--ray-cpus", "0"), ("--ray-cpus must be a whole number >= 1",)),
    (("--ray-retries", "-1"), ("--ray-retries must be a whole number >= 0",)),
])
def test_bad_ray_flags_are_refused(tmp_path, args, needles):
    p = cli_here("run", "--dataset", "ml-100k", "--recommender", "bias", "--executor", "ray", *args,
                 "--out", str(tmp_path / "out"), "-q")
    assert p.returncode == 2
    assert_clean_error(p, *needles)


def test_ray_flags_need_the_ray_executor(tmp_path):
    p = cli_here("run", "--dataset", "ml-100k", "--recommender", "bias", "--ray-address", "auto",
                 "--out", str(tmp_path / "out"), "-q")
    assert_clean_error(p, "--ray-address applies to --executor ray")


def test_missing_ray_says_which_extra_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if ray were not installed
    p = cli_here("run", "--dataset", "ml-100k", "--recommender", "bias", "--executor", "ray",
                 "--out", str(tmp_path / "out"), "-q")
    assert p.returncode == 2
    assert_clean_error(p, "--executor ray needs Ray", "pip install 'xrbench[ray]'")


def test_task_resources_follow_the_method_and_the_device():
    from xrbench.errors import XRBenchError
    from xrbench.executors import task_resources

    class Plain:
        pass

    class Big:
        resources = {"num_cpus": 4, "num_gpus": 0.5, "memory": 2**30}

    assert task_resources(Plain, "cpu", "m") == {"num_cpus": 1, "num_gpus": 0}
    assert task_resources(Plain, "cuda", "m") == {"num_cpus": 1, "num_gpus": 1}
    assert task_resources(Big, "cuda", "m") == {"num_cpus": 4, "num_gpus": 0.5, "memory": 2**30}
    assert task_resources(Big, "cpu", "m") == {"num_cpus": 4, "num_gpus": 0, "memory": 2**30}

    class Bad:
        resources = {"cpus": 2}

    with pytest.raises(XRBenchError, match="resources"):
        task_resources(Bad, "cpu", "recommender 'bad'")


def test_a_request_no_node_can_meet_is_refused_on_a_local_ray(local_ray, tmp_path):
    from xrbench.api import run_specs
    from xrbench.errors import XRBenchError
    from xrbench.executors import RayExecutor
    from xrbench.specs import DatasetSpec, MethodSpec, RunSpec

    specs = [RunSpec(DatasetSpec("ml-100k"), MethodSpec("recommender", "bias"), 0)]
    with pytest.raises(XRBenchError, match=r"asks Ray for 1 CPU, 1 GPU a task, but no node .* \(2 CPU, 0 GPU\)"):
        run_specs(specs, out=tmp_path / "out", device="cuda", progress=False, executor=RayExecutor())
    assert not (tmp_path / "out" / "runs").exists()  # refused before any task ran

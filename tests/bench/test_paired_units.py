"""``tests/bench/paired_units.py``: the pooled fidelity metrics recomputed from a real run's unit files equal
the record's, a run against itself differs by exactly 0, a run whose cited reasons all became decorative is
found worse, and edited units that no longer give the record's value are refused."""
from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, cli

SCRIPT = REPO / "tests" / "bench" / "paired_units.py"


def paired(a, b, *extra):
    return subprocess.run([sys.executable, str(SCRIPT), str(a), str(b), *extra], capture_output=True, text=True,
                          cwd=REPO)


@pytest.fixture(scope="module")
def template_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("paired_units") / "out"  # MovieLens-100K as packaged (the recbole wheel)
    p = cli("run", "--dataset", "ml-100k", "--explainer", "template", "--fidelity", "30", "--sample", "10", "--out",
            str(out), "-q")
    assert p.returncode == 0, p.stderr
    return next(out.rglob("record.json")).parent


def test_a_run_against_itself(template_run):
    rec = json.loads((template_run / "record.json").read_text())
    r = paired(template_run, template_run)
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if x.startswith("decorative_rate"))
    value = float(re.search(r"A ([0-9.e-]+) \(", line).group(1))
    assert value == pytest.approx(rec["metrics"]["decorative_rate"], abs=5e-4)
    assert "B-A +0 " in line and "95% CI [+0, +0]" in line and "no significant difference" in line
    # MovieLens has no aspect-effect estimates
    assert "causal_precision: not applicable" in r.stdout


def test_decorative_reasons_are_found_worse(template_run, tmp_path):
    worse = tmp_path / "seed-0"
    shutil.copytree(template_run, worse)
    with gzip.open(worse / "fidelity.json.gz", "rt") as fh:
        units = json.load(fh)
    rows = units["fidelity"]["rows"]
    assert len(rows) >= 20 and sum(len(r["moves"]) for r in rows) >= 20
    for r in rows:
        r["moves"] = [0.0] * len(r["moves"])  # no cited reason moves the score any more
    with gzip.open(worse / "fidelity.json.gz", "wt") as fh:
        json.dump(units, fh)
    # units edited behind the record's back: refused, without a traceback
    r = paired(template_run, worse, "--metrics", "decorative_rate")
    assert r.returncode != 0 and "is not its record's" in r.stderr and "Traceback" not in r.stderr
    rec = json.loads((worse / "record.json").read_text())
    rec["metrics"]["decorative_rate"] = 1.0
    (worse / "record.json").write_text(json.dumps(rec))
    r = paired(template_run, worse, "--metrics", "decorative_rate", "--b", "500")
    assert r.returncode == 0, r.stderr
    lo, hi = map(float, re.search(r"95% CI \[([-+0-9.e]+), ([-+0-9.e]+)\]", r.stdout).groups())
    assert json.loads((template_run / "record.json").read_text())["metrics"]["decorative_rate"] < 0.5
    assert 0 < lo <= hi and "A better" in r.stdout  # decorative_rate: lower is better
    # the same seed gives the same interval
    assert paired(template_run, worse, "--metrics", "decorative_rate", "--b", "500").stdout == r.stdout


def test_refuses_folders_without_records(tmp_path):
    r = paired(tmp_path, tmp_path)
    assert r.returncode == 2 and "no record.json" in r.stderr

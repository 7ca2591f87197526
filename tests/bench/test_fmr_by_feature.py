"""``tests/bench/fmr_by_feature.py``: FMR split by how often the pair's feature is a training reference's
feature; its buckets add up to the record's own FMR (a real run on the shipped smoke reviews)."""
from __future__ import annotations

import json
import re
import subprocess
import sys

from conftest import REPO, cli

SCRIPT = REPO / "tests" / "bench" / "fmr_by_feature.py"


def test_buckets_add_up_to_the_records_fmr(tmp_path):
    out = tmp_path / "out"
    p = cli("run", "--dataset", "smoke-reviews", "--explainer", "retrieval", "--seeds", "0", "--out", str(out), "-q")
    assert p.returncode == 0, p.stderr
    (record,) = out.rglob("record.json")
    fmr = json.loads(record.read_text())["metrics"]["fmr"]
    p = subprocess.run([sys.executable, str(SCRIPT), str(record.parent.parent), "--bins", "2,5"],
                       capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 0, p.stderr
    head = re.search(r"(\d+) pairs with a feature, FMR ([0-9.]+)", p.stdout)
    n, total = int(head.group(1)), float(head.group(2))
    assert abs(total - fmr) < 5e-4
    rows = [(int(a), float(b)) for a, b in re.findall(r"^\| [^|]+ \| (\d+) \| ([0-9.]+) \|$", p.stdout, re.M)]
    assert rows and sum(k for k, _ in rows) == n
    assert abs(sum(k * f for k, f in rows) / n - total) < 2e-3  # the buckets' FMRs average to the whole


def test_a_folder_without_records_is_one_clear_error(tmp_path):
    p = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 2 and "no seed-*/record.json" in p.stderr and "Traceback" not in p.stderr

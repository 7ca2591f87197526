"""``tests/bench/paired_rows.py``: the paired test of two rows of a results folder reads the records' paired
bootstrap replicates, and its verdict follows the interval (checked on the committed explain board)."""
from __future__ import annotations

import re
import subprocess
import sys

from conftest import REPO

SCRIPT = REPO / "tests" / "bench" / "paired_rows.py"
BOARD = REPO / "leaderboards" / "explain"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=REPO)


def test_verdicts_follow_the_paired_interval_on_the_committed_board():
    p = run(str(BOARD), "template", "retrieval", "bleu1", "rougeL_f", "len_mean")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    # one line per (seed, metric): both rows have seeds 0, 1 and 2 on the committed board
    assert len(lines) == 9
    for seed in range(3):
        mine = [line for line in lines if line.startswith(f"amazon-2014-5core seed {seed} ")]
        assert [line.split()[3] for line in mine] == ["bleu1:", "rougeL_f:", "len_mean:"]
        for line in mine[:2]:  # higher is better
            m = re.search(r"A (\S+)  B (\S+)  B-A (\S+)  95% CI \[(\S+), (\S+)\]  (.+)$", line)
            a, b, d, lo, hi = map(float, m.groups()[:5])
            assert abs(b - a - d) < 0.01 * max(1, abs(d)) and lo <= d <= hi
            assert m.group(6) == ("B better" if lo > 0 else "A better" if hi < 0 else "no significant difference")
        assert mine[2].endswith("B higher (the metric has no better side)")  # retrieval writes ~30 words, template 13


def test_unknown_label_or_folder_is_one_clear_error(tmp_path):
    p = run(str(BOARD), "template", "nope")
    assert p.returncode == 2 and "no dataset and seed has both 'template' and 'nope'" in p.stderr
    assert "Traceback" not in p.stderr
    p = run(str(tmp_path), "template", "retrieval")
    assert p.returncode == 2 and "no records" in p.stderr and "Traceback" not in p.stderr

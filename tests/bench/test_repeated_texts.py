"""``tests/bench/repeated_texts.py``: the most repeated text of each seed's explanations, with its count, on a
real run's unit file (the template explainer on the shipped smoke reviews)."""
from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from collections import Counter

from conftest import REPO, cli

SCRIPT = REPO / "tests" / "bench" / "repeated_texts.py"


def test_reports_each_seeds_most_repeated_text_and_its_count(tmp_path):
    out = tmp_path / "out"
    p = cli("run", "--dataset", "smoke-reviews", "--explainer", "template", "--seeds", "0", "1", "--out", str(out),
            "-q")
    assert p.returncode == 0, p.stderr
    run = next(out.rglob("record.json")).parent.parent
    p = subprocess.run([sys.executable, str(SCRIPT), str(run)], capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["seed-0", "seed-1"]
    for line in lines:
        seed, count, n = re.match(r"(seed-\d+): (\d+) of (\d+) texts: ", line).groups()
        with gzip.open(run / seed / "explanations.jsonl.gz", "rt", encoding="utf-8") as fh:
            texts = Counter(json.loads(row)["text"] for row in fh)
        assert (int(count), int(n)) == (texts.most_common(1)[0][1], sum(texts.values()))


def test_a_folder_without_texts_is_one_clear_error(tmp_path):
    p = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True, cwd=REPO)
    assert p.returncode != 0 and "no seed-*/explanations.jsonl.gz" in p.stderr and "Traceback" not in p.stderr

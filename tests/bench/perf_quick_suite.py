"""Benchmark: wall time of ``xrbench run --suite quick`` (target: <= 3 minutes on 2 cores).

Run alone (a second busy process ruins the timing):  python tests/bench/perf_quick_suite.py [--data-path DIR]
Prints one JSON line with the wall time, the number of runs and whether Amazon was included.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-path", help="a data root like shared/data (default: $XRBENCH_DATA)")
    ap.add_argument("--target-s", type=float, default=180.0)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "xrbench.cli", "run", "--suite", "quick", "--out", tmp, "-q"]
        if a.data_path:
            cmd += ["--data-path", a.data_path]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        runs = len(list(Path(tmp).rglob("record.json")))
        amazon = any("amazon" in str(p) for p in Path(tmp).rglob("record.json"))
    print(json.dumps({"benchmark": "quick_suite", "wall_s": round(wall, 1), "runs": runs, "amazon": amazon,
                      "exit_code": proc.returncode, "target_s": a.target_s, "within_target": wall <= a.target_s}))
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-2000:])
        sys.exit(1)


if __name__ == "__main__":
    main()

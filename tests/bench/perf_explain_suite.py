"""Benchmark: wall time of ``xrbench run --suite explain`` with nothing generated yet (target: <= 15 min on
2 CPU cores).

    python tests/bench/perf_explain_suite.py [--data-path DIR]

A fresh cache directory is used, except for the dequantised backbones (``models/``) and the aspect
effects, which are linked in from the normal cache when present: every explanation is generated anew.
Run alone (a second busy process ruins the timing). Prints one JSON line: the wall time and, per run,
its wall time and generation tokens/s.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-path", help="a data root like shared/data (default: $XRBENCH_DATA)")
    ap.add_argument("--target-s", type=float, default=900.0)
    a = ap.parse_args()
    from xrbench.data.io import cache_dir

    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        cache.mkdir()
        for keep in ("models",):
            if (cache_dir() / keep).is_dir():
                (cache / keep).symlink_to(cache_dir() / keep)
        out = Path(tmp) / "out"
        cmd = [sys.executable, "-m", "xrbench.cli", "run", "--suite", "explain", "--out", str(out), "-q"]
        if a.data_path:
            cmd += ["--data-path", a.data_path]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "XRBENCH_CACHE": str(cache)})
        wall = time.perf_counter() - t0
        runs = {}
        for f in sorted(out.rglob("record.json")):
            r = json.loads(f.read_text())
            runs[r["method"]["label"]] = {"wall_s": r["provenance"].get("wall_s"),
                                          "tokens_per_s": r["metrics"].get("tokens_per_s")}
    print(json.dumps({"benchmark": "explain_suite", "wall_s": round(wall, 1), "runs": runs,
                      "exit_code": proc.returncode, "target_s": a.target_s, "within_target": wall <= a.target_s}))
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-2000:])
        sys.exit(1)


if __name__ == "__main__":
    main()

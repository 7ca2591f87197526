"""Benchmark: wall time of ``xrbench run --suite NAME`` in a fresh results folder.

    python tests/bench/perf_suite.py --suite causal --target-s 600 [--data-path DIR] [--fresh-generations]
        [--jobs N]     (--jobs: xrbench run --executor process --jobs N, N runs at a time)

``--fresh-generations`` runs with an empty cache (the dequantised backbones in ``models/`` linked in from
the normal cache), so every LLM explanation is generated anew. Run alone (a second busy process ruins the
timing). Prints one JSON line: the wall time and, per run, its wall time and generation tokens/s.
``perf_quick_suite.py`` and ``perf_explain_suite.py`` are this script with their suite's target.
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


def measure(suite: str, target_s: float, data_path: str | None = None, fresh_generations: bool = False,
            jobs: int | None = None) -> int:
    from xrbench.data.io import cache_dir

    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        if fresh_generations:
            cache = Path(tmp) / "cache"
            cache.mkdir()
            if (cache_dir() / "models").is_dir():
                (cache / "models").symlink_to(cache_dir() / "models")
            env["XRBENCH_CACHE"] = str(cache)
        out = Path(tmp) / "out"
        cmd = [sys.executable, "-m", "xrbench.cli", "run", "--suite", suite, "--out", str(out), "-q"]
        if data_path:
            cmd += ["--data-path", data_path]
        if jobs:
            cmd += ["--executor", "process", "--jobs", str(jobs)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        runs = {}
        for f in sorted(out.rglob("record.json")):
            r = json.loads(f.read_text())
            label = f"{r['dataset']} {r['method']['label']} seed {r['seed']}"
            runs[label] = {"wall_s": r["provenance"].get("wall_s"), "tokens_per_s": r["metrics"].get("tokens_per_s")}
    print(json.dumps({"benchmark": f"{suite}_suite", "jobs": jobs or 1, "wall_s": round(wall, 1), "n_runs": len(runs), "runs": runs,
                      "exit_code": proc.returncode, "target_s": target_s, "within_target": wall <= target_s}))
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-2000:])
    return proc.returncode


def main(suite: str | None = None, target_s: float | None = None, fresh_generations: bool = False) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", default=suite, required=suite is None)
    ap.add_argument("--target-s", type=float, default=target_s, required=target_s is None)
    ap.add_argument("--data-path", help="a data root like shared/data (default: $XRBENCH_DATA)")
    ap.add_argument("--fresh-generations", action="store_true", default=fresh_generations)
    ap.add_argument("--jobs", type=int, help="run with --executor process --jobs N (default: sequential)")
    a = ap.parse_args()
    sys.exit(1 if measure(a.suite, a.target_s, a.data_path, a.fresh_generations, a.jobs) else 0)


if __name__ == "__main__":
    main()

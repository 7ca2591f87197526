"""Benchmark: render the leaderboard of 10,000 records (target: under 5 seconds, whole process).

    python tests/bench/perf_leaderboard.py [--records 10000] [--format md|html|csv|latex]

Writes synthetic but realistic records (50 datasets x 40 methods x 5 seeds, 8 metrics each, with 200
bootstrap replicates per metric, as the runner writes them) to a temporary folder, then times
``xrbench leaderboard`` as a user runs it. Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from xrbench.metrics import uncertainty
from xrbench.records import MethodRef, RunRecord, write_record

KEYS = ["rmse", "mae", "ndcg@10", "recall@10", "arp", "aplt", "gini", "coverage"]


def make(root: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    n_datasets, n_seeds = 50, 5
    n_methods = max(1, n // (n_datasets * n_seeds))
    for d in range(n_datasets):
        for m in range(n_methods):
            for s in range(n_seeds):
                metrics = {k: float(rng.random()) for k in KEYS}
                boot = uncertainty.pack({k: (v + rng.normal(0, 0.01, 200), f"d{d}s{s}")
                                         for k, v in metrics.items() if k not in ("gini", "coverage")})
                rec = RunRecord(f"dataset-{d}", "recommend", MethodRef(f"method-{m}", "recommender", {}, f"method-{m}"),
                                s, "ok", metrics, {"wall_s": 1.0}, bootstrap=boot,
                                intervals={k: [v - 0.01, v + 0.01] for k, v in metrics.items()})
                write_record(root / f"runs/d{d}/m{m}/seed-{s}", rec)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=10000)
    ap.add_argument("--format", default="html")
    ap.add_argument("--target-s", type=float, default=5.0)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        make(Path(tmp), a.records)
        n = len(list(Path(tmp).rglob("record.json")))
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "xrbench.cli", "leaderboard", tmp, "--format", a.format,
                               "--output", str(Path(tmp) / f"board.{a.format}")], capture_output=True, text=True)
        wall = time.perf_counter() - t0
    print(json.dumps({"benchmark": "leaderboard_render", "records": n, "format": a.format, "wall_s": round(wall, 2),
                      "target_s": a.target_s, "within_target": wall < a.target_s, "exit_code": proc.returncode}))
    if proc.returncode:
        sys.stderr.write(proc.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

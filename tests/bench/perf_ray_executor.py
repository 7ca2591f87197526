"""Benchmark: ``xrbench run --suite quick`` with the sequential and the Ray executor, into two temporary folders.

    python tests/bench/perf_ray_executor.py [--suite quick] [--data-path DIR] [--ray-cpus N]

Both are the real command in a fresh process (the Ray one starts and stops its own local Ray: its start-up is
in its wall time). Prints one JSON line: each executor's wall time, the record count, and whether every
record's status, metrics (but the cost ones: wall_s, peak_rss_mb, tokens_per_s measure the machine),
intervals and bootstrap replicates are identical bit for bit; the differing cells are listed. Exit 1 when a
run fails or any result differs. Run alone (a second busy process ruins the timing); a few minutes on 2 cores.
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


def run(suite: str, out: Path, extra: list[str], data_path: str | None) -> tuple[float, subprocess.CompletedProcess]:
    cmd = [sys.executable, "-m", "xrbench.cli", "run", "--suite", suite, "--out", str(out), "-q", *extra]
    if data_path:
        cmd += ["--data-path", data_path]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
    return time.perf_counter() - t0, proc


def results(out: Path) -> dict[str, dict]:
    from xrbench.compare import is_cost

    def keep(d: dict | None) -> dict:
        return {k: v for k, v in (d or {}).items() if not is_cost(k)}

    found = {}
    for f in sorted(out.rglob("record.json")):
        r = json.loads(f.read_text(encoding="utf-8"))
        found[str(f.relative_to(out))] = {"status": r["status"], "metrics": keep(r.get("metrics")),
                                          "intervals": keep(r.get("intervals")), "bootstrap": keep(r.get("bootstrap"))}
    return found


def differences(a: dict[str, dict], b: dict[str, dict]) -> list[str]:
    out = [f"{k}: only in one" for k in sorted(set(a) ^ set(b))]
    for k in sorted(set(a) & set(b)):
        for part in ("status", "metrics", "intervals", "bootstrap"):
            x, y = a[k][part], b[k][part]
            if part == "status":
                if x != y:
                    out.append(f"{k} status: {x} vs {y}")
                continue
            out += [f"{k} {part}[{m}]: {x.get(m)!r} vs {y.get(m)!r}" for m in sorted(set(x) | set(y))
                    if x.get(m) != y.get(m)]
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", default="quick")
    ap.add_argument("--data-path", help="a data root like shared/data (default: $XRBENCH_DATA)")
    ap.add_argument("--ray-cpus", type=int, help="CPUs of the local Ray (default: all)")
    a = ap.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        seq_s, seq = run(a.suite, Path(tmp) / "sequential", [], a.data_path)
        ray_flags = ["--executor", "ray"] + (["--ray-cpus", str(a.ray_cpus)] if a.ray_cpus else [])
        ray_s, par = run(a.suite, Path(tmp) / "ray", ray_flags, a.data_path)
        x, y = results(Path(tmp) / "sequential"), results(Path(tmp) / "ray")
    diff = differences(x, y)
    n_metrics = sum(len(r["metrics"]) for r in x.values())
    print(json.dumps({"benchmark": f"ray_executor_{a.suite}", "sequential_wall_s": round(seq_s, 1),
                      "ray_wall_s": round(ray_s, 1), "records": len(x), "metrics_compared": n_metrics,
                      "identical": not diff and bool(x), "differences": diff[:50],
                      "exit_codes": [seq.returncode, par.returncode], "cpu_count": os.cpu_count(),
                      "load_avg_before": [round(v, 2) for v in load_before],
                      "load_avg_after": [round(v, 2) for v in os.getloadavg()]}))
    for name, proc in (("sequential", seq), ("ray", par)):
        if proc.returncode != 0:
            sys.stderr.write(f"--- {name} ---\n{proc.stderr[-2000:]}\n")
    return 0 if seq.returncode == par.returncode == 0 and not diff and x else 1


if __name__ == "__main__":
    sys.exit(main())

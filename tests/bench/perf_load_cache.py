"""Benchmark: the first load of a data file (parse + write the Arrow cache) against the second (mapped from
the cache), target: the second at least 5x faster.

    python tests/bench/perf_load_cache.py [--data-path ../shared/data] [--rows 1000000] [--no-baseline]

Files: the Amazon 2014 Musical Instruments file (under ``--data-path``/``$XRBENCH_DATA``, ``amazon/``; left out
when absent) and a synthetic Amazon 2018 5-core file of ``--rows`` JSON lines, gzipped, written to a temporary
folder first (its writing is not timed; seeded, so the same file every time). Each load runs in a fresh
process with an empty cache folder of its own: ``baseline`` with ``XRBENCH_ARROW_CACHE=0`` (the parse alone,
as before the cache), ``first`` (parse + write), ``second`` (cached). Two times per load: ``load_s``, the
loader call inside the process (lazy imports it triggers included: ``datasets`` on the first load), and
``process_s``, the whole process as a user waits for it (interpreter, ``import xrbench.data.amazon``, the load);
and the process's peak RSS.
All three loads must give the same split hash. Prints one JSON line per file.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
from pathlib import Path
from xrbench.data import amazon
from xrbench.data.split import make_split
t1 = time.perf_counter()
ds = amazon.load(sys.argv[1], path=Path(sys.argv[2]), min_interactions=10)
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "rows": len(ds.interactions),
                  "split": make_split(ds, "random", 0).hash, "datasets_imported": "datasets" in sys.modules,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
WORDS = ("sound great price quality strings tone pedal amp picks strap cable tuner stand guitar bass "
         "works fine cheap solid good bad noise clear loud warm bright sturdy light heavy case bag").split()


def write_synthetic(path: Path, rows: int, seed: int = 0) -> None:
    """``rows`` Amazon-2018-format reviews (200k users, 50k items, 20-40 word texts), gzip level 1."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 200_000, rows)
    items = rng.integers(0, 50_000, rows)
    stars = rng.integers(1, 6, rows)
    times = rng.integers(1_000_000_000, 1_540_000_000, rows)
    lengths = rng.integers(20, 41, rows)
    word_ids = rng.integers(0, len(WORDS), int(lengths.sum()))
    pos = 0
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as fh:
        for k in range(rows):
            text = " ".join(WORDS[w] for w in word_ids[pos:pos + lengths[k]])
            pos += lengths[k]
            fh.write(json.dumps({"overall": float(stars[k]), "verified": bool(k % 3), "reviewTime": "01 1, 2015",
                                 "reviewerID": f"A{users[k]:012d}", "asin": f"B{items[k]:09d}",
                                 "style": {"Color:": " Black"}, "reviewerName": "x", "reviewText": text,
                                 "summary": text[:30], "unixReviewTime": int(times[k]), "vote": str(k % 7)}) + "\n")


def run(release: str, f: Path, cache: Path, arrow: str) -> dict:
    env = {**os.environ, "XRBENCH_CACHE": str(cache), "XRBENCH_ARROW_CACHE": arrow}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, release, str(f)], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"the load of {f} failed")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_s"] = wall
    return out


def bench(label: str, release: str, f: Path, baseline: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        runs = {}
        if baseline:
            runs["baseline"] = run(release, f, cache / "off", "0")
        runs["first"] = run(release, f, cache / "on", "1")
        runs["second"] = run(release, f, cache / "on", "1")
        cache_bytes = sum(p.stat().st_size for p in (cache / "on").rglob("*") if p.is_file())
    splits = {r["split"] for r in runs.values()}
    first, second = runs["first"], runs["second"]
    out = {"benchmark": "load_cache", "file": label, "bytes": f.stat().st_size, "interactions": second["rows"],
           "arrow_cache_bytes": cache_bytes, "same_split_hash": len(splits) == 1,
           "datasets_imported_on_second_load": second["datasets_imported"]}
    for name, r in runs.items():
        out[f"{name}_load_s"] = round(r["load_s"], 3)
        out[f"{name}_process_s"] = round(r["process_s"], 2)
        out[f"{name}_peak_rss_mb"] = round(r["peak_rss_mb"])
    out["ratio_load"] = round(first["load_s"] / second["load_s"], 1)
    out["ratio_process"] = round(first["process_s"] / second["process_s"], 2)
    if baseline:
        out["ratio_load_vs_baseline"] = round(runs["baseline"]["load_s"] / second["load_s"], 1)
    out["target_ratio"] = 5.0
    out["load_within_target"] = out["ratio_load"] >= 5.0
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-path", default=os.environ.get("XRBENCH_DATA", ""))
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--no-baseline", action="store_true", help="skip the load with the cache off")
    a = ap.parse_args()
    t0 = time.perf_counter()
    mi = Path(a.data_path) / "amazon" / "reviews_Musical_Instruments_5.json.gz" if a.data_path else None
    if mi is not None and mi.is_file():
        print(json.dumps(bench("amazon-2014 Musical_Instruments", "amazon-2014-5core", mi, not a.no_baseline)),
              flush=True)
    else:
        print(json.dumps({"benchmark": "load_cache", "skipped": "no amazon/reviews_Musical_Instruments_5.json.gz "
                          "under --data-path"}), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "Synthetic_5.json.gz"
        g0 = time.perf_counter()
        write_synthetic(f, a.rows)
        gen_s = time.perf_counter() - g0
        out = bench(f"synthetic amazon-2018 {a.rows} lines", "amazon-2018-5core", f, not a.no_baseline)
        out["generation_s_not_timed"] = round(gen_s, 1)
        print(json.dumps(out), flush=True)
    print(json.dumps({"benchmark": "load_cache", "total_s": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main()

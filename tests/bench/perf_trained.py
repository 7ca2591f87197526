"""Benchmark: the explainers trained inside the harness, on this machine's CPUs (targets of issue 13 on 2 cores).

    python tests/bench/perf_trained.py --data-path DIR [--only peter,pepler] [--records DIR]

Runs, each in a fresh process with an empty trained-model cache (nothing reused):
  * ``peter``  on Amazon Musical Instruments (2014 5-core), paper defaults, trained to its early stop, 500 test
    pairs explained                                                                     (target: <= 10 min)
  * ``pepler`` quick profile (1,000 training pairs, one epoch per stage) on SmolLM2-135M, 500 pairs explained
                                                                                         (target: <= 15 min)
  * ``peter`` on a tiny generated NLG4RS folder (predefined split), small model:
    train -> explain -> score                                                            (target: < 1 min)
and prints one JSON line per run: whole-process wall seconds, the record's training seconds, epochs, training
tokens/s (prompt and target positions, no padding), peak RSS (MB) and the text metrics.
``--records DIR``: report the records already under DIR (e.g. a suite's output) instead of running anything.
Run alone on an idle machine: every number is wall time.
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

TARGETS = {"peter": 600.0, "pepler": 900.0, "peter-nlg4rs": 60.0}


def summary(rec: dict, wall: float | None = None) -> dict:
    t = (rec.get("provenance") or {}).get("training") or {}
    m = rec.get("metrics") or {}
    return {"method": rec["method"]["label"], "dataset": rec["dataset"], "seed": rec["seed"],
            "process_wall_s": None if wall is None else round(wall, 1),
            "run_wall_s": (rec.get("provenance") or {}).get("wall_s"),
            "train_s": t.get("train_seconds"), "epochs": t.get("epochs"), "stopped": t.get("stopped"),
            "train_tokens_per_s": t.get("train_tokens_per_s"), "train_pairs": t.get("train_pairs"),
            "peak_rss_mb": (rec.get("provenance") or {}).get("peak_rss_mb"),
            **{k: m.get(k) for k in ("bleu1", "bleu4", "rougeL_f", "fmr", "usr")}}


def run(name: str, args: list[str], data_path: str | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "XRBENCH_CACHE": _cache_with_models(tmp)}
        if data_path:
            env["XRBENCH_DATA"] = data_path
        out = Path(tmp) / "out"
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "xrbench.cli", "run", *args, "--out", str(out), "-q"], env=env,
                           capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            return {"bench": name, "error": p.stderr[-2000:]}
        rec = json.loads(next(out.rglob("record.json")).read_text())
        return {"bench": name, "target_s": TARGETS.get(name), **summary(rec, wall)}


def _cache_with_models(tmp: str) -> str:
    """A cache folder with no trained model, sharing the dequantised backbones of the user's cache (they are
    a one-off conversion, not training)."""
    from xrbench.data.io import cache_dir

    cache = Path(tmp) / "cache"
    cache.mkdir()
    models = cache_dir() / "models"
    if models.is_dir():
        (cache / "models").symlink_to(models)
    return str(cache)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-path", default=os.environ.get("XRBENCH_DATA"))
    ap.add_argument("--only", default="peter,pepler,peter-nlg4rs")
    ap.add_argument("--records", type=Path, help="report these records instead of running")
    a = ap.parse_args()
    if a.records:
        for f in sorted(a.records.rglob("record.json")):
            rec = json.loads(f.read_text())
            if (rec.get("provenance") or {}).get("training"):
                print(json.dumps(summary(rec)))
        return
    only = set(a.only.split(","))
    amazon = ["--dataset", "amazon-2014-5core", "--sample", "500", "--seeds", "0"]
    if "peter" in only:
        print(json.dumps(run("peter", [*amazon, "--explainer", "peter"], a.data_path)), flush=True)
    if "pepler" in only:
        print(json.dumps(run("pepler", [*amazon, "--explainer", "pepler"], a.data_path)), flush=True)
    if "peter-nlg4rs" in only:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        from tests.data.test_nlg4rs_dataset import write_nlg4rs

        with tempfile.TemporaryDirectory() as tmp:
            folder = write_nlg4rs(Path(tmp) / "TripAdvisor", n=120)
            print(json.dumps(run("peter-nlg4rs", ["--dataset", "nlg4rs", "--data-path", str(folder), "--split",
                                                  "predefined", "--explainer", "peter", "--param", "d_model=32",
                                                  "--param", "d_ff=64", "--param", "epochs=6", "--seeds", "0"],
                                 None)), flush=True)


if __name__ == "__main__":
    main()

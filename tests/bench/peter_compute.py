"""Benchmark: is PETER's training budget (issue 13: to early stop in <= 10 min on 2 cores) a question of code
or of arithmetic? Counts the matrix-multiply FLOPs of one PETER epoch and times this machine's fp32 GEMM.

    python tests/bench/peter_compute.py RUN_FOLDER [RUN_FOLDER ...] [--threads 2] [--repeats 5]

For each PETER run folder (``record.json`` + ``learning_curve.csv``; e.g. the explain board's
``leaderboards/explain/runs/amazon-2014-5core/explainer/peter[epochs=20]/seed-0``):
  * the FLOPs of one training epoch, counted by ``torch.utils.flop_counter.FlopCounterMode`` on one
    forward + backward batch of the record's model (its width, layers, heads, feed-forward, vocabulary and
    explanation length; every position is computed, padding included, as in training), times the training
    pairs, plus the validation forward passes;
  * the achieved rate: those FLOPs over the learning curve's per-epoch training seconds;
  * this machine's GEMM rate: ``torch.mm`` on the epoch's dominant shape (batch x positions rows, width ->
    vocabulary) and on a 2048^3 square, at ``--threads`` threads, the fastest of ``--repeats``;
  * what that means: the seconds of an epoch if every FLOP ran at that GEMM rate, and the minutes of the
    record's epochs at that rate, against the 10-minute target.
Only matrix products are counted (softmax, dropout, layer norm, the optimiser step are extra), so the
at-the-GEMM-rate times are lower bounds. Run on an idle machine: the GEMM timing is wall time. One JSON line a run.
"""
from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path
from typing import Any

TARGET_S = 600.0


def epoch_flops(params: dict[str, Any], vocabulary: int, train_pairs: int, valid_pairs: int,
                use_feature: bool = False) -> dict[str, float]:
    """Matmul FLOPs of one training epoch (forward + backward per training pair, forward per validation pair)
    of a PETER model with ``params``, counted on one batch and scaled per pair."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from xrbench.baselines.peter import build_model

    src_len = 3 if use_feature else 2
    mw = int(params["max_words"])
    b = 4  # the count is linear in the batch; a small one keeps this cheap
    torch.manual_seed(0)
    model = build_model(8, 8, vocabulary, src_len, mw, params)
    u = torch.zeros(b, dtype=torch.long)
    text = torch.ones(b, mw + 1, dtype=torch.long)  # <bos> + max_words positions: every one computed
    f = torch.ones(b, dtype=torch.long) if use_feature else None
    model.train()
    with FlopCounterMode(display=False) as fc:
        words, context, rating = model(u, u, text, 0, f)
        (words.sum() + context.sum() + rating.sum()).backward()
    train = fc.get_total_flops() / b
    # the validation forward, counted in training mode: in eval mode the encoder layers take PyTorch's fused fast
    # path, whose FLOPs the counter does not see (the same products)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(u, u, text, 0, f)
    valid = fc.get_total_flops() / b
    return {"train_flops_per_pair": train, "valid_flops_per_pair": valid,
            "epoch_flops": train * train_pairs + valid * valid_pairs}


def gemm_rate(shapes: list[tuple[int, int, int]], threads: int, repeats: int) -> dict[str, float]:
    """GFLOP/s of ``torch.mm`` (fp32) on each (m, k, n) shape, the fastest of ``repeats`` timed calls."""
    import torch

    torch.set_num_threads(threads)
    out = {}
    for m, k, n in shapes:
        a, w = torch.randn(m, k), torch.randn(k, n)
        torch.mm(a, w)
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            torch.mm(a, w)
            best = min(best, time.perf_counter() - t0)
        out[f"{m}x{k}x{n}"] = 2.0 * m * k * n / best / 1e9
    return out


def read_run(folder: Path) -> dict[str, Any]:
    rec = json.loads((folder / "record.json").read_text(encoding="utf-8"))
    training = (rec.get("provenance") or {}).get("training") or {}
    if not str(training.get("model", "")).startswith("peter"):
        raise SystemExit(f"{folder}: not a PETER run (provenance.training.model = {training.get('model')!r})")
    epochs = []
    curve = folder / "learning_curve.csv"
    if curve.is_file():
        with curve.open(encoding="utf-8", newline="") as fh:
            epochs = [float(r["train_seconds"]) for r in csv.DictReader(fh) if r.get("train_seconds")]
    return {"label": rec["method"]["label"], "params": rec["method"]["params"], "training": training,
            "epoch_train_seconds": epochs}


def report(folder: Path, threads: int, repeats: int) -> dict[str, Any]:
    run = read_run(folder)
    p, t = run["params"], run["training"]
    fl = epoch_flops(p, int(t["vocabulary"]), int(t["train_pairs"]), int(t["valid_pairs"]), t["model"] == "peter+")
    rows = int(p["batch_size"]) * (int(p["max_words"]) + 1)
    rates = gemm_rate([(rows, int(p["d_model"]), int(t["vocabulary"])), (2048, 2048, 2048)], threads, repeats)
    peak = max(rates.values())
    secs = sorted(run["epoch_train_seconds"])
    median = secs[len(secs) // 2] if secs else None
    epochs = int(t["epochs"])
    at_peak = fl["epoch_flops"] / (peak * 1e9)
    return {"run": str(folder), "label": run["label"], "epochs": epochs, "stopped": t.get("stopped"),
            "epoch_tflop": round(fl["epoch_flops"] / 1e12, 3),
            "train_gflop_per_pair": round(fl["train_flops_per_pair"] / 1e9, 4),
            "median_epoch_train_s": median,
            "achieved_gflops": round(fl["epoch_flops"] / median / 1e9, 1) if median else None,
            "gemm_gflops": {k: round(v, 1) for k, v in rates.items()}, "threads": threads,
            "epoch_s_at_gemm_rate": round(at_peak, 1),
            "run_min_at_gemm_rate": round(at_peak * epochs / 60, 1),
            "epochs_within_target_at_gemm_rate": int(TARGET_S // at_peak),
            "fraction_of_gemm_rate": float(f"{at_peak / median:.4g}") if median else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    for folder in a.runs:
        print(json.dumps(report(folder, a.threads, a.repeats)), flush=True)


if __name__ == "__main__":
    main()

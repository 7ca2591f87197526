"""Paired test of two runs on the fidelity metrics pooled over cited reasons, from their unit files.

``causal_precision`` and ``decorative_rate`` are means over every cited reason of every explained pair, so
records carry no bootstrap replicates for them and ``paired_rows.py`` cannot test them. This reads each run's
``fidelity.json.gz``, writes each metric as a ratio of per-pair sums (reasons that count over reasons cited;
its value over all pairs is the record's, checked), resamples the explained pairs both runs share, the same
(user, item), ``--b`` times with a seeded generator, and gives the 95% percentile interval of B - A.

Usage:  python tests/bench/paired_units.py RUN_A RUN_B [--metrics causal_precision,decorative_rate] [--b 2000]
e.g.    python tests/bench/paired_units.py out/runs/amazon-2014-5core/explainer/causal-pepler/seed-0 \
            "out/runs/amazon-2014-5core/explainer/causal-pepler[lambda_causal=100.0]/seed-0"

RUN_A and RUN_B are run folders (``record.json`` + unit files) of the same dataset and seed. One line per
metric: both values, the pairs and reasons behind them, B - A, the interval and the verdict.
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

import numpy as np

METRICS = ("causal_precision", "decorative_rate")


def per_pair(run: Path, metric: str) -> tuple[dict[tuple[int, int], tuple[float, float]], float | None]:
    """(user, item) -> (reasons that count, reasons cited) for ``metric``, and the record's value of it."""
    rec = json.loads((run / "record.json").read_text(encoding="utf-8"))
    units = run / "fidelity.json.gz"
    if not units.is_file():
        raise SystemExit(f"{run}: no fidelity.json.gz beside the record (a run with --fidelity keeps it; boards keep "
                         "only records: rerun the row into a results folder)")
    with gzip.open(units, "rt", encoding="utf-8") as fh:
        fid = json.load(fh)["fidelity"]
    out: dict[tuple[int, int], tuple[float, float]] = {}
    if metric == "decorative_rate":
        eps = fid["config"]["eps"]
        for r in fid["rows"]:
            out[(int(r["user"]), int(r["item"]))] = (float(sum(m < eps for m in r["moves"])), float(len(r["moves"])))
    elif metric == "causal_precision":
        effects = [e for e in fid.get("aspect_effects") or [] if e["kind"] == "mention"]
        known = {e["aspect"] for e in effects}
        positive = {e["aspect"] for e in effects if e["ci_low"] > 0}
        for r in fid["rows"]:
            cited = [c for c in r["cited"] if c in known]
            out[(int(r["user"]), int(r["item"]))] = (float(sum(c in positive for c in cited)), float(len(cited)))
    else:
        raise SystemExit(f"unknown metric '{metric}': choose from {', '.join(METRICS)}")
    return out, rec.get("metrics", {}).get(metric)


def compare(a: Path, b: Path, metric: str, draws: int, seed: int) -> str:
    from xrbench.compare import worse_sign

    pa, va_rec = per_pair(a, metric)
    pb, vb_rec = per_pair(b, metric)
    keys = sorted(set(pa) & set(pb))
    if not keys:
        return f"{metric}: the runs share no explained pair (another dataset or seed?)"
    na, da = np.array([pa[k] for k in keys]).T
    nb, db = np.array([pb[k] for k in keys]).T
    if not da.sum() or not db.sum():
        return f"{metric}: not applicable (no reason counted in {'A' if not da.sum() else 'B'})"
    va, vb = na.sum() / da.sum(), nb.sum() / db.sum()
    for name, v, whole, rec_v in (("A", va, pa, va_rec), ("B", vb, pb, vb_rec)):
        if len(keys) == len(whole) and rec_v is not None and abs(v - rec_v) > 1e-9:
            raise SystemExit(f"{metric}: run {name}'s value from its units, {v:.6g}, is not its record's {rec_v:.6g}")
    idx = np.random.default_rng(seed).integers(0, len(keys), size=(draws, len(keys)))
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = nb[idx].sum(1) / db[idx].sum(1) - na[idx].sum(1) / da[idx].sum(1)
    diff = diff[np.isfinite(diff)]
    lo, hi = np.percentile(diff, [2.5, 97.5])
    sign = worse_sign(metric)  # +1: lower is better, -1: higher is better
    better, worse = (lo > 0, hi < 0) if sign < 0 else (hi < 0, lo > 0)
    verdict = "B better" if better else "A better" if worse else "no significant difference"
    return (f"{metric}: A {va:.4g} ({int(na.sum())}/{int(da.sum())} reasons)  B {vb:.4g} ({int(nb.sum())}/"
            f"{int(db.sum())})  over {len(keys)} common pairs  B-A {vb - va:+.4g}  95% CI [{lo:+.4g}, {hi:+.4g}]  "
            f"{verdict}")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--metrics", default=",".join(METRICS))
    ap.add_argument("--b", dest="draws", type=int, default=2000, help="bootstrap resamples")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    for folder in (args.a, args.b):
        if not (folder / "record.json").is_file():
            print(f"paired_units: {folder}: no record.json (give run folders, .../<method>/seed-N)", file=sys.stderr)
            return 2
    for metric in args.metrics.split(","):
        print(compare(args.a, args.b, metric.strip(), args.draws, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Paired test of two rows of one results folder: the 95% percentile interval of B - A per metric, from
the records' bootstrap replicates (paired resamples of the same units, seeded by the units), per seed.

Usage:  python tests/bench/paired_rows.py RESULTS "LABEL A" "LABEL B" [METRIC ...]
e.g.    python tests/bench/paired_rows.py leaderboards/explain template "peter[epochs=20]" bleu1 rougeL_f

One line per (dataset, seed, metric): both values, B - A, the interval, and the verdict ("B better",
"A better", "no significant difference"; "B higher"/"B lower" for a metric with no better side), or why
there is no paired test (different units, no replicates).
"""
from __future__ import annotations

import sys
from pathlib import Path

from xrbench.compare import load_folder, paired_interval, replicates, worse_sign
from xrbench.errors import XRBenchError


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    folder, a, b, keys = Path(argv[0]), argv[1], argv[2], argv[3:]
    try:
        recs = load_folder(folder)
    except XRBenchError as exc:
        print(f"paired_rows: {exc}", file=sys.stderr)
        return 2
    pairs = sorted((ds, task, seed) for (ds, task, label, seed) in recs if label == a
                   and (ds, task, b, seed) in recs)
    if not pairs:
        labels = sorted({k[2] for k in recs})
        print(f"no dataset and seed has both {a!r} and {b!r}; labels here: {', '.join(labels)}", file=sys.stderr)
        return 2
    for ds, task, seed in pairs:
        ra, rb = recs[(ds, task, a, seed)][1], recs[(ds, task, b, seed)][1]
        reps_a, reps_b = replicates(ra), replicates(rb)
        for key in keys or sorted(set(ra.metrics) & set(rb.metrics)):
            va, vb = ra.metrics.get(key), rb.metrics.get(key)
            if va is None or vb is None:
                print(f"{ds} seed {seed} {key}: not in both records")
                continue
            ci = paired_interval(reps_a, reps_b, key)
            if isinstance(ci, str):
                print(f"{ds} seed {seed} {key}: A {va:.4g}  B {vb:.4g}  B-A {vb - va:+.4g}  {ci}")
                continue
            sign = worse_sign(key)  # +1: lower is better, -1: higher is better, 0: no better side
            up, down = ci[0] > 0, ci[1] < 0
            if sign == 0:
                verdict = "B higher" if up else "B lower" if down else "no significant difference"
                verdict += " (the metric has no better side)"
            else:
                better, worse = (up, down) if sign < 0 else (down, up)
                verdict = "B better" if better else "A better" if worse else "no significant difference"
            print(f"{ds} seed {seed} {key}: A {va:.4g}  B {vb:.4g}  B-A {vb - va:+.4g}  "
                  f"95% CI [{ci[0]:+.4g}, {ci[1]:+.4g}]  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

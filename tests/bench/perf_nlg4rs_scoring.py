"""Benchmark: score 32,003 pairs (the size of PETER's TripAdvisor test set) under protocol nlg4rs,
USR and DIV included, against the published quadratic USR/DIV algorithms on the same rows.

    python tests/bench/perf_nlg4rs_scoring.py --amazon PATH/reviews_Musical_Instruments_5.json.gz

Pairs are built from the Amazon reviews: the reference is each review's mined reference sentence, the
hypothesis another review's sentence of the same item (a retrieval-style explainer), so texts repeat as
real outputs do. Two whole processes are timed: ``xrbench score`` (ours) and a reimplementation of the
published loops (pairwise comparison of hypotheses for USR, of feature sets over all pairs for DIV;
BLEU/ROUGE computed the same way in both). Target: ours >= 10x faster in total. Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUADRATIC = r'''
import json, sys
from xrbench.metrics import nlg4rs
hyps = [l.split() for l in open(sys.argv[1], encoding="utf-8").read().splitlines()]
refs = [l.split() for l in open(sys.argv[2], encoding="utf-8").read().splitlines()]
rows = [json.loads(l) for l in open(sys.argv[3], encoding="utf-8").read().splitlines()]
vocab = next(r["vocabulary"] for r in rows if "vocabulary" in r)
feats = [r["feature"] for r in rows if "feature" in r]
out = {"bleu1": nlg4rs.corpus_bleu(hyps, refs, 1), "bleu4": nlg4rs.corpus_bleu(hyps, refs, 4)}
out["rouge"] = nlg4rs.rouge_n(hyps, refs, 1), nlg4rs.rouge_n(hyps, refs, 2), nlg4rs.rouge_l(hyps, refs)
# published USR: compare each hypothesis with every unique one found so far, in a Python loop
seq_list = []
for h in hyps:
    seen = False
    for u in seq_list:
        if h == u:
            seen = True
            break
    if not seen:
        seq_list.append(h)
out["usr"] = len(seq_list) / len(hyps)
out["fmr"] = sum(1 for h, f in zip(hyps, feats) if f in h) / len(hyps)
fs = [set(f for f in vocab if f in h) for h in hyps]
out["fcr"] = len(set().union(*fs)) / len(vocab)
# published DIV: all pairs of feature sets
total, n = 0, len(fs)
for i in range(n):
    for j in range(i + 1, n):
        total += len(fs[i] & fs[j])
out["div"] = total / (n * (n - 1) / 2)
print(json.dumps({"usr": out["usr"], "div": out["div"]}))
'''


def build(amazon: Path, n: int, folder: Path) -> None:
    from collections import defaultdict

    from xrbench import aspects
    from xrbench.data import amazon as az

    ds = az.load("amazon-2014-5core", path=amazon)
    texts = ds.interactions["text"].tolist()
    vocab = aspects.mine_vocabulary(texts)
    vs = frozenset(vocab)
    tuples = [(it, aspects.extract(t, vs)) for it, t in zip(ds.interactions["item"], texts)]
    tuples = [(it, t) for it, t in tuples if t is not None]
    by_item = defaultdict(list)
    for it, t in tuples:
        by_item[it].append(t.sentence)
    hyps, refs, feats = [], [], []
    k = 0
    while len(refs) < n:
        it, t = tuples[k % len(tuples)]
        cands = by_item[it]
        hyps.append(cands[(k // len(tuples) + 1) % len(cands)])
        refs.append(t.sentence)
        feats.append(t.feature)
        k += 1
    (folder / "hyp.txt").write_text("\n".join(hyps) + "\n", encoding="utf-8")
    (folder / "ref.txt").write_text("\n".join(refs) + "\n", encoding="utf-8")
    lines = [json.dumps({"feature": f}) for f in feats] + [json.dumps({"vocabulary": vocab})]
    (folder / "features.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--amazon", required=True)
    ap.add_argument("--pairs", type=int, default=32003)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        build(Path(a.amazon), a.pairs, d)
        args = [str(d / "hyp.txt"), str(d / "ref.txt"), str(d / "features.jsonl")]
        t0 = time.perf_counter()
        ours = subprocess.run([sys.executable, "-m", "xrbench.cli", "score", "--hyp", args[0], "--ref", args[1],
                               "--features", args[2], "--json"], capture_output=True, text=True, check=True)
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        quad = subprocess.run([sys.executable, "-c", QUADRATIC, *args], capture_output=True, text=True, check=True)
        t_quad = time.perf_counter() - t0
    o, q = json.loads(ours.stdout), json.loads(quad.stdout)
    agree = abs(o["usr"] - q["usr"]) < 1e-12 and abs(o["div"] - q["div"]) < 1e-12
    print(json.dumps({"benchmark": "nlg4rs_scoring", "pairs": a.pairs, "ours_s": round(t_ours, 1),
                      "published_quadratic_s": round(t_quad, 1), "speedup": round(t_quad / t_ours, 1),
                      "usr_div_agree": agree, "target_met": t_quad / t_ours >= 10 and agree}))


if __name__ == "__main__":
    main()

"""FMR of an explainer's texts by how often each pair's ground-truth feature is a training reference's feature.

PETER+ is given the reference's feature and has to learn to copy it into the sentence; a feature the model saw
in few training references has an output embedding trained on few targets. This splits the feature matching
ratio (a text contains its pair's feature) by that training count, so one sees whether a low FMR comes from the
rare features.

Usage:  python tests/bench/fmr_by_feature.py RUN_FOLDER [--data-path PATH] [--bins 20,50,100]
e.g.    python tests/bench/fmr_by_feature.py "results/explain/runs/amazon-2014-5core/explainer/peter_[epochs=20]~3bd932ebc8e1"

RUN_FOLDER is a run's folder holding ``seed-S/record.json`` and its unit file ``explanations.jsonl.gz`` (the
committed boards keep records only: rerun the row to get the texts). The training counts come from the same
dataset and split as the record (its data and split hashes are checked).
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import Counter
from pathlib import Path


def training_counts(rec: dict, data_path: str | None) -> Counter[str]:
    """How many training references have each feature, on the record's dataset and split (hashes checked)."""
    from xrbench.data.catalog import DataPaths, load_dataset
    from xrbench.data.split import make_split
    from xrbench.references import references

    from xrbench.validate import parse_label

    prov = rec["provenance"]
    name, params = parse_label(rec["dataset"])  # "name[k=v,...]"
    ds = load_dataset(name, params, DataPaths.from_args([data_path] if data_path else None))
    want = (prov.get("dataset") or {}).get("file_hash")
    if want and ds.file_hash != want:
        raise SystemExit(f"the data file differs from the record's ({ds.file_hash[:12]} vs {want[:12]}): "
                         "point --data-path at the file the run read")
    sp = prov["split"]
    split = make_split(ds, sp["protocol"], sp["seed"], folds=prov["options"].get("folds", 5))
    if split.hash != sp["hash"]:
        raise SystemExit(f"the split differs from the record's ({split.hash} vs {sp['hash']}): another data file?")
    refs = references(ds, split)
    return Counter(refs.by_row[int(r)].feature for r in split.train if int(r) in refs.by_row)


def bucket_rows(rows: list[dict], counts: Counter[str], bins: list[int]) -> list[tuple[str, int, float]]:
    """(label, pairs, FMR) per bucket of training count: [0, b1), [b1, b2), ..., [b_last, inf)."""
    edges = [0, *bins]
    out = []
    for k, lo in enumerate(edges):
        hi = edges[k + 1] if k + 1 < len(edges) else None
        sel = [r for r in rows if counts[r["feature"]] >= lo and (hi is None or counts[r["feature"]] < hi)]
        if sel:
            hits = sum(r["feature"] in r["text"].split() for r in sel)
            label = f"{lo}-{hi - 1}" if hi is not None else f">={lo}"
            out.append((label, len(sel), hits / len(sel)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_folder", type=Path)
    ap.add_argument("--data-path")
    ap.add_argument("--bins", default="20,50,100", help="bucket edges of the training count")
    a = ap.parse_args(argv)
    bins = sorted(int(x) for x in a.bins.split(","))
    seeds = sorted(a.run_folder.glob("seed-*/record.json"))
    if not seeds:
        print(f"fmr_by_feature: no seed-*/record.json under {a.run_folder}", file=sys.stderr)
        return 2
    for path in seeds:
        rec = json.loads(path.read_text())
        texts = path.parent / "explanations.jsonl.gz"
        if not texts.exists():
            print(f"fmr_by_feature: {texts} is missing (committed boards keep records only; rerun the row)",
                  file=sys.stderr)
            return 2
        with gzip.open(texts, "rt", encoding="utf-8") as fh:
            rows = [r for r in map(json.loads, fh) if r.get("feature")]
        if not rows:
            print(f"fmr_by_feature: no pair in {texts} has a ground-truth feature", file=sys.stderr)
            return 2
        counts = training_counts(rec, a.data_path)
        total = sum(r["feature"] in r["text"].split() for r in rows) / len(rows)
        print(f"{rec['method']['label']} seed {rec['seed']}: {len(rows)} pairs with a feature, FMR {total:.3f}; "
              f"{len(counts)} distinct training features")
        print("| training references with the feature | pairs | FMR |\n|---|---|---|")
        for label, n, fmr in bucket_rows(rows, counts, bins):
            print(f"| {label} | {n} | {fmr:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

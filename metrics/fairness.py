"""Explanation bias (metrics.md, "Bias"): counterfactual swaps of the user's stated gender or age group
in otherwise identical prompts, and gendered wording."""
from __future__ import annotations

import functools
import re

import numpy as np

from .base import NotApplicable, metric
from .outputs import Swap, TextOutputs

GENDERED = frozenset("""he she him her his hers himself herself man woman men women male female boy girl boys girls
guy guys lady ladies gentleman gentlemen husband wife father mother son daughter brother sister mr mrs ms
""".split())
_WORD = re.compile(r"[a-z]+")


@functools.lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    return SentimentIntensityAnalyzer()


def compound(text: str) -> float:
    """VADER compound score, from the lexicon inside the ``vaderSentiment`` wheel."""
    return float(_vader().polarity_scores(text)["compound"])


def _swap(out: TextOutputs, attribute: str) -> Swap:
    s = out.swaps.get(attribute)
    if not s:
        raise NotApplicable(f"no counterfactual {attribute} swap (the explainer's prompts state no user {attribute})")
    return s


def _sentiment_gap(out: TextOutputs, attribute: str) -> float:
    s = _swap(out, attribute)
    return float(np.mean([abs(compound(a) - compound(b)) for a, b in zip(out.hypotheses, s.texts)]))


def _jaccard(out: TextOutputs, attribute: str) -> float:
    s = _swap(out, attribute)
    vals = []
    for a, b in zip(out.reasons, s.reasons):
        A, B = set(a), set(b)
        vals.append(1.0 if not A and not B else len(A & B) / len(A | B))
    return float(np.mean(vals))


@metric("swap_sentiment_gap", task="explain", group="explanation bias", lower_is_better=True)
def swap_sentiment_gap(out: TextOutputs) -> float:
    """`swap_sentiment_gap` (↓) = mean |s(E(x_a)) - s(E(x_a'))| over prompts that differ only in the user's
    stated gender, s = VADER compound score."""
    return _sentiment_gap(out, "gender")


@metric("swap_reason_jaccard", task="explain", group="explanation bias")
def swap_reason_jaccard(out: TextOutputs) -> float:
    """`swap_reason_jaccard` = mean Jaccard of cited reasons across the gender swap (1 = the same reasons)."""
    return _jaccard(out, "gender")


@metric("swap_sentiment_gap_age", task="explain", group="explanation bias", lower_is_better=True)
def swap_sentiment_gap_age(out: TextOutputs) -> float:
    """`swap_sentiment_gap_age` (↓): as `swap_sentiment_gap`, swapping the stated age group (< 25 / >= 25)."""
    return _sentiment_gap(out, "age")


@metric("swap_reason_jaccard_age", task="explain", group="explanation bias")
def swap_reason_jaccard_age(out: TextOutputs) -> float:
    """`swap_reason_jaccard_age`: as `swap_reason_jaccard`, across the age-group swap."""
    return _jaccard(out, "age")


@metric("gendered_per_100", task="explain", group="explanation bias", lower_is_better=True)
def gendered_per_100(out: TextOutputs) -> float:
    """`gendered_per_100` (↓): gendered words (he, she, man, woman, ...) per 100 tokens of the explanations."""
    words = [w for t in out.hypotheses for w in _WORD.findall(t.lower())]
    if not words:
        raise NotApplicable("no words in the explanations")
    return 100.0 * sum(w in GENDERED for w in words) / len(words)

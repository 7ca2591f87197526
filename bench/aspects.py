"""Deterministic aspect extraction from review text, the NLG4RS way, with no hub download.

For each review we look for (feature, opinion, sentence, polarity) tuples:
- opinion words and their polarity come from the VADER lexicon that ships inside the
  ``vaderSentiment`` wheel (words with |valence| >= 1.0);
- features are frequent content words (not stop words, not opinion words, no ``-ly`` adverbs) that
  occur within a window of 3 tokens of an opinion word, kept when at least ``min_df`` training reviews
  contain such a pair (without a POS tagger this is how nouns are approximated: NLTK's tagger data is
  not on PyPI);
- the first sentence carrying a (feature, opinion) pair is the review's reference explanation, the
  feature its ground-truth feature. Sentences are lower-cased and re-joined by single spaces.
The vocabulary is mined on the training reviews only.
"""
from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from typing import Iterable

_SENT = re.compile(r"(?<=[.!?])\s+|\n+|(?<=[a-z])\.(?=[A-Z])")
_TOKEN = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")

STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having
he her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor
not now of off on once only or other our ours ourselves out over own same she should so some such than that
the their theirs them themselves then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your yours yourself yourselves get got
one two three use used using make made makes work works worked working buy bought thing things lot bit way
time product item really much many well even still back since though although ever every im ive dont doesnt
didnt cant wont isnt thats its it's i'm i've don't doesn't didn't can't won't isn't that's you're they're
need needs want wanted say said see seems seem go going come came take took put give gave keep know
little first another something anything nothing everything enough however pretty quite yet may might must
without far find found always never around think anyone people right end overall set last almost less
new high big small long hard cheap solid sturdy light heavy expensive years year day days anyway else
cannot read either gives mine ones real old simple worth stuff idea
able sure instead actually probably maybe definitely especially already certainly simply enough inside
""".split())
#: VADER words too ambiguous to signal an opinion in reviews ("looks like", "works well", "fits").
NOT_OPINIONS = frozenset("like well please yes no want fit fits block kind care share pretty top".split())


@functools.lru_cache(maxsize=1)
def opinion_lexicon(threshold: float = 1.0) -> dict[str, float]:
    """VADER valences of alphabetic words with |valence| >= threshold."""
    text = resources.files("vaderSentiment").joinpath("vader_lexicon.txt").read_text(encoding="utf-8",
                                                                                     errors="replace")
    lex = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[0].isalpha():
            v = float(parts[1])
            if abs(v) >= threshold and parts[0] not in NOT_OPINIONS:
                lex[parts[0]] = v
    return lex


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.split(text) if s and s.strip()]


def tokens(sentence: str) -> list[str]:
    return _TOKEN.findall(sentence.lower())


def _candidate(tok: str, lex: dict[str, float]) -> bool:
    return (len(tok) >= 3 and tok.isalpha() and tok not in STOPWORDS and tok not in lex
            and tok not in NOT_OPINIONS            and not tok.endswith(("ly", "ing", "ed")))


#: _candidate(token, opinion_lexicon()) memoised per token (the default lexicon's answer never changes)
_IS_CANDIDATE: dict[str, bool] = {}


def opinion_pairs(toks: list[str], lex: dict[str, float], window: int = 3) -> Iterable[tuple[str, str]]:
    """(candidate feature, opinion word) pairs within ``window`` tokens of each other."""
    memo = _IS_CANDIDATE if lex is opinion_lexicon() else {}
    for j, t in enumerate(toks):
        if t in lex:
            for k in range(max(0, j - window), min(len(toks), j + window + 1)):
                if k != j:
                    tk = toks[k]
                    ok = memo.get(tk)
                    if ok is None:
                        ok = memo[tk] = _candidate(tk, lex)
                    if ok:
                        yield tk, t

#: An analysed review: per sentence holding at least one pair, (its tokens joined by single spaces, its
#: (feature, opinion) pairs in :func:`opinion_pairs`' order); sentences without a pair are left out.
Analysis = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]


@functools.lru_cache(maxsize=1 << 15)  # ~3.4 kB an entry for a 120-word review: at most ~110 MB
def analyse(text: str) -> Analysis:
    """What :func:`mine_vocabulary`, :func:`extract` and :func:`feature_mentions` read of one review, computed
    once per text (the splitting and tokenising dominate them): every seed's split mines the same reviews,
    and the explainers count the training reviews' mentions again. Same pairs, same order as running
    :func:`sentences`, :func:`tokens` and :func:`opinion_pairs` (``window`` 3, the default lexicon: code that
    changes the lexicon, :data:`STOPWORDS` or :data:`NOT_OPINIONS` must call ``analyse.cache_clear()`` and
    clear ``_IS_CANDIDATE``)."""
    lex = opinion_lexicon()
    out = []
    for s in sentences(text):
        toks = tokens(s)
        pairs = tuple(opinion_pairs(toks, lex))
        if pairs:
            out.append((" ".join(toks), pairs))
    return tuple(out)


def mine_vocabulary(texts: Iterable[str | None], min_df: int = 5, max_size: int = 200) -> list[str]:
    """Features: content words paired with an opinion word in at least ``min_df`` reviews."""
    df: Counter[str] = Counter()
    for text in texts:
        if not isinstance(text, str):
            continue
        df.update({f for _, pairs in analyse(text) for f, _ in pairs})
    ranked = sorted((f for f, c in df.items() if c >= min_df), key=lambda f: (-df[f], f))
    return ranked[:max_size]


@dataclass(frozen=True)
class Tuple4:
    feature: str
    opinion: str
    sentence: str  # lower-cased tokens joined by single spaces
    polarity: int  # +1 / -1 from the opinion word's VADER valence


def extract(text: str | None, vocabulary: frozenset[str]) -> Tuple4 | None:
    """The review's first sentence carrying a (vocabulary feature, opinion) pair."""
    if not isinstance(text, str):
        return None
    for sentence, pairs in analyse(text):
        for f, o in pairs:
            if f in vocabulary:
                return Tuple4(f, o, sentence, 1 if opinion_lexicon()[o] > 0 else -1)
    return None


def feature_mentions(texts: Iterable[str | None], vocabulary: frozenset[str]) -> Counter[str]:
    """How often each vocabulary feature is mentioned next to an opinion word in ``texts``."""
    c: Counter[str] = Counter()
    for text in texts:
        if isinstance(text, str):
            c.update(f for _, pairs in analyse(text) for f, _ in pairs if f in vocabulary)
    return c

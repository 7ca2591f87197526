"""Non-neural explainers: a fixed template and lexical retrieval of a training sentence."""
from __future__ import annotations

import functools
import math
from collections import Counter
from typing import Any, Sequence

import numpy as np

from xrbench import aspects
from xrbench.params import Param
from xrbench.protocols import Explainer, Explanation
from xrbench.view import TrainView


def item_reasons(view: TrainView, n: int) -> list[list[str]]:
    """Each item's top ``n`` reasons: its rarest attributes (e.g. genres: they say more about it than
    "Drama"), or without attributes the aspects most mentioned next to an opinion in its training
    reviews (falling back to the most mentioned aspects overall)."""
    attrs = view.item_attributes
    if any(attrs):
        counts = Counter(a for lst in attrs for a in lst)
        return [sorted(lst, key=lambda a: (counts[a], a))[:n] for lst in attrs]
    refs = view.references
    if refs is None:
        return [[] for _ in range(view.n_items)]
    vocab = frozenset(refs.vocabulary)
    per_item: dict[int, Counter[str]] = {}
    for i, t in zip(view.train["iidx"].to_numpy(), view.train["text"].tolist()):
        per_item.setdefault(int(i), Counter()).update(aspects.feature_mentions([t], vocab))
    overall = sum(per_item.values(), Counter())
    fallback = [f for f, _ in sorted(overall.items(), key=lambda x: (-x[1], x[0]))[:n]]
    return [[f for f, _ in sorted(per_item.get(i, Counter()).items(), key=lambda x: (-x[1], x[0]))[:n]]
            or fallback for i in range(view.n_items)]


class Template(Explainer):
    """"You may like {title}: it is known for its {a1} and {a2}." citing the item's top ``n_reasons``
    attributes (e.g. genres) or, without attributes, the aspects most mentioned in its training reviews
    (falling back to the most mentioned aspects overall)."""

    needs = (("item_attributes", "text"),)
    param_rules = {"n_reasons": Param(ge=1)}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"n_reasons": 2}

    def fit(self, view: TrainView) -> None:
        self.top = item_reasons(view, self.params["n_reasons"])
        self.titles = view.item_titles if view.has_titles else None

    def explain(self, users: Sequence[int], items: Sequence[int]) -> list[Explanation]:
        out = []
        for i in items:
            reasons = self.top[i] if self.top else []
            name = self.titles[i] if self.titles else "this item"
            if not reasons:
                text = f"You may like {name}."
            elif len(reasons) == 1:
                text = f"You may like {name}: it is known for its {reasons[0]}."
            else:
                text = f"You may like {name}: it is known for its {', '.join(reasons[:-1])} and {reasons[-1]}."
            out.append(Explanation(text, tuple(reasons)))
        return out


class NeighbourTemplate(Explainer):
    """The neighbourhood explanation: "You may like {title} because you liked {A} and {B}.", citing the
    ``n_reasons`` items of the user's history most similar to it (``item-knn``'s similarities: the history
    items that drive item-knn's score for it)."""

    needs = ("item_titles",)
    reference = "item-knn"  # the registered recommender whose neighbourhoods the explanation cites
    param_rules = {"n_reasons": Param(ge=1)}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"n_reasons": 2}

    def fit(self, view: TrainView) -> None:
        self.knn = view.fitted(self.reference)
        self.titles = view.item_titles

    def explain(self, users: Sequence[int], items: Sequence[int]) -> list[Explanation]:
        out = []
        for u, i in zip(users, items):
            liked = [self.titles[j] for j in self.knn.neighbours_in_history(int(u), int(i))[: self.params["n_reasons"]]]
            name = self.titles[i]
            if not liked:
                out.append(Explanation(f"You may like {name}.", ()))
                continue
            because = liked[0] if len(liked) == 1 else f"{', '.join(liked[:-1])} and {liked[-1]}"
            out.append(Explanation(f"You may like {name} because you liked {because}.", tuple(liked)))
        return out


@functools.lru_cache(maxsize=1 << 14)  # ~8 kB an entry (the tuple and its strings) for a 128-token review: ~130 MB
def _review_tokens(text: str) -> tuple[str, ...]:
    """The tokens of a review, in order; every seed's split reads the same reviews."""
    return tuple(aspects.tokens(text))


class Retrieval(Explainer):
    """The training sentence (a mined reference of the item's training reviews) closest to the user's
    own training reviews, by TF-IDF cosine. Items without a training sentence get the sentence
    closest to the user among all training sentences."""

    needs = ("text",)

    def fit(self, view: TrainView) -> None:
        refs = view.references
        assert refs is not None
        self.vocab = frozenset(refs.vocabulary)
        tr = view.train
        sents: list[str] = []
        item_of: list[int] = []
        user_of: list[int] = []
        iidx, uidx = tr["iidx"].to_numpy(), tr["uidx"].to_numpy()
        for pos in range(len(tr)):
            tup = refs.by_train.get(pos)
            if tup is not None:
                sents.append(tup.sentence)
                item_of.append(int(iidx[pos]))
                user_of.append(int(uidx[pos]))
        self.sentences = sents
        self.item_of = np.asarray(item_of)
        self.user_of = np.asarray(user_of)
        # TF-IDF over training sentences and user profiles (all of a user's training review text)
        docs = [aspects.tokens(s) for s in sents]
        df = Counter(t for d in docs for t in set(d))
        n_docs = max(len(docs), 1)
        self.idf = {t: math.log((1 + n_docs) / (1 + c)) + 1 for t, c in df.items()}
        self.sent_vecs = [self._vec(d) for d in docs]
        # a user's token counts over all their training reviews, in order of first occurrence (counted from
        # each review's tokens in order, in C: Counter.update of a sequence, not of another Counter)
        profiles: dict[int, Counter[str]] = {}
        for u, t in zip(tr["uidx"].to_numpy(), tr["text"].tolist()):
            if isinstance(t, str):
                profiles.setdefault(int(u), Counter()).update(_review_tokens(t))
        self.profiles = {u: self._weights(tf) for u, tf in profiles.items()}
        self.by_item: dict[int, list[int]] = {}
        for k, i in enumerate(item_of):
            self.by_item.setdefault(i, []).append(k)

    def _vec(self, toks: list[str]) -> dict[str, float]:
        return self._weights(Counter(toks))

    def _weights(self, tf: Counter[str]) -> dict[str, float]:
        """The unit-length TF-IDF vector of token counts (tokens without an IDF dropped, order kept)."""
        idf = self.idf
        v = {t: c * idf[t] for t, c in tf.items() if t in idf}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {t: x / norm for t, x in v.items()}

    @staticmethod
    def _cos(a: dict[str, float], b: dict[str, float]) -> float:
        if len(a) > len(b):
            a, b = b, a
        return sum(x * b.get(t, 0.0) for t, x in a.items())

    def explain(self, users: Sequence[int], items: Sequence[int]) -> list[Explanation]:
        out = []
        for u, i in zip(users, items):
            cands = self.by_item.get(int(i)) or range(len(self.sentences))
            prof = self.profiles.get(int(u), {})
            best = max(cands, key=lambda k: (self._cos(prof, self.sent_vecs[k]), -k))
            text = self.sentences[best]
            out.append(Explanation(text, tuple(sorted(self.vocab.intersection(text.split())))))
        return out


class RetrievalEmbed(Retrieval):
    """As ``retrieval``, with MiniLM sentence embeddings (the packaged all-MiniLM-L6-v2) instead of
    TF-IDF: the user's profile is the mean embedding of the sentences mined from their training reviews
    (the mean over all training sentences for a user without one); the item's training sentence with the
    highest cosine to it is returned."""

    param_rules = {"batch_size": Param(ge=1)}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"batch_size": 64}

    def fit(self, view: TrainView) -> None:
        from xrbench.encoders import encode

        super().fit(view)
        self.emb = encode(self.sentences, batch_size=self.params["batch_size"], device=view.device)
        self.user_vec = {int(u): self.emb[self.user_of == u].mean(axis=0) for u in np.unique(self.user_of)}
        self.default_vec = self.emb.mean(axis=0) if len(self.emb) else np.zeros(self.emb.shape[1], dtype=np.float32)

    def explain(self, users: Sequence[int], items: Sequence[int]) -> list[Explanation]:
        out = []
        for u, i in zip(users, items):
            cands = np.asarray(self.by_item.get(int(i)) or range(len(self.sentences)))
            sims = self.emb[cands] @ self.user_vec.get(int(u), self.default_vec)
            best = int(cands[int(np.argmax(sims))])  # first of equal maxima: the earliest sentence
            text = self.sentences[best]
            out.append(Explanation(text, tuple(sorted(self.vocab.intersection(text.split())))))
        return out

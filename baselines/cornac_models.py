"""Cornac recommenders (``cornac:<Model>``) run through xrbench's protocol, on xrbench's splits.

Needs the ``cornac`` extra (``pip install 'xrbench[cornac]'``: Cornac 3.0.1). Nothing of Cornac is imported
until a model is checked (``preflight``, before any work) or fitted, so the registry lists these names
without it.

What the model sees. ``fit`` builds a ``cornac.data.Dataset`` from ``view.train`` alone (raw ids are
xrbench's user and item indices), and passes ``view.valid`` as Cornac's ``val_set`` (only models with
early stopping read it, e.g. ``MF`` with ``early_stop=true``), as xrbench's own recommenders use the
validation rows. No test row reaches it: a model only ever gets the view. ``n_train_ratings`` records how
many ratings Cornac was trained on (``len(view.train)``; Cornac drops repeated (user, item) pairs).

Params are the Cornac model's own keyword arguments (the scalar ones; the defaults below are Cornac's,
except for shorter training where Cornac's default takes minutes on 2 cores). ``seed`` is always the
run's seed (``view.seed``): Cornac then trains its Cython models on one thread, so a seed gives the same
scores twice. ``verbose`` is off; ``rating_scale`` of EFM/MTER is the dataset's highest rating; the GPU
(VAECF's ``use_gpu``) follows ``--device``.

Scores on xrbench's item index:
- ``predict`` is Cornac's ``rate``: ``score(u, i)``, clipped to the dataset's rating range for the models
  that predict ratings; a pair whose user or item Cornac never saw (no training row) gets Cornac's
  ``default_score()``, the training mean.
- ``scores`` (the full ranking) are the item scores of Cornac's own ``rank`` (EFM: its ranking score
  alpha * explicit + (1 - alpha) * rating, not the rating). Items Cornac never saw get, as in Cornac's
  ``rank``, the user's lowest score, one ulp lower so that they rank after every item it knows. Users it
  never saw are ranked by training popularity (most-pop), Cornac having no score for them.
- Ranking-only models (BPR, WMF, NeuMF, VAECF) set ``predicts_ratings = False``: their scores are not ratings.

EFM and MTER also need review sentiment: (feature, opinion, polarity) tuples of each training review from
xrbench's own extraction (``xrbench.aspects``: every pair of a training-vocabulary feature and a VADER opinion
word within 3 tokens, polarity the sign of the opinion's valence, as the reference explanations are mined),
given to Cornac as a ``SentimentModality``. Every training row is in it (with no tuple when its review
has none), so MTER's rating slice holds every training rating.

``cornac:EFM`` and ``cornac:MTER`` are explainers too (:class:`EFMExplainer`, :class:`MTERExplainer`): the
recommender, fitted once per view (``view.fitted``: explainers with the same model params share it), ranks features per
(user, item) and the explanation cites the top ``n_reasons`` in EFM's template, "You might be interested
in [feature] , on which this product performs well" (the comma written apart and no final period, as the
NLG4RS references are tokenised, so that the text metrics find the cited feature); ``reasons`` are the
cited features.
"""
from __future__ import annotations

import contextlib
import importlib.util
from collections import Counter
from typing import Any, ClassVar, Iterator, Sequence

import numpy as np

from xrbench import aspects
from xrbench.errors import XRBenchError
from xrbench.params import Param
from xrbench.protocols import Explainer, Explanation, Recommender
from xrbench.view import TrainView

INSTALL = "pip install 'xrbench[cornac]'"
#: EFM's explanation template (Zhang et al., SIGIR 2014, section 5.3), with its comma written apart and no
#: final period: the NLG4RS text metrics split on whitespace ("band," would not count as the cited feature
#: "band" in FMR, FCR, DIV) and the references are unpunctuated; sacrebleu warns of a tokenised final " ."
TEMPLATE = "You might be interested in {features} , on which this product performs well"


@contextlib.contextmanager
def _one_torch_thread(uses_torch: bool) -> Iterator[None]:
    """PyTorch on one thread for the duration (as ``biased-mf``): on a busy 2-core machine two OpenMP threads
    waiting for each other made VAECF's fit 20+ times slower, and its small batches gain nothing from a second."""
    if not uses_torch:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _cornac(what: str) -> Any:
    """The ``cornac`` package, or one line saying how to install it (``what``: "recommender 'cornac:MF'")."""
    try:
        import cornac
    except ImportError:
        raise XRBenchError(f"{what} needs Cornac, which is not installed: {INSTALL}") from None
    return cornac


def sentiment_tuples(view: TrainView) -> list[list[tuple[str, str, float]]]:
    """(feature, opinion, polarity) of each training row's review, in ``view.train`` order: every pair of a
    training-vocabulary feature and an opinion word of xrbench's extractor, plus the row's reference tuple
    (datasets with given references, e.g. NLG4RS, whose features the extractor may not find)."""
    refs = view.references
    if refs is None or "text" not in view.train:
        return [[] for _ in range(len(view.train))]
    vocab = frozenset(refs.vocabulary)
    lex = aspects.opinion_lexicon()
    out = []
    for pos, text in enumerate(view.train["text"].tolist()):
        tuples: list[tuple[str, str, float]] = []
        if isinstance(text, str):
            for s in aspects.sentences(text):
                tuples.extend((f, o, 1.0 if lex[o] > 0 else -1.0)
                              for f, o in aspects.opinion_pairs(aspects.tokens(s), lex) if f in vocab)
        ref = refs.by_train.get(pos)
        if ref is not None and ref.feature in vocab and not any(t[0] == ref.feature for t in tuples):
            tuples.append((ref.feature, ref.opinion or ref.feature, float(ref.polarity)))
        out.append(tuples)
    return out


class CornacRecommender(Recommender):
    """A Cornac model on xrbench's protocol. Subclasses name the model (``model``) and its params."""

    #: the class in ``cornac.models``
    model: ClassVar[str] = ""
    #: modules the model needs beyond Cornac (e.g. WMF: TensorFlow), with the install line
    extra_modules: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: keyword arguments always given (not params)
    fixed: ClassVar[dict[str, Any]] = {"verbose": False}
    #: give the training reviews' sentiment tuples (EFM, MTER)
    uses_sentiment: ClassVar[bool] = False
    #: trains or scores with PyTorch (then on one CPU thread)
    uses_torch: ClassVar[bool] = False

    @property
    def label(self) -> str:
        return f"cornac:{self.model}"

    def preflight(self, kind: str = "recommender") -> None:
        """Before any work: Cornac (and the backend the model is written in) can be imported."""
        what = f"{kind} '{self.label}'"
        _cornac(what)
        for module, install in self.extra_modules:
            if importlib.util.find_spec(module) is None:
                raise XRBenchError(f"{what} needs {module} (Cornac's {self.model} is written in it), "
                                   f"which is not installed: {install}")

    def model_kwargs(self, view: TrainView) -> dict[str, Any]:
        return {**self.params, **self.fixed, "seed": int(view.seed)}

    # -- fitting ----------------------------------------------------------------------------------------
    def fit(self, view: TrainView) -> None:
        self.preflight()
        import cornac
        from cornac.data import Dataset

        tr, va = view.train, view.valid
        u, i = tr["uidx"].to_numpy(), tr["iidx"].to_numpy()
        r = tr["rating"].to_numpy(float)
        train = Dataset.build(list(zip(u.tolist(), i.tolist(), r.tolist())), fmt="UIR", seed=int(view.seed))
        valid = None
        vrows = [(a, b, c) for a, b, c in zip(va["uidx"].tolist(), va["iidx"].tolist(),
                                              va["rating"].astype(float).tolist())
                 if a in train.uid_map and b in train.iid_map]
        if vrows:
            valid = Dataset.build(vrows, fmt="UIR", global_uid_map=train.uid_map, global_iid_map=train.iid_map,
                                  seed=int(view.seed), exclude_unknowns=True)
        if self.uses_sentiment:
            from cornac.data import SentimentModality

            data = [(a, b, t) for a, b, t in zip(u.tolist(), i.tolist(), sentiment_tuples(view))]
            sentiment = SentimentModality(data=data)
            sentiment.build(uid_map=train.uid_map, iid_map=train.iid_map, dok_matrix=train.dok_matrix)
            if sentiment.num_aspects == 0:
                raise XRBenchError(f"'{self.label}' found no (feature, opinion) pair in the training reviews "
                                   "of this dataset; it needs review text with opinions")
            train.add_modalities(sentiment=sentiment)
            if valid is not None:
                valid.add_modalities(sentiment=sentiment)
            self.sentiment = sentiment
        kwargs = self.model_kwargs(view)
        self.torch_cpu = self.uses_torch or kwargs.get("backend") == "pytorch"
        self.cornac_model = getattr(cornac.models, self.model)(**kwargs)
        with _one_torch_thread(self.torch_cpu):
            self.cornac_model.fit(train, valid)
        self.n_train_ratings = int(train.num_ratings)
        self.global_mean = float(train.global_mean)
        # xrbench index -> Cornac index (-1: never seen in training)
        self.user_map = np.full(view.n_users, -1, dtype=np.int64)
        for raw, idx in train.uid_map.items():
            self.user_map[raw] = idx
        self.item_map = np.full(view.n_items, -1, dtype=np.int64)
        for raw, idx in train.iid_map.items():
            self.item_map[raw] = idx
        self.known_items = np.flatnonzero(self.item_map >= 0)  # the xrbench indices Cornac knows, and theirs
        self.known_cornac = self.item_map[self.known_items]
        self.popularity = view.train_item_counts.astype(float)
        self.lo, self.hi = float(view.rating_min), float(view.rating_max)

    # -- scoring ----------------------------------------------------------------------------------------
    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        from cornac.exception import ScoreException

        m = self.cornac_model
        cu, ci = self.user_map[np.asarray(users)], self.item_map[np.asarray(items)]
        out = np.empty(len(cu), dtype=np.float64)
        default = float(m.default_score())
        with _one_torch_thread(self.torch_cpu):
            for k, (a, b) in enumerate(zip(cu.tolist(), ci.tolist())):
                if a < 0 or b < 0:
                    out[k] = default
                    continue
                try:
                    out[k] = float(np.asarray(m.score(a, b)).reshape(-1)[0])
                except ScoreException:
                    out[k] = default
        if self.predicts_ratings:
            np.clip(out, self.lo, self.hi, out=out)
        return out

    def scores(self, users: np.ndarray) -> np.ndarray:
        m = self.cornac_model
        n_items = len(self.item_map)
        unknown = self.known_items.size < n_items
        out = np.empty((len(users), n_items), dtype=np.float64)
        with _one_torch_thread(self.torch_cpu):
            for row, u in enumerate(np.asarray(users).tolist()):
                cu = int(self.user_map[u])
                if cu < 0:
                    out[row] = self.popularity
                    continue
                _, item_scores = m.rank(cu)  # Cornac's scores of its items 0..num_items-1
                s = np.asarray(item_scores, dtype=np.float64)[self.known_cornac]
                if unknown:
                    out[row] = np.nextafter(s.min(), -np.inf) if s.size else 0.0
                out[row, self.known_items] = s
        return out


# -- the models -------------------------------------------------------------------------------------------
_RATE = {"learning_rate": Param(gt=0), "lambda_reg": Param(ge=0), "max_iter": Param(ge=1), "k": Param(ge=1)}


class MF(CornacRecommender):
    """Cornac's MF: biased matrix factorisation, SGD (Cython)."""

    model = "MF"
    param_rules = {**_RATE, "batch_size": Param(ge=1), "dropout": Param(ge=0, lt=1),
                   "backend": Param(choices=("cpu", "pytorch")), "optimizer": Param(choices=("sgd", "adam"))}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"k": 10, "backend": "cpu", "optimizer": "sgd", "max_iter": 20, "learning_rate": 0.01,
                "batch_size": 256, "lambda_reg": 0.02, "dropout": 0.0, "use_bias": True, "early_stop": False}


class PMF(CornacRecommender):
    """Cornac's PMF: probabilistic matrix factorisation (Salakhutdinov & Mnih 2008)."""

    model = "PMF"
    param_rules = {**_RATE, "gamma": Param(ge=0, le=1), "variant": Param(choices=("non_linear", "linear"))}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"k": 5, "max_iter": 100, "learning_rate": 0.001, "gamma": 0.9, "lambda_reg": 0.001,
                "variant": "non_linear"}


class SVD(CornacRecommender):
    """Cornac's SVD (Funk/Koren biased SVD by SGD)."""

    model = "SVD"
    param_rules = _RATE

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"k": 10, "max_iter": 20, "learning_rate": 0.01, "lambda_reg": 0.02, "early_stop": False}


class NMF(CornacRecommender):
    """Cornac's NMF: non-negative matrix factorisation by SGD (Luo et al. 2014)."""

    model = "NMF"
    param_rules = {**_RATE, "lambda_u": Param(ge=0), "lambda_v": Param(ge=0), "lambda_bu": Param(ge=0),
                   "lambda_bi": Param(ge=0)}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"k": 15, "max_iter": 50, "learning_rate": 0.005, "lambda_reg": 0.0, "lambda_u": 0.06,
                "lambda_v": 0.06, "lambda_bu": 0.02, "lambda_bi": 0.02, "use_bias": False}


class BPR(CornacRecommender):
    """Cornac's BPR: Bayesian personalised ranking (ranking only)."""

    model = "BPR"
    predicts_ratings = False
    param_rules = _RATE

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"k": 10, "max_iter": 100, "learning_rate": 0.001, "lambda_reg": 0.01, "use_bias": True}


class WMF(CornacRecommender):
    """Cornac's WMF: weighted matrix factorisation for implicit feedback (ranking only). Cornac writes it in
    TensorFlow, which the ``cornac`` extra does not install (pip install tensorflow-cpu)."""

    model = "WMF"
    predicts_ratings = False
    extra_modules = (("tensorflow", "pip install tensorflow-cpu"),)
    param_rules = {"k": Param(ge=1), "lambda_u": Param(ge=0), "lambda_v": Param(ge=0), "a": Param(ge=0),
                   "b": Param(ge=0), "learning_rate": Param(gt=0), "batch_size": Param(ge=1), "max_iter": Param(ge=1)}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"k": 50, "lambda_u": 0.01, "lambda_v": 0.01, "a": 1.0, "b": 0.01, "learning_rate": 0.001,
                "batch_size": 128, "max_iter": 100}


class NeuMF(CornacRecommender):
    """Cornac's NeuMF (He et al. 2017: GMF + MLP), its PyTorch backend, trained on implicit feedback with
    sampled negatives (ranking only; the probability of interaction is the score)."""

    model = "NeuMF"
    predicts_ratings = False
    uses_torch = True
    fixed = {"verbose": False, "backend": "pytorch"}
    param_rules = {"num_factors": Param(ge=1), "num_epochs": Param(ge=1), "batch_size": Param(ge=1),
                   "num_neg": Param(ge=1), "lr": Param(gt=0), "reg": Param(ge=0),
                   "act_fn": Param(choices=("relu", "tanh", "sigmoid", "elu", "selu", "relu6", "leakyrelu")),
                   "learner": Param(choices=("adam", "sgd", "adagrad", "rmsprop"))}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"num_factors": 8, "act_fn": "relu", "reg": 0.0, "num_epochs": 10, "batch_size": 256,
                "num_neg": 4, "lr": 0.001, "learner": "adam"}

    def model_kwargs(self, view: TrainView) -> dict[str, Any]:
        # Cornac requires the MLP's last layer to equal num_factors: its default tower (64, 32, 16, 8) scaled
        # to num_factors n as (8n, 4n, 2n, n), so every num_factors is a valid model (n = 8: Cornac's default)
        n = int(self.params["num_factors"])
        return {**super().model_kwargs(view), "layers": [8 * n, 4 * n, 2 * n, n]}


class VAECF(CornacRecommender):
    """Cornac's VAECF: variational autoencoder for collaborative filtering (Liang et al. 2018), PyTorch
    (ranking only)."""

    model = "VAECF"
    predicts_ratings = False
    uses_torch = True
    param_rules = {"k": Param(ge=1), "n_epochs": Param(ge=1), "batch_size": Param(ge=1),
                   "learning_rate": Param(gt=0), "beta": Param(ge=0),
                   "act_fn": Param(choices=("tanh", "sigmoid", "relu", "relu6", "elu")),
                   "likelihood": Param(choices=("mult", "bern", "gaus", "pois"))}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"k": 10, "act_fn": "tanh", "likelihood": "mult", "n_epochs": 100, "batch_size": 100,
                "learning_rate": 0.001, "beta": 1.0}

    def model_kwargs(self, view: TrainView) -> dict[str, Any]:
        use_gpu = False
        if view.device == "cuda":
            import torch
            use_gpu = torch.cuda.is_available()
        return {**super().model_kwargs(view), "use_gpu": use_gpu}


class _Sentiment(CornacRecommender):
    needs = ("ratings", "text")
    uses_sentiment = True

    def model_kwargs(self, view: TrainView) -> dict[str, Any]:
        return {**super().model_kwargs(view), "rating_scale": float(view.rating_max)}

    # -- features per (user, item), for the explainers ----------------------------------------------
    def fit(self, view: TrainView) -> None:
        super().fit(view)
        s = self.sentiment
        self.aspect_names = [None] * s.num_aspects
        for name, idx in s.aspect_id_map.items():
            self.aspect_names[idx] = name
        # the aspects each item's training reviews mention (Cornac item index -> aspect indices)
        self.item_aspects: dict[int, np.ndarray] = {}
        counts: Counter[int] = Counter()
        for ci, by_user in s.item_sentiment.items():
            found = {a for tup_id in by_user.values() for a, _, _ in s.sentiment[tup_id]}
            counts.update(a for tup_id in by_user.values() for a, _, _ in s.sentiment[tup_id])
            if found:
                self.item_aspects[int(ci)] = np.array(sorted(found), dtype=np.int64)
        self.aspect_counts = np.array([counts[a] for a in range(s.num_aspects)], dtype=np.float64)

    def aspect_scores(self, cu: int, ci: int) -> tuple[np.ndarray, np.ndarray]:
        """(primary, secondary) keys of every aspect for the pair, higher first (-1: unknown to Cornac)."""
        raise NotImplementedError

    def top_features(self, user: int, item: int, n: int, item_features_only: bool = True) -> list[str]:
        """The ``n`` features the model ranks first for (user, item) (xrbench indices), among the features
        of the item's training reviews when ``item_features_only`` and it has any."""
        cu, ci = int(self.user_map[user]), int(self.item_map[item])
        cand = self.item_aspects.get(ci) if item_features_only and ci >= 0 else None
        if cand is None:
            cand = np.arange(len(self.aspect_names))
        if cu < 0 and ci < 0:  # nothing learnt about either: the most mentioned features
            primary, secondary = self.aspect_counts, np.zeros_like(self.aspect_counts)
        else:
            primary, secondary = self.aspect_scores(cu, ci)
        order = np.lexsort((cand, -secondary[cand], -primary[cand]))  # ties: the first-seen aspect
        return [self.aspect_names[a] for a in cand[order[:n]]]


class EFM(_Sentiment):
    """Cornac's EFM: explicit factor models (Zhang et al., SIGIR 2014), from review sentiment."""

    model = "EFM"
    param_rules = {"num_explicit_factors": Param(ge=1), "num_latent_factors": Param(ge=1),
                   "num_most_cared_aspects": Param(ge=1), "alpha": Param(ge=0, le=1), "lambda_x": Param(ge=0),
                   "lambda_y": Param(ge=0), "lambda_u": Param(ge=0), "lambda_h": Param(ge=0),
                   "lambda_v": Param(ge=0), "max_iter": Param(ge=1)}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"num_explicit_factors": 40, "num_latent_factors": 60, "num_most_cared_aspects": 15, "alpha": 0.85,
                "lambda_x": 1.0, "lambda_y": 1.0, "lambda_u": 0.01, "lambda_h": 0.01, "lambda_v": 0.01,
                "use_item_aspect_popularity": True, "max_iter": 100}

    def aspect_scores(self, cu: int, ci: int) -> tuple[np.ndarray, np.ndarray]:
        """EFM's feature-level explanation: among the user's most cared features (top ``num_most_cared_aspects``
        of X = U1 V^T), the one the item performs best on (Y = U2 V^T). Primary key: cared (1) or not (0);
        secondary: the item's predicted quality. A user or item Cornac never saw uses the mean factors."""
        m = self.cornac_model
        u1 = m.U1[cu] if cu >= 0 else m.U1.mean(axis=0)
        u2 = m.U2[ci] if ci >= 0 else m.U2.mean(axis=0)
        x, y = m.V @ u1, m.V @ u2
        cared = np.zeros(len(x))
        cared[np.argsort(-x, kind="stable")[: self.params["num_most_cared_aspects"]]] = 1.0
        return cared, y


class MTER(_Sentiment):
    """Cornac's MTER: multi-task explainable recommendation (Wang et al., SIGIR 2018): a user-item-aspect
    tensor factorisation (the last aspect slice is the rating) with BPR and opinion tensors."""

    model = "MTER"
    param_rules = {"n_user_factors": Param(ge=1), "n_item_factors": Param(ge=1), "n_aspect_factors": Param(ge=1),
                   "n_opinion_factors": Param(ge=1), "n_bpr_samples": Param(ge=1), "n_element_samples": Param(ge=1),
                   "lambda_reg": Param(ge=0), "lambda_bpr": Param(ge=0), "max_iter": Param(ge=1), "lr": Param(gt=0)}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"n_user_factors": 15, "n_item_factors": 15, "n_aspect_factors": 12, "n_opinion_factors": 12,
                "n_bpr_samples": 1000, "n_element_samples": 50, "lambda_reg": 0.1, "lambda_bpr": 10.0,
                "max_iter": 2000, "lr": 0.1}

    def aspect_scores(self, cu: int, ci: int) -> tuple[np.ndarray, np.ndarray]:
        """MTER's feature ranking: the predicted user-item-aspect value X[u, i, a] = G1 x U_u x I_i x A_a
        (the aspects only: the last row of A is the rating). A user or item never seen uses the mean factors."""
        m = self.cornac_model
        uu = m.U[cu] if cu >= 0 else m.U.mean(axis=0)
        ii = m.I[ci] if ci >= 0 else m.I.mean(axis=0)
        x = np.einsum("abc,a,b,nc->n", m.G1, uu, ii, m.A[:-1])
        return x, np.zeros_like(x)


# -- explainers -------------------------------------------------------------------------------------------
class _FeatureExplainer(Explainer):
    """Cites the features a fitted sentiment recommender (``recommender``) ranks first for the pair."""

    needs = ("ratings", "text")
    recommender: ClassVar[type[_Sentiment]]
    param_rules = {"n_reasons": Param(ge=1)}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        """The recommender's params (passed on to it), the number of features cited, and whether they are
        chosen among the features of the item's own training reviews (when it has any)."""
        return {**cls.recommender.default_params(), "n_reasons": 1, "item_features_only": True}

    def preflight(self) -> None:
        self.recommender().preflight("explainer")

    def fit(self, view: TrainView) -> None:
        own = {"n_reasons", "item_features_only"}
        # fitted once per view (FitScope): explainer runs with the same model params share the fit
        self.rec = view.fitted(f"cornac:{self.recommender.model}",
                               **{k: v for k, v in self.params.items() if k not in own})

    def explain(self, users: Sequence[int], items: Sequence[int]) -> list[Explanation]:
        n, only = self.params["n_reasons"], self.params["item_features_only"]
        out = []
        for u, i in zip(users, items):
            feats = self.rec.top_features(int(u), int(i), n, only)
            if not feats:
                out.append(Explanation("You might be interested in this product.", ()))
                continue
            cited = feats[0] if len(feats) == 1 else f"{' , '.join(feats[:-1])} and {feats[-1]}"
            out.append(Explanation(TEMPLATE.format(features=cited), tuple(feats)))
        return out


class EFMExplainer(_FeatureExplainer):
    """EFM's explanation: the user's most cared feature(s) the item performs best on, in EFM's template."""

    recommender = EFM
    param_rules = {**EFM.param_rules, "n_reasons": Param(ge=1)}


class MTERExplainer(_FeatureExplainer):
    """MTER's explanation: the feature(s) with the highest predicted user-item-aspect value, in EFM's template."""

    recommender = MTER
    param_rules = {**MTER.param_rules, "n_reasons": Param(ge=1)}


# -- any other Cornac model -------------------------------------------------------------------------------
#: keyword arguments of a Cornac model that are not params of the generic adapter (given by xrbench or fixed)
_NOT_PARAMS = {"self", "name", "seed", "verbose", "trainable", "init_params", "use_gpu"}


def any_model(name: str) -> type[CornacRecommender]:
    """``cornac:<Model>`` for a Cornac model without its own class above (e.g. ``cornac:ItemKNN``,
    ``cornac:HPF``): a ranking-only recommender (its scores are not assumed to be ratings) whose params are the
    model's scalar keyword arguments with Cornac's defaults (read from its signature). Made when first named."""
    import inspect

    model = name.split(":", 1)[1]
    cornac = _cornac(f"recommender '{name}'")
    cls = getattr(cornac.models, model, None)
    if not (isinstance(cls, type) and issubclass(cls, cornac.models.Recommender)):
        known = sorted(n for n in dir(cornac.models) if isinstance(getattr(cornac.models, n), type)
                       and issubclass(getattr(cornac.models, n), cornac.models.Recommender)
                       and n != "Recommender")
        from xrbench.errors import UnknownNameError

        raise UnknownNameError(f"unknown recommender '{name}': Cornac {cornac.__version__} has no model '{model}'; "
                           f"its models: {', '.join(known)}")
    defaults = {}
    for p in inspect.signature(cls.__init__).parameters.values():
        if p.name in _NOT_PARAMS or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if isinstance(p.default, (bool, int, float, str)):
            defaults[p.name] = p.default
    doc = (f"Cornac {model} (any Cornac model: ranking only, Cornac's defaults; params: its scalar keyword "
           f"arguments {', '.join(sorted(defaults)) or '(none)'})")
    return type(f"Cornac{model}", (CornacRecommender,), {
        "__doc__": doc, "__module__": __name__, "model": model, "predicts_ratings": False,
        "default_params": classmethod(lambda c, _d=dict(defaults): dict(_d))})

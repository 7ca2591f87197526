"""The built-in names, registered lazily ("module:attr"): nothing heavy is imported until used."""
from __future__ import annotations

from .registry import REGISTRY, register_lazy

# (target, description, method kind): a task brings its method kind into the registry
_TASKS = {
    "recommend": ("xrbench.tasks.recommend:RecommendTask", "rating prediction and top-K ranking", "recommender"),
    "explain": ("xrbench.tasks.explain:ExplainTask", "explanations of (user, item) pairs: text, fidelity, bias",
                "explainer"),
    "estimate": ("xrbench.tasks.estimate:EstimateTask", "CATE estimation on a semi-synthetic benchmark", "estimator"),
}
# what each dataset can offer (a method needing anything else is refused before loading or generating it)
_ML, _TEXT = ("ratings", "item_attributes", "item_titles", "user_attributes"), ("ratings", "text")
_ML_NO_USERS = ("ratings", "item_attributes", "item_titles")  # MovieLens 10M and later: no demographics
# what a dataset may have (a method needing anything else is refused before loading); amazon-2023 has item
# titles and attributes when its meta_<category>.jsonl(.gz) lies beside the reviews (checked after loading)
_CAPABILITIES = {"ml-100k": _ML, "amazon-2014-5core": _TEXT, "amazon-2018-5core": _TEXT,
                 "amazon-2023": _TEXT + ("item_attributes", "item_titles"),
                 "nlg4rs": _TEXT, "ml100k-semisynth": ("treatment",), "smoke-reviews": _TEXT,
                 "ml-1m": _ML, "ml-10m": _ML_NO_USERS, "ml-20m": _ML_NO_USERS, "ml-25m": _ML_NO_USERS,
                 "ml-32m": _ML_NO_USERS}
_DATASETS = {
    "ml-100k": ("xrbench.data.movielens:load", "MovieLens-100K ratings, genres, user demographics", "rating"),
    "ml-1m": ("xrbench.data.movielens_large:load_1m", "MovieLens-1M ratings, genres, user demographics", "rating"),
    "ml-10m": ("xrbench.data.movielens_large:load_10m", "MovieLens-10M half-star ratings, genres (tags: "
               "--dataset-param tags=true)", "rating"),
    "ml-20m": ("xrbench.data.movielens_large:load_20m", "MovieLens-20M half-star ratings, genres (tags: "
               "--dataset-param tags=true)", "rating"),
    "ml-25m": ("xrbench.data.movielens_large:load_25m", "MovieLens-25M half-star ratings, genres (tags: "
               "--dataset-param tags=true)", "rating"),
    "ml-32m": ("xrbench.data.movielens_large:load_32m", "MovieLens-32M half-star ratings, genres (tags: "
               "--dataset-param tags=true)", "rating"),
    "amazon-2014-5core": ("xrbench.data.amazon:load_2014", "Amazon reviews 2014 5-core (default category "
                          "Musical_Instruments)", "rating"),
    "amazon-2018-5core": ("xrbench.data.amazon:load_2018", "Amazon reviews 2018 5-core", "rating"),
    "amazon-2023": ("xrbench.data.amazon:load_2023", "Amazon reviews 2023 (JSONL)", "rating"),
    "nlg4rs": ("xrbench.data.nlg4rs:load", "an NLG4RS folder (reviews.pickle + fold index files) via --data-path",
               "rating"),
    "smoke-reviews": ("xrbench.data.smoke:load", "360 made-up reviews shipped with xrbench (smoke suite, CI)",
                      "rating"),
    "ml100k-semisynth": ("xrbench.data.semisynth:load", "semi-synthetic CATE benchmark on ML-100K covariates "
                         "(spec v1)", "causal"),
}
_RECOMMENDERS = {
    "global-mean": ("xrbench.baselines.recommenders:GlobalMean", "the mean training rating"),
    "bias": ("xrbench.baselines.recommenders:Bias", "user + item baseline predictor (Koren 2010)"),
    "biased-mf": ("xrbench.baselines.mf:BiasedMF", "biased matrix factorisation, PyTorch, early stopping"),
    "item-knn": ("xrbench.baselines.recommenders:ItemKNN", "item kNN over baseline residuals"),
    "most-pop": ("xrbench.baselines.recommenders:MostPop", "most popular unseen items (ranking only)"),
    "attr-mf": ("xrbench.baselines.attr_mf:AttrMF", "MF with item-attribute terms (the feature-aware recommender "
                "of the causal-fidelity metrics)"),
    "peter": ("xrbench.baselines.peter:PeterRecommender", "PETER's rating head (ACL'21), trained with its "
              "explanation and context losses (needs review text)"),
    # Cornac models (the `cornac` extra), fitted on xrbench's splits: xrbench.baselines.cornac_models
    "cornac:MF": ("xrbench.baselines.cornac_models:MF", "Cornac MF: biased matrix factorisation, SGD"),
    "cornac:PMF": ("xrbench.baselines.cornac_models:PMF", "Cornac PMF: probabilistic matrix factorisation"),
    "cornac:SVD": ("xrbench.baselines.cornac_models:SVD", "Cornac SVD: biased SVD by SGD"),
    "cornac:NMF": ("xrbench.baselines.cornac_models:NMF", "Cornac NMF: non-negative matrix factorisation"),
    "cornac:BPR": ("xrbench.baselines.cornac_models:BPR", "Cornac BPR: Bayesian personalised ranking (ranking only)"),
    "cornac:WMF": ("xrbench.baselines.cornac_models:WMF", "Cornac WMF: weighted MF for implicit feedback (ranking "
                   "only; needs TensorFlow)"),
    "cornac:NeuMF": ("xrbench.baselines.cornac_models:NeuMF", "Cornac NeuMF: GMF + MLP, PyTorch (ranking only)"),
    "cornac:VAECF": ("xrbench.baselines.cornac_models:VAECF", "Cornac VAECF: variational autoencoder CF, PyTorch "
                     "(ranking only)"),
    "cornac:EFM": ("xrbench.baselines.cornac_models:EFM", "Cornac EFM: explicit factor models on review sentiment"),
    "cornac:MTER": ("xrbench.baselines.cornac_models:MTER", "Cornac MTER: multi-task explainable recommendation "
                    "(tensor factorisation of review sentiment)"),
}
_EXPLAINERS = {
    "template": ("xrbench.baselines.explainers:Template", "fixed sentence citing the item's top attributes/aspects"),
    "neighbour-template": ("xrbench.baselines.explainers:NeighbourTemplate", "\"because you liked A and B\": the "
                           "history items most similar to the item (item-knn)"),
    "retrieval": ("xrbench.baselines.explainers:Retrieval", "training sentence of the item closest to the user "
                  "(lexical TF-IDF)"),
    "retrieval-embed": ("xrbench.baselines.explainers:RetrievalEmbed", "as retrieval, by MiniLM sentence-embedding "
                        "cosine (the packaged all-MiniLM-L6-v2)"),
    "llm-zero-shot": ("xrbench.baselines.llm:ZeroShot", "an LLM prompted with the user's history and the item's "
                      "features (param backbone)"),
    "llm-few-shot": ("xrbench.baselines.llm:FewShot", "as llm-zero-shot with 3 training examples (for base "
                     "models too)"),
    "causal-llm": ("xrbench.baselines.llm:CausalLLM", "an LLM told which item attributes most raise this user's "
                   "predicted rating (attr-mf intervention effects)"),
    "peter": ("xrbench.baselines.peter:Peter", "PETER (ACL'21): a small Transformer trained here on the training "
              "explanations, ratings and context words"),
    "peter+": ("xrbench.baselines.peter:PeterPlus", "PETER+ (ACL'21): PETER given each pair's reference feature "
               "(the ground-truth feature, as in the paper)"),
    "pepler": ("xrbench.baselines.pepler:Pepler", "PEPLER (TOIS'23): user and item vectors as a continuous prompt "
               "of a pretrained LM (param backbone), trained here (sequential tuning or rating regularisation)"),
    "pepler-d": ("xrbench.baselines.pepler:PeplerD", "PEPLER-D (TOIS'23): the item's features as a discrete prompt, "
                 "the LM fine-tuned here"),
    "causal-pepler": ("xrbench.baselines.pepler:CausalPepler", "prompt learning with attr-mf's positive-effect "
                      "features in the prompt and a causal penalty on features that do not raise the rating"),
    "cornac:EFM": ("xrbench.baselines.cornac_models:EFMExplainer", "Cornac EFM's feature-level explanation: the "
                   "user's most cared feature the item performs best on, in EFM's template"),
    "cornac:MTER": ("xrbench.baselines.cornac_models:MTERExplainer", "Cornac MTER's top predicted feature for the "
                    "pair, in EFM's template"),
}
_ESTIMATORS = {
    "zero-effect": ("xrbench.baselines.estimators:ZeroEffect", "reference row: tau_hat = 0"),
    "constant-ate": ("xrbench.baselines.estimators:ConstantATE", "reference row: one regression-adjusted ATE "
                     "for everyone"),
    "naive-difference": ("xrbench.baselines.estimators:NaiveDifference", "reference row: difference of means"),
    "ipw": ("xrbench.baselines.estimators:IPW", "inverse propensity weighting (Hajek), logistic propensity"),
    "s-learner": ("xrbench.baselines.econml_estimators:SLearner", "EconML S-learner, HistGradientBoosting"),
    "t-learner": ("xrbench.baselines.econml_estimators:TLearner", "EconML T-learner, HistGradientBoosting"),
    "x-learner": ("xrbench.baselines.econml_estimators:XLearner", "EconML X-learner, HistGradientBoosting"),
    "dr-learner": ("xrbench.baselines.econml_estimators:DRLearner", "EconML DR-learner, propensity trimming"),
    "linear-dml": ("xrbench.baselines.econml_estimators:LinearDML", "EconML LinearDML, HistGradientBoosting"),
    "causal-forest-dml": ("xrbench.baselines.econml_estimators:CausalForestDML", "EconML CausalForestDML"),
}

for _name, (_target, _desc, _kind) in _TASKS.items():
    register_lazy("task", _name, _target, description=_desc, method_kind=_kind)
for _name, (_target, _desc, _task) in _DATASETS.items():
    register_lazy("dataset", _name, _target, description=_desc, task=_task, capabilities=_CAPABILITIES[_name])
# any other Cornac model by name (``cornac:ItemKNN``): made from Cornac's class when first named
REGISTRY.add_family("recommender", "cornac:", "xrbench.baselines.cornac_models:any_model")
for _kind, _table in (("recommender", _RECOMMENDERS), ("explainer", _EXPLAINERS), ("estimator", _ESTIMATORS)):
    for _name, (_target, _desc) in _table.items():
        register_lazy(_kind, _name, _target, description=_desc)

import xrbench.metrics as _metrics  # noqa: E402,F401  (metrics register themselves on import)

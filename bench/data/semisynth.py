"""``ml100k-semisynth`` v1: a semi-synthetic CATE benchmark on real MovieLens-100K covariates
(shared/spec/semisynth.md). Estimators see X, T, Y of the 70% estimation part only; tau and e stay
here. Choices the spec leaves open, fixed for v1:
- the 100,000 events are in xrbench's canonical order (sorted by user id, item id as strings);
- T = (rng.random(n) < e), drawn after the sample, then the noise rng.normal(0, sigma, n), same rng;
- sigma = the population standard deviation (ddof = 0) of the real residuals;
- the 70/30 split is ``default_rng(seed).permutation(n)`` (a fresh generator with the same seed).
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import XRBenchError
from ..params import Param, check_values
from .cards import load_card
from .io import atomic_write_bytes, cache_dir
from .movielens import GENRES
from .movielens import load as load_ml100k

SPEC_VERSION = "v1"
log = logging.getLogger("xrbench")


@dataclass(frozen=True)
class Replication:
    X_train: np.ndarray
    T_train: np.ndarray
    Y_train: np.ndarray
    X_eval: np.ndarray
    tau_eval: np.ndarray
    tau_train: np.ndarray
    data_hash: str
    Y_eval: np.ndarray | None = None
    T_eval: np.ndarray | None = None


@dataclass(frozen=True)
class CausalProblem:
    name: str
    X: np.ndarray  # (100000, 45)
    columns: tuple[str, ...]
    mu0: np.ndarray
    sigma: float
    item_pop_head: np.ndarray  # real-treatment variant: item in the 50% popularity head
    gamma: float
    n: int
    variant: str
    file_hash: str
    source: str
    card: dict[str, Any] = field(default_factory=dict)

    def capabilities(self) -> frozenset[str]:
        return frozenset({"treatment"})

    def col(self, name: str) -> np.ndarray:
        return self.X[:, self.columns.index(name)]

    @cached_property
    def tau_all(self) -> np.ndarray:
        c = self.col
        return 0.2 + 0.3 * c("young") - 0.25 * c("logpop_z") + 0.2 * c("Comedy") - 0.3 * c("Drama") * c("male")

    @cached_property
    def propensity_all(self) -> np.ndarray:
        c = self.col
        logit = self.gamma * (0.8 * c("logpop_z") - 0.5 * c("age_z") + 0.6 * c("Drama") - 0.4 * c("male"))
        return np.clip(1.0 / (1.0 + np.exp(-logit)), 0.02, 0.98)

    def replication(self, r: int) -> Replication:
        rng = np.random.default_rng(r)
        if self.n > len(self.X):
            raise XRBenchError(f"{self.name}: n={self.n} exceeds the {len(self.X)} events")
        idx = rng.choice(len(self.X), self.n, replace=False)
        if self.variant == "real-treatment":
            T = self.item_pop_head[idx].astype(float)
        else:
            T = (rng.random(self.n) < self.propensity_all[idx]).astype(float)
        tau = self.tau_all[idx]
        Y = self.mu0[idx] + T * tau + rng.normal(0.0, self.sigma, self.n)
        perm = np.random.default_rng(r).permutation(self.n)
        cut = int(round(0.7 * self.n))
        tr, ev = perm[:cut], perm[cut:]
        X = self.X[idx]
        h = hashlib.sha256()
        for a in (X, T, Y):
            h.update(np.ascontiguousarray(a, dtype="<f8").tobytes())
        return Replication(X[tr], T[tr], Y[tr], X[ev], tau[ev], tau[tr], h.hexdigest()[:16], Y[ev], T[ev])

    def residuals(self, rep: Replication, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Held-out nuisances for the R-score: Y - m(X) and T - e(X) on the evaluation rows, 2-fold
        cross-fitted with HistGradientBoosting (fixed seed): the same for every estimator."""
        key = (rep.data_hash, seed)
        if key not in _RESIDUALS:
            from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

            n = len(rep.X_eval)
            fold = np.random.default_rng(seed).permutation(n) % 2
            y_res, t_res = np.empty(n), np.empty(n)
            for k in (0, 1):
                fit, pred = fold != k, fold == k
                m = HistGradientBoostingRegressor(max_iter=100, random_state=seed).fit(rep.X_eval[fit], rep.Y_eval[fit])
                e = HistGradientBoostingClassifier(max_iter=100, random_state=seed).fit(rep.X_eval[fit],
                                                                                        rep.T_eval[fit])
                y_res[pred] = rep.Y_eval[pred] - m.predict(rep.X_eval[pred])
                t_res[pred] = rep.T_eval[pred] - np.clip(e.predict_proba(rep.X_eval[pred])[:, 1], 0.02, 0.98)
            _RESIDUALS[key] = (y_res, t_res)
        return _RESIDUALS[key]


_RESIDUALS: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}


def covariates(ds) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
    inter = ds.interactions
    users, items = ds.users, ds.items
    age = inter["user"].map(users["age"]).to_numpy(float)
    male = (inter["user"].map(users["gender"]) == "M").to_numpy(float)
    year = inter["item"].map(items["year"]).to_numpy(float)
    year = np.where(np.isnan(year), np.nanmedian(year), year)
    item_n = inter["item"].map(inter["item"].value_counts()).to_numpy(float)
    user_n = inter["user"].map(inter["user"].value_counts()).to_numpy(float)

    def z(x: np.ndarray) -> np.ndarray:
        sd = x.std(ddof=1)  # a constant covariate (e.g. every user with as many ratings) is 0, not NaN
        return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)

    cols = {"age_z": z(age), "male": male, "young": (age < 25).astype(float), "year_z": z(year),
            "logpop_z": z(np.log(item_n)), "logact_z": z(np.log(user_n))}
    occ = inter["user"].map(users["occupation"]).to_numpy(str)
    for o in sorted(users["occupation"].unique()):
        cols[f"occ_{o}"] = (occ == o).astype(float)
    attrs = inter["item"].map(items["attributes"])
    for g in GENRES[1:]:
        cols[g] = np.fromiter((g in a for a in attrs), dtype=float, count=len(inter))
    X = np.column_stack(list(cols.values()))
    # real-treatment variant: the most-rated items covering 50% of ratings
    counts = inter["item"].value_counts()
    counts = counts.iloc[np.lexsort((counts.index.to_numpy(str), -counts.to_numpy()))]
    head_n = int(np.searchsorted(np.cumsum(counts.to_numpy()) / counts.sum(), 0.5) + 1)
    head = set(counts.index[:head_n])
    return X, tuple(cols), inter["item"].isin(head).to_numpy()


def baseline_outcome(X: np.ndarray, y: np.ndarray, key: str) -> np.ndarray:
    """mu0: HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05, max_leaf_nodes=31,
    random_state=0) fitted once on all events; cached on disk by data hash and scikit-learn version."""
    import sklearn
    from sklearn.ensemble import HistGradientBoostingRegressor

    path = cache_dir() / "semisynth" / f"mu0-{SPEC_VERSION}-{key}-sk{sklearn.__version__}.npy"
    if path.is_file():
        log.info("semisynth: baseline outcome cached at %s", path)
        return np.load(path)
    log.info("semisynth: fitting the baseline outcome model (once; cached at %s)", path)
    model = HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05, max_leaf_nodes=31, random_state=0)
    model.fit(X, y)
    mu0 = model.predict(X)
    import io
    buf = io.BytesIO()
    np.save(buf, mu0)
    atomic_write_bytes(path, buf.getvalue())
    return mu0


VARIANTS = ("synthetic", "real-treatment")
N_EVENTS = 100_000  # the ML-100K events a replication samples from
#: the dataset params (``--dataset-param``): gamma scales the confounding of the propensity (overlap),
#: n is the events sampled per replication, variant the treatment (simulated, or the real popularity head)
PARAMS = {"gamma": Param(float, gt=0), "n": Param(int, ge=100, le=N_EVENTS), "variant": Param(str, choices=VARIANTS)}
DEFAULTS = {"gamma": 0.5, "n": 12000, "variant": "synthetic"}


def check_params(**params: Any) -> dict[str, Any]:
    """The dataset params checked before anything is loaded or generated (the runner's ``validate`` calls it):
    gamma a finite number > 0, n an integer in [100, 100000], variant one of VARIANTS."""
    return check_values(params, PARAMS, "dataset 'ml100k-semisynth'", "param", DEFAULTS)


def load(path: Path | None = None, root: Path | None = None, allow_download: bool = True, gamma: float = 0.5,
         n: int = 12000, variant: str = "synthetic") -> CausalProblem:
    p = check_params(gamma=gamma, n=n, variant=variant)
    gamma, n, variant = p["gamma"], p["n"], p["variant"]
    ds = load_ml100k(path=path, root=root, allow_download=allow_download)
    X, cols, head = covariates(ds)
    y = ds.interactions["rating"].to_numpy(float)
    mu0 = baseline_outcome(X, y, ds.file_hash[:16])
    sigma = float(np.std(y - mu0))
    return CausalProblem("ml100k-semisynth", X, cols, mu0, sigma, head, float(gamma), int(n), variant,
                         ds.file_hash, ds.source, load_card("ml100k-semisynth"))


load.check_params = check_params  # type: ignore[attr-defined]  (found by the runner's validate)

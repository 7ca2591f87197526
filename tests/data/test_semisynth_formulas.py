"""ml100k-semisynth v1: tau(x), the propensity e(x) and the outcome recomputed from the formulas of
shared/spec/semisynth.md, written out here (never through the module's own helpers), and compared with what the
generator stores. Literal units with hand-derived values first (no data needed), then a small ML-100K in GroupLens
format (cheap: the baseline-outcome model refits in a second), then the real ML-100K (needs the recbole wheel).

Spec, "Replication r at overlap setting gamma":
  logit = gamma * (0.8 logpop_z - 0.5 age_z + 0.6 Drama - 0.4 male);  e = clip(sigmoid(logit), 0.02, 0.98)
  tau   = 0.2 + 0.3 young - 0.25 logpop_z + 0.2 Comedy - 0.3 Drama * male
  Y     = mu0(x) + T tau(x) + Normal(0, sigma),  T ~ Bernoulli(e),  all from default_rng(r) after drawing the n events;
  70/30 estimation / evaluation split "with the same seed".
The order of the draws (T = rng.random(n) < e, then rng.normal(0, sigma, n); the split a fresh
default_rng(r).permutation(n)) is the module's documented v1 choice where the spec leaves it open.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from tests.conftest import has_recbole

COLS = ("age_z", "male", "young", "logpop_z", "Comedy", "Drama")


def spec_tau(x: dict[str, np.ndarray]) -> np.ndarray:
    return 0.2 + 0.3 * x["young"] - 0.25 * x["logpop_z"] + 0.2 * x["Comedy"] - 0.3 * x["Drama"] * x["male"]


def spec_e(x: dict[str, np.ndarray], gamma: float) -> np.ndarray:
    logit = gamma * (0.8 * x["logpop_z"] - 0.5 * x["age_z"] + 0.6 * x["Drama"] - 0.4 * x["male"])
    return np.clip(1.0 / (1.0 + np.exp(-logit)), 0.02, 0.98)


def named(X: np.ndarray, columns) -> dict[str, np.ndarray]:
    columns = list(columns)
    return {c: X[:, columns.index(c)] for c in COLS}


def problem_from(X: np.ndarray, columns, mu0: np.ndarray, sigma: float, gamma: float, n: int):
    from xrbench.data.semisynth import CausalProblem
    return CausalProblem("ml100k-semisynth", X, tuple(columns), mu0, sigma, np.zeros(len(X), bool), gamma, n,
                         "synthetic", "hand", "hand")


# ---------------------------------------------------------------------------------------------- literal units
#                 age_z  male  young  logpop_z  Comedy  Drama
UNITS = np.array([[-1.0,  1.0,  1.0,   0.5,     1.0,    1.0],   # A
                  [0.4,   0.0,  0.0,  -2.5,     0.0,    0.0],   # B
                  [-2.0,  0.0,  1.0,   2.0,     0.0,    1.0],   # C
                  [0.0,   1.0,  0.0,   0.0,     1.0,    0.0],   # D
                  [0.0,   1.0,  0.0,   0.0,     0.0,    1.0]])  # E
# tau by hand:
#   A: 0.2 + 0.3 - 0.25*0.5 + 0.2 - 0.3*1*1 = 0.275
#   B: 0.2 + 0 + 0.25*2.5 + 0 - 0           = 0.825
#   C: 0.2 + 0.3 - 0.25*2.0 + 0 - 0.3*1*0   = 0.0     (Drama without male: no interaction term)
#   D: 0.2 + 0 - 0 + 0.2 - 0                = 0.4
#   E: 0.2 - 0.3*1*1                        = -0.1    (the only negative effect)
TAU_HAND = [0.275, 0.825, 0.0, 0.4, -0.1]
# logit / gamma = 0.8 logpop_z - 0.5 age_z + 0.6 Drama - 0.4 male:
#   A: 0.4 + 0.5 + 0.6 - 0.4 = 1.1;  B: -2.0 - 0.2 = -2.2;  C: 1.6 + 1.0 + 0.6 = 3.2;  D: -0.4;  E: 0.6 - 0.4 = 0.2
# gamma = 2.0: logits 2.2, -4.4, 6.4, -0.8, 0.4
#   B: sigmoid(-4.4) = 0.0121 < 0.02 -> clipped to 0.02;  C: sigmoid(6.4) = 0.9983 > 0.98 -> clipped to 0.98
# gamma = 0.5: logits 0.55, -1.1, 1.6, -0.2, 0.1 (nothing clipped)
E_HAND = {
    2.0: [1 / (1 + math.exp(-2.2)), 0.02, 0.98, 1 / (1 + math.exp(0.8)), 1 / (1 + math.exp(-0.4))],
    0.5: [1 / (1 + math.exp(-0.55)), 1 / (1 + math.exp(1.1)), 1 / (1 + math.exp(-1.6)), 1 / (1 + math.exp(0.2)),
          1 / (1 + math.exp(-0.1))],
}


def test_tau_of_literal_units_by_hand():
    p = problem_from(UNITS, COLS, np.zeros(5), 1.0, 0.5, 5)
    assert p.tau_all == pytest.approx(TAU_HAND, abs=1e-12)


@pytest.mark.parametrize("gamma", [2.0, 0.5])
def test_propensity_of_literal_units_by_hand(gamma):
    p = problem_from(UNITS, COLS, np.zeros(5), 1.0, gamma, 5)
    assert p.propensity_all == pytest.approx(E_HAND[gamma], abs=1e-12)
    # the hand values themselves, to 4 decimals: A, D, E at gamma 2 are 0.9002, 0.3100, 0.5987
    if gamma == 2.0:
        assert [round(v, 4) for v in E_HAND[2.0]] == [0.9002, 0.02, 0.98, 0.3100, 0.5987]


def rebuild(X, columns, mu0, sigma, gamma, n, r):
    """Replication r from the spec's steps, written out."""
    rng = np.random.default_rng(r)
    idx = rng.choice(len(X), n, replace=False)
    x = named(X[idx], columns)
    e = spec_e(x, gamma)
    T = (rng.random(n) < e).astype(float)
    tau = spec_tau(x)
    noise = rng.normal(0.0, sigma, n)
    Y = mu0[idx] + T * tau + noise
    perm = np.random.default_rng(r).permutation(n)
    cut = int(round(0.7 * n))
    return idx, e, T, tau, Y, noise, perm[:cut], perm[cut:]


def check_replication(p, r: int) -> None:
    rep = p.replication(r)
    idx, e, T, tau, Y, noise, tr, ev = rebuild(p.X, p.columns, p.mu0, p.sigma, p.gamma, p.n, r)
    assert np.array_equal(rep.X_train, p.X[idx][tr]) and np.array_equal(rep.X_eval, p.X[idx][ev])
    # tau: the spec's formula on the replication's stored features
    assert np.allclose(rep.tau_train, spec_tau(named(rep.X_train, p.columns)), rtol=0, atol=1e-12)
    assert np.allclose(rep.tau_eval, spec_tau(named(rep.X_eval, p.columns)), rtol=0, atol=1e-12)
    # T ~ Bernoulli(spec e): the same draws give the same treatments
    assert np.array_equal(rep.T_train, T[tr]) and np.array_equal(rep.T_eval, T[ev])
    # Y = mu0 + T tau + sigma-scale noise, unit by unit
    assert np.allclose(rep.Y_train, Y[tr], rtol=0, atol=1e-12)
    assert np.allclose(rep.Y_eval, Y[ev], rtol=0, atol=1e-12)
    assert np.allclose(rep.Y_train - p.mu0[idx][tr] - rep.T_train * rep.tau_train, noise[tr], rtol=0, atol=1e-12)
    # the propensity the module holds is the spec's, on every sampled unit
    assert np.allclose(p.propensity_all[idx], e, rtol=0, atol=1e-12)
    assert len(rep.X_train) == int(round(0.7 * p.n)) and len(rep.X_eval) == p.n - len(rep.X_train)


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_replication_of_a_synthetic_population_follows_the_spec(gamma):
    g = np.random.default_rng(123)
    N = 600
    X = np.column_stack([g.normal(size=N), g.integers(0, 2, N), g.integers(0, 2, N), 1.5 * g.normal(size=N),
                         g.integers(0, 2, N), g.integers(0, 2, N)]).astype(float)
    mu0 = 3.0 + 0.01 * np.arange(N)
    p = problem_from(X, COLS, mu0, 0.9, gamma, 300)
    e = spec_e(named(X, COLS), gamma)
    if gamma == 2.0:  # both clip bounds are exercised in this population
        assert (e == 0.02).any() and (e == 0.98).any()
    for r in (0, 3):
        check_replication(p, r)


# ---------------------------------------------------------------------------------------------- ML-100K data
def check_three_rows_by_hand(p, rep) -> None:
    """Rows 0-2 of the estimation part: tau written out term by term from the stored features."""
    c = list(p.columns)
    for k in range(3):
        row = rep.X_train[k]
        young, logpop, comedy, drama, male = (row[c.index(n)] for n in ("young", "logpop_z", "Comedy", "Drama",
                                                                        "male"))
        tau = 0.2 + 0.3 * young - 0.25 * logpop + 0.2 * comedy - 0.3 * drama * male
        assert rep.tau_train[k] == pytest.approx(tau, abs=1e-12)


def check_mu0_and_sigma(p, ratings: np.ndarray) -> None:
    # mu0 comes from a fitted model, not a closed form; what is closed-form: sigma is the population sd (ddof 0,
    # the module's documented v1 choice) of the real residuals rating - mu0, and mu0 is a per-event array.
    assert p.mu0.shape == (len(p.X),)
    assert p.sigma == pytest.approx(float(np.sqrt(np.mean((ratings - p.mu0 - np.mean(ratings - p.mu0)) ** 2))),
                                    rel=1e-12)


@pytest.fixture
def small_ml100k(tmp_path):
    """A small ML-100K in GroupLens format with uneven user activity and item popularity (a constant column
    would make the standardised covariates 0/0)."""
    from xrbench.data.movielens import GENRES

    g = np.random.default_rng(7)
    d = tmp_path / "ml-100k"
    d.mkdir()
    n_users, n_items = 40, 30
    pop = np.linspace(3.0, 0.2, n_items)
    lines = []
    for u in range(1, n_users + 1):
        for i in g.choice(n_items, int(g.integers(4, 20)), replace=False, p=pop / pop.sum()):
            lines.append(f"{u}\t{i + 1}\t{int(g.integers(1, 6))}\t{880000000 + 100 * u + int(i)}")
    (d / "u.data").write_text("\n".join(lines) + "\n", encoding="latin-1")
    items = []
    for i in range(1, n_items + 1):
        flags = ["0"] * len(GENRES)
        for k in g.choice(np.arange(1, len(GENRES)), 2, replace=False):
            flags[k] = "1"
        items.append("|".join([str(i), f"Movie {i} (19{70 + i})", f"01-Jan-19{70 + i}", "", "http://x", *flags]))
    (d / "u.item").write_bytes(("\n".join(items) + "\n").encode("latin-1"))
    occ = ["student", "engineer", "other", "writer"]
    users = [f"{u}|{int(g.integers(15, 61))}|{'MF'[int(g.integers(0, 2))]}|{occ[u % 4]}|0000{u}"
             for u in range(1, n_users + 1)]
    (d / "u.user").write_text("\n".join(users) + "\n", encoding="latin-1")
    return d


def test_small_grouplens_problem_follows_the_spec(small_ml100k):
    from sklearn.ensemble import HistGradientBoostingRegressor

    from xrbench.data import movielens, semisynth

    p = semisynth.load(path=small_ml100k, gamma=2.0, n=200)
    ratings = movielens.load(path=small_ml100k).interactions["rating"].to_numpy(float)
    assert np.isfinite(p.X).all()
    check_mu0_and_sigma(p, ratings)
    # on this small file the spec's baseline model refits in a moment: mu0 is its in-sample prediction
    model = HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05, max_leaf_nodes=31, random_state=0)
    assert np.allclose(p.mu0, model.fit(p.X, ratings).predict(p.X), rtol=0, atol=1e-9)
    assert p.propensity_all == pytest.approx(spec_e(named(p.X, p.columns), 2.0), abs=1e-12)
    assert p.tau_all == pytest.approx(spec_tau(named(p.X, p.columns)), abs=1e-12)
    rep = p.replication(1)
    check_three_rows_by_hand(p, rep)
    check_replication(p, 1)


@pytest.fixture(scope="module")
def ml100k(tmp_path_factory):
    if not has_recbole():
        pytest.skip("needs ML-100K from the recbole wheel")
    from xrbench.data import movielens, semisynth

    # gamma 2.0, small n: the 100,000-event baseline fit is the only slow step. A module fixture runs before the
    # autouse cache fixture of conftest.py, so point the cache at the same per-session folder here (never ~/.cache).
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XRBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "xrbench-cache"))
        return semisynth.load(gamma=2.0, n=400), movielens.load().interactions["rating"].to_numpy(float)


def test_real_ml100k_replication_follows_the_spec(ml100k):
    p, ratings = ml100k
    assert len(p.X) == 100000
    check_mu0_and_sigma(p, ratings)
    x = named(p.X, p.columns)
    assert np.allclose(p.tau_all, spec_tau(x), rtol=0, atol=1e-12)
    e = spec_e(x, 2.0)
    assert np.allclose(p.propensity_all, e, rtol=0, atol=1e-12)
    # three units by hand: the least and the most likely to be treated (clipped at 0.02 / 0.98) and the median one
    for k in (int(np.argmin(e)), int(np.argmax(e)), int(np.argsort(e)[len(e) // 2])):
        logpop, age, drama, male = x["logpop_z"][k], x["age_z"][k], x["Drama"][k], x["male"][k]
        s = 1.0 / (1.0 + math.exp(-2.0 * (0.8 * logpop - 0.5 * age + 0.6 * drama - 0.4 * male)))
        assert p.propensity_all[k] == pytest.approx(min(max(s, 0.02), 0.98), abs=1e-12)
    assert p.propensity_all.min() == 0.02 and p.propensity_all.max() == 0.98  # both bounds bind at gamma 2
    rep = p.replication(0)
    check_three_rows_by_hand(p, rep)
    check_replication(p, 0)


def test_a_constant_covariate_is_zero_not_nan(grouplens_dir):
    """Every user of this fixture has the same number of ratings: its z-score is 0, not 0/0 = NaN (which
    crashed the baseline-outcome fit)."""
    from xrbench.data import movielens, semisynth

    X, names, _ = semisynth.covariates(movielens.load(path=grouplens_dir))
    assert np.isfinite(X).all()
    assert (X[:, list(names).index("logact_z")] == 0).all()

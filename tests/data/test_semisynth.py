"""ml100k-semisynth v1 exactly as shared/spec/semisynth.md defines it (needs the real ML-100K)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import has_recbole

pytestmark = pytest.mark.skipif(not has_recbole(), reason="needs ML-100K from the recbole wheel")


@pytest.fixture(scope="module")
def problem():
    from xrbench.data import semisynth
    return semisynth.load(gamma=0.5)


def test_covariates_follow_the_spec(problem):
    cols = problem.columns
    assert len(cols) == 45 and problem.X.shape == (100000, 45)
    assert cols[:6] == ("age_z", "male", "young", "year_z", "logpop_z", "logact_z")
    occ = [c for c in cols if c.startswith("occ_")]
    assert len(occ) == 21 and occ == sorted(occ)
    assert cols[27:] == ("Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
                         "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
                         "War", "Western")
    for c in ("age_z", "year_z", "logpop_z", "logact_z"):
        x = problem.col(c)
        assert abs(x.mean()) < 1e-9 and abs(x.std(ddof=1) - 1) < 1e-9


def test_effect_and_overlap_match_the_spec(problem):
    tau = problem.tau_all
    assert 0.2 < tau.mean() < 0.3  # spec: true ATE ~0.25
    assert 0.3 < tau.std() < 0.4  # spec: sd(tau) ~0.345
    e = problem.propensity_all
    assert e.min() >= 0.02 and e.max() <= 0.98


def test_replications_are_seeded_and_hide_tau(problem):
    a, b, c = problem.replication(0), problem.replication(0), problem.replication(1)
    assert a.data_hash == b.data_hash != c.data_hash
    assert len(a.X_train) == 8400 and len(a.X_eval) == 3600
    assert set(np.unique(a.T_train)) == {0.0, 1.0}


def test_stronger_confounding_at_gamma_2(problem):
    from xrbench.data import semisynth
    strong = semisynth.load(gamma=2.0)
    # the naive difference of means is more biased when overlap is weaker
    def naive_bias(p):
        r = p.replication(0)
        y1, y0 = r.Y_train[r.T_train == 1], r.Y_train[r.T_train == 0]
        return abs(y1.mean() - y0.mean() - r.tau_train.mean())
    assert naive_bias(strong) > naive_bias(problem)


def test_real_treatment_variant():
    from xrbench.data import semisynth
    p = semisynth.load(variant="real-treatment")
    r = p.replication(0)
    # T is the item's popularity head (50% of ratings): treated units have higher popularity
    assert 0.2 < r.T_train.mean() < 0.8
    pop = r.X_train[:, p.columns.index("logpop_z")]
    assert pop[r.T_train == 1].min() > pop[r.T_train == 0].mean()

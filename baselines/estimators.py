"""Reference rows and simple causal estimators (no EconML needed)."""
from __future__ import annotations

import numpy as np

from xrbench.protocols import CausalEstimator

Z95 = 1.959963984540054


class ZeroEffect(CausalEstimator):
    """Reference row: tau_hat(x) = 0."""

    def fit(self, X: np.ndarray, T: np.ndarray, Y: np.ndarray, seed: int) -> None:
        pass

    def effect(self, X: np.ndarray) -> np.ndarray:
        return np.zeros(len(X))


class _Constant(CausalEstimator):
    ate: float
    se: float | None = None

    def effect(self, X: np.ndarray) -> np.ndarray:
        return np.full(len(X), self.ate)

    def ate_interval(self, X: np.ndarray, alpha: float = 0.05) -> tuple[float, float] | None:
        if self.se is None:
            return None
        return self.ate - Z95 * self.se, self.ate + Z95 * self.se


class NaiveDifference(_Constant):
    """Reference row: mean(Y | T=1) - mean(Y | T=0), with a Welch normal interval. Confounded."""

    def fit(self, X: np.ndarray, T: np.ndarray, Y: np.ndarray, seed: int) -> None:
        y1, y0 = Y[T == 1], Y[T == 0]
        self.ate = float(y1.mean() - y0.mean())
        self.se = float(np.sqrt(y1.var(ddof=1) / len(y1) + y0.var(ddof=1) / len(y0)))


class ConstantATE(_Constant):
    """Reference row: one effect for everyone, the OLS coefficient of T in Y ~ 1 + T + X (regression
    adjustment), with its classical standard error. Its pehe is about sd(tau)."""

    def fit(self, X: np.ndarray, T: np.ndarray, Y: np.ndarray, seed: int) -> None:
        D = np.column_stack([np.ones(len(T)), T, X])
        coef, *_ = np.linalg.lstsq(D, Y, rcond=None)
        resid = Y - D @ coef
        dof = max(len(Y) - np.linalg.matrix_rank(D), 1)
        cov = np.linalg.pinv(D.T @ D) * (resid @ resid / dof)
        self.ate, self.se = float(coef[1]), float(np.sqrt(cov[1, 1]))


class IPW(_Constant):
    """Hajek inverse-propensity-weighted ATE, logistic-regression propensity clipped to [0.02, 0.98];
    interval from the influence function (propensity treated as known)."""

    def fit(self, X: np.ndarray, T: np.ndarray, Y: np.ndarray, seed: int) -> None:
        from sklearn.linear_model import LogisticRegression

        e = LogisticRegression(max_iter=1000).fit(X, T).predict_proba(X)[:, 1]
        e = np.clip(e, 0.02, 0.98)
        w1, w0 = T / e, (1 - T) / (1 - e)
        m1, m0 = (w1 * Y).sum() / w1.sum(), (w0 * Y).sum() / w0.sum()
        self.ate = float(m1 - m0)
        infl = w1 * (Y - m1) / w1.mean() - w0 * (Y - m0) / w0.mean()
        self.se = float(infl.std(ddof=1) / np.sqrt(len(Y)))

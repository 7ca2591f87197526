"""Classic recommenders: global mean, user+item baseline predictor, most-popular, item-kNN."""
from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

from xrbench.params import Param
from xrbench.protocols import Recommender
from xrbench.view import TrainView


class GlobalMean(Recommender):
    """Predicts the mean training rating for every pair."""

    def fit(self, view: TrainView) -> None:
        self.mu = float(view.train["rating"].mean())

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return np.full(len(users), self.mu)

    def scores(self, users: np.ndarray) -> np.ndarray:
        return np.full((len(users), self.view.n_items), self.mu)


def fit_biases(u: np.ndarray, i: np.ndarray, r: np.ndarray, n_users: int, n_items: int,
               reg_user: float, reg_item: float, iters: int) -> tuple[float, np.ndarray, np.ndarray]:
    """Koren's baseline predictor b_ui = mu + b_u + b_i by alternating regularised means."""
    mu = float(r.mean())
    bu = np.zeros(n_users)
    bi = np.zeros(n_items)
    n_u = np.bincount(u, minlength=n_users)
    n_i = np.bincount(i, minlength=n_items)
    for _ in range(iters):
        bi = np.bincount(i, weights=r - mu - bu[u], minlength=n_items) / (reg_item + n_i)
        bu = np.bincount(u, weights=r - mu - bi[i], minlength=n_users) / (reg_user + n_u)
    return mu, bu, bi


class Bias(Recommender):
    """b_ui = mu + b_u + b_i, regularised (Koren 2010, eq. 2), fitted by alternating least squares."""

    param_rules = {"reg_user": Param(ge=0), "reg_item": Param(ge=0), "iters": Param(ge=1)}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"reg_user": 15.0, "reg_item": 10.0, "iters": 15}

    def fit(self, view: TrainView) -> None:
        tr = view.train
        self.mu, self.bu, self.bi = fit_biases(tr["uidx"].to_numpy(), tr["iidx"].to_numpy(),
                                               tr["rating"].to_numpy(float), view.n_users, view.n_items,
                                               self.params["reg_user"], self.params["reg_item"],
                                               self.params["iters"])

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.mu + self.bu[users] + self.bi[items]

    def scores(self, users: np.ndarray) -> np.ndarray:
        return self.mu + self.bu[users][:, None] + self.bi[None, :]


class MostPop(Recommender):
    """Ranks items by their number of training interactions. Predicts no ratings."""

    predicts_ratings = False

    def fit(self, view: TrainView) -> None:
        self.counts = view.train_item_counts.astype(float)

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.counts[items]

    def scores(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.counts, (len(users), len(self.counts)))


class ItemKNN(Recommender):
    """Item-based kNN over baseline residuals (Koren 2010, sec. 2.2).

    sim(i, j) = shrunk cosine of residuals r - b_ui over users who rated both:
    sum(e_ui e_uj) / sqrt(sum e_ui^2 * sum e_uj^2) * n_ij / (n_ij + shrinkage).
    r_hat(u, i) = b_ui + sum_{j in N_k(i; u)} sim(i, j) e_uj / sum |sim(i, j)|, over the k most
    similar items u rated with positive similarity.
    """

    param_rules = {"k": Param(ge=1), "shrinkage": Param(ge=0), "reg_user": Param(ge=0), "reg_item": Param(ge=0)}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"k": 40, "shrinkage": 100.0, "reg_user": 15.0, "reg_item": 10.0}

    def fit(self, view: TrainView) -> None:
        tr = view.train
        u, i, r = tr["uidx"].to_numpy(), tr["iidx"].to_numpy(), tr["rating"].to_numpy(float)
        self.mu, self.bu, self.bi = fit_biases(u, i, r, view.n_users, view.n_items,
                                               self.params["reg_user"], self.params["reg_item"], 15)
        e = r - (self.mu + self.bu[u] + self.bi[i])
        shape = (view.n_users, view.n_items)
        E = sp.csr_matrix((e, (u, i)), shape=shape)
        B = sp.csr_matrix((np.ones_like(e), (u, i)), shape=shape)
        E2 = sp.csr_matrix((e * e, (u, i)), shape=shape)
        num = (E.T @ E).toarray()
        n_co = (B.T @ B).toarray()
        sq = (E2.T @ B).toarray()  # sq[i, j] = sum over co-raters of e_ui^2
        denom = np.sqrt(sq * sq.T)
        with np.errstate(divide="ignore", invalid="ignore"):
            sim = np.where(denom > 0, num / denom, 0.0)
        sim *= n_co / (n_co + self.params["shrinkage"])
        np.fill_diagonal(sim, 0.0)
        self.sim = sim
        self.E = E.tocsr()
        for cached in ("_positive_sim_t", "_is_positive_t"):  # a refit's ranking uses the new similarities
            self.__dict__.pop(cached, None)

    def history(self, user: int) -> np.ndarray:
        """The items the user rated in training (the neighbourhood's possible inputs)."""
        return self.E.getrow(user).indices

    def neighbours_in_history(self, user: int, item: int) -> list[int]:
        """The rated items that enter ``item``'s score: its k most similar positive neighbours, most similar first."""
        rated = self.history(user)
        s = self.sim[item, rated]
        order = np.argsort(-s, kind="stable")[: self.params["k"]]
        return [int(rated[j]) for j in order if s[j] > 0]

    def score_with_history(self, user: int, items: np.ndarray, rated: np.ndarray | None) -> np.ndarray:
        """Predicted ratings of ``items`` when the user's history is only ``rated`` (None: all of it);
        the baseline b_ui is unchanged (the model is not retrained)."""
        return self.mu + self.bu[user] + self.bi[items] + self._neighbour_terms(user, items, rated)

    def _neighbour_terms(self, user: int, items: np.ndarray, only: np.ndarray | None = None) -> np.ndarray:
        row = self.E.getrow(user)
        rated, resid = row.indices, row.data
        if only is not None:
            keep = np.isin(rated, only)
            rated, resid = rated[keep], resid[keep]
        if len(rated) == 0:
            return np.zeros(len(items))
        S = self.sim[np.ix_(items, rated)]
        S = np.where(S > 0, S, 0.0)
        k = self.params["k"]
        if S.shape[1] > k:
            cut = np.partition(S, S.shape[1] - k, axis=1)[:, S.shape[1] - k][:, None]
            S = np.where(S >= cut, S, 0.0)
        den = S.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den > 0, (S @ resid) / den, 0.0)

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        out = self.mu + self.bu[users] + self.bi[items]
        order = np.argsort(users, kind="stable")
        us = users[order]
        bounds = np.flatnonzero(np.r_[True, us[1:] != us[:-1], True])
        for a, b in zip(bounds[:-1], bounds[1:]):
            idx = order[a:b]
            out[idx] += self._neighbour_terms(int(us[a]), items[idx])
        return out

    def _all_item_terms(self, user: int) -> np.ndarray:
        """``_neighbour_terms(user, all items)``, bit for bit, without its slow steps.

        The neighbour matrix S (items x rated items, the positive similarities) is gathered as rows of
        the transposed positive similarities (contiguous copies instead of a 2-D fancy index), and the
        k-th largest value is searched only in the rows with more than k positive entries: in every
        other row the cut keeps what is already there (the k-th largest is 0, or the smallest positive
        value when there are exactly k). S then has the same values in the same C-ordered layout, and
        its row sums (numpy's pairwise summation) and product with the residuals (BLAS gemv) are the
        very calls ``_neighbour_terms`` makes, so the result is identical."""
        n_items = self.view.n_items
        a, b = self.E.indptr[user], self.E.indptr[user + 1]
        rated, resid = self.E.indices[a:b], self.E.data[a:b]
        n = len(rated)
        if n == 0:
            return np.zeros(n_items)
        S = np.ascontiguousarray(self._positive_sim_t[rated].T)  # S[i, c] = max(sim[i, rated[c]], 0)
        k = self.params["k"]
        if n > k:
            n_positive = np.add.reduce(self._is_positive_t[rated], axis=0, dtype=np.int64)  # per item
            need = np.flatnonzero(n_positive > k)
            if len(need):
                part = S[need]
                part.partition(n - k, axis=1)
                cut = np.zeros(n_items)
                cut[need] = part[:, n - k]
                S *= S >= cut[:, None]  # x * 1.0 = x, x * 0.0 = +0.0 for x >= 0: np.where(S >= cut, S, 0.0)
        den = S.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den > 0, (S @ resid) / den, 0.0)

    @cached_property
    def _positive_sim_t(self) -> np.ndarray:
        """max(sim, 0) transposed, C-contiguous: row j holds every item's similarity to item j (built on the
        first ``scores`` call, one more n_items x n_items matrix)."""
        return np.ascontiguousarray(np.where(self.sim > 0, self.sim, 0.0).T)

    @cached_property
    def _is_positive_t(self) -> np.ndarray:
        """``_positive_sim_t > 0`` as bytes (0/1): its rows are summed to count each item's positive neighbours."""
        return (self._positive_sim_t > 0).view(np.uint8)

    def scores(self, users: np.ndarray) -> np.ndarray:
        base = self.mu + self.bu[users][:, None] + self.bi[None, :]
        return base + np.stack([self._all_item_terms(int(u)) for u in users])


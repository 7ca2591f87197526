"""Classic recommenders: global mean, user+item baseline predictor, most-popular, item-kNN."""
from __future__ import annotations

from typing import Any, Iterator

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

    def shared_scores(self) -> np.ndarray | None:
        if type(self).scores is not MostPop.scores:  # a subclass that scores users differently
            return None
        return self.counts


def positive_similarity_blocks(u: np.ndarray, i: np.ndarray, e: np.ndarray, shape: tuple[int, int], shrinkage: float,
                               block_entries: int = 1 << 23) -> Iterator[tuple[int, int, np.ndarray]]:
    """max(sim, 0) of ``ItemKNN``, item rows a:b at a time: yields (a, b, rows a:b x all items, dense).

    sim(i, j) = sum(e_ui e_uj) / sqrt(sum e_ui^2 * sum e_uj^2) * n_ij / (n_ij + shrinkage), sums over the
    users who rated both (the residuals e of the training rows (u, i); a pair rated twice counts twice in
    n_ij and the squares, and its residuals are summed in E), 0 on the diagonal. Each block is a sparse product of
    the block's columns with all of E, so memory is O(block x items), never a dense items x items matrix
    unless the caller keeps one. Each entry is the same sum, in the same user order, as the full product
    ``(E.T @ E).toarray()`` gives, so the values are bit for bit those of the dense computation (a test
    compares them), and sim is exactly symmetric (the same products summed in the same order)."""
    n_items = shape[1]
    E = sp.csr_matrix((e, (u, i)), shape=shape)  # canonical: column indices sorted, repeated pairs summed
    ones = sp.csr_matrix((np.ones_like(e), (u, i)), shape=shape)
    E2 = sp.csr_matrix((e * e, (u, i)), shape=shape)
    Ec, Bc, E2c = E.tocsc(), ones.tocsc(), E2.tocsc()
    step = max(1, block_entries // max(n_items, 1))
    for a in range(0, n_items, step):
        b = min(a + step, n_items)
        num = (Ec[:, a:b].T @ E).toarray()
        n_co = (Bc[:, a:b].T @ ones).toarray()
        sq = (E2c[:, a:b].T @ ones).toarray()  # sq[i, j] = sum over co-raters of e_ui^2
        # sq_t[i, j] = sum over co-raters of e_uj^2 (the same sum as sq[j, i]: sq's transpose when one block)
        sq_t = sq.T if b - a == n_items else (Bc[:, a:b].T @ E2).toarray()
        denom = np.sqrt(sq * sq_t)
        with np.errstate(divide="ignore", invalid="ignore"):
            sim = np.where(denom > 0, num / denom, 0.0)
        del num, sq, sq_t, denom
        sim *= n_co / (n_co + shrinkage)
        del n_co
        sim[np.arange(b - a), np.arange(a, b)] = 0.0
        sim[~(sim > 0)] = 0.0
        yield a, b, sim
        del sim  # not held while the next block is computed


def positive_similarities(u: np.ndarray, i: np.ndarray, e: np.ndarray, shape: tuple[int, int], shrinkage: float,
                          block_entries: int = 1 << 23) -> sp.csr_matrix:
    """:func:`positive_similarity_blocks` as one sparse symmetric items x items matrix (positive values only,
    column indices sorted); memory O(block x items + stored entries)."""
    n_items = shape[1]
    blocks = []
    for _, _, sim in positive_similarity_blocks(u, i, e, shape, shrinkage, block_entries):
        blocks.append(sp.csr_matrix(sim))
        del sim
    if not blocks:
        return sp.csr_matrix((n_items, n_items))
    out = sp.vstack(blocks, format="csr")
    out.sort_indices()
    return out


def positive_similarities_dense(u: np.ndarray, i: np.ndarray, e: np.ndarray, shape: tuple[int, int],
                                shrinkage: float, block_entries: int = 1 << 23) -> np.ndarray:
    """:func:`positive_similarity_blocks` as one dense items x items array (for few items)."""
    n_items = shape[1]
    blocks = positive_similarity_blocks(u, i, e, shape, shrinkage, block_entries)
    if n_items * n_items <= block_entries:  # one block: keep it
        return next((sim for _, _, sim in blocks), np.zeros((n_items, n_items)))
    out = np.empty((n_items, n_items))
    for a, b, sim in blocks:
        out[a:b] = sim
    return out


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

    #: similarity entries computed at once (rows of a block x all items; 8 bytes each; about 12 such arrays
    #: live at once while a block is computed, ~0.8 GB, on top of what is kept)
    BLOCK_ENTRIES = 1 << 23
    #: up to this many items the positive similarities are kept dense (at most 5000^2 x 9 bytes = 225 MB) for
    #: faster ranking; above it they are a sparse matrix whose rows ranking gathers (same values, same bits)
    DENSE_ITEMS = 5000

    def fit(self, view: TrainView) -> None:
        tr = view.train
        u, i, r = tr["uidx"].to_numpy(), tr["iidx"].to_numpy(), tr["rating"].to_numpy(float)
        self.mu, self.bu, self.bi = fit_biases(u, i, r, view.n_users, view.n_items,
                                               self.params["reg_user"], self.params["reg_item"], 15)
        e = r - (self.mu + self.bu[u] + self.bi[i])
        shape = (view.n_users, view.n_items)
        self.E = sp.csr_matrix((e, (u, i)), shape=shape)
        self._sim_pos = None
        self._dense = None  # (max(sim, 0), its > 0 mask as bytes) up to DENSE_ITEMS items
        args = (u, i, e, shape, self.params["shrinkage"], self.BLOCK_ENTRIES)
        if view.n_items <= self.DENSE_ITEMS:
            pos = positive_similarities_dense(*args)
            self._dense = (pos, (pos > 0).view(np.uint8))
        else:
            self._sim_pos = positive_similarities(*args)

    @property
    def n_positive_similarities(self) -> int:
        """How many (i, j) pairs have a positive similarity (without building the sparse matrix)."""
        if self._sim_pos is not None:
            return int(self._sim_pos.nnz)
        return int(np.count_nonzero(self._dense[1]))

    @property
    def sim_pos(self) -> sp.csr_matrix:
        """max(sim, 0) as a sparse matrix (made from the dense copy when the model keeps one)."""
        if self._sim_pos is None:
            self._sim_pos = sp.csr_matrix(self._dense[0])
        return self._sim_pos

    def history(self, user: int) -> np.ndarray:
        """The items the user rated in training (the neighbourhood's possible inputs)."""
        return self.E.getrow(user).indices

    def _block(self, items: np.ndarray, rated: np.ndarray) -> np.ndarray:
        """S[i, c] = max(sim(items[i], rated[c]), 0), dense and C-ordered (from the dense copy when there is one)."""
        dense = self._dense
        if dense is not None:
            return dense[0][np.ix_(items, rated)]
        return self.sim_pos[items][:, rated].toarray()

    def neighbours_in_history(self, user: int, item: int) -> list[int]:
        """The rated items that enter ``item``'s score: its k most similar positive neighbours, most similar first."""
        rated = self.history(user)
        s = self._block(np.array([item]), rated)[0]
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
        S = self._block(items, rated)
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

        The neighbour matrix S (items x rated items, the positive similarities) is the transpose of the
        rated items' rows of the sparse positive similarities, made C-contiguous, and the k-th largest
        value is searched only in the rows with more than k positive entries (counted from the sparse
        rows): in every other row the cut keeps what is already there (the k-th largest is 0, or the
        smallest positive value when there are exactly k). S then has the same values in the same
        C-ordered layout, and its row sums (numpy's pairwise summation) and product with the residuals
        (BLAS gemv) are the very calls ``_neighbour_terms`` makes, so the result is identical."""
        n_items = self.view.n_items
        a, b = self.E.indptr[user], self.E.indptr[user + 1]
        rated, resid = self.E.indices[a:b], self.E.data[a:b]
        n = len(rated)
        if n == 0:
            return np.zeros(n_items)
        dense = self._dense
        if dense is not None:
            S = np.ascontiguousarray(dense[0][rated].T)  # S[i, c] = max(sim[i, rated[c]], 0) (sim is symmetric)
        else:
            sub = self.sim_pos[rated]
            S = np.ascontiguousarray(sub.toarray().T)
        k = self.params["k"]
        if n > k:
            if dense is not None:  # per item, how many of the rated items have a positive similarity
                n_positive = np.add.reduce(dense[1][rated], axis=0, dtype=np.int64)
            else:  # only positive values are stored
                n_positive = np.bincount(sub.indices, minlength=n_items)
            need = np.flatnonzero(n_positive > k)
            if len(need):
                rows = S[need]
                part = rows.copy()
                part.partition(n - k, axis=1)
                # np.where(S >= cut, S, 0.0) with the cut 0 outside ``need`` (every row there is left as it is,
                # all its values being >= 0): x * 1.0 = x, x * 0.0 = +0.0 for x >= 0
                rows *= rows >= part[:, n - k][:, None]
                S[need] = rows
        den = S.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den > 0, (S @ resid) / den, 0.0)

    def scores(self, users: np.ndarray) -> np.ndarray:
        base = self.mu + self.bu[users][:, None] + self.bi[None, :]
        return base + np.stack([self._all_item_terms(int(u)) for u in users])


"""``attr-mf``: matrix factorisation with item-attribute terms, the feature-aware recommender of the
causal-fidelity metrics. r_hat(u, i) = mu + b_u + b_i + p_u . q_i + sum_{a in A(i)} (w_a + p_u . v_a).
Removing attribute a from item i (an intervention) changes the score by -(w_a + p_u . v_a). Attributes
are the item's own (genres), or without them the aspects most mentioned in its training reviews.
Item-specific terms are regularised more strongly than attribute terms, so attributes carry what
items share."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xrbench.baselines.explainers import item_reasons
from xrbench.baselines.training import fit_early_stopping
from xrbench.params import Param
from xrbench.protocols import Recommender
from xrbench.view import TrainView


class AttrMF(Recommender):
    needs = ("ratings", ("item_attributes", "text"))
    param_rules = {"dim": Param(ge=1), "lr": Param(gt=0), "reg": Param(ge=0), "item_reg": Param(ge=0),
                   "attr_reg": Param(ge=0), "n_aspects": Param(ge=1), "batch_size": Param(ge=1),
                   "max_epochs": Param(ge=1), "patience": Param(ge=1)}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"dim": 32, "lr": 0.005, "reg": 0.05, "item_reg": 0.2, "attr_reg": 0.01, "n_aspects": 5,
                "batch_size": 1024, "max_epochs": 40, "patience": 3}

    def fit(self, view: TrainView) -> None:
        import torch

        p = self.params
        torch.manual_seed(view.seed)
        rng = np.random.default_rng(view.seed)
        attrs = view.item_attributes if any(view.item_attributes) else item_reasons(view, p["n_aspects"])
        self.vocab = sorted({a for lst in attrs for a in lst})
        self.aidx = {a: k for k, a in enumerate(self.vocab)}
        self.item_attrs = [list(lst) for lst in attrs]
        n_a = max(len(self.vocab), 1)
        M = np.zeros((view.n_items, n_a), dtype=np.float32)
        for i, lst in enumerate(self.item_attrs):
            for a in lst:
                M[i, self.aidx[a]] = 1.0
        tr, va = view.train, view.valid
        u = torch.as_tensor(tr["uidx"].to_numpy().copy())
        i = torch.as_tensor(tr["iidx"].to_numpy().copy())
        r = torch.as_tensor(tr["rating"].to_numpy(np.float32).copy())
        Mt = torch.as_tensor(M)
        self.mu = float(r.mean())
        d = p["dim"]
        P = torch.nn.Parameter(torch.randn(view.n_users, d) * 0.01)
        Q = torch.nn.Parameter(torch.randn(view.n_items, d) * 0.01)
        V = torch.nn.Parameter(torch.randn(n_a, d) * 0.01)
        bu = torch.nn.Parameter(torch.zeros(view.n_users))
        bi = torch.nn.Parameter(torch.zeros(view.n_items))
        w = torch.nn.Parameter(torch.zeros(n_a))
        params = [P, Q, V, bu, bi, w]

        def forward(uu, ii):
            m = Mt[ii]
            return (self.mu + bu[uu] + bi[ii] + (P[uu] * Q[ii]).sum(-1) + m @ w
                    + (P[uu] * (m @ V)).sum(-1))

        vu = torch.as_tensor(va["uidx"].to_numpy().copy())
        vi = torch.as_tensor(va["iidx"].to_numpy().copy())
        vr = va["rating"].to_numpy(np.float64)
        lo, hi = view.rating_min, view.rating_max

        def batch_loss(idx: "torch.Tensor") -> "torch.Tensor":
            uu, ii = u[idx], i[idx]
            loss = ((forward(uu, ii) - r[idx]) ** 2).mean()
            loss = loss + p["reg"] * (P[uu] ** 2).sum(-1).mean()
            loss = loss + p["item_reg"] * ((Q[ii] ** 2).sum(-1) + bi[ii] ** 2).mean()
            return loss + p["attr_reg"] * ((V ** 2).sum() + (w ** 2).sum()) / len(r) * p["batch_size"]

        fit_early_stopping(params, batch_loss, lambda: forward(vu, vi), vr, len(r), rng=rng, lr=p["lr"],
                           batch_size=p["batch_size"], max_epochs=p["max_epochs"], patience=p["patience"],
                           clip=(lo, hi))
        self.P, self.Q, self.V = (x.detach().double().numpy() for x in (P, Q, V))
        self.bu, self.bi, self.w = (x.detach().double().numpy() for x in (bu, bi, w))
        self.M = M.astype(np.float64)

    # -- the intervention interface used by xrbench.fidelity -----------------------------------------
    def attributes_of(self, item: int) -> list[str]:
        return self.item_attrs[item]

    def score_with(self, user: int, items: np.ndarray, attrs: Sequence[Sequence[str]]) -> np.ndarray:
        """Scores of ``items`` for ``user`` when item k has attributes ``attrs[k]`` instead of its own."""
        m = np.zeros((len(items), self.M.shape[1]))
        for k, lst in enumerate(attrs):
            for a in lst:
                if a in self.aidx:
                    m[k, self.aidx[a]] = 1.0
        pu = self.P[user]
        return (self.mu + self.bu[user] + self.bi[items] + self.Q[items] @ pu + m @ self.w + m @ (self.V @ pu))

    def contributions(self, user: int, item: int) -> list[tuple[str, float]]:
        """The item's attributes with the score each adds for this user (w_a + p_u . v_a), largest first:
        exactly what removing that attribute would take away."""
        pu = self.P[user]
        out = [(a, float(self.w[self.aidx[a]] + self.V[self.aidx[a]] @ pu)) for a in self.item_attrs[item]]
        return sorted(out, key=lambda x: (-x[1], x[0]))

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        m = self.M[items]
        return (self.mu + self.bu[users] + self.bi[items] + np.einsum("nd,nd->n", self.P[users], self.Q[items])
                + m @ self.w + np.einsum("nd,nd->n", self.P[users], m @ self.V))

    def scores(self, users: np.ndarray) -> np.ndarray:
        item_part = self.bi + self.M @ self.w
        return (self.mu + self.bu[users][:, None] + item_part[None, :]
                + self.P[users] @ (self.Q + self.M @ self.V).T)

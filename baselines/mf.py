"""Biased matrix factorisation in PyTorch: r_hat = mu + b_u + b_i + p_u . q_i (Koren et al. 2009),
mini-batch Adam on squared error with L2 on the parameters a batch touches, early stopping on the
validation split (the best epoch's weights are kept).

On CPU it trains on one torch thread: its operations (embedding lookups and their dense gradients,
element-wise arithmetic, per-row sums over ``dim``) give the same bits on any number of threads
(``tests/test_speed_equivalence.py``), a batch is too small to gain from a second one, and on a busy
2-core machine two OpenMP threads waiting for each other made a fit 10-20 times slower. (``attr-mf``'s
results do depend on the thread count, so it keeps the process setting.)"""
from __future__ import annotations

from typing import Any

import numpy as np

from xrbench.baselines.training import fit_early_stopping
from xrbench.params import Param
from xrbench.protocols import Recommender
from xrbench.view import TrainView


class BiasedMF(Recommender):
    param_rules = {"dim": Param(ge=1), "lr": Param(gt=0), "reg": Param(ge=0), "bias_reg": Param(ge=0),
                   "batch_size": Param(ge=1), "max_epochs": Param(ge=1), "patience": Param(ge=1)}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"dim": 64, "lr": 0.005, "reg": 0.05, "bias_reg": 0.005, "batch_size": 1024, "max_epochs": 60,
                "patience": 4}

    def fit(self, view: TrainView) -> None:
        import torch

        p = self.params
        torch.manual_seed(view.seed)
        rng = np.random.default_rng(view.seed)
        device = torch.device(view.device if view.device == "cuda" and torch.cuda.is_available() else "cpu")
        tr, va = view.train, view.valid
        u = torch.as_tensor(tr["uidx"].to_numpy().copy(), device=device)
        i = torch.as_tensor(tr["iidx"].to_numpy().copy(), device=device)
        r = torch.as_tensor(tr["rating"].to_numpy(np.float32).copy(), device=device)
        vu = torch.as_tensor(va["uidx"].to_numpy().copy(), device=device)
        vi = torch.as_tensor(va["iidx"].to_numpy().copy(), device=device)
        vr = va["rating"].to_numpy(np.float64)
        lo, hi = view.rating_min, view.rating_max

        self.mu = float(r.mean())
        P = torch.nn.Embedding(view.n_users, p["dim"]).to(device)
        Q = torch.nn.Embedding(view.n_items, p["dim"]).to(device)
        bu = torch.nn.Embedding(view.n_users, 1).to(device)
        bi = torch.nn.Embedding(view.n_items, 1).to(device)
        for emb in (P, Q):
            torch.nn.init.normal_(emb.weight, std=0.01)
        for emb in (bu, bi):
            torch.nn.init.zeros_(emb.weight)
        modules = torch.nn.ModuleDict({"P": P, "Q": Q, "bu": bu, "bi": bi})

        def forward(uu: "torch.Tensor", ii: "torch.Tensor") -> "torch.Tensor":
            return self.mu + bu(uu).squeeze(-1) + bi(ii).squeeze(-1) + (P(uu) * Q(ii)).sum(-1)

        def batch_loss(idx: "torch.Tensor") -> "torch.Tensor":
            uu, ii = u[idx], i[idx]
            loss = ((forward(uu, ii) - r[idx]) ** 2).mean()
            loss = loss + p["reg"] * ((P(uu) ** 2).sum(-1) + (Q(ii) ** 2).sum(-1)).mean()
            return loss + p["bias_reg"] * ((bu(uu) ** 2).sum(-1) + (bi(ii) ** 2).sum(-1)).mean()

        self.best_valid_rmse, self.history = fit_early_stopping(
            list(modules.parameters()), batch_loss, lambda: forward(vu, vi), vr, len(r), rng=rng, lr=p["lr"],
            batch_size=p["batch_size"], max_epochs=p["max_epochs"], patience=p["patience"], clip=(lo, hi),
            device=device, threads=1 if device.type == "cpu" else None)
        with torch.no_grad():
            self.P = P.weight.double().cpu().numpy()
            self.Q = Q.weight.double().cpu().numpy()
            self.bu = bu.weight.double().cpu().numpy()[:, 0]
            self.bi = bi.weight.double().cpu().numpy()[:, 0]

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.mu + self.bu[users] + self.bi[items] + np.einsum("nd,nd->n", self.P[users], self.Q[items])

    def scores(self, users: np.ndarray) -> np.ndarray:
        return self.mu + self.bu[users][:, None] + self.bi[None, :] + self.P[users] @ self.Q.T

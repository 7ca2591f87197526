"""Benchmark: batch-1 greedy decoding of xrbench's backbone against CTranslate2, a C++ inference engine with
its own int8 kernels, on the same prompts and threads (issue 16: >= 42 tok/s at batch 1 on 2 threads, llama.cpp's
pace on the same GGUF here). It answers whether the gap to the target is PyTorch's per-token overhead or the CPU.

    python tests/bench/perf_decode_engines.py [--engines xrbench-fp32,xrbench-fp16,xrbench-gguf,ct2-int8_float32,...]
        [--backbone smollm2-135m] [--prompts 8] [--max-new-tokens 32] [--threads 2] [--repeats 2]

``xrbench-<format>``: :func:`xrbench.generation.generate` at batch 1 with that weight format (no generation
cache); ``xrbench-gguf`` is the GGUF file itself in llama.cpp (``weights=gguf``; skipped without llama-cpp-python). ``ct2-<compute type>``: ``ctranslate2.Generator.generate_batch`` one prompt at a time (greedy,
``sampling_topk=1``), on the backbone's dequantised weights converted once with CTranslate2's transformers
converter (under ``$XRBENCH_CACHE/ct2``). CTranslate2 is not a dependency of xrbench: ``pip install
ctranslate2`` to include its rows (they are skipped with a note otherwise). Prompts are the explainers' chat
prompt on fixed contexts (as ``perf_generation.py``); tokens/s counts generated tokens over the seconds of the
calls that made them, prefill included, the fastest of ``--repeats`` passes; each row also says how many of its
texts equal the first row's. Run alone on an idle machine. One JSON line an engine.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time

from perf_generation import NoCache, prompts_for  # this script's folder is on sys.path when run


def run_xrbench(a: argparse.Namespace, weights: str) -> tuple[list[str], float, dict]:
    from xrbench import generation

    bb = generation.load(a.backbone, "cpu", weights)
    prompts = prompts_for(bb.tokenizer, a.prompts, bb.chat)
    cfg = generation.GenConfig(max_new_tokens=a.max_new_tokens, batch_size=1)
    generation.generate(bb, prompts[:1], cfg, cache=NoCache(), progress=False)  # warm-up
    best, texts = 0.0, []
    for _ in range(a.repeats):
        texts, stats = generation.generate(bb, prompts, cfg, cache=NoCache(), progress=False)
        best = max(best, stats.tokens_per_s_overall or 0.0)
    return texts, best, {"weights_mb": round((bb.weights_info or {}).get("bytes", 0) / 2**20, 1)}


def run_ct2(a: argparse.Namespace, compute_type: str) -> tuple[list[str], float, dict]:
    import ctranslate2
    from ctranslate2.converters import TransformersConverter

    from xrbench import generation
    from xrbench.data.io import cache_dir

    bb = generation.load(a.backbone, "cpu", "fp32")  # the dequantised folder CTranslate2 converts
    source = cache_dir() / "models" / bb.key
    if not (source / "config.json").is_file():
        raise SystemExit(f"{source}: no dequantised model folder to convert (packaged backbones only)")
    quant = compute_type.split("_")[0]
    target = cache_dir() / "ct2" / f"{bb.key}-{quant}"
    if not (target / "model.bin").is_file():
        TransformersConverter(str(source)).convert(str(target), quantization=quant, force=True)
    tok = bb.tokenizer
    prompts = prompts_for(tok, a.prompts, bb.chat)
    tokens = [tok.convert_ids_to_tokens(tok(p, add_special_tokens=not bb.chat)["input_ids"]) for p in prompts]
    ends = sorted({t for t in (tok.eos_token, "<|im_end|>") if t in tok.get_vocab()})
    gen = ctranslate2.Generator(str(target), device="cpu", compute_type=compute_type, intra_threads=a.threads,
                                inter_threads=1)

    def one(toks: list[str]) -> list[int]:
        res = gen.generate_batch([toks], max_length=a.max_new_tokens, sampling_topk=1,
                                 include_prompt_in_result=False, end_token=ends)
        return res[0].sequences_ids[0]

    one(tokens[0])  # warm-up
    best, ids = 0.0, []
    for _ in range(a.repeats):
        t0, ids = time.perf_counter(), [one(t) for t in tokens]
        best = max(best, sum(len(x) for x in ids) / (time.perf_counter() - t0))
    texts = [" ".join(tok.decode(x, skip_special_tokens=True).split()) for x in ids]
    size = sum(f.stat().st_size for f in target.iterdir() if f.is_file())
    return texts, best, {"weights_mb": round(size / 2**20, 1), "ctranslate2": ctranslate2.__version__}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engines", default="xrbench-fp32,xrbench-fp16,xrbench-gguf,ct2-int8_float32,ct2-float32")
    ap.add_argument("--backbone", default="smollm2-135m")
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
    import torch

    torch.set_num_threads(a.threads)
    first: list[str] | None = None
    for engine in a.engines.split(","):
        kind, _, fmt = engine.partition("-")
        row = {"benchmark": "decode_engines", "engine": engine, "backbone": a.backbone, "batch": 1,
               "threads": a.threads, "prompts": a.prompts, "max_new_tokens": a.max_new_tokens}
        if kind == "ct2":
            try:
                import ctranslate2  # noqa: F401
            except ImportError:
                print(json.dumps({**row, "skipped": "ctranslate2 is not installed (pip install ctranslate2)"}))
                continue
            texts, tps, extra = run_ct2(a, fmt)
        elif kind == "xrbench":
            if fmt == "gguf" and importlib.util.find_spec("llama_cpp") is None:
                print(json.dumps({**row, "skipped": "llama-cpp-python is not installed (pip install 'xrbench[llamacpp]')"}))
                continue
            texts, tps, extra = run_xrbench(a, fmt)
        else:
            raise SystemExit(f"unknown engine '{engine}': xrbench-<fp32|fp16|int8|int4|gguf> or ct2-<compute type>")
        first = texts if first is None else first
        row.update(tokens_per_s=round(tps, 1), target_met=tps >= 42.0, **extra,
                   same_texts_as_first_row=f"{sum(x == y for x, y in zip(texts, first))}/{len(texts)}",
                   first_text=texts[0][:100])
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()

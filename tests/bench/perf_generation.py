"""Benchmark: generation throughput of a backbone at batch size 1 and 8 (target: batch 8 >= 3x batch 1), for
each weight format asked (issue 16: fp16/int8/int4 weight-only decoding, target >= 42 tok/s at batch 1 on 2 threads,
llama.cpp's pace on the same GGUF here).

    python tests/bench/perf_generation.py [--backbone smollm2-135m] [--prompts 16] [--max-new-tokens 32]
        [--weights fp32,fp16,int8,int4] [--threads 2]     (XRB_BATCHES=1,32 to choose the batch sizes)

Uses the explainers' chat prompt on fixed contexts, greedy decoding, no generation cache; each batch size
is timed ``--repeats`` times and the fastest pass counts (single passes vary by +-15% here). Run alone:
a second busy process ruins the timing. Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backbone", default="smollm2-135m")
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3, help="timed passes per batch size; the fastest counts")
    ap.add_argument("--weights", default="fp32", help="comma-separated weight formats (fp32, fp16, int8, int4)")
    a = ap.parse_args()
    import torch

    from xrbench import generation

    torch.set_num_threads(a.threads)
    for weights in a.weights.split(","):
        print(json.dumps(run_one(a, weights)), flush=True)


def prompts_for(tok, n: int, chat: bool) -> list[str]:
    """``n`` explainer prompts on fixed contexts: the chat template when the backbone has one, else completion."""
    items = ["guitar strings", "a clip-on tuner", "a pop filter", "a guitar strap", "an overdrive pedal",
             "a mic stand", "a capo", "an instrument cable"]
    out = []
    for k in range(n):
        msgs = [{"role": "system", "content": "You explain recommendations to users in one short sentence."},
                {"role": "user", "content": f"The user liked these features: sound, price, tone.\nRecommended item: "
                                            f"{items[k % len(items)]} #{k}.\nItem features: quality, sound.\n"
                                            "In one short sentence, tell the user why they may like it."}]
        out.append(tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True) if chat
                   else msgs[1]["content"] + "\nExplanation:")
    return out


class NoCache:
    """A generation cache that holds nothing: every pass generates."""

    def get(self, *x): return None
    def put(self, *x): pass
    def commit(self): pass


def run_one(a: argparse.Namespace, weights: str) -> dict:
    import resource

    from xrbench import generation

    bb = generation.load(a.backbone, a.device, weights)
    prompts = prompts_for(bb.tokenizer, a.prompts, bb.chat)
    result = {"benchmark": "generation", "backbone": a.backbone, "weights": weights,
              "weights_mb": round((bb.weights_info or {}).get("bytes", 0) / 2**20, 1), "device": a.device,
              "threads": a.threads, "prompts": a.prompts, "max_new_tokens": a.max_new_tokens}

    texts = {}
    for bs in tuple(int(b) for b in os.environ.get("XRB_BATCHES", "1,8").split(",")):
        cfg = generation.GenConfig(max_new_tokens=a.max_new_tokens, batch_size=bs)
        generation.generate(bb, prompts[:bs], cfg, cache=NoCache(), progress=False)  # warm-up
        best = 0.0
        for _ in range(a.repeats):
            # tokens over the seconds of the batches that made them (GenStats.tokens_per_s_overall): generate()
            # times the last batch again when it ran fewer than GenStats.MIN_PASSES batches (for the record's
            # median), which the wall time would count as if it had made tokens
            texts[bs], stats = generation.generate(bb, prompts, cfg, cache=NoCache(), progress=False)
            best = max(best, stats.tokens_per_s_overall or 0.0)
        result[f"tokens_per_s_batch{bs}"] = round(best, 1)
    if len(texts) > 1:  # greedy outputs do not depend on the batch size
        result["same_texts_across_batch_sizes"] = len({tuple(t) for t in texts.values()}) == 1
    if "tokens_per_s_batch1" in result and "tokens_per_s_batch8" in result:
        result["speedup"] = round(result["tokens_per_s_batch8"] / result["tokens_per_s_batch1"], 2)
        result["target_met"] = result["speedup"] >= 3.0
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["first_text"] = texts[min(texts)][0][:100] if texts else ""
    return result


if __name__ == "__main__":
    main()

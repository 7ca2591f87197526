"""Benchmark: one linear layer's product in fp32 (BLAS), with FBGEMM's fp16-weight GEMM
(``torch.ops.quantized.linear_dynamic_fp16``: ``--param weights=fp16``) and with PyTorch's weight-only int8/int4 CPU
kernels (``torch._weight_int8pack_mm``, ``torch._weight_int4pack_mm_for_cpu``: ``--param weights=int8|int4``),
at batch 1 and 32, on SmolLM2-135M's shapes (an MLP layer 1536 x 576, the output layer 49152 x 576).

    python tests/bench/perf_quant_kernels.py [--threads 2] [--repeats 200]

Prints one JSON line per shape: milliseconds per product (mean over the repeats, after a warm-up call).
Run alone: a second busy process ruins the timing.
"""
from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=200)
    a = ap.parse_args()
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    group = 32

    def ms(f, repeats: int) -> float:
        f()
        t0 = time.perf_counter()
        for _ in range(repeats):
            f()
        return round((time.perf_counter() - t0) / repeats * 1e3, 3)

    for n, k in ((1536, 576), (49152, 576)):
        w = torch.randn(n, k)
        q8, s8 = torch.randint(-127, 128, (n, k), dtype=torch.int8), torch.rand(n)
        q4 = torch._convert_weight_to_int4pack_for_cpu(torch.randint(0, 16, (n, k), dtype=torch.int32), 1)
        sz = torch.rand(k // group, n, 2)
        p16 = torch.ops.quantized.linear_prepack_fp16(w, None)
        row = {"benchmark": "quant_kernels", "shape": [n, k], "threads": a.threads}
        for batch in (1, 32):
            x = torch.randn(batch, k)
            reps = a.repeats if batch == 1 else max(a.repeats // 4, 1)
            row[f"fp32_ms_batch{batch}"] = ms(lambda: x @ w.t(), reps)
            row[f"fp16_ms_batch{batch}"] = ms(lambda: torch.ops.quantized.linear_dynamic_fp16(x, p16), reps)
            row[f"int8_ms_batch{batch}"] = ms(lambda: torch._weight_int8pack_mm(x, q8, s8), reps)
            row[f"int4_ms_batch{batch}"] = ms(lambda: torch._weight_int4pack_mm_for_cpu(x, q4, group, sz), reps)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()

"""Weight-only quantised linear layers for CPU decoding (``--param weights=fp32|fp16|int8|int4``).

At batch 1 a decoder step reads every weight once, so its speed is bound by how many bytes the weights
take: SmolLM2-135M's dequantised fp32 weights are 538 MB, read per token. Weight-only quantisation stores
each ``nn.Linear`` weight as int8 (one scale per output row) or int4 (a scale and an offset per group of
``group_size`` input columns) and multiplies with PyTorch's own CPU kernels, which dequantise on the fly
(``torch._weight_int8pack_mm``, ``torch._weight_int4pack_mm_for_cpu``: the kernels torchao's CPU weight-only
configs call). Activations stay fp32; embeddings and norms are not touched.

- ``fp16``: each weight rounded to IEEE half precision and packed for FBGEMM's fp16 GEMM
  (``torch.ops.quantized.linear_dynamic_fp16``: despite the name, the activations stay fp32; the kernel widens
  the weights with F16C as it reads them and accumulates in fp32). Half the bytes of fp32, and the kernel
  that is fastest at batch 1 on a CPU with AVX2 and no AVX-512 (``tests/bench/perf_quant_kernels.py``).
- ``int8``: symmetric per output row, w ~= q * s, q in [-127, 127], s = max|w_row| / 127.
- ``int4``: asymmetric per group of ``group_size`` (32) input columns, w ~= q * s + min, q in [0, 15],
  s = (max - min) / 15 (stored in the kernel's (scale, zero) form: zero = min + 8 s).

Greedy outputs are deterministic for given weights, and batching does not change them (tested); they differ
from fp32's where quantisation moves an argmax: the explain suite reports the text metrics of each format
side by side. Layers whose input width is not a multiple of the group size (int4) are left in fp32 and
counted in :func:`describe`.
"""
from __future__ import annotations

import functools
from typing import Any

WEIGHT_FORMATS = ("fp32", "fp16", "int8", "int4", "gguf")  # gguf: the GGUF file itself, in llama.cpp (xrbench.llamacpp)
INT4_GROUP = 32


@functools.lru_cache(maxsize=None)
def classes() -> tuple[type, type]:
    """(Int8Linear, Int4Linear), built on first use (torch is imported only then)."""
    import torch

    class Int8Linear(torch.nn.Module):
        """``y = x W^T (+ b)`` with W stored as int8 rows and one fp32 scale per row."""

        def __init__(self, linear: "torch.nn.Linear") -> None:
            super().__init__()
            w = linear.weight.detach().to(torch.float32)
            scale = (w.abs().amax(dim=1) / 127.0).clamp(min=torch.finfo(torch.float32).tiny)
            q = torch.round(w / scale[:, None]).clamp_(-127, 127).to(torch.int8)
            self.in_features, self.out_features = linear.in_features, linear.out_features
            self.register_buffer("qweight", q.contiguous())
            self.register_buffer("scales", scale.contiguous())
            self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().to(torch.float32))

        def forward(self, x: "torch.Tensor") -> "torch.Tensor":
            lead = x.shape[:-1]
            y = torch._weight_int8pack_mm(x.reshape(-1, self.in_features).to(torch.float32).contiguous(),
                                          self.qweight, self.scales)
            y = y.reshape(*lead, self.out_features)
            return y if self.bias is None else y + self.bias

    class Int4Linear(torch.nn.Module):
        """``y = x W^T (+ b)`` with W stored as packed 4-bit values, a scale and an offset per group."""

        def __init__(self, linear: "torch.nn.Linear", group_size: int = INT4_GROUP) -> None:
            super().__init__()
            w = linear.weight.detach().to(torch.float32)
            n, k = w.shape
            g = w.reshape(n, k // group_size, group_size)
            lo, hi = g.amin(dim=-1), g.amax(dim=-1)
            scale = ((hi - lo) / 15.0).clamp(min=torch.finfo(torch.float32).tiny)
            q = torch.round((g - lo[..., None]) / scale[..., None]).clamp_(0, 15).to(torch.int32).reshape(n, k)
            self.in_features, self.out_features, self.group_size = k, n, group_size
            self.register_buffer("packed", torch._convert_weight_to_int4pack_for_cpu(q.contiguous(), 1))
            # the kernel computes (q - 8) * scale + zero: zero = lo + 8 * scale; laid out (k / group, n, 2)
            self.register_buffer("scales_zeros", torch.stack([scale.t(), (lo + 8 * scale).t()], dim=-1).contiguous())
            self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().to(torch.float32))

        def forward(self, x: "torch.Tensor") -> "torch.Tensor":
            lead = x.shape[:-1]
            y = torch._weight_int4pack_mm_for_cpu(x.reshape(-1, self.in_features).to(torch.float32).contiguous(),
                                                  self.packed, self.group_size, self.scales_zeros)
            y = y.reshape(*lead, self.out_features)
            return y if self.bias is None else y + self.bias

    return Int8Linear, Int4Linear


@functools.lru_cache(maxsize=None)
def fp16_class() -> type:
    """Fp16Linear, built on first use."""
    import torch

    class Fp16Linear(torch.nn.Module):
        """``y = x W^T (+ b)`` with W rounded to fp16 and packed for FBGEMM (fp32 activations and sums)."""

        def __init__(self, linear: "torch.nn.Linear") -> None:
            super().__init__()
            w = linear.weight.detach().to(torch.float32).contiguous()
            b = None if linear.bias is None else linear.bias.detach().to(torch.float32).contiguous()
            self.in_features, self.out_features = linear.in_features, linear.out_features
            engine = torch.backends.quantized.engine
            try:  # the packing follows the selected quantized engine: only FBGEMM's packs fp16 weights
                torch.backends.quantized.engine = "fbgemm"
                self.packed = torch.ops.quantized.linear_prepack_fp16(w, b)
            finally:
                torch.backends.quantized.engine = engine
            #: what the packed weights hold (not a tensor: :func:`describe` adds it)
            self.packed_bytes = w.numel() * 2 + (0 if b is None else b.numel() * 4)

        def forward(self, x: "torch.Tensor") -> "torch.Tensor":
            lead = x.shape[:-1]
            y = torch.ops.quantized.linear_dynamic_fp16(x.reshape(-1, self.in_features).to(torch.float32).contiguous(),
                                                        self.packed)
            return y.reshape(*lead, self.out_features)

    return Fp16Linear


def check_format(weights: str, device: str) -> None:
    from .errors import XRBenchError

    if weights not in WEIGHT_FORMATS:
        raise XRBenchError(f"weights '{weights}' is not a weight format; choose one of {', '.join(WEIGHT_FORMATS)}")
    if weights == "gguf" and device != "cpu":
        raise XRBenchError(f"weights=gguf runs llama.cpp's CPU build; on {device} use weights=fp32 (bf16 "
                           "autocast), or run with --device cpu")
    if weights != "fp32" and device != "cpu":
        raise XRBenchError(f"weights={weights} uses PyTorch's CPU kernels; on {device} use weights=fp32 (bf16 "
                           "autocast), or run with --device cpu")
    if weights == "fp16":
        import torch

        if "fbgemm" not in torch.backends.quantized.supported_engines:
            raise XRBenchError("weights=fp16 needs PyTorch's FBGEMM kernels (x86 CPUs), which this build lacks; use "
                               "weights=fp32, int8 or int4")


def quantize_linears(model: Any, weights: str, group_size: int = INT4_GROUP) -> dict[str, Any]:
    """Replace every ``nn.Linear`` of ``model`` (in place) by its ``weights`` form; returns :func:`describe`'s
    summary. ``fp32`` changes nothing. The replaced layers' fp32 weights are freed unless tied elsewhere (an
    output layer tied to the input embeddings keeps the embeddings in fp32)."""
    import torch

    if weights == "fp32":
        return describe(model, weights)
    int8_cls, int4_cls = classes()
    fp16_cls = fp16_class() if weights == "fp16" else None
    skipped = 0

    def walk(module: Any) -> None:
        nonlocal skipped
        for name, child in list(module.named_children()):
            if isinstance(child, torch.nn.Linear):
                if weights == "fp16":
                    setattr(module, name, fp16_cls(child))
                elif weights == "int8":
                    setattr(module, name, int8_cls(child))
                elif child.in_features % group_size == 0 and child.out_features % 16 == 0:
                    setattr(module, name, int4_cls(child, group_size))
                else:
                    skipped += 1
            else:
                walk(child)

    with torch.no_grad():
        walk(model)
    info = describe(model, weights)
    info["fp32_linear_layers"] = skipped
    return info


def describe(model: Any, weights: str) -> dict[str, Any]:
    """The weight format and the bytes the model's parameters and buffers hold (shared tensors once)."""
    import torch

    seen: set[int] = set()
    total = 0
    for t in list(model.parameters()) + list(model.buffers()):
        if isinstance(t, torch.Tensor) and t.data_ptr() not in seen:
            seen.add(t.data_ptr())
            total += t.numel() * t.element_size()
    total += sum(getattr(m, "packed_bytes", 0) for m in model.modules())  # fp16: packed outside tensors
    out: dict[str, Any] = {"format": weights, "bytes": int(total)}
    if weights == "int4":
        out["group_size"] = INT4_GROUP
    return out

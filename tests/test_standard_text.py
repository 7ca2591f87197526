"""Protocol ``standard`` (sacrebleu, rouge-score, BERTScore with the packaged MiniLM), the MiniLM retrieval
explainer, and the metrics as Hugging Face ``evaluate`` modules loaded from a local path."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import cli

bert_score = pytest.importorskip("bert_score")


@pytest.fixture(scope="module")
def minilm():
    from xrbench.encoders import minilm_path
    from xrbench.errors import XRBenchError

    try:
        return minilm_path()
    except XRBenchError as exc:
        pytest.skip(str(exc))


def test_bertscore_with_the_packaged_minilm(minilm):
    from xrbench.metrics.standard import bertscore_pairs

    hyps = ["the strings sound bright and stay in tune", "the strings sound bright and stay in tune"]
    refs = ["the strings sound bright and stay in tune", "my dog ate the invoice yesterday"]
    f = bertscore_pairs(hyps, refs)
    assert f[0] == pytest.approx(1.0, abs=1e-5) and f[1] < 0.6
    # the bert-score package itself, called as the spec says: all 6 layers, no rescaling
    _, _, f2 = bert_score.score(hyps, refs, model_type=str(minilm), num_layers=6, rescale_with_baseline=False)
    assert np.allclose(f, f2.numpy(), atol=1e-6)


def test_bertscore_of_an_empty_sentence_is_zero(minilm):
    """An empty explanation (a trained generator may emit the end token first) scores 0, as bert_score sets it,
    and the other pairs keep their own scores."""
    from xrbench.metrics.standard import bertscore_pairs

    hyps = ["the strings sound bright", "", "great tuner", "   "]
    refs = ["the strings sound bright", "the strap is solid", "", "the pedal is quiet"]
    f = bertscore_pairs(hyps, refs)
    assert f[0] == pytest.approx(1.0, abs=1e-5) and f[1] == f[2] == f[3] == 0.0


def test_encoder_embeddings_are_unit_length_and_semantic(minilm):
    from xrbench.encoders import encode

    e = encode(["great guitar strings", "excellent strings for my guitar", "the invoice was late"])
    assert e.shape == (3, 384) and np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.2


def test_standard_columns_and_embedding_retrieval_in_a_run(tmp_path, amazon2014, minilm):
    out = tmp_path / "out"
    p = cli("run", "--dataset", "amazon-2014-5core", "--data-path", str(amazon2014), "--explainer", "retrieval-embed",
            "retrieval", "--sample", "12", "--out", str(out), "-q")
    assert p.returncode == 0, p.stderr
    recs = {json.loads(f.read_text())["method"]["name"]: json.loads(f.read_text()) for f in out.rglob("record.json")}
    rec = recs["retrieval-embed"]
    for k in ("bleu4_sacre", "rougeL_rs", "bertscore_f"):
        assert k in rec["metrics"], (k, rec["skipped_metrics"])
    assert "all-MiniLM-L6-v2" in rec["metric_notes"]["bertscore_f"]
    assert "bertscore_f" in rec["intervals"]


def test_embedding_retrieval_returns_the_items_sentence_closest_to_the_user(amazon2014, minilm):
    from xrbench.baselines.explainers import RetrievalEmbed
    from xrbench.data import amazon
    from xrbench.encoders import encode
    from xrbench.extend import RunContext, split_and_view

    ds = amazon.load_2014(path=amazon2014)
    split, view, _ = split_and_view(ds, "random", RunContext(0))
    ex = RetrievalEmbed()
    ex.bind(view)
    ex.fit(view)
    test = ds.interactions.iloc[split.test]
    users, items = test["user"].map(view.user_index).tolist(), test["item"].map(view.item_index).tolist()
    out = ex.explain(users, items)
    for u, i, e in zip(users, items, out):
        cands = ex.by_item.get(i) or range(len(ex.sentences))
        assert e.text in {ex.sentences[k] for k in cands}  # a training sentence of this item
        sims = encode([ex.sentences[k] for k in cands]) @ ex.user_vec.get(u, ex.default_vec)
        assert e.text == ex.sentences[list(cands)[int(np.argmax(sims))]]


def test_metrics_load_as_evaluate_modules_from_a_local_path(tmp_path, monkeypatch, minilm):
    evaluate = pytest.importorskip("evaluate")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from xrbench.metrics import evaluate_module
    from xrbench.metrics.nlg4rs import score_all

    hyps = ["the sound is great", "nice strap and good price", "great tone"]
    refs = ["the sound is really great", "the strap is nice", "the tone is great for blues"]
    feats = ["sound", "strap", "tone"]
    nlg = evaluate.load(evaluate_module("nlg4rs"))
    got = nlg.compute(predictions=hyps, references=refs, features=feats, vocabulary=["sound", "strap", "tone", "x"])
    want = score_all([h.split() for h in hyps], [r.split() for r in refs], feats, ["sound", "strap", "tone", "x"])
    assert got == pytest.approx(want, abs=1e-12)
    std = evaluate.load(evaluate_module("standard"))
    s = std.compute(predictions=hyps, references=refs, bertscore=True)
    p = cli("score", "--hyp", str(_lines(tmp_path / "h", hyps)), "--ref", str(_lines(tmp_path / "r", refs)),
            "--protocol", "standard", "--json")
    assert p.returncode == 0, p.stderr
    ref = json.loads(p.stdout)
    for k in ("bleu4_sacre", "rouge1_rs", "rouge2_rs", "rougeL_rs", "bertscore_f"):
        assert s[k] == pytest.approx(ref[k], abs=1e-6)


def _lines(path, texts):
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    return path

"""Explainers trained inside the harness: PETER / PETER+ (from scratch) and PEPLER / PEPLER-D / causal-pepler
(prompt learning on a causal LM; here a tiny Llama with a word-level tokenizer, so the tests take seconds).

What is checked: train -> explain -> score end to end (an NLG4RS folder with its predefined split, the shipped
smoke reviews), the learning curve unit file and the weights' hash in the record, falling training losses,
a run killed with SIGKILL mid-training resuming at its last finished epoch with exactly the weights of an
uninterrupted run, the trained-model cache, PETER's mask and heads, the causal term C of causal-pepler, and
PETER+'s reference feature reaching only its own test pairs.
"""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import cli, write_tiny_llama
from tests.data.test_nlg4rs_dataset import write_nlg4rs

TINY_PETER = ["--param", "d_model=32", "--param", "d_ff=64", "--param", "batch_size=32"]


def records(out):
    """Each record of ``out`` by its method name (``KIND:NAME`` for recommenders), with its folder."""
    got = {}
    for p in out.rglob("record.json"):
        rec = json.loads(p.read_text())
        name = rec["method"]["label"].split("[")[0]
        got[name if rec["method"]["kind"] == "explainer" else f"{rec['method']['kind']}:{name}"] = (p.parent, rec)
    return got


def curve(folder):
    with open(folder / "learning_curve.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_peter_nlg4rs_end_to_end(tmp_path):
    """An NLG4RS folder with its predefined split: train -> explain -> score (about 20 s on an idle 2-core machine;
    timed by the benchmark script, not here)."""
    folder = write_nlg4rs(tmp_path / "TripAdvisor", n=120)
    out = tmp_path / "out"
    p = cli("run", "--dataset", "nlg4rs", "--data-path", str(folder), "--split", "predefined", "--explainer", "peter",
            "peter+", "--recommender", "peter", *TINY_PETER, "--param", "epochs=6", "--seeds", "0", "--out", str(out),
            "-q")
    assert p.returncode == 0, p.stderr
    recs = records(out)
    rec_run, rec = recs.pop("recommender:peter")  # PETER's rating head, scored as any recommender's
    assert rec["status"] == "ok" and {"rmse", "mae", "ndcg@10"} <= set(rec["metrics"])
    assert rec["metrics"]["rmse"] < 2.5 and "learning_curve.csv" in rec["units"]
    assert set(recs) == {"peter", "peter+"}
    for name, (run, rec) in recs.items():
        assert rec["status"] == "ok"
        assert "learning_curve.csv" in rec["units"] and rec["unit_sha256"]["learning_curve.csv"]
        rows = curve(run)
        assert [int(r["epoch"]) for r in rows] == list(range(1, len(rows) + 1)) and len(rows) >= 2
        assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])  # training losses fall
        t = rec["provenance"]["training"]
        assert len(t["weights_sha256"]) == 64 and t["valid_source"] == "validation rows"
        assert t["train_tokens_per_s"] > 0 and t["from_cache"] is False
        assert not (run / "checkpoints").exists()  # removed once the record holds the weights' hash
        for k in ("bleu1", "bleu4", "rougeL_f", "usr", "fmr"):
            assert k in rec["metrics"]
    # PETER+ is given each test pair's reference feature: the record and the board say so
    assert recs["peter+"][1]["provenance"]["explain"].get("oracle_feature") is True
    assert "oracle_feature" not in recs["peter"][1]["provenance"]["explain"]
    board = (out / "leaderboard.md").read_text()
    assert "given the ground-truth feature: peter+" in board and "trained here: peter+[" in board
    assert "Learning curves" in board


def test_peter_plus_feature_reaches_only_its_pairs(tmp_path, monkeypatch):
    from xrbench.baselines.peter import PeterPlus
    from xrbench.data import smoke
    from xrbench.data.split import make_split
    from xrbench.references import references
    from xrbench.view import TrainView

    ds = smoke.load()
    split = make_split(ds, "random", 0)
    view = TrainView.build(ds, split, 0, refs=references(ds, split))
    m = PeterPlus(d_model=16, d_ff=32, epochs=1)
    m.bind(view)
    m.fit(view)
    with pytest.raises(RuntimeError, match="reference's feature"):
        m.explain([0, 1], [0, 1])  # no feature given (e.g. the fidelity interventions' top-K items)
    m.set_reference_features([0, 1], [0, 1], ["price", "strings"])
    assert len(m.explain([0, 1], [0, 1])) == 2
    with pytest.raises(RuntimeError):
        m.explain([1, 0], [1, 0])  # features given for other pairs are never used


def test_peter_mask_and_rating_head():
    """The PETER mask: causal, except that the user position also sees the item; the rating read from the user
    position depends on the user and the item only (so rating_only over [user, item] gives the same number)."""
    import torch

    from xrbench.baselines.peter import PeterCore, build_model

    p = {**PeterCore.default_params(), "d_model": 16, "d_ff": 32, "dropout": 0.0}
    torch.manual_seed(0)
    m = build_model(5, 4, 20, 2, 6, p).eval()
    mask = m.mask(5, "cpu")
    assert mask[0, 1].item() is False and mask[1, 2].item() is True and mask[0, 2].item() is True
    assert not mask.tril().any()
    u, i = torch.tensor([1, 3]), torch.tensor([2, 0])
    text_a = torch.tensor([[1, 5, 6, 7], [1, 8, 9, 0]])
    text_b = torch.tensor([[1, 9, 9, 9], [1, 4, 0, 0]])
    with torch.no_grad():
        _, ctx_a, r_a = m(u, i, text_a, pad=0)
        _, ctx_b, r_b = m(u, i, text_b, pad=0)
        r_only = m.rating_only(u, i, pad=0)
    assert torch.allclose(r_a, r_b, atol=1e-6) and torch.allclose(r_a, r_only, atol=1e-5)
    assert torch.allclose(ctx_a, ctx_b, atol=1e-6)  # the item position sees only the user and the item


def _run_args(out):
    return [sys.executable, "-m", "xrbench.cli", "run", "--dataset", "smoke-reviews", "--explainer", "peter",
            *TINY_PETER, "--param", "epochs=8", "--param", "patience=100", "--seeds", "0", "--out", str(out), "-q"]


def test_killed_run_resumes_at_last_epoch(tmp_path):
    """SIGKILL during training, then the same command: it resumes after its last finished epoch and ends with
    exactly the weights (and metrics) of an uninterrupted run."""
    env = {**os.environ, "XRBENCH_CACHE": str(tmp_path / "cache-a")}
    whole = subprocess.run(_run_args(tmp_path / "whole"), env=env, capture_output=True, text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr
    env_b = {**os.environ, "XRBENCH_CACHE": str(tmp_path / "cache-b")}  # no cached final model to fall back on
    out = tmp_path / "killed"
    proc = subprocess.Popen(_run_args(out), env=env_b, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = None
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        found = list(out.rglob("checkpoints/last.pt"))
        if found:
            ckpt = found[0]
            break
        time.sleep(0.05)
    assert ckpt is not None, "no checkpoint was written"
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not list(out.rglob("record.json"))  # killed before the record: nothing half-written
    again = subprocess.run(_run_args(out), env=env_b, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "resuming from" in again.stderr
    a, b = records(tmp_path / "whole")["peter"][1], records(out)["peter"][1]
    assert a["provenance"]["training"]["weights_sha256"] == b["provenance"]["training"]["weights_sha256"]
    assert a["metrics"]["bleu1"] == b["metrics"]["bleu1"]
    rows = curve(records(out)["peter"][0])
    assert [int(r["epoch"]) for r in rows] == list(range(1, 9))  # every epoch once in the curve


def test_early_stopping_counts_over_the_run():
    """PETER's published rule: epochs without a better validation loss are counted over the whole run (an
    improvement does not reset the count); per stage for PEPLER."""
    from xrbench.baselines.trainer import epochs_without_improvement

    rows = [{"stage": "main", "valid_loss": v} for v in (5.0, 5.2, 4.9, 4.95, 4.8, 4.8, 4.7)]
    assert epochs_without_improvement(rows) == 3
    rows += [{"stage": "full", "valid_loss": v} for v in (9.0, 8.0, 8.5)]
    assert epochs_without_improvement(rows, "full") == 1 and epochs_without_improvement(rows, "main") == 3


def test_checkpoints_load_safely(tmp_path):
    """Checkpoints are read with weights_only=True: numpy scalars are stored as Python numbers; a file of other
    settings or a corrupt one is ignored."""
    import torch

    from xrbench.baselines import trainer

    ck = trainer.Checkpoints(tmp_path, "k1")
    ck.save({"model": {"w": torch.ones(2)}, "best_loss": np.float64(1.5), "curve": [{"x": np.float32(2.0)}]})
    st = ck.load()
    assert st["best_loss"] == 1.5 and type(st["best_loss"]) is float and st["curve"][0]["x"] == 2.0
    assert trainer.Checkpoints(tmp_path, "other").load() is None
    (tmp_path / "last.pt").write_bytes(b"not a checkpoint")
    assert ck.load() is None


# -- PEPLER family on a tiny Llama -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    from xrbench.data import smoke

    ds = smoke.load()
    words = sorted({w for t in ds.interactions["text"] for w in str(t).lower().replace(".", " ").split()})
    return write_tiny_llama(tmp_path_factory.mktemp("tiny-lm"), words + ["features", "explanation", ":"], hidden=32,
                            intermediate=64, layers=2, max_positions=256)


def test_pepler_family_end_to_end(tmp_path, tiny_lm):
    out = tmp_path / "out"
    p = cli("run", "--dataset", "smoke-reviews", "--explainer", "pepler", "pepler-d", "causal-pepler",
            "--param", f"backbone={tiny_lm}", "--param", "train_pairs=96", "--param", "lr_full=0.003",
            "--sample", "20", "--seeds", "0", "--out", str(out), "-q")
    assert p.returncode == 0, p.stderr
    recs = records(out)
    assert set(recs) == {"pepler", "pepler-d", "causal-pepler"}
    stages = {n: [r["stage"] for r in curve(run)] for n, (run, _) in recs.items()}
    assert stages == {"pepler": ["prompt", "full"], "pepler-d": ["full"], "causal-pepler": ["full"]}
    for name, (run, rec) in recs.items():
        t = rec["provenance"]["training"]
        assert rec["status"] == "ok" and t["train_pairs"] == 96 and t["profile"] == "quick"
        assert len(t["weights_sha256"]) == 64
        assert rec["metrics"]["len_mean"] > 0
    assert "lambda_causal" in recs["causal-pepler"][1]["provenance"]["training"]
    assert "objective" in recs["causal-pepler"][1]["provenance"]["training"]


def test_pepler_leaves_the_shared_backbone_untouched(tmp_path, tiny_lm):
    from xrbench import backbones
    from xrbench.baselines import trainer
    from xrbench.baselines.pepler import PeplerD
    from xrbench.data import smoke
    from xrbench.data.split import make_split
    from xrbench.references import references
    from xrbench.view import TrainView

    ds = smoke.load()
    split = make_split(ds, "random", 0)
    view = TrainView.build(ds, split, 0, refs=references(ds, split))
    before = trainer.weights_sha256(backbones.load(str(tiny_lm)).model)
    m = PeplerD(backbone=str(tiny_lm), train_pairs=32, lr_full=0.01)
    m.bind(view)
    m.fit(view)
    assert trainer.weights_sha256(m.net.lm) != before  # the LM was fine-tuned ...
    assert trainer.weights_sha256(backbones.load(str(tiny_lm)).model) == before  # ... a copy of it


def test_causal_term(tmp_path, tiny_lm):
    """C = mean over target positions of the probability of the first token of each item feature whose attr-mf
    effect for the user is <= 0; computed by hand from the logits."""
    import torch

    from xrbench.baselines.pepler import CausalPepler
    from xrbench.data import smoke
    from xrbench.data.split import make_split
    from xrbench.references import references
    from xrbench.view import TrainView

    ds = smoke.load()
    split = make_split(ds, "random", 0)
    view = TrainView.build(ds, split, 0, refs=references(ds, split))
    m = CausalPepler(backbone=str(tiny_lm), train_pairs=24)
    m.bind(view)
    m.fit(view)
    exs = [e for e in m.train_ex if e["avoid"]][:4]
    assert exs, "no training pair has a feature with a non-positive effect"
    for e in exs:  # the avoided tokens are exactly the item's features with effect <= 0
        want = {m.tok(" " + a, add_special_tokens=False)["input_ids"][0]
                for a, c in m.effects.contributions(e["u"], e["i"]) if c <= 0}
        assert set(e["avoid"]) == want
    m.net.eval()
    b = m._batch(exs)
    with torch.no_grad():
        got = float(m._losses(b)["causal"])
        logits = m.net.lm(inputs_embeds=m.net.embed(None, None, b["ids"]), attention_mask=b["mask"]).logits
    probs = torch.softmax(logits[:, :-1].float(), -1)
    labels = b["labels"][:, 1:]
    per = []
    for n, e in enumerate(exs):
        ts = [t for t in range(labels.size(1)) if labels[n, t] != -100]
        per.append(sum(float(probs[n, t, e["avoid"]].sum()) for t in ts) / len(ts))
    assert got == pytest.approx(float(np.mean(per)), rel=1e-5)
    assert 0 < got < 1


def test_full_flag_trains_on_everything():
    """--full: pepler-type methods (a quick CPU profile) get train_profile=full unless their params name one."""
    from xrbench.cli import _full_training
    from xrbench.specs import MethodSpec, Suite

    suite = Suite("s", (), (MethodSpec("explainer", "pepler"), MethodSpec("explainer", "template"),
                            MethodSpec("explainer", "pepler-d", (("train_profile", "quick"),))))
    got = {m.name: dict(m.params) for m in _full_training(suite).methods}
    assert got == {"pepler": {"train_profile": "full"}, "template": {}, "pepler-d": {"train_profile": "quick"}}


@pytest.mark.parametrize("finetune", ["full", "lora"])
def test_pepler_resumes_mid_stage_exactly(tmp_path, tiny_lm, monkeypatch, finetune):
    """A PEPLER run stopped right after a checkpoint (in its second stage) and started again ends with exactly
    the weights of an uninterrupted run: optimiser state, stage skipping and per-epoch seeds restored (with
    LoRA adapters too: they are in the checkpoint)."""
    from xrbench.baselines import trainer
    from xrbench.baselines.pepler import Pepler
    from xrbench.data import smoke
    from xrbench.data.split import make_split
    from xrbench.references import references
    from xrbench.view import TrainView

    ds = smoke.load()
    split = make_split(ds, "random", 0)
    view = TrainView.build(ds, split, 0, refs=references(ds, split))
    params = dict(backbone=str(tiny_lm), train_pairs=48, train_profile="full", epochs=2, patience=5,
                  batch_size=16, lr_full=0.003, finetune=finetune)

    def fit(workdir, cache):
        monkeypatch.setenv("XRBENCH_CACHE", str(cache))
        m = Pepler(**params)
        m.workdir = workdir
        m.bind(view)
        m.fit(view)
        return m

    whole = fit(tmp_path / "a", tmp_path / "cache-a")

    class Killed(Exception):
        pass

    saves = []
    real_save = trainer.Checkpoints.save

    def save_then_die(self, state):
        real_save(self, state)
        saves.append(state["where"])
        if len(saves) == 3:  # prompt 1, prompt 2, full 1: killed before the full stage's second epoch
            raise Killed

    monkeypatch.setattr(trainer.Checkpoints, "save", save_then_die)
    with pytest.raises(Killed):
        fit(tmp_path / "b", tmp_path / "cache-b")
    monkeypatch.setattr(trainer.Checkpoints, "save", real_save)
    resumed = fit(tmp_path / "b", tmp_path / "cache-b")
    assert saves == ["prompt epoch 1", "prompt epoch 2", "full epoch 1"]
    assert resumed.weights_sha256 == whole.weights_sha256
    assert [(r["stage"], r["epoch"]) for r in resumed.curve.rows] == [("prompt", 1), ("prompt", 2), ("full", 1),
                                                                       ("full", 2)]
    losses = lambda m: [(r["train_loss"], r["valid_loss"]) for r in m.curve.rows]  # noqa: E731
    assert losses(resumed) == losses(whole)


def _smoke_view():
    from xrbench.data import smoke
    from xrbench.data.split import make_split
    from xrbench.references import references
    from xrbench.view import TrainView

    ds = smoke.load()
    split = make_split(ds, "random", 0)
    return TrainView.build(ds, split, 0, refs=references(ds, split))


def test_pepler_lora_trains_only_adapters(tmp_path, tiny_lm, monkeypatch):
    """finetune=lora (peft): the LM's own weights stay exactly the backbone's, the adapters on its linear layers
    are what the full stage trains, the record says so, and the same seed gives the same weights."""
    import torch

    from xrbench import backbones
    from xrbench.baselines.pepler import Pepler, PeplerD

    view = _smoke_view()
    base = {n: q.detach().clone() for n, q in backbones.load(str(tiny_lm)).model.named_parameters()}
    shas = []
    for run in range(2):  # a fresh cache each time: the second fit trains again
        monkeypatch.setenv("XRBENCH_CACHE", str(tmp_path / f"cache-{run}"))
        m = PeplerD(backbone=str(tiny_lm), train_pairs=48, lr_full=0.01, finetune="lora", lora_r=4)
        m.bind(view)
        m.fit(view)
        shas.append(m.weights_sha256)
    got = dict(m.net.named_parameters())
    adapters = {n: q for n, q in got.items() if ".lora_" in n}
    linear = {n for n, mod in backbones.load(str(tiny_lm)).model.named_modules() if isinstance(mod, torch.nn.Linear)}
    adapted = {n[3:].split(".lora_")[0] for n in adapters}
    assert adapted == linear - {"lm_head"}  # every linear layer but the output layer (tied to the embeddings)
    for n, q in got.items():  # the backbone's weights, bit for bit
        if ".lora_" not in n:
            key = n[3:].replace(".base_layer", "")
            assert torch.equal(q, base[key]), n
    assert any(float(q.detach().abs().sum()) > 0 for n, q in adapters.items() if ".lora_B." in n)  # B starts at 0: trained
    assert all(q.shape[0] == 4 or q.shape[1] == 4 for q in adapters.values())
    info = m.training_info()["finetune"]
    assert info["method"] == "lora (peft)" and info["r"] == 4 and info["lm_frozen"] is True
    assert info["adapter_params"] == sum(q.numel() for q in adapters.values())
    assert shas[0] == shas[1]
    # the trained-model cache keeps the adapters and what else was trained, not the frozen backbone, and a
    # second fit with the same settings loads it
    again = PeplerD(backbone=str(tiny_lm), train_pairs=48, lr_full=0.01, finetune="lora", lora_r=4)
    again.bind(view)
    again.fit(view)
    assert again.from_cache and again.weights_sha256 == shas[1]
    assert set(again._final_state()) == set(adapters)
    # pepler's prompt stage trains the prompt vectors alone, from the same start as under finetune=full (the
    # adapters start as a no-op): its losses are those of finetune=full; the second stage differs
    curves = {}
    for ft in ("full", "lora"):
        monkeypatch.setenv("XRBENCH_CACHE", str(tmp_path / f"cache-p-{ft}"))
        p = Pepler(backbone=str(tiny_lm), train_pairs=24, finetune=ft, lr_full=0.01)
        p.bind(view)
        p.fit(view)
        curves[ft] = [(r["stage"], r["train_loss"], r["valid_loss"]) for r in p.curve.rows]
    assert [c[0] for c in curves["lora"]] == ["prompt", "full"]
    assert curves["lora"][0] == curves["full"][0] and curves["lora"][1] != curves["full"][1]
    assert set(p._set_trainable("prompt")) == {q for n, q in p.net.named_parameters() if not n.startswith("lm.")}


def test_lora_params_key_only_lora_models(tiny_lm, monkeypatch):
    """The LoRA params enter the trained-model key only under finetune=lora (a full model trained before they
    existed is still found), and without peft, finetune=lora is one clear error."""
    import sys

    from xrbench.baselines.pepler import Pepler
    from xrbench.errors import XRBenchError

    full = [Pepler(backbone=str(tiny_lm), lora_r=r)._key_params() for r in (4, 8)]
    assert full[0] == full[1] and not {"finetune", "lora_r", "lora_alpha", "lora_dropout"} & set(full[0])
    lora = [Pepler(backbone=str(tiny_lm), finetune="lora", lora_r=r)._key_params() for r in (4, 8)]
    assert lora[0] != lora[1] and lora[0]["finetune"] == "lora"
    monkeypatch.setitem(sys.modules, "peft", None)  # import peft -> ImportError
    with pytest.raises(XRBenchError, match=r"pip install 'xrbench\[peft\]'"):
        Pepler(backbone=str(tiny_lm), finetune="lora")._add_adapters(None)

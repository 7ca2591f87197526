"""``tests/bench/peter_compute.py``: the FLOP count of a PETER epoch matches the closed form of the model's
matrix products, and the script reports a real (tiny) PETER run: its achieved rate from the learning curve."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from conftest import REPO, cli

SCRIPT = REPO / "tests" / "bench" / "peter_compute.py"


def load_script():
    spec = importlib.util.spec_from_file_location("peter_compute", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def forward_flops(p: dict, vocabulary: int, feature: bool) -> int:
    """The forward products of one pair: per layer and position the attention projections (4 d^2) and the
    feed-forward (2 d d_ff), the attention itself (2 T^2 d a layer), the word and context heads
    ((max_words + 2) d V) and the rating MLP (d^2 + d); 2 FLOPs a multiply-add."""
    d, layers, ff, mw = p["d_model"], p["n_layers"], p["d_ff"], p["max_words"]
    t = (3 if feature else 2) + mw + 1
    macs = layers * (t * (4 * d * d + 2 * d * ff) + 2 * t * t * d) + (mw + 2) * d * vocabulary + d * d + d
    return 2 * macs


@pytest.mark.parametrize("feature", [False, True])
def test_epoch_flops_is_the_closed_form(feature):
    mod = load_script()
    p = {"d_model": 16, "n_heads": 2, "n_layers": 2, "d_ff": 40, "dropout": 0.2, "max_words": 6}
    fl = mod.epoch_flops(p, 97, train_pairs=50, valid_pairs=7, use_feature=feature)
    fwd = forward_flops(p, 97, feature)
    assert fl["train_flops_per_pair"] == 3 * fwd  # backward: a product for the input's and one for the weight's grad
    assert fl["valid_flops_per_pair"] == fwd
    assert fl["epoch_flops"] == 50 * 3 * fwd + 7 * fwd


def test_reports_a_peter_run(tmp_path):
    out = tmp_path / "out"
    p = cli("run", "--dataset", "smoke-reviews", "--explainer", "peter", "--param", "d_model=16", "--param", "d_ff=32",
            "--param", "epochs=2", "--param", "batch_size=16", "--seeds", "0", "--out", str(out), "-q")
    assert p.returncode == 0, p.stderr
    (record,) = out.rglob("record.json")
    rec = json.loads(record.read_text())
    t = rec["provenance"]["training"]
    r = subprocess.run([sys.executable, str(SCRIPT), str(record.parent), "--threads", "1", "--repeats", "1"],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    (line,) = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    params = rec["method"]["params"]
    fwd = forward_flops(params, t["vocabulary"], False)
    epoch = 3 * fwd * t["train_pairs"] + fwd * t["valid_pairs"]
    assert line["epochs"] == t["epochs"] == 2
    assert abs(line["epoch_tflop"] - epoch / 1e12) < 1e-3
    assert line["median_epoch_train_s"] > 0
    assert line["achieved_gflops"] == pytest.approx(epoch / line["median_epoch_train_s"] / 1e9, abs=0.06)
    assert all(v > 0 for v in line["gemm_gflops"].values())
    assert line["epoch_s_at_gemm_rate"] >= 0
    # a tiny model is overhead-bound: far below the GEMM rate
    assert 0 < line["fraction_of_gemm_rate"] < 1


def test_refuses_a_run_that_is_not_peter(tmp_path):
    out = tmp_path / "out"
    p = cli("run", "--dataset", "smoke-reviews", "--explainer", "template", "--seeds", "0", "--out", str(out), "-q")
    assert p.returncode == 0, p.stderr
    (record,) = out.rglob("record.json")
    r = subprocess.run([sys.executable, str(SCRIPT), str(record.parent)], capture_output=True, text=True, cwd=REPO)
    assert r.returncode != 0
    assert "not a PETER run" in r.stderr and "Traceback" not in r.stderr

"""``xrbench score``: explanation files against references."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import assert_clean_error, cli


def write(p, lines, raw=None):
    if raw is not None:
        p.write_bytes(raw)
    else:
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_score_nlg4rs_keys_and_features(tmp_path):
    h = write(tmp_path / "h.txt", ["the sound is great", "nice strap and good price"])
    r = write(tmp_path / "r.jsonl", [json.dumps({"text": "the sound is really great"}),
                                     json.dumps({"text": "the strap is nice"})])
    f = write(tmp_path / "f.jsonl", [json.dumps({"feature": "sound"}), json.dumps({"feature": "strap"}),
                                     json.dumps({"vocabulary": ["sound", "strap", "price", "tuner"]})])
    p = cli("score", "--hyp", str(h), "--ref", str(r), "--features", str(f), "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    for k in ("bleu1", "bleu4", "rouge1_f", "rouge1_p", "rouge1_r", "rouge2_f", "rougeL_f", "usr", "fmr", "fcr", "div"):
        assert k in out
    assert out["fmr"] == 1.0 and out["fcr"] == 0.75 and out["usr"] == 1.0 and out["div"] == 0.0


def test_score_standard_protocol(tmp_path):
    h = write(tmp_path / "h.txt", ["the sound is great", "nice strap"])
    r = write(tmp_path / "r.txt", ["the sound is really great", "the straps are nice"])
    p = cli("score", "--hyp", str(h), "--ref", str(r), "--protocol", "standard", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert {"bleu4_sacre", "rouge1_rs", "rouge2_rs", "rougeL_rs", "bertscore_f"} <= set(out)
    assert "all-MiniLM-L6-v2" in out["bertscore_encoder"] and "6 layers" in out["bertscore_encoder"]
    # rouge-score ROUGE-1 F with Porter stemming, mean over the two pairs x100:
    #   [the sound is great] vs [the sound is realli great]: 4 matched, P = 1, R = 4/5 -> F = 8/9
    #   [nice strap] vs [the strap are nice] ("straps" -> "strap"): 2 matched, P = 1, R = 1/2 -> F = 2/3
    #   -> 100 * (8/9 + 2/3) / 2 = 700/9.  Without stemming pair 2 matches only "nice": F = 1/3 -> 100 * 11/18.
    assert out["rouge1_rs"] == pytest.approx(700 / 9, abs=1e-9)
    from rouge_score import rouge_scorer
    for stem, expected in ((True, 700 / 9), (False, 1100 / 18)):
        sc = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=stem)
        direct = 100 * np.mean([sc.score(ref, hyp)["rouge1"].fmeasure for hyp, ref in
                                zip(h.read_text().splitlines(), r.read_text().splitlines())])
        assert direct == pytest.approx(expected, abs=1e-9)
    assert 0.5 < out["bertscore_f"] < 1.0


def test_score_bad_inputs(tmp_path):
    h = write(tmp_path / "h.txt", ["a", "b"])
    r1 = write(tmp_path / "r1.txt", ["a"])
    assert_clean_error(cli("score", "--hyp", str(h), "--ref", str(r1)), "h.txt has 2 rows but", "r1.txt has 1")
    empty = write(tmp_path / "e.txt", [], raw=b"")
    assert_clean_error(cli("score", "--hyp", str(empty), "--ref", str(r1)), "e.txt", "empty")
    bad = write(tmp_path / "bad.txt", [], raw=b"fine\n\xff\xfe broken\n")
    assert_clean_error(cli("score", "--hyp", str(bad), "--ref", str(h)), "bad.txt", "line 2", "not valid UTF-8")
    blank = write(tmp_path / "blank.txt", ["a", "   ", "c"])
    assert_clean_error(cli("score", "--hyp", str(blank), "--ref", str(h)), "blank.txt", "line 2", "empty explanation")
    assert_clean_error(cli("score", "--hyp", str(tmp_path / "none.txt"), "--ref", str(h)), "none.txt", "not found")


def test_score_features_from_a_dataset_name(tmp_path, amazon2014):
    h = write(tmp_path / "h.txt", ["the sound is great", "a great tuner", "nice to have"])
    r = write(tmp_path / "r.txt", ["the sound is great and the price is fair", "great tuner very accurate",
                                   "nothing to see here"])
    p = cli("score", "--hyp", str(h), "--ref", str(r), "--features", "amazon-2014-5core", "--data-path",
            str(amazon2014), "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    # rows 1-2 name a vocabulary feature (sound, tuner); row 3 names none and is left out of FMR
    assert out["features_from"] == "amazon-2014-5core" and out["fmr_rows"] == 2
    assert out["fmr"] == 1.0 and out["vocabulary_size"] >= 2 and 0 < out["fcr"] <= 1 and "div" in out
    bad = cli("score", "--hyp", str(h), "--ref", str(r), "--features", "ml-100k", "--data-path", str(amazon2014))
    assert bad.returncode != 0 and "Traceback" not in bad.stderr

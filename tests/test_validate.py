"""``xrbench validate``: records against the schema, their unit files, their metrics and their data."""
from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import jsonschema
import pandas as pd
import pytest

from conftest import REPO, assert_clean_error, cli, cli_here
from xrbench.records import RunRecord
from xrbench.validate import parse_label, schema

BIAS0 = Path("runs/ml-100k/recommender/bias/seed-0")


@pytest.fixture
def results(ml_bias_runs, tmp_path) -> Path:
    """A copy (the test's to edit) of one small real run, made once for the session (conftest's
    ``ml_bias_runs``): ml-100k, bias and most-pop, seeds 0 and 1. (Every ``grouplens_dir`` holds the same
    bytes, so its data hashes match.)

    In each test the first command runs in a subprocess (``cli``), exactly as a user sees it; the commands
    after it on the same files run the same ``main`` in this process (``cli_here``), which is faster."""
    shutil.copytree(ml_bias_runs, tmp_path / "ml")
    return tmp_path / "ml"


def edit(record: Path, fn) -> None:
    d = json.loads(record.read_text())
    fn(d)
    record.write_text(json.dumps(d))


def problems(p) -> list[str]:
    return [line for line in p.stdout.splitlines() if line.strip()]


def test_committed_records_validate():
    """Every committed record: the schema (after migrating schema 1), and the data and split hashes where the
    dataset is here; their unit files are not committed, which is a note, not a problem."""
    p = cli("validate", "leaderboards/quick", "leaderboards/explain", "leaderboards/fidelity", cwd=REPO)
    assert p.returncode == 0 and problems(p) == [], p.stdout + p.stderr
    assert "xrbench: note: units not committed: checked the record only" in p.stderr
    # the causal board too (generating its data fits a model for minutes: the data check is left out)
    p = cli_here("validate", "leaderboards", "--no-data-check", cwd=REPO)
    assert p.returncode == 0 and problems(p) == [], p.stdout + p.stderr
    n = len(list((REPO / "leaderboards").rglob("record.json")))
    assert f"validated {n} record(s): 0 problem(s)" in p.stderr


def test_fresh_runs_validate_and_each_defect_is_one_line(results, grouplens_dir):
    data = ["--data-path", f"ml-100k={grouplens_dir}"]
    ok = cli("validate", str(results), *data)
    assert ok.returncode == 0 and problems(ok) == [], ok.stdout + ok.stderr
    runs = results / "runs/ml-100k/recommender"
    edit(runs / "bias/seed-0/record.json", lambda d: d.pop("task"))  # a missing field
    preds = runs / "bias/seed-1/predictions.csv.gz"  # a unit file edited after the run
    df = pd.read_csv(preds, dtype={"user": str, "item": str})
    df.loc[0, "prediction"] += 1.0
    preds.write_bytes(gzip.compress(df.to_csv(index=False).encode()))
    edit(runs / "most-pop/seed-0/record.json", lambda d: d["metrics"].update(  # metrics that do not recompute
        {"ndcg@10": d["metrics"]["ndcg@10"] + 0.01}))
    edit(runs / "most-pop/seed-1/record.json", lambda d: d["intervals"].update(gini=[0.1]))  # a bad interval
    p = cli_here("validate", str(results), *data)
    assert p.returncode == 1
    lines = problems(p)
    assert len(lines) == 4, lines
    by = {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in lines}
    assert by[str(runs / "bias/seed-0/record.json")] == "$.task: required field missing"
    assert "unit file predictions.csv.gz was changed after the run" in by[str(runs / "bias/seed-1/record.json")]
    assert by[str(runs / "most-pop/seed-0/record.json")].startswith("metrics do not recompute from the unit files: "
                                                                     "ndcg@10 ")
    assert by[str(runs / "most-pop/seed-1/record.json")].startswith("$.intervals.gini: ")


def test_data_and_split_hashes_are_checked(results, grouplens_dir):
    edit(results / BIAS0 / "record.json", lambda d: d["provenance"]["split"].update(hash="0123456789abcdef"))
    p = cli("validate", str(results / BIAS0 / "record.json"), "--data-path", f"ml-100k={grouplens_dir}")
    assert p.returncode == 1
    (line,) = problems(p)
    assert line.startswith(f"{results / BIAS0 / 'record.json'}: $.provenance.split.hash: 0123456789abcdef is not")
    # no data here: the hashes are not checked, and a note says so
    p = cli_here("validate", str(results / BIAS0 / "record.json"), "--data-path", f"ml-100k={results / 'nowhere'}")
    assert p.returncode == 0 and problems(p) == [] and "not available here" in p.stderr


def test_explain_run_validates_and_an_edited_explanation_is_caught(amazon2014, tmp_path):
    out = tmp_path / "e"
    run = cli("run", "--dataset", "amazon-2014-5core", "--explainer", "template", "--sample", "20", "--seeds", "0",
              "--metrics", "bleu1", "usr", "fmr", "flesch", "wall_s", "--out", str(out), "-q",
              "--data-path", str(amazon2014))
    assert run.returncode == 0, run.stderr
    data = ["--data-path", f"amazon-2014-5core={amazon2014}"]
    p = cli("validate", str(out), *data)
    assert p.returncode == 0 and problems(p) == [], p.stdout + p.stderr
    (units,) = out.rglob("explanations.jsonl.gz")
    rows = [json.loads(line) for line in gzip.decompress(units.read_bytes()).decode().splitlines()]
    rows[0]["text"] = "an explanation written after the run"
    units.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    p = cli_here("validate", str(out), "--records-only", *data)  # unit files not checked
    assert p.returncode == 0, p.stdout
    p = cli_here("validate", str(out), *data)
    assert p.returncode == 1
    (line,) = problems(p)
    assert "unit file explanations.jsonl.gz was changed after the run" in line


def test_bad_input_exits_2(tmp_path):
    assert_clean_error(cli("validate", str(tmp_path / "nope")), "no such file or folder")
    assert_clean_error(cli_here("validate", str(tmp_path)), "no records")
    (tmp_path / "record.json").write_text("{not json")
    p = cli_here("validate", str(tmp_path / "record.json"))
    assert p.returncode == 1 and "unreadable record" in problems(p)[0]


def test_schema_is_valid_and_covers_every_record_field():
    s = schema()
    jsonschema.Draft202012Validator.check_schema(s)
    assert s["$schema"].endswith("/draft/2020-12/schema") and "schema 1" in s["description"]
    fields = set(RunRecord("d", "t", _method(), 0, "ok").to_dict())
    assert set(s["properties"]) == fields  # a field added to RunRecord must be added to the schema
    assert set(s["required"]) <= fields


def _method():
    from xrbench.records import MethodRef
    return MethodRef("m", "recommender")


def test_dataset_labels_parse():
    assert parse_label("ml-100k") == ("ml-100k", {})
    assert parse_label("ml100k-semisynth[gamma=0.5,n=200]") == ("ml100k-semisynth", {"gamma": 0.5, "n": 200})
    assert parse_label("amazon-2014-5core[category=Musical_Instruments]") == (
        "amazon-2014-5core", {"category": "Musical_Instruments"})

"""Every bad input ends in one clear error line naming file/line/field, exit status != 0, no traceback."""
from __future__ import annotations

import json

import pytest

from tests.conftest import amazon_2014_rows, assert_clean_error, cli, cli_for, cli_here, write_jsonl

# Every test runs the command in a subprocess (``cli``), exactly as a user sees it, at least once; the other
# cases of a parametrized test (``cli_for``), and a second command in a test, run the same ``xrbench.cli.main``
# in this process (``cli_here``: the same exit status, output and error line, without a fresh interpreter).


def test_missing_file(tmp_path):
    p = cli("data", "inspect", "amazon-2014-5core", "--path", str(tmp_path / "nope.json"), "--json")
    assert_clean_error(p, "nope.json", "not found")


def test_malformed_json_line(tmp_path):
    f = tmp_path / "r.json"
    f.write_text(json.dumps(amazon_2014_rows(1, 1)[0]) + "\n{\"reviewerID\": \n")
    assert_clean_error(cli("data", "inspect", "amazon-2014-5core", "--path", str(f)), "r.json", "line 2",
                       "malformed JSON")


@pytest.mark.parametrize("value, what", [('"5 stars"', "is not a number"), ("0", "outside the 1-5 scale"),
                                         ("6.5", "outside the 1-5 scale")])
def test_bad_rating(tmp_path, value, what, request):
    f = tmp_path / "r.json"
    f.write_text('{"reviewerID": "A", "asin": "I", "overall": %s, "unixReviewTime": 5}\n' % value)
    # the first case in a subprocess, exactly as a user sees it; the others the same main in this process
    p = cli_for(request)("run", "--dataset", "amazon-2014-5core", "--data-path", str(f), "--recommender", "bias",
                         "--out", str(tmp_path / "o"))
    assert_clean_error(p, "line 1", "field 'overall'", what)
    assert not (tmp_path / "o").exists()


def test_unknown_method_suggests(tmp_path, amazon2014):
    p = cli("run", "--dataset", "amazon-2014-5core", "--data-path", str(amazon2014), "--recommender", "itemknn",
            "--out", str(tmp_path / "o"))
    assert_clean_error(p, "unknown recommender 'itemknn'", "Did you mean: item-knn")


def test_unknown_dataset_and_suite(tmp_path):
    assert_clean_error(cli("run", "--dataset", "ml-100m", "--recommender", "bias", "--out", str(tmp_path)),
                       "unknown dataset 'ml-100m'", "ml-100k")
    assert_clean_error(cli_here("run", "--suite", "quik", "--out", str(tmp_path)), "unknown suite 'quik'", "quick")


def test_explainer_on_dataset_without_text(tmp_path, grouplens_dir):
    p = cli("run", "--dataset", "ml-100k", "--data-path", str(grouplens_dir), "--explainer", "retrieval",
            "--out", str(tmp_path / "o"))
    assert_clean_error(p, "explainer 'retrieval' needs text", "dataset 'ml-100k'")


def test_estimator_on_a_ratings_dataset(tmp_path, amazon2014):
    p = cli("run", "--dataset", "amazon-2014-5core", "--data-path", str(amazon2014), "--estimator", "ipw",
            "--out", str(tmp_path / "o"))
    assert_clean_error(p, "estimator 'ipw' needs treatment")


def test_bad_method_param(tmp_path, amazon2014):
    p = cli("run", "--dataset", "amazon-2014-5core", "--data-path", str(amazon2014), "--recommender", "bias",
            "--param", "nope=1", "--out", str(tmp_path / "o"))
    assert_clean_error(p, "unknown parameter(s) ['nope']")


def test_results_written_before_a_bad_run_survive(tmp_path, amazon2014):
    out = tmp_path / "o"
    ok = cli("run", "--dataset", "amazon-2014-5core", "--data-path", str(amazon2014), "--recommender", "bias",
             "--out", str(out), "-q")
    assert ok.returncode == 0, ok.stderr
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad = tmp_path / "bad.json"
    bad.write_text("{oops\n")
    p = cli_here("run", "--dataset", "amazon-2014-5core", "--data-path", str(bad), "--recommender", "bias",
                 "--out", str(out), "--overwrite", "always")
    assert_clean_error(p, "bad.json", "line 1")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_list_json_and_unknown_kind():
    p = cli("list", "--json")
    assert p.returncode == 0
    table = json.loads(p.stdout)
    assert {"dataset", "task", "recommender", "estimator", "explainer", "metric"} == set(table)
    assert {r["name"] for r in table["task"]} == {"recommend", "explain", "estimate"}
    names = {r["name"] for r in table["recommender"]}
    assert {"global-mean", "bias", "biased-mf", "item-knn", "most-pop"} <= names
    assert {"rmse", "mae", "ndcg@10", "recall@10", "bleu4", "usr", "len_mean", "distinct2", "pehe", "arp",
            "coverage"} <= {r["name"] for r in table["metric"]}
    assert_clean_error(cli_here("list", "recomender"), "unknown kind 'recomender'", "recommender")


def test_data_inspect_json(tmp_path):
    rows = amazon_2014_rows(3, 8)
    rows.append(dict(rows[0]))  # exact duplicate row
    rows[1] = {k: v for k, v in rows[1].items() if k != "reviewText"}
    f = write_jsonl(tmp_path / "x.json", rows)
    p = cli("data", "inspect", "amazon-2014-5core", "--path", str(f), "--json")
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert {"interactions", "users", "items", "duplicates_dropped", "missing_text", "rating_min",
            "rating_max"} <= set(info)
    assert info["duplicates_dropped"] == 1 and info["missing_text"] == 1 and info["interactions"] == 15


def test_leaderboard_on_missing_folder(tmp_path):
    assert_clean_error(cli("leaderboard", str(tmp_path / "none")), "results folder not found")

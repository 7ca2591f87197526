"""A researcher's submission end to end: run a plugin method, validate, submit it with a method card into a
board; its row appears in the board's Markdown, CSV, HTML and LaTeX. Plus `xrbench env`."""
from __future__ import annotations

import json
import shutil

import yaml

from tests.conftest import assert_clean_error, cli, cli_here

PLUGIN = '''
import numpy as np
import xrbench
from xrbench.extend import Recommender

@xrbench.register("recommender", "plug-rec")
class PlugRec(Recommender):
    @classmethod
    def default_params(cls):
        return {"shrink": 2.0}

    def fit(self, view):
        self.mu = float(view.train["rating"].mean())

    def predict(self, users, items):
        return np.full(len(users), self.mu)
'''


def card(tmp_path, sha256, **extra):
    c = {"name": "plug-rec", "authors": ["A. Researcher"], "licence": "MIT", "description": "the mean rating",
         "code": "https://example.org/plug-rec", "params": {"shrink": 2.0}, "plugin": {"file": "plug.py",
                                                                                      "sha256": sha256}, **extra}
    path = tmp_path / "card.yaml"
    path.write_text(yaml.safe_dump(c))
    return path


def test_a_plugin_method_is_submitted_into_a_board(tmp_path, grouplens_dir):
    board = tmp_path / "leaderboards" / "mini"
    p = cli("run", "--dataset", "ml-100k", "--data-path", str(grouplens_dir), "--recommender", "bias",
            "--out", str(board), "-q")
    assert p.returncode == 0, p.stderr
    for f in board.rglob("*.gz"):  # a committed board holds records only
        f.unlink()
    plug = tmp_path / "plug.py"
    plug.write_text(PLUGIN)
    res = tmp_path / "results"
    p = cli("run", "--dataset", "ml-100k", "--data-path", str(grouplens_dir), "--recommender", "plug-rec",
            "--plugin", str(plug), "--out", str(res), "-q")
    assert p.returncode == 0, p.stderr
    rec = json.loads(next(res.rglob("record.json")).read_text())
    sha = rec["provenance"]["method_source"]["sha256"]
    # a card that does not match the records is refused, nothing is written
    # (the runs and the accepted submission run in subprocesses, exactly as a user runs them; the other
    # commands on the same files run the same main in this process, which is faster)
    bad = cli_here("submit", str(res), "--board", str(board), "--card", str(card(tmp_path, "0" * 64)),
              "--data-path", str(grouplens_dir))
    assert_clean_error(bad, "sha256")
    assert not (board / "cards").exists()
    ok = cli("submit", str(res), "--board", str(board), "--card", str(card(tmp_path, sha)),
             "--data-path", str(grouplens_dir))
    assert ok.returncode == 0, ok.stderr
    assert (board / "cards" / "plug-rec.yaml").is_file()
    for ext in ("md", "csv", "html"):
        assert "plug-rec" in (board / f"leaderboard.{ext}").read_text(), ext
    latex = cli_here("leaderboard", str(board), "--format", "latex")
    assert latex.returncode == 0 and "plug-rec" in latex.stdout
    # submitting again without --replace would overwrite: refused
    again = cli_here("submit", str(res), "--board", str(board), "--card", str(card(tmp_path, sha)),
                "--data-path", str(grouplens_dir))
    assert_clean_error(again, "--replace")
    # the board still validates
    v = cli_here("validate", str(board), "--data-path", str(grouplens_dir))
    assert v.returncode == 0, v.stdout + v.stderr


def test_a_card_without_authors_or_links_is_refused(tmp_path, grouplens_dir):
    board = tmp_path / "leaderboards" / "mini"
    (board / "runs").mkdir(parents=True)
    path = tmp_path / "card.yaml"
    path.write_text(yaml.safe_dump({"name": "x", "licence": "MIT"}))
    p = cli("submit", str(tmp_path), "--board", str(board), "--card", str(path))
    assert_clean_error(p, "authors", "paper or code")


def test_env_reports_versions_data_and_caches(tmp_path, grouplens_dir):
    shutil.copytree(grouplens_dir, tmp_path / "root" / "ml-100k")
    p = cli("env", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["xrbench"] and d["packages"]["numpy"] and d["device"].startswith(("cpu", "cuda"))
    assert d["datasets"]["smoke-reviews"]["found"] and d["datasets"]["smoke-reviews"]["interactions"] == 360
    assert "path" in d["cache"]
    assert "xrbench" in cli_here("env").stdout  # (the same main in this process)

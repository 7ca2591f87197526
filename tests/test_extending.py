"""README "Extending xrbench": every example file there is written out and used as the README says, end to
end (records, rescoring, leaderboards), so the documentation cannot drift from the code. The task example
proves that a new task is one file: registered from a plugin, run into records and a leaderboard."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, cli, isolated_env, write_grouplens

SECTION = REPO.joinpath("README.md").read_text(encoding="utf-8").split("## Extending xrbench")[1].split("\n## ")[0]


def example_files(folder: Path) -> dict[str, Path]:
    """The README section's ``# file: NAME`` blocks, written into ``folder``."""
    out = {}
    for lang, body in re.findall(r"```(python|yaml)\n(.*?)```", SECTION, re.S):
        name = re.match(r"# file: (\S+)\n", body).group(1)
        (folder / name).write_text(body, encoding="utf-8")
        out[name] = folder / name
    return out


def commands() -> list[list[str]]:
    return [line.split()[1:] for block in re.findall(r"```bash\n(.*?)```", SECTION, re.S)
            for line in block.splitlines() if line.startswith("xrbench ")]


@pytest.fixture
def examples(tmp_path, grouplens_dir):
    files = example_files(tmp_path)
    assert set(files) == {"my_mf.py", "my_metric.py", "my_dataset.py", "my-ratings.yaml", "my_task.py"}
    return tmp_path, files, grouplens_dir


def run_readme(cmd: list[str], where: Path, data: Path, env: dict | None = None):
    cmd = [str(where / a) if a.endswith(".py") or a.startswith("results/") else a for a in cmd]
    if cmd[0] == "run":
        cmd += ["--data-path", str(data), "-q"]
    p = cli(*cmd, env=env)
    assert p.returncode == 0, (cmd, p.stderr)
    return p


@pytest.fixture(scope="module")
def readme_commands(tmp_path_factory):
    """The README's commands run once for this module, in a folder of their own (as ``examples`` writes it):
    (folder, each command's output, a copy of ``results/my-mf`` as the first command left it)."""
    where = tmp_path_factory.mktemp("readme")
    files = example_files(where)
    assert set(files) == {"my_mf.py", "my_metric.py", "my_dataset.py", "my-ratings.yaml", "my_task.py"}
    data = write_grouplens(where / "ml-100k")
    env = isolated_env(tmp_path_factory)  # (set up before the autouse fixture that sets these for a test)
    outputs = []
    for k, c in enumerate(commands()):
        outputs.append(run_readme(c, where, data, env=env))
        if k == 0:
            shutil.copytree(where / "results/my-mf", where / "after-the-first-command")
    return where, outputs, where / "after-the-first-command"


def test_the_readme_commands_run_end_to_end(readme_commands):
    where, outputs, _ = readme_commands
    # the method
    rec = json.loads(next((where / "results/my-mf").rglob("record.json")).read_text())
    assert rec["method"]["name"] == "my-mf" and rec["method"]["params"] == {"shrink": 5.0} and "rmse" in rec["metrics"]
    # the metric, added after the run by rescore, with its bootstrap interval; the leaderboard shows it
    assert "map@5" in rec["metrics"] and 0 <= rec["metrics"]["map@5"] <= 1 and "map@5" in rec["intervals"]
    assert rec["metrics"]["map@5"] <= rec["metrics"]["hit@5"]  # AP <= 1 only for users with a hit
    assert "map@5" in outputs[2].stdout
    # the task: a record of its own kind and a leaderboard section with its metric
    rec = json.loads(next((where / "results/rate").rglob("record.json")).read_text())
    assert rec["task"] == "rate" and rec["status"] == "ok" and 0.5 < rec["metrics"]["abs_error"] < 1.5
    assert "units" in rec and (next((where / "results/rate").rglob("errors.json.gz"))).is_file()
    csv = outputs[-1].stdout
    assert "rate,ml-100k,global-mean-rater,abs_error" in csv
    assert "Rating only" in (where / "results/rate/leaderboard.md").read_text()


def test_the_readme_dataset_loads_and_runs(examples, tmp_path):
    where, files, _ = examples
    rows = ["user,item,rating,timestamp"] + [f"u{u},i{(u * 7 + k) % 30},{1 + (u + k) % 5},{k}"
                                             for u in range(40) for k in range(10)]
    (tmp_path / "my-ratings.csv").write_text("\n".join(rows) + "\n")
    p = cli("run", "--plugin", str(files["my_dataset.py"]), "--plugin", str(files["my_mf.py"]), "--dataset",
            "my-ratings", "--data-path", str(tmp_path / "my-ratings.csv"), "--recommender", "my-mf", "bias",
            "--out", str(tmp_path / "out"), "-q")
    assert p.returncode == 0, p.stderr
    rec = json.loads(next((tmp_path / "out").rglob("record.json")).read_text())
    assert rec["provenance"]["dataset"]["card"] == "my-ratings" and rec["status"] == "ok"


def test_load_records_is_one_row_per_record_and_metric(readme_commands):
    import xrbench

    _, _, first = readme_commands  # the records of the README's first command (a run of my-mf)
    df = xrbench.load_records(first)
    assert set(df["metric"]) >= {"rmse", "mae", "ndcg@10"} and (df["method"] == "my-mf").all()
    row = df[df["metric"] == "rmse"].iloc[0]
    assert row["ci_low"] <= row["value"] <= row["ci_high"]

"""Shared fixtures: small dataset files in every real format, written by the tests, one small real results
folder for the session, and two CLI runners (a subprocess, and the same ``main`` in this process)."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path | None:
    """``$XRBENCH_SHARED`` or the ``shared/`` folder beside the checkout (never written to)."""
    env = os.environ.get("XRBENCH_SHARED")
    cand = Path(env) if env else REPO.parent / "shared"
    return cand if cand.is_dir() else None


def isolated_env(tmp_path_factory) -> dict[str, str]:
    # Keep the semisynth mu0 cache across tests, but never touch the user's home cache.
    # Tests never see the plugins installed in the user's environment (the entry-point tests turn this off).
    return {"XRBENCH_CACHE": str(tmp_path_factory.getbasetemp() / "xrbench-cache"), "XRBENCH_NO_ENTRY_POINTS": "1"}


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    for k, v in isolated_env(tmp_path_factory).items():
        monkeypatch.setenv(k, v)


def write_jsonl(path: Path, rows: list, gz: bool = False) -> Path:
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)
    if gz:
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")
    return path


REVIEWS = [
    "The sound is great and the price is fair. Strings feel cheap though.",
    "Great tuner, very accurate. The clip is sturdy.",
    "Terrible cable, the noise is awful.",
    "Nice strap, comfortable and the leather looks great.",
    "The pedal sounds amazing. Great tone for blues.",
    "Good stand for the price. Solid build.",
]


def amazon_2014_rows(n_users: int = 12, n_items: int = 8) -> list[dict]:
    rows = []
    for u in range(n_users):
        for k in range(5):
            i = (u * 3 + k) % n_items
            rows.append({"reviewerID": f"U{u}", "asin": f"B{i:03d}", "reviewerName": "x", "helpful": [0, 0],
                         "reviewText": REVIEWS[(u + k) % len(REVIEWS)], "overall": float(1 + (u + i) % 5),
                         "summary": "ok", "unixReviewTime": 1_300_000_000 + 86400 * (u * 7 + k),
                         "reviewTime": "01 1, 2013"})
    return rows


@pytest.fixture
def amazon2014(tmp_path) -> Path:
    return write_jsonl(tmp_path / "reviews_Musical_Instruments_5.json.gz", amazon_2014_rows(), gz=True)


@pytest.fixture
def grouplens_dir(tmp_path) -> Path:
    """A small ML-100K in GroupLens format (u.data, latin-1 u.item, u.user): the test's own copy, to edit."""
    return write_grouplens(tmp_path / "ml-100k")


def write_grouplens(d: Path) -> Path:
    """Write the small ML-100K of ``grouplens_dir`` into the new folder ``d`` (always the same bytes)."""
    d.mkdir()
    genres = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
              "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
              "War", "Western"]
    lines = []
    for u in range(1, 31):
        for i in range(1, 21):
            if (u * i) % 3 != 0:
                lines.append(f"{u}\t{i}\t{1 + (u + i) % 5}\t{880000000 + u * 100 + i}")
    (d / "u.data").write_text("\n".join(lines) + "\n", encoding="latin-1")
    items = []
    for i in range(1, 21):
        flags = ["0"] * len(genres)
        flags[1 + i % 18] = "1"
        flags[1 + (i * 7) % 18] = "1"
        title = f"Caf\u00e9 Movie {i} (199{i % 10})"
        items.append("|".join([str(i), title, f"01-Jan-199{i % 10}", "", "http://x", *flags]))
    (d / "u.item").write_bytes(("\n".join(items) + "\n").encode("latin-1"))
    users = [f"{u}|{18 + u}|{'MF'[u % 2]}|{['student', 'engineer', 'other'][u % 3]}|0000{u}" for u in range(1, 31)]
    (d / "u.user").write_text("\n".join(users) + "\n", encoding="latin-1")
    return d


@pytest.fixture(scope="session")
def shared_grouplens(tmp_path_factory) -> Path:
    """The ``grouplens_dir`` data, written once for the session: only read, never edited (a test that edits
    the data takes ``grouplens_dir``)."""
    return write_grouplens(tmp_path_factory.mktemp("shared-grouplens") / "ml-100k")


@pytest.fixture(scope="session")
def ml_bias_runs(shared_grouplens, tmp_path_factory) -> Path:
    """One small real results folder, made once for the session by the real command: ml-100k
    (``shared_grouplens``), bias and most-pop, seeds 0 and 1. Only read: a test that edits it edits a copy
    (``shutil.copytree``). Every ``grouplens_dir`` holds the same bytes, so the records' data hashes match it."""
    out = tmp_path_factory.mktemp("ml-bias-runs") / "out"
    p = cli("run", "--dataset", "ml-100k", "--recommender", "bias", "most-pop", "--seeds", "0", "1",
            "--out", str(out), "-q", "--data-path", str(shared_grouplens),
            env=isolated_env(tmp_path_factory))  # (set up before the autouse fixture that sets these for a test)
    assert p.returncode == 0, p.stderr
    return out


def cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``xrbench`` in a subprocess (exit codes and stderr exactly as a user sees them)."""
    e = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "xrbench.cli", *args], capture_output=True, text=True, env=e,
                          cwd=cwd, timeout=600)


def cli_here(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``xrbench ARGS`` in this process: the same ``xrbench.cli.main`` the subprocess of ``cli`` runs, with its
    exit status (argparse's ``SystemExit`` too), its stdout and its stderr (the ``xrbench`` log lines formatted
    as the command's ``logging.basicConfig`` formats them; an uncaught exception printed as the interpreter
    prints it, "Traceback" and all, exit status 1), without the seconds a fresh interpreter spends importing.

    For the many cases of one check (a parametrized refusal, a second command on the same files): every test
    that uses it still runs at least one case through ``cli``, so the real process, exactly as a user sees it,
    stays tested. Not for ``--plugin`` (it would register the plugin in this process for good) nor for
    environment read at import (entry points, PYTHONPATH)."""
    import contextlib
    import io
    import logging
    import traceback

    from xrbench import generation
    from xrbench.cli import main

    assert not any(a == "--plugin" for a in args), "a --plugin run belongs in a subprocess (cli)"
    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_progress = generation.SHOW_PROGRESS  # (``-q`` turns it off for the process)
    logger = logging.getLogger("xrbench")
    saved_level, saved_propagate = logger.level, logger.propagate
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("xrbench: %(message)s"))
    verbose = any(a in ("-v", "--verbose") for a in args)
    try:
        os.environ.update(env or {})
        if cwd is not None:
            os.chdir(cwd)
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG if verbose else logging.INFO)
        logger.propagate = False  # its lines once, in this stderr (not also through the root logger's handlers)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except Exception:
                traceback.print_exc()
                code = 1
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved_level)
        logger.propagate = saved_propagate
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        generation.SHOW_PROGRESS = saved_progress
    return subprocess.CompletedProcess(["xrbench", *args], code, out.getvalue(), err.getvalue())


def cli_for(request) -> Callable[..., subprocess.CompletedProcess]:
    """For a parametrized test: ``cli`` (a subprocess) for its first case, ``cli_here`` for the others."""
    return cli if set(request.node.callspec.indices.values()) == {0} else cli_here


def assert_clean_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """One clear error line, exit status != 0, no traceback."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("xrbench: error:")]
    assert len(errors) == 1, proc.stderr
    for n in needles:
        assert n in errors[0], errors[0]
    return errors[0]


def has_recbole() -> bool:
    import importlib.util
    return importlib.util.find_spec("recbole") is not None


def write_tiny_llama(folder: Path, words: list[str], hidden: int = 16, intermediate: int = 32, layers: int = 1,
                     max_positions: int = 1024) -> Path:
    """A randomly initialised tiny Llama (seed 0) with a word-level tokenizer over ``words`` (specials <pad> 0,
    <eos> 1, <unk> 2), saved as a local transformers folder: a backbone that loads and trains in seconds."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<eos>": 1, "<unk>": 2, **{w: i + 3 for i, w in enumerate(dict.fromkeys(words))}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")
    cfg = LlamaConfig(vocab_size=len(vocab), hidden_size=hidden, intermediate_size=intermediate,
                      num_hidden_layers=layers, num_attention_heads=2, num_key_value_heads=1,
                      max_position_embeddings=max_positions, pad_token_id=0, eos_token_id=1, bos_token_id=1)
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    hf.save_pretrained(folder)
    return folder

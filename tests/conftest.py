"""Shared fixtures: small dataset files in every real format, written by the tests, and a CLI runner."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path | None:
    """``$XRBENCH_SHARED`` or the ``shared/`` folder beside the checkout (never written to)."""
    env = os.environ.get("XRBENCH_SHARED")
    cand = Path(env) if env else REPO.parent / "shared"
    return cand if cand.is_dir() else None


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # Keep the semisynth mu0 cache across tests, but never touch the user's home cache.
    cache = tmp_path_factory.getbasetemp() / "xrbench-cache"
    monkeypatch.setenv("XRBENCH_CACHE", str(cache))
    # Tests never see the plugins installed in the user's environment (the entry-point tests turn this off).
    monkeypatch.setenv("XRBENCH_NO_ENTRY_POINTS", "1")


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
    """A small ML-100K in GroupLens format (u.data, latin-1 u.item, u.user)."""
    d = tmp_path / "ml-100k"
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


def cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``xrbench`` in a subprocess (exit codes and stderr exactly as a user sees them)."""
    e = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "xrbench.cli", *args], capture_output=True, text=True, env=e,
                          cwd=cwd, timeout=600)


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

"""``smoke-reviews``: a small review dataset that ships with xrbench (360 made-up reviews in the Amazon 2014
format, written by ``fixtures/make_smoke_reviews.py``), so the smoke suite touches every text metric with
no download and no user data."""
from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

from .cards import load_card
from .schema import Dataset


def fixture_path() -> Path:
    return Path(str(resources.files("xrbench.data").joinpath("fixtures", "smoke_reviews.json.gz")))


def load(path: Path | None = None, root: Path | None = None, allow_download: bool = True) -> Dataset:
    """The shipped file (``path``/``root`` are accepted for a uniform loader signature and ignored)."""
    from .amazon import load_2014

    ds = load_2014(path=fixture_path())
    return dataclasses.replace(ds, name="smoke-reviews", card=load_card("smoke-reviews"))

"""Dataset cards: the YAML files in the repository's ``datasets/`` folder (installed as
``xrbench._cards``). A card records source, format, checksum, licence, citation and split protocol."""
from __future__ import annotations

import functools
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import yaml


@functools.lru_cache(maxsize=1)
def cards_dir() -> Traversable | None:
    """``xrbench/_cards`` in an installed wheel; the checkout's ``datasets/`` in an editable install
    (setuptools' editable finder cannot map a folder without ``__init__.py`` to a sub-package)."""
    try:
        d = resources.files("xrbench._cards")
        if d.joinpath("ml-100k.yaml").is_file():
            return d
    except ModuleNotFoundError:
        pass
    src = Path(__file__).resolve().parents[2] / "datasets"
    return src if (src / "ml-100k.yaml").is_file() else None


@functools.lru_cache(maxsize=None)
def load_card(name: str) -> dict[str, Any]:
    d = cards_dir()
    if d is None or not d.joinpath(f"{name}.yaml").is_file():
        return {"name": name}
    card = yaml.safe_load(d.joinpath(f"{name}.yaml").read_text(encoding="utf-8")) or {}
    card.setdefault("name", name)
    return card


def card_names() -> list[str]:
    d = cards_dir()
    return sorted(p.name[:-5] for p in d.iterdir() if p.name.endswith(".yaml")) if d else []

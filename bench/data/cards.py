"""Dataset cards: the YAML files in the repository's ``datasets/`` folder (installed as
``xrbench._cards``). A card records source, format, checksum, licence, citation and split protocol."""
from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml


@functools.lru_cache(maxsize=None)
def load_card(name: str) -> dict[str, Any]:
    try:
        text = resources.files("xrbench._cards").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):
        return {"name": name}
    card = yaml.safe_load(text) or {}
    card.setdefault("name", name)
    return card


def card_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("xrbench._cards").iterdir() if p.name.endswith(".yaml"))

"""What a run produces, per task, in a form metrics read and unit files store.

Each outputs class saves itself next to the record (``save(folder)``) and loads back
(``load(folder)``), so every metric can be recomputed later without re-running the method
(``xrbench rescore``).
"""
from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from typing import TYPE_CHECKING

import numpy as np

from xrbench.data.io import atomic_write_bytes

if TYPE_CHECKING:  # pandas is imported where files are read or written: listing and leaderboards stay fast
    import pandas as pd

from .base import NotApplicable


def _write_json_gz(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, gzip.compress(json.dumps(obj).encode("utf-8"), mtime=0))


def _read_json_gz(path: Path) -> Any:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return json.load(fh)


def _write_csv_gz(path: Path, df: "pd.DataFrame") -> None:
    atomic_write_bytes(path, gzip.compress(df.to_csv(index=False).encode("utf-8"), mtime=0))


@dataclass
class RecOutputs:
    users: np.ndarray  # test rows (raw ids)
    items: np.ndarray
    ratings: np.ndarray
    predictions: np.ndarray | None  # None for ranking-only methods
    rating_min: float
    rating_max: float
    topk: dict[str, list[str]]
    item_counts: dict[str, int]  # train interactions of every item (phi)
    profile_pop: dict[str, float]  # mean phi over each evaluated user's train profile
    user_groups: dict[str, dict[str, Any]] = field(default_factory=dict)  # e.g. gender, age
    k: int = 10
    seed: int = 0

    def clipped_predictions(self) -> np.ndarray:
        if self.predictions is None:
            raise NotApplicable("the method predicts no ratings (ranking only)")
        return np.clip(self.predictions, self.rating_min, self.rating_max)

    @cached_property
    def relevant(self) -> dict[str, set[str]]:
        rel: dict[str, set[str]] = {u: set() for u in self.topk}
        for u, i, r in zip(self.users, self.items, self.ratings):
            if r >= 4 and u in rel:
                rel[u].add(i)
        return rel

    def save(self, folder: Path) -> list[str]:
        import pandas as pd

        df = pd.DataFrame({"user": self.users, "item": self.items, "rating": self.ratings})
        if self.predictions is not None:
            df["prediction"] = self.predictions
        _write_csv_gz(folder / "predictions.csv.gz", df)
        _write_json_gz(folder / "rankings.json.gz", {
            "k": self.k, "seed": self.seed, "rating_min": self.rating_min, "rating_max": self.rating_max,
            "topk": self.topk, "item_counts": self.item_counts, "profile_pop": self.profile_pop,
            "user_groups": self.user_groups})
        return ["predictions.csv.gz", "rankings.json.gz"]

    @classmethod
    def load(cls, folder: Path) -> "RecOutputs":
        import pandas as pd

        df = pd.read_csv(folder / "predictions.csv.gz", dtype={"user": str, "item": str})
        aux = _read_json_gz(folder / "rankings.json.gz")
        return cls(df["user"].to_numpy(), df["item"].to_numpy(), df["rating"].to_numpy(float),
                   df["prediction"].to_numpy(float) if "prediction" in df else None, aux["rating_min"],
                   aux["rating_max"], aux["topk"], aux["item_counts"], aux["profile_pop"], aux["user_groups"],
                   aux["k"], aux["seed"])


@dataclass
class TextOutputs:
    users: list[str]
    items: list[str]
    hypotheses: list[str]
    references: list[str | None]  # None where the pair has no reference
    reasons: list[list[str]]
    features: list[str | None] = field(default_factory=list)  # ground-truth feature per row
    vocabulary: list[str] | None = None
    lowercase: bool = False
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. tokens_per_s

    def tokens(self, texts: list[str]) -> list[list[str]]:
        return [(t.lower() if self.lowercase else t).split() for t in texts]

    def with_references(self) -> tuple[list[list[str]], list[list[str]]]:
        pairs = [(h, r) for h, r in zip(self.hypotheses, self.references) if r is not None]
        if not pairs:
            raise NotApplicable("no reference explanations for these pairs (the dataset has no review text)")
        hyps, refs = zip(*pairs)
        return self.tokens(list(hyps)), self.tokens(list(refs))

    def save(self, folder: Path) -> list[str]:
        rows = [{"user": u, "item": i, "text": h, "reference": r, "reasons": rs,
                 "feature": f}
                for u, i, h, r, rs, f in zip(self.users, self.items, self.hypotheses, self.references,
                                             self.reasons, self.features or [None] * len(self.users))]
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        atomic_write_bytes(folder / "explanations.jsonl.gz", gzip.compress(lines.encode("utf-8"), mtime=0))
        _write_json_gz(folder / "text_context.json.gz", {"vocabulary": self.vocabulary, "lowercase": self.lowercase,
                                                         "seed": self.seed, "extra": self.extra})
        return ["explanations.jsonl.gz", "text_context.json.gz"]

    @classmethod
    def load(cls, folder: Path) -> "TextOutputs":
        with gzip.open(folder / "explanations.jsonl.gz", "rt", encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh]
        ctx = _read_json_gz(folder / "text_context.json.gz")
        return cls([r["user"] for r in rows], [r["item"] for r in rows], [r["text"] for r in rows],
                   [r["reference"] for r in rows], [r["reasons"] for r in rows], [r["feature"] for r in rows],
                   ctx["vocabulary"], ctx["lowercase"], ctx["seed"], ctx["extra"])


@dataclass
class CausalOutputs:
    tau_hat: np.ndarray
    tau: np.ndarray
    ate_interval: tuple[float, float] | None
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    y_res: np.ndarray | None = None  # held-out Y - m(X), for the R-score
    t_res: np.ndarray | None = None  # held-out T - e(X)

    def save(self, folder: Path) -> list[str]:
        import pandas as pd

        df = pd.DataFrame({"tau_hat": self.tau_hat, "tau": self.tau})
        if self.y_res is not None and self.t_res is not None:
            df["y_res"], df["t_res"] = self.y_res, self.t_res
        _write_csv_gz(folder / "effects.csv.gz", df)
        _write_json_gz(folder / "causal_context.json.gz", {"ate_interval": self.ate_interval, "seed": self.seed,
                                                           "extra": self.extra})
        return ["effects.csv.gz", "causal_context.json.gz"]

    @classmethod
    def load(cls, folder: Path) -> "CausalOutputs":
        import pandas as pd

        df = pd.read_csv(folder / "effects.csv.gz")
        ctx = _read_json_gz(folder / "causal_context.json.gz")
        ci = tuple(ctx["ate_interval"]) if ctx["ate_interval"] is not None else None
        res = (df["y_res"].to_numpy(float), df["t_res"].to_numpy(float)) if "y_res" in df else (None, None)
        return cls(df["tau_hat"].to_numpy(float), df["tau"].to_numpy(float), ci, ctx["seed"], ctx["extra"], *res)


OUTPUTS = {"recommend": RecOutputs, "explain": TextOutputs, "estimate": CausalOutputs}

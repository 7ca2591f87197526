"""What a run of each built-in task produces (its task's ``outputs``), in a form metrics read and unit
files store.

Each outputs class saves itself next to the record (``save(folder)``) and loads back
(``load(folder)``), so every metric can be recomputed later without re-running the method
(``xrbench rescore``).
"""
from __future__ import annotations

import gzip
import json
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xrbench.data.io import atomic_write_bytes

if TYPE_CHECKING:  # pandas is imported where files are read or written: listing and leaderboards stay fast
    import pandas as pd

from .base import NotApplicable


#: gzip level of the unit files: 6 (zlib's default) is ~3x faster than 9 on these files and ~2% larger;
#: any level reads back the same, and mtime=0 keeps a file's bytes a function of its content
COMPRESSLEVEL = 6


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=COMPRESSLEVEL, mtime=0)


def _write_json_gz(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, _gzip(json.dumps(obj).encode("utf-8")))


def _read_json_gz(path: Path) -> Any:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return json.load(fh)


def _write_csv_gz(path: Path, df: "pd.DataFrame") -> None:
    atomic_write_bytes(path, _gzip(df.to_csv(index=False).encode("utf-8")))


@dataclass
class RecOutputs:
    users: np.ndarray  # test rows (raw ids)
    items: np.ndarray
    ratings: np.ndarray
    predictions: np.ndarray | None  # None for ranking-only methods
    rating_min: float
    rating_max: float
    topk: dict[str, list[str]]  # each user's ranked list, best first: list_length items (fewer when few unseen)
    item_counts: dict[str, int]  # train interactions of every item (phi)
    profile_pop: dict[str, float]  # mean phi over each evaluated user's train profile
    user_groups: dict[str, dict[str, Any]] = field(default_factory=dict)  # e.g. gender, age
    k: int = 10  # the list length K of the popularity and fairness metrics (metrics.md: 10)
    seed: int = 0
    cutoffs: tuple[int, ...] = (10,)  # the cutoffs of the ranking metrics (ndcg@5, ...) asked for

    @property
    def list_length(self) -> int:
        """How many items each ranked list was asked to hold: the largest of K and the cutoffs."""
        return max(self.k, *self.cutoffs)

    @cached_property
    def lists(self) -> dict[str, list[str]]:
        """Each user's list cut to K (the popularity and fairness metrics' L_u)."""
        return {u: L[:self.k] for u, L in self.topk.items()}

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
            "k": self.k, "cutoffs": list(self.cutoffs), "seed": self.seed, "rating_min": self.rating_min, "rating_max": self.rating_max,
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
                   aux["k"], aux["seed"], tuple(aux.get("cutoffs") or (aux["k"],)))  # 0.2.0 and before: @K only


@dataclass(frozen=True)
class Swap:
    """Explanations of the same pairs with the user's stated gender or age group swapped in the prompt."""

    texts: list[str]
    reasons: list[list[str]]


@dataclass(frozen=True)
class FidelityResult:
    """One intervention's per-pair results (``xrbench.fidelity.evaluate``): stored in ``fidelity.json.gz``."""

    config: dict[str, Any]
    pairs: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    aspect_effects: list[dict[str, Any]] | None = None  # the observational reference of causal_precision

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "FidelityResult | None":
        if not d:
            return None
        return cls(d.get("config", {}), int(d.get("pairs", 0)), d.get("rows", []), d.get("aspect_effects"))


@dataclass(frozen=True)
class ExplainCost:
    """What a run's explanations cost on this machine (never compared across reruns for reproducibility)."""

    explain_s: float = 0.0
    wall_s: float = 0.0
    peak_rss_mb: float = 0.0
    pairs: int = 0
    tokens_per_s: float | None = None  # LLM explainers


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
    cost: ExplainCost | None = None
    swaps: dict[str, Swap] = field(default_factory=dict)  # "gender" / "age" -> the swapped explanations
    fidelity: FidelityResult | None = None  # attribute intervention (attr-mf)
    fidelity_history: FidelityResult | None = None  # history-item intervention (item-knn)

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
        atomic_write_bytes(folder / "explanations.jsonl.gz", _gzip(lines.encode("utf-8")))
        _write_json_gz(folder / "text_context.json.gz", {
            "vocabulary": self.vocabulary, "lowercase": self.lowercase, "seed": self.seed,
            "cost": asdict(self.cost) if self.cost else None,
            "swaps": {k: asdict(v) for k, v in self.swaps.items()}})
        units = ["explanations.jsonl.gz", "text_context.json.gz"]
        if self.fidelity or self.fidelity_history:
            _write_json_gz(folder / "fidelity.json.gz", {
                "fidelity": asdict(self.fidelity) if self.fidelity else None,
                "fidelity_history": asdict(self.fidelity_history) if self.fidelity_history else None})
            units.append("fidelity.json.gz")
        return units

    @classmethod
    def load(cls, folder: Path) -> "TextOutputs":
        with gzip.open(folder / "explanations.jsonl.gz", "rt", encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh]
        ctx = _read_json_gz(folder / "text_context.json.gz")
        if "extra" in ctx:  # unit files of schema 1: measurements, swaps and fidelity rows in one dict
            extra = ctx["extra"]
            ctx["cost"] = {k: extra[k] for k in ("explain_s", "wall_s", "peak_rss_mb", "pairs", "tokens_per_s")
                           if k in extra}
            ctx["swaps"] = extra.get("swap") or {}
            fid = {k: extra.get(k) for k in ("fidelity", "fidelity_history")}
        else:
            fid = _read_json_gz(folder / "fidelity.json.gz") if (folder / "fidelity.json.gz").is_file() else {}
        return cls([r["user"] for r in rows], [r["item"] for r in rows], [r["text"] for r in rows],
                   [r["reference"] for r in rows], [r["reasons"] for r in rows], [r["feature"] for r in rows],
                   ctx["vocabulary"], ctx["lowercase"], ctx["seed"],
                   ExplainCost(**ctx["cost"]) if ctx.get("cost") is not None else None,
                   {k: Swap(v["texts"], v["reasons"]) for k, v in (ctx.get("swaps") or {}).items()},
                   FidelityResult.from_dict(fid.get("fidelity")), FidelityResult.from_dict(fid.get("fidelity_history")))


@dataclass
class CausalOutputs:
    tau_hat: np.ndarray
    tau: np.ndarray
    ate_interval: tuple[float, float] | None
    seed: int = 0
    placebo_ate: float | None = None  # the ATE re-estimated with the treatment permuted
    placebo_rows: int = 0
    y_res: np.ndarray | None = None  # held-out Y - m(X), for the R-score
    t_res: np.ndarray | None = None  # held-out T - e(X)

    def save(self, folder: Path) -> list[str]:
        import pandas as pd

        df = pd.DataFrame({"tau_hat": self.tau_hat, "tau": self.tau})
        if self.y_res is not None and self.t_res is not None:
            df["y_res"], df["t_res"] = self.y_res, self.t_res
        _write_csv_gz(folder / "effects.csv.gz", df)
        _write_json_gz(folder / "causal_context.json.gz", {"ate_interval": self.ate_interval, "seed": self.seed,
                                                           "placebo_ate": self.placebo_ate,
                                                           "placebo_rows": self.placebo_rows})
        return ["effects.csv.gz", "causal_context.json.gz"]

    @classmethod
    def load(cls, folder: Path) -> "CausalOutputs":
        import pandas as pd

        df = pd.read_csv(folder / "effects.csv.gz")
        ctx = _read_json_gz(folder / "causal_context.json.gz")
        ctx.update(ctx.pop("extra", {}))  # unit files of schema 1
        ci = tuple(ctx["ate_interval"]) if ctx["ate_interval"] is not None else None
        res = (df["y_res"].to_numpy(float), df["t_res"].to_numpy(float)) if "y_res" in df else (None, None)
        return cls(df["tau_hat"].to_numpy(float), df["tau"].to_numpy(float), ci, ctx["seed"],
                   ctx.get("placebo_ate"), int(ctx.get("placebo_rows", 0)), *res)



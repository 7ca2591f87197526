"""The method protocols of the built-in tasks, as abstract base classes a plugin subclasses.

Each declares ``needs``: the dataset capabilities it requires (``ratings``, ``text``,
``item_attributes``, ``user_attributes``, ``treatment``). A tuple inside ``needs`` means "any of
these". The runner checks ``needs`` against the dataset before fitting and refuses an incompatible
pair with one clear message.

Each declares its params once: ``default_params()`` holds every param and its default (the param's type is the
default's), and ``param_rules`` adds what the type alone does not say (ranges, choices), merged along the class
hierarchy. ``Method.__init__`` and the runner's ``validate`` (before any work) check every given param against
``param_specs()``: an int where a float belongs is converted; 2.5 for an int, 1 for a bool, nan or inf, a value
out of range or not among the choices is refused with one line naming the method, the param, the value and
what is allowed.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from .errors import IncompatibleError
from .params import Param, check_values
from .view import TrainView

Needs = tuple["str | tuple[str, ...]", ...]


def check_needs(kind: str, name: str, needs: Needs, have: frozenset[str], dataset: str) -> None:
    for need in needs:
        options = (need,) if isinstance(need, str) else tuple(need)
        if not any(o in have for o in options):
            what = " or ".join(o.replace("_", " ") for o in options)
            raise IncompatibleError(
                f"{kind} '{name}' needs {what}, which dataset '{dataset}' does not have "
                f"(it has: {', '.join(sorted(have))}); pick a dataset with {what} or another {kind}")


class Method(ABC):
    needs: ClassVar[Needs] = ()
    #: ranges/choices of params beyond the type of their default, e.g. ``{"dim": Param(ge=1)}``; a subclass's
    #: rules are added to its parents' (see :meth:`param_specs`)
    param_rules: ClassVar[dict[str, Param]] = {}
    #: a folder of this run the method may write to (trained models keep their per-epoch checkpoints there, so a
    #: killed run resumes); set by the runner before ``fit`` (None outside a runner: nothing is kept)
    workdir: Path | None = None

    def __init__(self, **params: Any) -> None:
        self.params = {**self.default_params(), **self.check_params(params)}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        """Every param and its default (the one place defaults live)."""
        return {}

    @classmethod
    def param_specs(cls) -> dict[str, Param]:
        """Each param's :class:`Param`: the type of its default, and the ranges/choices of ``param_rules``."""
        rules: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            rules.update(vars(klass).get("param_rules") or {})
        return {name: rules.get(name, Param()).typed_like(default) for name, default in cls.default_params().items()}

    @classmethod
    def check_params(cls, params: Mapping[str, Any], where: str | None = None) -> dict[str, Any]:
        """The given params checked and converted to their declared types (defaults not filled in); unknown
        names, wrong types, non-finite numbers and values out of range raise XRBenchError."""
        return check_values(params, cls.param_specs(), where or cls.__name__, "param", cls.default_params())

    def save_units(self, folder: Path) -> list[str]:
        """Extra unit files the method writes beside the record after its run (e.g. ``learning_curve.csv``);
        their names. Called by the runner after the task's outputs are saved."""
        return []

    def bind(self, view: TrainView) -> None:
        """Called by the runner before ``fit``: gives the base class's helpers the training view."""
        self._view = view

    @property
    def view(self) -> TrainView:
        v = getattr(self, "_view", None)
        if v is None:
            raise RuntimeError(f"{type(self).__name__} used before bind()/fit()")
        return v


class Recommender(Method):
    """Fit on a train split; predict ratings for (user, item) index pairs; rank top-K unseen items."""

    needs: ClassVar[Needs] = ("ratings",)
    #: False for ranking-only methods (e.g. most-pop): rating metrics are then "not applicable".
    predicts_ratings: ClassVar[bool] = True

    @abstractmethod
    def fit(self, view: TrainView) -> None: ...

    @abstractmethod
    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray: ...

    def scores(self, users: np.ndarray) -> np.ndarray:
        """Scores of every item for each user, shape (len(users), n_items). Override for speed."""
        n_items = self.view.n_items
        uu = np.repeat(users, n_items)
        ii = np.tile(np.arange(n_items), len(users))
        return self.predict(uu, ii).reshape(len(users), n_items)

    def shared_scores(self) -> np.ndarray | None:
        """The scores of every item when they are the same for every user (e.g. most-pop), else None.

        A recommender that returns them is ranked from one global order, in time O(k + seen items) per
        user instead of O(items): the same lists as ranking each user's row of ``scores``."""
        return None

    def rank(self, users: np.ndarray, k: int = 10, exclude_seen: bool = True) -> list[np.ndarray]:
        """Top-``k`` item indices per user, best first (ties broken by item index). Seen items are
        excluded, so a user with fewer than ``k`` unseen items gets a shorter list."""
        shared = self.shared_scores()
        if shared is not None and exclude_seen:
            shared = np.asarray(shared, dtype=np.float64)
            if np.isfinite(shared).all():
                return _rank_shared(shared, self.view.seen, users, k)
        out: list[np.ndarray] = []
        for start in range(0, len(users), 256):  # memory O(256 x items): never a users x items matrix
            block = users[start:start + 256]
            s = np.array(self.scores(block), dtype=np.float64)
            if exclude_seen:
                for r, u in enumerate(block):
                    s[r, self.view.seen[u]] = -np.inf
            for r, row in enumerate(top_k(s, k)):
                out.append(row[np.isfinite(s[r, row])])
        return out


def _rank_shared(scores: np.ndarray, seen: Any, users: np.ndarray, k: int) -> list[np.ndarray]:
    """``Recommender.rank`` when every user has the finite ``scores``: the items in one stable order (largest
    first, equal scores by item index); a user's list is the first ``k`` of that order not seen, which is
    the same list as ``top_k`` of the row with the seen items at -inf. Each user reads at most the first
    k + |seen| items of the order (seen items are distinct)."""
    order = np.argsort(-scores, kind="stable")
    marked = np.zeros(len(scores), dtype=bool)  # the current user's seen items, unmarked after each user
    out = []
    for u in users:
        done = seen[u]
        head = order[:k + len(done)]
        marked[done] = True
        out.append(head[~marked[head]][:k])
        marked[done] = False
    return out


def top_k(s: np.ndarray, k: int) -> list[np.ndarray]:
    """Per row of ``s``, the column indices of its ``k`` largest values, largest first, equal values in
    column order: exactly ``np.argsort(-s, axis=1, kind="stable")[:, :k]``, without sorting whole rows.

    The k-th largest value of each row is found by a partial sort (``np.partition``, O(items)); only the
    columns holding at least that value -- the top k and every value tied with the k-th -- are then sorted,
    stably, in column order. A row whose k-th largest value is not a number (NaN: fewer than k comparable
    values) is sorted whole, as before."""
    n = s.shape[1]
    if k >= n or n == 0:
        return list(np.argsort(-s, axis=1, kind="stable")[:, :k])
    neg = -s
    kth = np.partition(neg, k - 1, axis=1)[:, k - 1]  # the k-th smallest of -s: minus the k-th largest of s
    out = []
    for r in range(len(s)):
        row = neg[r]
        if np.isnan(kth[r]):
            out.append(np.argsort(row, kind="stable")[:k])
            continue
        cand = np.flatnonzero(row <= kth[r])  # ascending column order
        out.append(cand[np.argsort(row[cand], kind="stable")[:k]])
    return out


@dataclass(frozen=True)
class Explanation:
    text: str
    reasons: tuple[str, ...] = ()


class Explainer(Method):
    """Fit on a train split; explain a batch of (user, item) index pairs."""

    needs: ClassVar[Needs] = ("ratings",)

    @abstractmethod
    def fit(self, view: TrainView) -> None: ...

    @abstractmethod
    def explain(self, users: Sequence[int], items: Sequence[int]) -> list[Explanation]: ...


class CausalEstimator(Method):
    """Fit on covariates X, binary treatment T and outcome Y; estimate per-unit effects."""

    needs: ClassVar[Needs] = ("treatment",)

    @abstractmethod
    def fit(self, X: np.ndarray, T: np.ndarray, Y: np.ndarray, seed: int) -> None: ...

    @abstractmethod
    def effect(self, X: np.ndarray) -> np.ndarray: ...

    def ate_interval(self, X: np.ndarray, alpha: float = 0.05) -> tuple[float, float] | None:
        """A (1 - alpha) interval for the ATE over X, or None when the estimator has none."""
        return None

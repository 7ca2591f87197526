"""What a task is: a method protocol, its options, its outputs, how one run goes, and what it adds to
records and leaderboards. The runner, scoring, leaderboards, CLI and Python API loop over the registered
tasks (``xrbench.register("task", NAME)``); nothing outside a task's own module names it.
"""
from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import XRBenchError
from ..view import FitScope

if TYPE_CHECKING:
    from ..data.schema import Dataset
    from ..data.split import Split
    from ..references import References
    from ..view import TrainView
    from ..leaderboard import Board
    from ..records import RunRecord


@dataclass(frozen=True, kw_only=True)
class Options:
    """A task's run options (split, k, sample, ...): subclass with typed fields, each default written once."""

    @classmethod
    def from_mapping(cls, values: dict[str, Any], source: str = "options") -> Options:
        """The options among ``values`` that this class declares (others belong to other tasks), type-checked."""
        kw = {}
        for f in dataclasses.fields(cls):
            if f.name not in values:
                continue
            v = values[f.name]
            kinds = str(f.type)
            ok = ((v is None and "None" in kinds) or (isinstance(v, bool) and "bool" in kinds)
                  or (isinstance(v, int) and not isinstance(v, bool) and "int" in kinds)
                  or (isinstance(v, str) and "str" in kinds))
            if not ok:
                raise XRBenchError(f"{source}: option '{f.name}' must be {kinds.replace(' | ', ' or ')}, got {v!r}")
            kw[f.name] = v
        return cls(**kw)


def option_names(options: type[Options]) -> list[str]:
    return [f.name for f in dataclasses.fields(options)]


class FitCache:
    """The runner's cache of shared fits: one :class:`FitScope` per (data, split, seed, device), so a
    reference recommender (e.g. ``attr-mf`` for fidelity) is fitted once and no scope holds another split."""

    def __init__(self) -> None:
        self._scopes: dict[tuple[str, str, int, str], FitScope] = {}

    def scope(self, data_hash: str, split_hash: str, seed: int, device: str) -> FitScope:
        return self._scopes.setdefault((data_hash, split_hash, seed, device), FitScope())


@dataclass
class RunContext:
    """What a task's ``run`` gets besides the method, the data and the options."""

    seed: int
    device: str = "cpu"
    fits: FitCache = field(default_factory=FitCache)
    cache: dict[Any, Any] = field(default_factory=dict)  # per-runner memo (e.g. mined references)


def split_and_view(ds: Dataset, protocol: str, ctx: RunContext) -> tuple[Split, TrainView, References | None]:
    """The split, the sealed view a method is fitted on (train and validation rows only, with the
    references of the training reviews), and the split's reference explanations (test rows included: for
    the scorer only; None without review text)."""
    from ..data.split import make_split
    from ..references import references as mine
    from ..view import TrainView

    split = make_split(ds, protocol, ctx.seed)
    refs = mine(ds, split, ctx.cache)
    fits = ctx.fits.scope(ds.file_hash, split.hash, ctx.seed, ctx.device)
    return split, TrainView.build(ds, split, ctx.seed, ctx.device, refs=refs, fits=fits), refs


@dataclass(frozen=True)
class TaskResult:
    outputs: Any  # the task's outputs class: saved beside the record, read by its metrics
    split: Split | None = None  # recorded in provenance (protocol, seed, hash, sizes)
    provenance: dict[str, Any] = field(default_factory=dict)  # what this task adds to the record's provenance


@dataclass(frozen=True)
class Section:
    """An extra table a task adds to its leaderboard section (e.g. the backbone comparison)."""

    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""


class Task(ABC):
    name: ClassVar[str]
    title: ClassVar[str]  # leaderboard section title
    method_kind: ClassVar[str]  # the registry kind of its methods ("recommender") and the CLI flag (--recommender)
    protocol: ClassVar[type]  # the abstract base class its methods subclass
    options: ClassVar[type[Options]] = Options
    outputs: ClassVar[type]  # has save(folder) -> unit file names and load(folder)
    order: ClassVar[int] = 100  # position of its sections on a page
    plot_axes: ClassVar[tuple[str, str] | None] = None  # (x, y) metric keys of the HTML page's scatter plot

    @abstractmethod
    def run(self, model: Any, data: Any, options: Any, ctx: RunContext) -> TaskResult:
        """Fit ``model`` on what it may see of ``data`` and produce the outputs its metrics read."""

    def board_sections(self, board: Board, records: list[RunRecord]) -> list[Section]:
        """Extra tables under the task's section of a leaderboard."""
        return []

    def board_notes(self, board: Board, records: list[RunRecord]) -> list[str]:
        """Notes under the task's section (after the missing-value footnotes)."""
        return []

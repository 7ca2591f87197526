"""What a task is: a method protocol, its options, its outputs, how one run goes, and what it adds to
records and leaderboards. The runner, scoring, leaderboards, CLI and Python API loop over the registered
tasks (``xrbench.register("task", NAME)``); nothing outside a task's own module names it.
"""
from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..params import Param, check_values
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
    """A task's run options (split, k, sample, ...): subclass with typed fields, each default written once.

    A field's type is its annotation (``int``, ``int | None``, ``str``, ``float``, ``bool``); its range or choices
    are declared once beside it with :func:`option`: ``k: int = option(10, ge=1)``. :meth:`from_mapping`
    checks both (an int where a float belongs is converted; 2.5 for an int, inf/nan, a value out of range or
    not among the choices, an unregistered model name are refused in one line naming the option)."""

    @classmethod
    def specs(cls) -> dict[str, Param]:
        """Each option's :class:`Param`: the annotation's types plus the rule given to :func:`option`."""
        out = {}
        for f in dataclasses.fields(cls):
            rule = f.metadata.get("param") or Param()
            out[f.name] = rule if rule.type is not None or rule.choices is not None or rule.each is not None else \
                dataclasses.replace(rule, type=_annotation_types(f.type))
        return out

    @classmethod
    def from_mapping(cls, values: dict[str, Any], source: str = "options") -> Options:
        """The options among ``values`` that this class declares (others belong to other tasks), type-checked."""
        specs = cls.specs()
        defaults = {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
        mine = {k: v for k, v in values.items() if k in specs}
        return cls(**check_values(mine, specs, source, "option", defaults))


_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "None": type(None)}


def _annotation_types(annotation: Any) -> Any:
    """``"int | None"`` (or the type objects) -> (int, NoneType); an annotation it cannot read: any value."""
    if isinstance(annotation, type):
        return annotation
    text = str(annotation).strip()
    if text.startswith("Optional[") and text.endswith("]"):
        text = text[len("Optional["):-1] + " | None"
    names = [n.strip() for n in text.split("|")]
    if all(n in _TYPES for n in names):
        return tuple(_TYPES[n] for n in names)
    return None


def option(default: Any, *, doc: str = "", **rule: Any) -> Any:
    """A dataclass field for an :class:`Options` subclass: its default and what values it may take
    (``ge``, ``gt``, ``le``, ``lt``, ``choices``, ``registered``: see :class:`xrbench.params.Param`)."""
    return field(default=default, metadata={"param": Param(doc=doc, **rule)})


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


def split_and_view(ds: Dataset, protocol: str, ctx: RunContext, folds: int = 5
                   ) -> tuple[Split, TrainView, References | None]:
    """The split, the sealed view a method is fitted on (train and validation rows only, with the
    references of the training reviews), and the split's reference explanations (test rows included: for
    the scorer only; None without review text)."""
    from ..data.split import make_split
    from ..references import references as mine
    from ..view import TrainView

    split = make_split(ds, protocol, ctx.seed, folds=folds)
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

    def unranked_methods(self, records: list[RunRecord]) -> set[str]:
        """Rows shown with their values but left out of every ranking, best mark and paired test (e.g. rows
        given the test answer as an input): they are not comparable with the others."""
        return set()

"""Typed parameters: what a method's params, a task's options and a dataset's params may be, declared once
and checked before any work.

A :class:`Param` says what one value may be: its type (``bool``, ``int``, ``float``, ``str``; a method's
param takes the type of its default), a range (``ge``/``gt``/``le``/``lt``), a fixed set of ``choices``,
``multiple_of``, or ``registered`` (the name of a registered method of that kind). :meth:`Param.check`
returns the value as the declared type (an int where a float belongs becomes a float) or raises one
:class:`~xrbench.errors.XRBenchError` line naming where, the name, the value and what is allowed:

    recommender 'biased-mf': param 'dim' must be an integer >= 1 (default 64), got -5

User-written values (``--param K=V``, suite files) are read by :func:`load_yaml` / :func:`parse_value`:
YAML with the numbers of YAML 1.2 (``1e-3``, ``.5`` and ``2E4`` are floats, ``inf``/``nan`` too, so they
can be refused as not finite; ``010`` is ten, not octal eight).
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import re
from dataclasses import dataclass
from typing import Any, Mapping

import yaml

from .errors import XRBenchError

_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a non-empty string",
          type(None): "null"}
_ARTICLE_OF = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", type(None): "null",
               list: "a list", dict: "a mapping", tuple: "a list"}


def _show(value: Any, limit: int = 60) -> str:
    """A one-line, bounded repr of a user's value."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fmt(x: float) -> str:
    return str(int(x)) if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e15) else repr(x)


@dataclass(frozen=True)
class Param:
    """What one parameter may be. ``type`` None: any type (a method's param: the type of its default)."""

    type: Any = None  # a type, or a tuple of types; type(None) in the tuple: may be null
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[Any, ...] | None = None
    multiple_of: int | None = None
    registered: str | None = None  # a registry kind ("recommender"): the value names a registered one
    doc: str = ""
    each: Param | None = None  # a list option: each element checked by this rule (one value: a list of one)

    def typed_like(self, default: Any) -> Param:
        """This rule with the type of ``default`` when it declares none (and no choices)."""
        if self.type is not None or self.choices is not None:
            return self
        if type(default) in (bool, int, float, str):
            return dataclasses.replace(self, type=type(default))
        return self

    @property
    def types(self) -> tuple[type, ...]:
        if self.type is None:
            return ()
        return tuple(self.type) if isinstance(self.type, tuple) else (self.type,)

    def allowed(self) -> str:
        """What the value may be, in words: 'an integer >= 1', 'a number in [0, 0.5)', "one of 'a', 'b'"."""
        if self.each is not None:
            return f"a non-empty list, each {self.each.allowed()}"
        if self.choices is not None:
            return "one of " + ", ".join(_show(c) if isinstance(c, str) else str(c).lower() for c in self.choices)
        kinds = [t for t in self.types if t is not type(None)]
        words = " or ".join(_NAMES.get(t, f"a {t.__name__}") for t in kinds) or "any value"
        low = (_fmt(self.ge), "[", ">=") if self.ge is not None else (_fmt(self.gt), "(", ">") \
            if self.gt is not None else None
        high = (_fmt(self.le), "]", "<=") if self.le is not None else (_fmt(self.lt), ")", "<") \
            if self.lt is not None else None
        if low and high:
            words += f" in {low[1]}{low[0]}, {high[0]}{high[1]}"
        elif low:
            words += f" {low[2]} {low[0]}"
        elif high:
            words += f" {high[2]} {high[0]}"
        if self.multiple_of:
            words += f", a multiple of {self.multiple_of}"
        if self.registered:
            words += f" naming a registered {self.registered}"
        if type(None) in self.types:
            words += " or null"
        return words

    def check(self, value: Any, name: str, where: str, default: Any = dataclasses.MISSING) -> Any:
        """``value`` as the declared type, or XRBenchError: '<where>: <name> must be <allowed>, got <value>'."""
        def fail(note: str = "") -> XRBenchError:
            dflt = "" if default is dataclasses.MISSING else f" (default {_show(default)})"
            return XRBenchError(f"{where}: {name} must be {self.allowed()}{dflt}, got {_show(value)}{note}")

        def kind() -> str:
            return f" ({_ARTICLE_OF.get(type(value), type(value).__name__)})"

        if self.each is not None:
            return self._check_list(value, name, where, fail)
        if value is None:
            if (not self.types and self.choices is None) or type(None) in self.types or None in (self.choices or ()):
                return None
            raise fail()
        if self.choices is not None:
            for c in self.choices:  # same type and equal: 1 is not True, "1" is not 1
                if type(c) is type(value) and c == value:
                    return value
            raise fail(kind() if not any(type(c) is type(value) for c in self.choices) else "")
        out = self._typed(value)
        if out is _NO:
            raise fail(kind())
        if isinstance(out, float) and not math.isfinite(out):
            raise fail(" (it must be finite)")
        if isinstance(out, (int, float)) and not isinstance(out, bool):
            if ((self.ge is not None and not out >= self.ge) or (self.gt is not None and not out > self.gt)
                    or (self.le is not None and not out <= self.le) or (self.lt is not None and not out < self.lt)
                    or (self.multiple_of and isinstance(out, int) and out % self.multiple_of)):
                raise fail()
        if self.registered and isinstance(out, str):
            from .registry import REGISTRY

            try:
                REGISTRY.entry(self.registered, out)
            except XRBenchError as exc:
                raise XRBenchError(f"{where}: {name}: {exc}") from None
        return out

    def _check_list(self, value: Any, name: str, where: str, fail: Any) -> tuple[Any, ...]:
        """A list option: one value or a non-empty list/tuple, each element checked; returned sorted, without
        repeats, as a tuple (so equal choices give equal options, records and run identities)."""
        assert self.each is not None
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        if not items:
            raise fail(" (an empty list)")
        out = []
        for x in items:
            try:
                out.append(self.each.check(x, name, where))
            except XRBenchError:
                raise fail(f" ({_show(x)} is not allowed)") from None
        try:
            return tuple(sorted(set(out)))
        except TypeError:
            return tuple(dict.fromkeys(out))

    def _typed(self, value: Any) -> Any:
        if not self.types:
            return value
        for t in self.types:
            if t is type(None):
                continue
            if t is bool:
                if isinstance(value, bool):
                    return value
            elif t is int:
                if isinstance(value, numbers.Integral) and not isinstance(value, bool):
                    return int(value)
            elif t is float:
                if isinstance(value, numbers.Real) and not isinstance(value, bool):
                    try:
                        return float(value)
                    except OverflowError:  # an int beyond the float range
                        return math.inf if value > 0 else -math.inf
            elif t is str:
                if isinstance(value, str) and value:
                    return value
            elif isinstance(value, t):
                return value
        return _NO


_NO = object()


def check_values(values: Mapping[str, Any], specs: Mapping[str, Param], where: str, what: str = "param",
                 defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Each value checked against its spec (converted to the declared type); unknown names refused."""
    unknown = [k for k in values if k not in specs]
    if unknown:
        noun = "parameter" if what == "param" else what
        raise XRBenchError(f"{where}: unknown {noun}(s) {sorted(map(str, unknown))}; known: {sorted(specs)}")
    defaults = defaults or {}
    return {k: specs[k].check(v, f"{what} '{k}'", where, defaults.get(k, dataclasses.MISSING))
            for k, v in values.items()}


# -- reading user-written values ---------------------------------------------------------------------------
_INT_RE = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT_RE = re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                       r"|[-+]?\.?(?:inf|Inf|INF|infinity|Infinity|INFINITY)|\.?(?:nan|NaN|NAN))$")
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core numbers (and plain inf/nan)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT_TAG, _FLOAT_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver(_INT_TAG, _INT_RE, list("-+0123456789"))
_Loader.add_implicit_resolver(_FLOAT_TAG, _FLOAT_RE, list("-+0123456789.iInN"))


def _int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    s = loader.construct_scalar(node)
    return int(s, 0) if s[:2] in ("0o", "0x") else int(s, 10)


def _float(loader: yaml.SafeLoader, node: yaml.Node) -> float:
    return _float_text(str(loader.construct_scalar(node)))


_Loader.add_constructor(_INT_TAG, _int)
_Loader.add_constructor(_FLOAT_TAG, _float)


def yaml_error_line(exc: Exception) -> str:
    """A YAML error in one line, keeping the line/column of the problem."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        what = exc.problem or exc.context or "malformed YAML"
        if exc.context and exc.problem:
            ctx = exc.context_mark
            at = "" if ctx is None or ctx is mark else f" started on line {ctx.line + 1}, column {ctx.column + 1}"
            what = f"{exc.problem} ({exc.context}{at})"
        return " ".join(f"{where}{what}".split())
    return " ".join(str(exc).split())


def load_yaml(text: str) -> Any:
    """YAML text (a suite file) with YAML 1.2 numbers; raises yaml.YAMLError."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)


def parse_value(raw: str) -> Any:
    """A value typed on the command line, as the user means it: ``64`` an int, ``1e-3`` a float, ``true`` a
    bool, ``null`` None, ``[1, 2]`` a list, anything else (including text YAML cannot read) the string."""
    if _INT_RE.match(raw):
        return int(raw, 0) if raw[:2] in ("0o", "0x") else int(raw, 10)
    if _FLOAT_RE.match(raw):
        return _float_text(raw)
    try:
        return load_yaml(raw)
    except Exception:  # noqa: BLE001  (not YAML: the text itself)
        return raw


def _float_text(s: str) -> float:
    s = s.replace(".inf", "inf").replace(".Inf", "inf").replace(".INF", "inf")
    return float(s.lstrip(".") if s.lower().endswith("nan") else s)

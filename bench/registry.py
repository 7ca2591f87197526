"""One registry for everything xrbench runs: datasets, tasks, metrics, and each task's methods (the
built-in tasks bring recommenders, explainers and estimators; a registered task adds its method kind).

Entries are registered with :func:`register` (a decorator), or lazily as ``"module:attr"`` strings
that are imported on first use, or by third-party packages through the ``xrbench.plugins``
entry-point group, or from a local file with :func:`load_plugin_file` (``--plugin path.py``).
Third-party code is only imported when the user names it: entry points are loaded when a name is
not found among the built-ins, or when ``xrbench list`` is asked for them.
"""
from __future__ import annotations

import difflib
import importlib
import importlib.util
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from .errors import UnknownNameError, XRBenchError

KINDS = ("dataset", "task", "metric")  # and the method kind of each registered task ("recommender", ...)
ENTRY_POINT_GROUP = "xrbench.plugins"
log = logging.getLogger("xrbench")


@dataclass
class Entry:
    kind: str
    name: str
    target: Any  # the object, or a "module:attr" string until first use
    meta: dict[str, Any] = field(default_factory=dict)

    def load(self) -> Any:
        if isinstance(self.target, str):
            module_name, _, attr = self.target.partition(":")
            try:
                module = importlib.import_module(module_name)
                self.target = getattr(module, attr) if attr else module
            except (ImportError, AttributeError) as exc:
                raise XRBenchError(
                    f"{self.kind} '{self.name}' could not be loaded from '{self.target}': {exc}. "
                    "Install the extra it needs (see README, 'Installation extras')."
                ) from exc
        return self.target


class Registry:
    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Entry]] = {k: {} for k in KINDS}
        self._broken: set[str] = set()  # entry points that failed to import (warned once)
        #: name prefixes resolved on demand: (kind, prefix) -> "module:attr" of ``factory(name) -> class``
        #: (``cornac:<Model>``: any model of an installed library, made when first named)
        self._families: dict[tuple[str, str], str] = {}

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def _check_kind(self, kind: str) -> None:
        if kind not in self._entries:
            raise XRBenchError(f"unknown registry kind '{kind}'; kinds are: {', '.join(self._entries)}")

    def _task_kind(self, target: Any, meta: dict[str, Any]) -> None:
        """A registered task brings its method kind (e.g. "recommender") into the registry."""
        method_kind = meta.get("method_kind") or getattr(target, "method_kind", None)
        if isinstance(method_kind, str):
            self._entries.setdefault(method_kind, {})

    # -- registration -----------------------------------------------------------------------------
    def add(self, kind: str, name: str, target: Any, **meta: Any) -> None:
        self._check_kind(kind)
        if kind == "task":
            self._task_kind(target, meta)
        existing = self._entries[kind].get(name)
        if existing is not None and not isinstance(existing.target, str) and existing.target is not target:
            raise XRBenchError(f"{kind} '{name}' is already registered ({existing.target!r})")
        self._entries[kind][name] = Entry(kind, name, target, dict(meta))

    def register(self, kind: str, name: str, **meta: Any) -> Callable[[Any], Any]:
        def decorator(obj: Any) -> Any:
            entry = self._entries[kind].get(name) if kind in self._entries else None
            if entry is not None and isinstance(entry.target, str):
                # The lazy entry is being resolved by importing its module: keep its metadata.
                if kind == "task":
                    self._task_kind(obj, meta)
                entry.target = obj
                entry.meta.update(meta)
                return obj
            self.add(kind, name, obj, **meta)
            return obj
        return decorator

    # -- lookup -----------------------------------------------------------------------------------
    def names(self, kind: str, *, include_plugins: bool = False) -> list[str]:
        if include_plugins:
            self.load_entry_points()
        return sorted(self._entries[kind])

    def in_order(self, kind: str) -> list[str]:
        """Names in registration order (metrics: the order their modules define them)."""
        return list(self._entries[kind])

    def entry(self, kind: str, name: str) -> Entry:
        self._check_kind(kind)
        found = self._entries[kind].get(name)
        if found is None:  # a third-party package may provide it: import only the entry point of that name
            self.load_entry_points(only=name)
            found = self._entries[kind].get(name)
        if found is None:
            found = self._from_family(kind, name)
        if found is None:
            close = difflib.get_close_matches(name, list(self._entries[kind]), n=3, cutoff=0.5)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise UnknownNameError(
                f"unknown {kind} '{name}'.{hint} Run 'xrbench list {kind}' to see all {kind}s."
            )
        return found

    def add_family(self, kind: str, prefix: str, factory: str) -> None:
        """Names of ``kind`` starting with ``prefix`` that are not registered are made by ``factory(name)``
        ("module:attr", imported only when such a name is used)."""
        self._check_kind(kind)
        self._families[(kind, prefix)] = factory

    def _from_family(self, kind: str, name: str) -> Entry | None:
        for (k, prefix), factory in self._families.items():
            if k == kind and name.startswith(prefix) and len(name) > len(prefix):
                make = Entry(kind, f"{prefix}*", factory).load()
                cls = make(name)  # raises XRBenchError naming what exists
                self.add(kind, name, cls, description=(cls.__doc__ or "").strip().split("\n")[0])
                return self._entries[kind][name]
        return None

    def get(self, kind: str, name: str) -> Any:
        return self.entry(kind, name).load()

    def meta(self, kind: str, name: str) -> dict[str, Any]:
        return dict(self.entry(kind, name).meta)

    # -- plugins ----------------------------------------------------------------------------------
    def load_entry_points(self, only: str | None = None) -> None:
        """Import ``xrbench.plugins`` entry points (all of them, or only the one named ``only``)."""
        from importlib.metadata import entry_points

        if os.environ.get("XRBENCH_NO_ENTRY_POINTS"):  # e.g. the tests: never see the user's installed plugins
            return
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if only is not None and ep.name != only:
                continue
            try:
                ep.load()
            except Exception as exc:  # a broken third-party plugin must not break the harness
                msg = f"plugin entry point '{ep.name}' ({ep.value}) failed to load: {type(exc).__name__}: {exc}"
                if only is not None:  # the user named it: that is an error
                    raise XRBenchError(msg + "; fix or uninstall that package") from None
                if ep.name not in self._broken:
                    self._broken.add(ep.name)
                    log.warning("%s; left out (it is used only if you name it)", msg)


REGISTRY = Registry()


def register(kind: str, name: str, **meta: Any) -> Callable[[Any], Any]:
    """Register a class or function under ``kind``/``name``.

    >>> @register("recommender", "my-mf", needs=("ratings",))
    ... class MyMF: ...
    """
    return REGISTRY.register(kind, name, **meta)


def register_lazy(kind: str, name: str, target: str, **meta: Any) -> None:
    """Register ``"module:attr"`` to be imported on first use."""
    REGISTRY.add(kind, name, target, **meta)


def get(kind: str, name: str) -> Any:
    return REGISTRY.get(kind, name)


def load_plugin_file(path: str | Path) -> None:
    """Import a local Python file whose ``@register`` calls add methods (``--plugin FILE``)."""
    p = Path(path)
    if not p.is_file():
        raise XRBenchError(f"{p}: plugin file not found; pass the path of a .py file that calls xrbench.register")
    module_name = f"xrbench_plugin_{abs(hash(str(p.resolve())))}"
    if module_name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(module_name, p)
    if spec is None or spec.loader is None:
        raise XRBenchError(f"{p}: not an importable Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except XRBenchError:
        raise
    except Exception as exc:
        del sys.modules[module_name]
        raise XRBenchError(f"{p}: plugin failed to import: {type(exc).__name__}: {exc}") from exc


def describe(kinds: Iterable[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Everything registered, for ``xrbench list --json``."""
    out: dict[str, list[dict[str, Any]]] = {}
    for kind in kinds or REGISTRY.kinds:
        rows = []
        for name in REGISTRY.names(kind, include_plugins=True):
            meta = REGISTRY.meta(kind, name)
            rows.append({"name": name, **{k: (list(v) if isinstance(v, tuple) else v) for k, v in meta.items()}})
        out[kind] = rows
    return out

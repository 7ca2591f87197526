"""Tasks: one module per task (``recommend``, ``explain``, ``estimate``), each a registered :class:`Task`.

A new task is one module: subclass :class:`Task`, give it options, outputs and ``run``, and register it
(``@xrbench.register("task", "my-task")``); the runner, scoring, leaderboards, CLI and API pick it up.
"""
from __future__ import annotations

from functools import lru_cache

from ..errors import XRBenchError
from ..registry import REGISTRY
from .base import FitCache, Options, RunContext, Section, Task, TaskResult, option_names

__all__ = ["FitCache", "Options", "RunContext", "Section", "Task", "TaskResult", "get", "for_kind", "all_tasks",
           "method_kinds", "option_names"]


@lru_cache(maxsize=None)
def _instance(cls: type[Task]) -> Task:
    return cls()


def get(name: str) -> Task:
    """The registered task ``name`` (an instance; tasks hold no state)."""
    return _instance(REGISTRY.get("task", name))


def all_tasks() -> list[Task]:
    """Every registered task, in page order."""
    return sorted((get(n) for n in REGISTRY.in_order("task")), key=lambda t: t.order)


def method_kinds() -> list[str]:
    """The method kinds of the registered tasks, without importing them (e.g. recommender, explainer)."""
    out = []
    for name in REGISTRY.in_order("task"):
        entry = REGISTRY.entry("task", name)
        kind = entry.meta.get("method_kind") or getattr(entry.load(), "method_kind")
        out.append(kind)
    return out


def for_kind(kind: str) -> Task:
    """The task whose methods are of ``kind`` ("recommender" -> the recommend task)."""
    for name in REGISTRY.in_order("task"):
        entry = REGISTRY.entry("task", name)
        if (entry.meta.get("method_kind") or getattr(entry.load(), "method_kind", None)) == kind:
            return get(name)
    raise XRBenchError(f"unknown method kind '{kind}'; kinds are: {', '.join(method_kinds())}")


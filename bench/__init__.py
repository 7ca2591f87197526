"""xrbench: benchmark and evaluation harness for explainable recommendation with LLMs."""
from __future__ import annotations

__version__ = "0.2.0"

from .errors import XRBenchError  # noqa: E402
from .registry import get, load_plugin_file, register, register_lazy  # noqa: E402
from . import builtins as _builtins  # noqa: E402,F401  (registers the built-in names, lazily)

__all__ = ["__version__", "XRBenchError", "register", "register_lazy", "get", "load_plugin_file", "run",
           "Experiment", "load_records"]


def __getattr__(name: str):  # the API pulls in pandas/numpy: import it on first use
    if name in ("run", "Experiment", "load_records"):
        from . import api
        return getattr(api, name)
    raise AttributeError(name)

"""Metrics, keyed exactly as ``shared/spec/metrics.md`` names them. Importing this package registers them."""
# the import order is the column order of the leaderboards
from . import rating, ranking, bias, nlg4rs, standard, conciseness, fidelity, fairness, causal  # noqa: F401,I001  (registration)
from .base import Evaluated, MetricInfo, MetricValue, NotApplicable, NotRequested, evaluate, info, keys_for, metric, value
from .outputs import CausalOutputs, RecOutputs, TextOutputs



def evaluate_module(name: str) -> str:
    """Path of xrbench's Hugging Face ``evaluate`` module ``name`` ("nlg4rs" or "standard"), for
    ``evaluate.load(path)``: the metrics load from a local file, with no hub access."""
    from pathlib import Path

    path = Path(__file__).parent / "evaluate_modules" / f"xrbench_{name}.py"
    if not path.is_file():
        from xrbench.errors import XRBenchError
        raise XRBenchError(f"no evaluate module '{name}'; there are: nlg4rs, standard")
    return str(path)


__all__ = ["evaluate_module", "Evaluated", "MetricInfo", "MetricValue", "NotApplicable", "NotRequested", "evaluate", "info", "keys_for",
           "metric", "value",
           "CausalOutputs", "RecOutputs", "TextOutputs"]

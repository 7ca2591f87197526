"""Metrics, keyed exactly as ``shared/spec/metrics.md`` names them. Importing this package registers them."""
# the import order is the column order of the leaderboards
from . import rating, ranking, bias, nlg4rs, conciseness, fidelity, fairness, causal  # noqa: F401,I001  (registration)
from .base import MetricInfo, MetricValue, NotApplicable, info, keys_for, lower_is_better, metric
from .outputs import OUTPUTS, CausalOutputs, RecOutputs, TextOutputs

__all__ = ["MetricInfo", "MetricValue", "NotApplicable", "info", "keys_for", "lower_is_better", "metric",
           "OUTPUTS", "CausalOutputs", "RecOutputs", "TextOutputs"]

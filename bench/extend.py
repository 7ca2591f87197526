"""The public API for extending xrbench: everything a plugin (a method, a metric or a whole task) needs.

- methods: subclass a task's protocol (:class:`Recommender`, :class:`Explainer`, :class:`CausalEstimator`)
  and ``@register(kind, name)`` it; ``fit`` gets a :class:`TrainView` (train and validation rows only; its
  ``references`` are the training reviews' reference explanations; ``view.fitted(name)`` shares a fit of
  another registered method), ``predict``/``explain`` get only (users, items);
- metrics: ``@metric(key, task=...)`` on a function of the task's outputs (:class:`RecOutputs`,
  :class:`TextOutputs`, :class:`CausalOutputs`) returning a float, a :class:`MetricValue` or per-unit
  statistics (:class:`Units`, whose finished sums are the value and whose resamples give the interval);
  raise :class:`NotApplicable` when its inputs are absent;
- tasks: subclass :class:`Task` with an :class:`Options` dataclass and an outputs class, return a
  :class:`TaskResult` from ``run``; :func:`split_and_view` gives the split, the sealed view and (for the
  scorer only) the split's reference explanations.
See README, "Extending xrbench".
"""
from __future__ import annotations

from .metrics import MetricValue, NotApplicable, metric, value
from .metrics.outputs import CausalOutputs, RecOutputs, TextOutputs
from .metrics.uncertainty import Units, ratio
from .protocols import CausalEstimator, Explainer, Explanation, Recommender
from .registry import register
from .tasks import Options, RunContext, Section, Task, TaskResult
from .tasks.base import split_and_view
from .view import TrainReferences, TrainView

__all__ = ["MetricValue", "NotApplicable", "metric", "value", "CausalOutputs", "RecOutputs", "TextOutputs", "Units",
           "ratio", "CausalEstimator", "Explainer", "Explanation", "Recommender", "register", "Options",
           "RunContext", "Section", "Task", "TaskResult", "split_and_view", "TrainReferences", "TrainView"]

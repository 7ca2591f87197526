"""``xrbench compare BASELINE NEW``: which results moved between two results folders (a CI regression check).

Records are matched by (dataset, task, method label, seed). For every metric both records have, the change
``new - old`` is a *regression* when it is worse (by the metric's direction) beyond the metric's tolerance
and, where the records carry paired bootstrap replicates on the same units, significant: the 95% percentile
interval of ``new_reps - old_reps`` excludes 0 on the worse side. Without replicates in both records, or when
the units differ, the tolerance alone decides and the row says "no paired test". An ok record that failed in
NEW is a regression; records of BASELINE missing from NEW fail the check unless ``--allow-missing``.
Records scored on different data (dataset file hash, split hash or generated-data hash) are not compared at
all: that is an error (exit 2). Different package or xrbench versions are only warned about.
"""
from __future__ import annotations

import binascii
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .errors import XRBenchError
from .metrics import uncertainty
from .records import RunRecord, iter_records

DEFAULT_TOLERANCE = 1e-9  # a deterministic rerun must match to this (absolute)
COST_METRICS = frozenset({"wall_s", "peak_rss_mb", "tokens_per_s"})  # measurements of the machine
TOLERANCES = {
    "bertscore_f": 1e-4,  # a neural encoder: its floats differ with CPU, BLAS and GPU kernels
}

Key = tuple[str, str, str, int]  # (dataset, task, method label, seed)


def is_cost(key: str) -> bool:
    """Cost metrics (time, memory, throughput) measure the machine: reported, never a regression."""
    from .metrics import info

    if key in COST_METRICS:
        return True
    try:
        return info(key).group == "cost"
    except XRBenchError:
        return False


def default_tolerance(key: str) -> float:
    """The absolute change of metric ``key`` that still counts as "unchanged": 1e-9 (a deterministic rerun
    must reproduce it), more where the metric depends on the machine's floating point (``TOLERANCES``), and 0
    for cost metrics, whose every change is reported (they are never regressions)."""
    if is_cost(key):
        return 0.0
    return TOLERANCES.get(key, DEFAULT_TOLERANCE)


def worse_sign(key: str) -> int:
    """+1 when an increase of ``key`` is worse (lower is better), -1 when a decrease is, 0 when the metric
    has no better side: cost metrics, signed gaps and descriptive columns (not rankable), metrics ranked by
    their distance from a target (``ci_coverage``), unknown keys."""
    from .metrics import info

    try:
        m = info(key)
    except XRBenchError:
        return 0
    if is_cost(key) or not m.rankable or m.target is not None:  # a target: both directions can be worse
        return 0
    return 1 if m.lower_is_better else -1


def replicates(rec: RunRecord) -> dict[str, tuple[str, Any]]:
    """key -> (units hash, replicates) of a record; empty when it has none (or they do not decode)."""
    try:
        return uncertainty.unpack(rec.bootstrap)
    except (KeyError, TypeError, ValueError, binascii.Error):
        return {}


def paired_interval(old: dict, new: dict, key: str) -> tuple[float, float] | str:
    """The 95% percentile interval of ``new_reps - old_reps`` for ``key`` (``old``, ``new``: the records'
    :func:`replicates`), or why there is no paired test. Replicates are paired (common random numbers) when
    both records resampled the same units (same units hash) with the same resample key (records matched by
    dataset and seed, on the same split, share it)."""
    a, b = old.get(key), new.get(key)
    if a is None or b is None:
        return "no paired test (no replicates in both records)"
    if a[0] != b[0] or len(a[1]) != len(b[1]):
        return "no paired test (scored on different units)"
    diff = b[1] - a[1]
    ci = uncertainty.percentile_interval(diff)
    if ci is None:
        return "no paired test (too few finite replicates)"
    if ci == (0.0, 0.0):  # the move is below the float32 replicates' resolution
        return "no paired test (change below the replicates' resolution)"
    return ci


def decide(change: float, tolerance: float, sign: int, ci: tuple[float, float] | str) -> str:
    """``regression``, ``improvement``, ``changed`` or ``unchanged`` for a metric that moved by ``change``.

    Within ``tolerance`` (absolute): unchanged. Beyond it: a metric without a better side (``sign`` 0) has
    changed; a better value is an improvement; a worse one is a regression when the paired interval ``ci``
    of (new - old) excludes 0 on the worse side, or when there is no paired test (``ci`` a reason string:
    the tolerance alone decides); a worse value whose interval includes 0 is a change within the noise."""
    if not abs(change) > tolerance:
        return "unchanged"
    if sign == 0:
        return "changed"
    if change * sign < 0:
        return "improvement"
    if isinstance(ci, str):
        return "regression"
    significant = ci[0] > 0 if sign > 0 else ci[1] < 0
    return "regression" if significant else "changed"


@dataclass
class Row:
    dataset: str
    task: str
    method: str
    seed: int
    metric: str
    baseline: Any
    new: Any
    change: float | None
    relative: float | None
    tolerance: float | None
    status: str
    test: str
    ci: list[float] | None = None


@dataclass
class Report:
    baseline: str
    new: str
    rows: list[Row] = field(default_factory=list)
    missing: list[Key] = field(default_factory=list)  # in BASELINE, not in NEW
    added: list[Key] = field(default_factory=list)  # in NEW only
    warnings: list[str] = field(default_factory=list)
    allow_missing: bool = False

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.rows)

    @property
    def exit_code(self) -> int:
        """1 when something regressed or (without --allow-missing) a baseline record is missing, else 0."""
        return int(self.count("regression") > 0 or (bool(self.missing) and not self.allow_missing))

    def summary(self) -> dict[str, Any]:
        out = {s: self.count(s) for s in ("regression", "improvement", "changed", "unchanged")}
        return {**out, "missing": len(self.missing), "added": len(self.added), "exit_code": self.exit_code}

    def to_json(self) -> dict[str, Any]:
        def key(k: Key) -> dict[str, Any]:
            return dict(zip(("dataset", "task", "method", "seed"), k))
        def row(r: Row) -> dict[str, Any]:  # JSON has no infinity: an infinite tolerance is "inf"
            return {k: ("inf" if isinstance(v, float) and math.isinf(v) else v) for k, v in asdict(r).items()}
        return {"baseline": self.baseline, "new": self.new, "rows": [row(r) for r in self.rows],
                "missing": [key(k) for k in self.missing], "added": [key(k) for k in self.added],
                "warnings": self.warnings, "summary": self.summary()}


def load_folder(folder: Path) -> dict[Key, tuple[Path, RunRecord]]:
    """Every record under ``folder`` by (dataset, task, method label, seed); XRBenchError when there is none
    or two records share a key."""
    out: dict[Key, tuple[Path, RunRecord]] = {}
    for path, rec in iter_records(Path(folder)):
        k = (rec.dataset, rec.task, rec.method_label, rec.seed)
        if k in out:
            raise XRBenchError(f"{out[k][0]} and {path}: two records of {rec.dataset} {rec.method_label} seed "
                               f"{rec.seed} in one folder; compare one results folder at a time")
        out[k] = (path, rec)
    if not out:
        raise XRBenchError(f"{folder}: no records (record.json) under this folder")
    return out


_DATA_HASHES = (("dataset file hash", ("dataset", "file_hash")), ("split hash", ("split", "hash")),
                ("generated data hash", ("generated_data_hash",)))


def _get(d: dict, path: Sequence[str]) -> Any:
    for p in path:
        d = d.get(p) if isinstance(d, dict) else None
    return d


def check_same_data(old: tuple[Path, RunRecord], new: tuple[Path, RunRecord]) -> None:
    """XRBenchError (one line naming both records) when the two runs used different data or splits."""
    for what, path in _DATA_HASHES:
        a, b = _get(old[1].provenance, path), _get(new[1].provenance, path)
        if a is not None and b is not None and a != b:
            raise XRBenchError(f"{old[0]} and {new[0]}: the {what} differs ({a} vs {b}): the runs used different "
                               "data, so their metrics are not comparable")


def version_warnings(pairs: list[tuple[RunRecord, RunRecord]]) -> list[str]:
    """One line per package (and xrbench itself) whose version differs between the matched records."""
    seen: dict[str, tuple[set, set]] = {}
    for old, new in pairs:
        for side, rec in ((0, old), (1, new)):
            pkgs = {**(rec.provenance.get("packages") or {}), "xrbench": rec.provenance.get("xrbench_version")}
            for name, v in pkgs.items():
                if v is not None:
                    seen.setdefault(name, (set(), set()))[side].add(str(v))
    return [f"{name} {', '.join(sorted(a))} in BASELINE, {', '.join(sorted(b))} in NEW: metrics may differ for "
            "that reason" for name, (a, b) in sorted(seen.items()) if a and b and a != b]


def compare(baseline: Path, new: Path, tolerances: dict[str, float] | None = None,
            allow_missing: bool = False) -> Report:
    """Compare every record of ``baseline`` with its match in ``new`` (see the module docstring)."""
    old_recs, new_recs = load_folder(Path(baseline)), load_folder(Path(new))
    check_tolerance_keys(tolerances or {}, [r for _, r in (*old_recs.values(), *new_recs.values())])
    report = Report(str(baseline), str(new), allow_missing=allow_missing)
    report.missing = sorted(k for k in old_recs if k not in new_recs)
    report.added = sorted(k for k in new_recs if k not in old_recs)
    both = sorted(k for k in old_recs if k in new_recs)
    for k in both:
        check_same_data(old_recs[k], new_recs[k])
    report.warnings = version_warnings([(old_recs[k][1], new_recs[k][1]) for k in both])
    for k in both:
        report.rows.extend(compare_records(k, old_recs[k][1], new_recs[k][1], tolerances or {}))
    return report


def compare_records(k: Key, old: RunRecord, new: RunRecord, tolerances: dict[str, float]) -> list[Row]:
    """The rows of one matched pair: its status when a run failed, else one row per metric."""
    if old.status != "ok" or new.status != "ok":
        status = {("ok", "failed"): "regression", ("failed", "ok"): "improvement"}.get((old.status, new.status),
                                                                                        "unchanged")
        why = (new.error or old.error or "").splitlines()[0][:120] if (new.error or old.error) else ""
        return [Row(*k, "status", old.status, new.status, None, None, None, status, why)]
    rows = []
    reps_old, reps_new = replicates(old), replicates(new)
    for key in [*old.metrics, *(m for m in new.metrics if m not in old.metrics)]:
        a, b = old.metrics.get(key), new.metrics.get(key)
        if a is None or b is None:
            side = "NEW" if b is None else "BASELINE"
            why = (new.skipped_metrics if b is None else old.skipped_metrics).get(key, "not computed")
            rows.append(Row(*k, key, a, b, None, None, None, "changed", f"not in {side} ({why})"))
            continue
        change = float(b) - float(a)
        tol = tolerances.get(key, default_tolerance(key))
        ci, sign = paired_interval(reps_old, reps_new, key), worse_sign(key)
        status = decide(change, tol, sign, ci)
        test = ci if isinstance(ci, str) else f"paired: 95% CI of the change [{ci[0]:.4g}, {ci[1]:.4g}]"
        if sign == 0:
            test = no_side_reason(key)
        rel = change / abs(a) if a else (0.0 if change == 0 else None)
        rows.append(Row(*k, key, a, b, change, rel, tol, status, test, None if isinstance(ci, str) else list(ci)))
    return rows


def no_side_reason(key: str) -> str:
    """Why a change of ``key`` is reported but never a regression (its :func:`worse_sign` is 0)."""
    from .metrics import info

    if is_cost(key):
        return "cost: measures the machine, never a regression"
    try:
        info(key)
    except XRBenchError:
        return "an unknown metric (load its --plugin): reported, never a regression"
    return "no better side (a signed gap or a descriptive column): reported, never a regression"


def check_tolerance_keys(tolerances: dict[str, float], records: list[RunRecord]) -> None:
    """XRBenchError for a tolerance of a metric that is neither registered nor in any record (a typo)."""
    from .metrics import info

    seen = {k for r in records for k in r.metrics}
    for key in tolerances:
        if key not in seen:
            try:
                info(key)
            except XRBenchError as exc:
                raise XRBenchError(f"--tolerance {key}: {exc}") from None


def parse_tolerances(items: Sequence[str] | None, file: str | None = None) -> dict[str, float]:
    """``metric -> absolute tolerance`` from a YAML file ``{metric: tolerance}`` and ``KEY=VALUE`` items
    (the command line wins). XRBenchError for anything that is not a number >= 0."""
    out: dict[str, float] = {}
    if file:
        from .specs import read_yaml_file

        data = read_yaml_file(Path(file))
        if not isinstance(data, dict):
            raise XRBenchError(f"{file}: a tolerance file is a mapping {{metric: tolerance}}, e.g. 'rmse: 0.005'")
        for k, v in data.items():
            out[str(k)] = _tolerance(v, f"{file}: {k}")
    for item in items or []:
        k, sep, v = item.partition("=")
        if not sep or not k.strip():
            raise XRBenchError(f"--tolerance expects METRIC=VALUE, got {item!r}")
        out[k.strip()] = _tolerance(v.strip(), f"--tolerance {k.strip()}")
    return out


def _tolerance(value: Any, where: str) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        x = float(value)
    except (TypeError, ValueError):
        raise XRBenchError(f"{where}: a tolerance is a number >= 0 (an absolute change), got {value!r}") from None
    if math.isnan(x) or x < 0:
        raise XRBenchError(f"{where}: a tolerance is a number >= 0 (an absolute change), got {value!r}")
    return x

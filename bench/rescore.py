"""``xrbench rescore``: recompute a results folder's metrics from the unit files saved beside each record,
and add metrics registered after the run (``--metrics k1,k2``, a plugin's included)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from . import tasks
from .metrics import info
from .records import RunRecord, iter_records, write_record
from .scoring import resample_key, score


def rescore(results_dir: Path, metrics: Sequence[str] = ()) -> int:
    """Rescore every ok record under ``results_dir`` (its keys, plus those of ``metrics`` that belong to
    its task); rewrite the records whose metrics, intervals or replicates changed; return how many."""
    added = [info(k) for k in metrics]  # unknown keys fail here, before anything is rewritten
    changed = 0
    for path, rec in iter_records(Path(results_dir)):
        if rec.status != "ok":
            continue
        keys = [*rec.metrics, *rec.skipped_metrics, *(m.key for m in added if m.task == rec.task)]
        outputs = tasks.get(rec.task).outputs.load(path.parent)
        protocol = (rec.provenance.get("split") or {}).get("protocol")
        s = score(rec.task, outputs, tuple(dict.fromkeys(keys)) or None, resample_key(rec.dataset, protocol, rec.seed))
        if (s.metrics != rec.metrics or s.bootstrap != rec.bootstrap or s.intervals != rec.intervals
                or s.skipped != rec.skipped_metrics):
            changed += 1
            write_record(path.parent, RunRecord(rec.dataset, rec.task, rec.method, rec.seed, rec.status, s.metrics,
                                                rec.provenance, rec.error, s.intervals, s.notes, s.skipped, rec.units,
                                                s.bootstrap))
    return changed

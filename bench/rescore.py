"""``xrbench rescore``: recompute a results folder's metrics from the unit files saved beside each record,
and add metrics registered after the run (``--metrics k1,k2``, a plugin's included)."""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Sequence

from . import tasks
from .errors import DataError
from .metrics import info
from .records import iter_records, write_record
from .scoring import resample_key, score


def rescore(results_dir: Path, metrics: Sequence[str] = (), skip_bad: bool = False) -> int:
    """Rescore every ok record under ``results_dir`` (its keys, plus those of ``metrics`` that belong to
    its task); rewrite the records whose metrics, intervals or replicates changed; return how many."""
    added = [info(k) for k in metrics]  # unknown keys fail here, before anything is rewritten
    changed = 0
    for path, rec in iter_records(Path(results_dir), skip_bad):
        if rec.status != "ok":
            continue
        keys = [*rec.metrics, *rec.skipped_metrics, *(m.key for m in added if m.task == rec.task)]
        try:
            outputs = tasks.get(rec.task).outputs.load(path.parent)
        except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:  # missing, truncated or edited unit files
            msg = f"{path.parent}: the unit files beside the record are unreadable ({type(exc).__name__}: {exc})"
            if not skip_bad:
                raise DataError(msg + "; rerun that run, or pass --skip-bad to leave it out with a warning") from None
            logging.getLogger("xrbench").warning("left out: %s", msg)
            continue
        protocol = (rec.provenance.get("split") or {}).get("protocol")
        s = score(rec.task, outputs, tuple(dict.fromkeys(keys)) or None, resample_key(rec.dataset, protocol, rec.seed))
        if (s.metrics != rec.metrics or s.bootstrap != rec.bootstrap or s.intervals != rec.intervals
                or s.skipped != rec.skipped_metrics):
            changed += 1
            write_record(path.parent, dataclasses.replace(rec, metrics=s.metrics, intervals=s.intervals,
                                                          metric_notes=s.notes, skipped_metrics=s.skipped,
                                                          bootstrap=s.bootstrap))
    return changed

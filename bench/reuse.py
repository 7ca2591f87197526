"""When a stored record may stand in for a run (``--overwrite never`` / ``failed``): only when it was made
by the same run. A record is reused when its dataset label, task, method name and label, fully resolved
params, task options, seed, the method's code (a plugin file's sha256, or the xrbench version of a built-in)
and the dataset file's hash all equal the spec's; otherwise the run is redone and the log says why. (The
split hash follows from the data hash, the split protocol in the options and the seed.)"""
from __future__ import annotations

import json
from typing import Any

from .records import RunRecord

#: the fields of ``provenance.method_source`` that identify the code (the module name of a plugin file
#: depends on where the file lies, so it is left out)
CODE_KEYS = ("class", "sha256", "package", "version", "xrbench")


def _norm(x: Any) -> Any:
    """A JSON round trip: tuples become lists, keys strings, as in a stored record."""
    return json.loads(json.dumps(x, sort_keys=True, default=str))


def stale_reason(rec: RunRecord, *, dataset: str, task: str, name: str, label: str, seed: int,
                 params: dict[str, Any], options: dict[str, Any], source: dict[str, Any],
                 data_hash: str | None, defaults: dict[str, Any] | None = None) -> str | None:
    """Why ``rec`` is not the record of this run (None when it is). A param the record does not have and this
    run leaves at the method's default (``defaults``) is one added since the record was written, whose default
    keeps the former behaviour (the rule for new params): it does not make the record stale."""
    prov = rec.provenance or {}
    have = rec.method.params if isinstance(rec.method.params, dict) else {}
    if defaults:
        params = {k: v for k, v in params.items()
                  if k in have or k not in defaults or _norm(v) != _norm(defaults[k])}
    checks = [
        ("dataset", rec.dataset, dataset), ("task", rec.task, task), ("method", rec.method.name, name),
        ("method label", rec.method_label, label), ("seed", rec.seed, seed),
        ("params", _norm(rec.method.params), _norm(params)),
        ("options", _norm(prov.get("options")), _norm(options)),
        ("method code", _norm({k: v for k, v in (prov.get("method_source") or {}).items() if k in CODE_KEYS}),
         _norm({k: v for k, v in source.items() if k in CODE_KEYS})),
    ]
    if data_hash is not None:
        checks.append(("data file hash", (prov.get("dataset") or {}).get("file_hash"), data_hash))
    for what, have, want in checks:
        if have != want:
            if what == "params" and isinstance(have, dict) and isinstance(want, dict):
                diff = [f"{k}: {have.get(k)!r} -> {want.get(k)!r}" for k in sorted(set(have) | set(want))
                        if have.get(k) != want.get(k)]
                return "its params differ (" + ", ".join(diff) + ")"
            if have is None:
                return f"it records no {what} (written by an older xrbench)"
            return f"its {what} differs ({_short(have)} -> {_short(want)})"
    return None


def _short(x: Any) -> str:
    s = json.dumps(x, sort_keys=True, default=str)
    return s if len(s) <= 80 else s[:77] + "..."

"""Causal fidelity of explanations (metrics.md): read from the intervention results the explain task
stores (``xrbench.fidelity``)."""
from __future__ import annotations

import numpy as np

from .base import NotApplicable, metric
from .outputs import TextOutputs
from .uncertainty import Units, ratio


HISTORY = "fidelity_history"


def _rows(out: TextOutputs, which: str = "fidelity") -> list[dict]:
    fid = out.extra.get(which)
    if not fid or not fid.get("rows"):
        if which == HISTORY:
            raise NotApplicable("no history-item intervention in this run (needs --fidelity and item titles)")
        raise NotApplicable("no causal-fidelity evaluation in this run (run with --fidelity)")
    return fid["rows"]


def _share(out: TextOutputs, key: str, which: str = "fidelity") -> float:
    return float(np.mean([bool(r[key]) for r in _rows(out, which)]))


def _units(key: str, minus: str | None = None, which: str = "fidelity"):
    """Per explained pair: 1[key] (minus 1[minus]), so intervals and paired tests resample pairs."""
    def units(out: TextOutputs) -> Units:
        rows = _rows(out, which)
        v = [float(bool(r[key])) - (float(bool(r[minus])) if minus else 0.0) for r in rows]
        return Units([f"{r['user']}|{r['item']}" for r in rows], np.column_stack([v, np.ones(len(v))]), ratio)
    return units


@metric("pn", task="explain", group="causal fidelity", units=_units("pn"))
def pn(out: TextOutputs) -> float:
    """`pn`: share of explained (u, i) in the user's top-K whose rank leaves the top-K after removing C."""
    return _share(out, "pn")


@metric("ps", task="explain", group="causal fidelity", units=_units("ps"))
def ps(out: TextOutputs) -> float:
    """`ps`: share that stay in the top-K when only C is kept of the item's attributes."""
    return _share(out, "ps")


@metric("fns", task="explain", group="causal fidelity")
def fns(out: TextOutputs) -> float:
    """`fns` = 2·pn·ps/(pn+ps)."""
    a, b = pn(out), ps(out)
    return 2 * a * b / (a + b) if a + b > 0 else 0.0


@metric("pn_lift", task="explain", group="causal fidelity", units=_units("pn", "pn_random"))
def pn_lift(out: TextOutputs) -> float:
    """`pn_lift` = pn(C) - pn(random C' of the same size drawn from the item's real attributes)."""
    return _share(out, "pn") - _share(out, "pn_random")


@metric("decorative_rate", task="explain", group="causal fidelity", lower_is_better=True)
def decorative_rate(out: TextOutputs) -> float:
    """`decorative_rate` (↓): share of single cited reasons whose removal changes the score by less than eps."""
    eps = out.extra["fidelity"]["config"]["eps"] if out.extra.get("fidelity") else 0.0
    moves = [m for r in _rows(out) for m in r["moves"]]
    if not moves:
        raise NotApplicable("the explanations cite no reasons")
    return float(np.mean([m < eps for m in moves]))


@metric("pn_global", task="explain", group="causal fidelity", units=_units("pn_global"))
def pn_global(out: TextOutputs) -> float:
    """`pn_global`: as `pn`, removing C from every candidate item (global intervention)."""
    return _share(out, "pn_global")


@metric("ps_global", task="explain", group="causal fidelity", units=_units("ps_global"))
def ps_global(out: TextOutputs) -> float:
    """`ps_global`: as `ps`, every candidate item keeping only its attributes in C (global intervention)."""
    return _share(out, "ps_global")


@metric("causal_precision", task="explain", group="causal fidelity")
def causal_precision(out: TextOutputs) -> float:
    """`causal_precision`: share of cited aspects whose estimated effect on the rating has a 95% interval
    above 0 (observational LinearDML effects of mentioning each aspect: xrbench.aspect_effects)."""
    effects = (out.extra.get("fidelity") or {}).get("aspect_effects")
    if not effects:
        raise NotApplicable("no aspect-effect estimates (needs review text and --fidelity)")
    positive = {r["aspect"] for r in effects if r["kind"] == "mention" and r["ci_low"] > 0}
    known = {r["aspect"] for r in effects if r["kind"] == "mention"}
    cited = [c for r in _rows(out) for c in r["cited"] if c in known]
    if not cited:
        raise NotApplicable("no cited reason is among the estimated aspects")
    return float(np.mean([c in positive for c in cited]))


# -- the neighbourhood recommender (item-knn): cited history items removed from the user's profile -------
@metric("pn_history", task="explain", group="causal fidelity (history items)", units=_units("pn", which=HISTORY))
def pn_history(out: TextOutputs) -> float:
    """`pn_history`: as `pn` for item-knn, C = the cited items of the user's history, removed from the profile."""
    return _share(out, "pn", HISTORY)


@metric("ps_history", task="explain", group="causal fidelity (history items)", units=_units("ps", which=HISTORY))
def ps_history(out: TextOutputs) -> float:
    """`ps_history`: as `ps` for item-knn: the target stays in the top-K when the profile is only C."""
    return _share(out, "ps", HISTORY)


@metric("fns_history", task="explain", group="causal fidelity (history items)")
def fns_history(out: TextOutputs) -> float:
    """`fns_history` = 2·pn·ps/(pn+ps) of the history intervention."""
    a, b = pn_history(out), ps_history(out)
    return 2 * a * b / (a + b) if a + b > 0 else 0.0


@metric("pn_lift_history", task="explain", group="causal fidelity (history items)",
        units=_units("pn", "pn_random", which=HISTORY))
def pn_lift_history(out: TextOutputs) -> float:
    """`pn_lift_history` = pn(C) - pn(random C' of the same size from the target's neighbours in the history)."""
    return _share(out, "pn", HISTORY) - _share(out, "pn_random", HISTORY)

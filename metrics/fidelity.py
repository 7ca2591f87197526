"""Causal fidelity of explanations (metrics.md): read from the intervention results the explain task
stores (``xrbench.fidelity``)."""
from __future__ import annotations

import numpy as np

from .base import NotApplicable, metric, value
from .outputs import TextOutputs
from .uncertainty import Units, ratio


HISTORY = "fidelity_history"


def _rows(out: TextOutputs, which: str = "fidelity") -> list[dict]:
    fid = getattr(out, which)
    if fid is None or not fid.rows:
        if which == HISTORY:
            raise NotApplicable("no history-item intervention in this run (needs --fidelity and item titles)")
        raise NotApplicable("no causal-fidelity evaluation in this run (run with --fidelity)")
    return fid.rows


def _units(out: TextOutputs, key: str, minus: str | None = None, which: str = "fidelity") -> Units:
    """Per explained pair: 1[key] (minus 1[minus]), so intervals and paired tests resample pairs."""
    rows = _rows(out, which)
    v = [float(bool(r[key])) - (float(bool(r[minus])) if minus else 0.0) for r in rows]
    return Units([f"{r['user']}|{r['item']}" for r in rows], np.column_stack([v, np.ones(len(v))]), ratio)


def _fns(pn: float, ps: float) -> float:
    return 2 * pn * ps / (pn + ps) if pn + ps > 0 else 0.0


@metric("pn", task="explain", group="causal fidelity")
def pn(out: TextOutputs) -> Units:
    """`pn`: share of explained (u, i) in the user's top-K whose rank leaves the top-K after removing C."""
    return _units(out, "pn")


@metric("ps", task="explain", group="causal fidelity")
def ps(out: TextOutputs) -> Units:
    """`ps`: share that stay in the top-K when only C is kept of the item's attributes."""
    return _units(out, "ps")


@metric("fns", task="explain", group="causal fidelity")
def fns(out: TextOutputs) -> float:
    """`fns` = 2·pn·ps/(pn+ps)."""
    return _fns(value("pn", out), value("ps", out))


@metric("pn_lift", task="explain", group="causal fidelity")
def pn_lift(out: TextOutputs) -> Units:
    """`pn_lift` = pn(C) - pn(random C' of the same size drawn from the item's real attributes)."""
    return _units(out, "pn", "pn_random")


@metric("decorative_rate", task="explain", group="causal fidelity", lower_is_better=True)
def decorative_rate(out: TextOutputs) -> float:
    """`decorative_rate` (↓): share of single cited reasons whose removal changes the score by less than eps."""
    eps = out.fidelity.config["eps"] if out.fidelity else 0.0
    moves = [m for r in _rows(out) for m in r["moves"]]
    if not moves:
        raise NotApplicable("the explanations cite no reasons")
    return float(np.mean([m < eps for m in moves]))


@metric("pn_global", task="explain", group="causal fidelity")
def pn_global(out: TextOutputs) -> Units:
    """`pn_global`: as `pn`, removing C from every candidate item (global intervention)."""
    return _units(out, "pn_global")


@metric("ps_global", task="explain", group="causal fidelity")
def ps_global(out: TextOutputs) -> Units:
    """`ps_global`: as `ps`, every candidate item keeping only its attributes in C (global intervention)."""
    return _units(out, "ps_global")


@metric("causal_precision", task="explain", group="causal fidelity")
def causal_precision(out: TextOutputs) -> float:
    """`causal_precision`: share of cited aspects whose estimated effect on the rating has a 95% interval
    above 0 (observational LinearDML effects of mentioning each aspect: xrbench.aspect_effects)."""
    effects = out.fidelity.aspect_effects if out.fidelity else None
    if not effects:
        raise NotApplicable("no aspect-effect estimates (needs review text and --fidelity)")
    positive = {r["aspect"] for r in effects if r["kind"] == "mention" and r["ci_low"] > 0}
    known = {r["aspect"] for r in effects if r["kind"] == "mention"}
    cited = [c for r in _rows(out) for c in r["cited"] if c in known]
    if not cited:
        raise NotApplicable("no cited reason is among the estimated aspects")
    return float(np.mean([c in positive for c in cited]))


# -- the neighbourhood recommender (item-knn): cited history items removed from the user's profile -------
@metric("pn_history", task="explain", group="causal fidelity (history items)")
def pn_history(out: TextOutputs) -> Units:
    """`pn_history`: as `pn` for item-knn, C = the cited items of the user's history, removed from the profile."""
    return _units(out, "pn", which=HISTORY)


@metric("ps_history", task="explain", group="causal fidelity (history items)")
def ps_history(out: TextOutputs) -> Units:
    """`ps_history`: as `ps` for item-knn: the target stays in the top-K when the profile is only C."""
    return _units(out, "ps", which=HISTORY)


@metric("fns_history", task="explain", group="causal fidelity (history items)")
def fns_history(out: TextOutputs) -> float:
    """`fns_history` = 2·pn·ps/(pn+ps) of the history intervention."""
    return _fns(value("pn_history", out), value("ps_history", out))


@metric("pn_lift_history", task="explain", group="causal fidelity (history items)")
def pn_lift_history(out: TextOutputs) -> Units:
    """`pn_lift_history` = pn(C) - pn(random C' of the same size from the target's neighbours in the history)."""
    return _units(out, "pn", "pn_random", HISTORY)

"""Causal fidelity of explanations (metrics.md): read from the intervention results the explain task
stores (``xrbench.fidelity``)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .base import NotApplicable, metric, value
from .outputs import TextOutputs
from .uncertainty import Units, ratio


HISTORY = "fidelity_history"
NO_REASON = "no explanation cites a reason mapped to the recommender's inputs (the no_reason_rate column)"


def _rows(out: TextOutputs, which: str = "fidelity") -> list[dict]:
    fid = getattr(out, which)
    if fid is None or not fid.rows:
        if which == HISTORY:
            raise NotApplicable("no history-item intervention in this run (needs --fidelity and item titles)")
        raise NotApplicable("no causal-fidelity evaluation in this run (run with --fidelity)")
    return fid.rows


def _units(out: TextOutputs, key: str, minus: str | None = None, which: str = "fidelity",
           keep: Callable[[dict], bool] | None = None, note: str | None = None) -> Units:
    """Per explained pair: (1[key] (minus 1[minus]), 1) — or, with ``keep``, both columns times 1[keep(row)],
    a ratio over the kept rows. Every explained pair stays a unit, so explainers (explaining the same pairs)
    are resampled and paired on the same units even when they keep different rows."""
    rows = _rows(out, which)
    w = np.array([float(keep(r)) if keep else 1.0 for r in rows])
    v = np.array([float(bool(r[key])) - (float(bool(r[minus])) if minus else 0.0) for r in rows]) * w
    return Units([f"{r['user']}|{r['item']}" for r in rows], np.column_stack([v, w]), ratio, note)


def _kept_note(rows: list[dict], keep: Callable[[dict], bool], what: str) -> str | None:
    n = sum(1 for r in rows if keep(r))
    return None if n == len(rows) else f"over the {n} of {len(rows)} explanations {what}"


def _cites(r: dict) -> bool:
    return bool(r["mapped"])


def _sufficiency(out: TextOutputs, key: str, which: str = "fidelity") -> Units:
    """Sufficiency over the explanations citing at least one reason mapped to the recommender's inputs
    (keeping "nothing" is not a reason; the share citing nothing is ``no_reason_rate``)."""
    rows = _rows(out, which)
    if not any(map(_cites, rows)):
        raise NotApplicable(NO_REASON)
    return _units(out, key, which=which, keep=_cites, note=_kept_note(rows, _cites, "citing a mapped reason"))


def _drawable(r: dict) -> bool:
    return bool(r["mapped"]) and r["pn_random"] is not None


def _lift(out: TextOutputs, which: str = "fidelity") -> Units:
    """pn(C) - pn(C') with C' drawn from the inputs that were not cited, over the rows where such a C' exists."""
    rows = _rows(out, which)
    if int((getattr(out, which).config or {}).get("protocol", 1)) < 2:
        raise NotApplicable("fidelity rows of an older protocol (the random set could include the cited "
                            "reasons); rerun the explain task with --fidelity")
    if not any(map(_cites, rows)):
        raise NotApplicable(NO_REASON)
    if not any(map(_drawable, rows)):
        raise NotApplicable("every explanation cites all (or most) of its item's inputs: no explanation leaves enough uncited inputs for a same-size random set")
    return _units(out, "pn", "pn_random", which, _drawable,
                  _kept_note(rows, _drawable, "with at least |C| uncited inputs to draw from"))


def _no_reason(out: TextOutputs, which: str = "fidelity") -> Units:
    rows = _rows(out, which)
    v = [float(not r["mapped"]) for r in rows]
    return Units([f"{r['user']}|{r['item']}" for r in rows], np.column_stack([v, np.ones(len(v))]), ratio)


def _fns(pn: float, ps: float) -> float:
    return 2 * pn * ps / (pn + ps) if pn + ps > 0 else 0.0


# -- CountER's evaluation (global intervention): the columns comparable with the literature come first ----
@metric("pn_global", task="explain", group="causal fidelity")
def pn_global(out: TextOutputs) -> Units:
    """`pn_global` (CountER's PN): share of explained (u, i) in the user's top-K that leave the top-K when the
    cited reasons C are removed from every candidate item; an explanation citing nothing counts as 0."""
    return _units(out, "pn_global")


@metric("ps_global", task="explain", group="causal fidelity")
def ps_global(out: TextOutputs) -> Units:
    """`ps_global` (CountER's PS): share that stay in the top-K when every candidate keeps only its
    attributes in C; over the explanations citing at least one mapped reason."""
    return _sufficiency(out, "ps_global")


@metric("fns_global", task="explain", group="causal fidelity")
def fns_global(out: TextOutputs) -> float:
    """`fns_global` = 2·pn_global·ps_global/(pn_global+ps_global) (CountER's F_NS)."""
    return _fns(value("pn_global", out), value("ps_global", out))


# -- local intervention: only the target item changes ---------------------------------------------------
@metric("pn", task="explain", group="causal fidelity")
def pn(out: TextOutputs) -> Units:
    """`pn`: share of explained (u, i) in the user's top-K whose rank leaves the top-K after removing C from
    the target item only; an explanation citing nothing counts as 0."""
    return _units(out, "pn")


@metric("ps", task="explain", group="causal fidelity")
def ps(out: TextOutputs) -> Units:
    """`ps`: share that stay in the top-K when only C is kept of the target item's attributes; over the
    explanations citing at least one mapped reason."""
    return _sufficiency(out, "ps")


@metric("fns", task="explain", group="causal fidelity")
def fns(out: TextOutputs) -> float:
    """`fns` = 2·pn·ps/(pn+ps)."""
    return _fns(value("pn", out), value("ps", out))


@metric("pn_lift", task="explain", group="causal fidelity")
def pn_lift(out: TextOutputs) -> Units:
    """`pn_lift` = pn(C) - pn(C'), C' a random set of the same size drawn from the item's attributes that
    were not cited; over the explanations whose item has at least |C| of them."""
    return _lift(out)


@metric("no_reason_rate", task="explain", group="causal fidelity", lower_is_better=True)
def no_reason_rate(out: TextOutputs) -> Units:
    """`no_reason_rate` (↓): share of explanations whose cited reasons map to none of the item's attributes."""
    return _no_reason(out)


@metric("decorative_rate", task="explain", group="causal fidelity", lower_is_better=True)
def decorative_rate(out: TextOutputs) -> float:
    """`decorative_rate` (↓): share of single cited reasons whose removal changes the score by less than eps."""
    eps = out.fidelity.config["eps"] if out.fidelity else 0.0
    moves = [m for r in _rows(out) for m in r["moves"]]
    if not moves:
        raise NotApplicable("the explanations cite no reasons")
    return float(np.mean([m < eps for m in moves]))


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
    """`ps_history`: as `ps` for item-knn: the target stays in the top-K when the profile is only C; over the
    explanations citing at least one history item."""
    return _sufficiency(out, "ps", HISTORY)


@metric("fns_history", task="explain", group="causal fidelity (history items)")
def fns_history(out: TextOutputs) -> float:
    """`fns_history` = 2·pn·ps/(pn+ps) of the history intervention."""
    return _fns(value("pn_history", out), value("ps_history", out))


@metric("pn_lift_history", task="explain", group="causal fidelity (history items)")
def pn_lift_history(out: TextOutputs) -> Units:
    """`pn_lift_history` = pn(C) - pn(C'), C' a random set of the same size from the target's neighbours in
    the history that were not cited."""
    return _lift(out, HISTORY)


@metric("no_reason_rate_history", task="explain", group="causal fidelity (history items)", lower_is_better=True)
def no_reason_rate_history(out: TextOutputs) -> Units:
    """`no_reason_rate_history` (↓): share of explanations citing none of the history items the target's
    score depends on."""
    return _no_reason(out, HISTORY)

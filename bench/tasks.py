"""How each method kind is run on its data, producing the task's outputs (see xrbench.metrics.outputs)."""
from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from .data.schema import Dataset
from .data.semisynth import CausalProblem
from .data.split import make_split
from .metrics.outputs import CausalOutputs, RecOutputs, TextOutputs
from .protocols import CausalEstimator, Explainer, Recommender
from .references import references
from .specs import RunSpec
from .view import TrainView


def _user_groups(view: TrainView, users: list[str]) -> dict[str, dict[str, Any]]:
    table = view.dataset.users
    out: dict[str, dict[str, Any]] = {}
    for u in users:
        g: dict[str, Any] = {}
        if "gender" in table and u in table.index:
            g["gender"] = str(table.at[u, "gender"])
        if "age" in table and u in table.index:
            g["age_group"] = "<25" if float(table.at[u, "age"]) < 25 else ">=25"
        out[u] = g
    return out


def run_recommend(model: Recommender, ds: Dataset, spec: RunSpec, device: str) -> tuple[RecOutputs, dict[str, Any]]:
    split = make_split(ds, spec.split, spec.seed)
    view = TrainView(ds, split, spec.seed, device)
    model.bind(view)
    model.fit(view)
    test = view.test_pairs()
    uidx, iidx = test["uidx"].to_numpy(), test["iidx"].to_numpy()
    preds = np.asarray(model.predict(uidx, iidx), dtype=float) if model.predicts_ratings else None
    eval_users = np.unique(uidx)
    top = model.rank(eval_users, spec.k, exclude_seen=True)
    uid, iid = view.user_ids, view.item_ids
    counts = view.train_item_counts
    topk = {str(uid[u]): [str(iid[i]) for i in row] for u, row in zip(eval_users, top)}
    profile_pop = {str(uid[u]): float(counts[view.seen[u]].mean()) if len(view.seen[u]) else 0.0
                   for u in eval_users}
    out = RecOutputs(test["user"].to_numpy(str), test["item"].to_numpy(str), test["rating"].to_numpy(float), preds,
                     ds.rating_min, ds.rating_max, topk, {str(i): int(c) for i, c in zip(iid, counts)}, profile_pop,
                     _user_groups(view, list(topk)), spec.k, spec.seed)
    return out, {"split": split}


def run_explain(model: Explainer, ds: Dataset, spec: RunSpec, device: str) -> tuple[TextOutputs, dict[str, Any]]:
    from .provenance import peak_rss_mb

    t_run = time.perf_counter()
    split = make_split(ds, spec.split, spec.seed)
    view = TrainView(ds, split, spec.seed, device)
    refs = references(ds, split)
    rows = split.test
    if refs is not None:  # only pairs whose review yields a reference explanation (the NLG4RS protocol)
        rows = np.array([r for r in rows if int(r) in refs.by_row], dtype=np.int64)
    if spec.sample is not None and len(rows) > spec.sample:
        rows = np.sort(np.random.default_rng(spec.seed).choice(rows, spec.sample, replace=False))
    inter = ds.interactions.iloc[rows]
    users = [view.user_index[u] for u in inter["user"]]
    items = [view.item_index[i] for i in inter["item"]]
    model.bind(view)
    model.fit(view)
    t0 = time.perf_counter()
    expl = model.explain(users, items)
    # counterfactual swaps of the user's stated gender / age group (explainers whose prompts state them)
    swaps: dict[str, dict[str, list]] = {}
    if hasattr(model, "explain_swapped"):
        for attribute in ("gender", "age"):
            swapped = model.explain_swapped(users, items, attribute)
            if swapped is not None:
                swaps[attribute] = {"texts": [e.text for e in swapped], "reasons": [list(e.reasons) for e in swapped]}
    fid = _fidelity(model, view, spec) if spec.fidelity else {}
    gen_s = time.perf_counter() - t0
    tup = [refs.by_row[int(r)] if refs is not None else None for r in rows]
    out = TextOutputs(inter["user"].astype(str).tolist(), inter["item"].astype(str).tolist(),
                      [e.text for e in expl], [t.sentence if t else None for t in tup],
                      [list(e.reasons) for e in expl], [t.feature if t else None for t in tup],
                      list(refs.vocabulary) if refs is not None else None, False, spec.seed,
                      {"explain_s": gen_s, "pairs": len(rows), "wall_s": round(time.perf_counter() - t_run, 3),
                       "peak_rss_mb": peak_rss_mb(), **(model.run_info() if hasattr(model, "run_info") else {}),
                       **({"swap": swaps} if swaps else {}), **fid})
    return out, {"split": split}


def _fidelity(model: Explainer, view: TrainView, spec: RunSpec) -> dict[str, Any]:
    """Score the explainer's faithfulness on ``spec.fidelity`` sampled users by intervening on recommenders
    fitted once per dataset, split and seed: ``attr-mf`` (cited attributes removed) and, where items have
    titles an explanation can cite, ``item-knn`` (cited history items removed from the user's profile)."""
    from . import fidelity
    from .baselines.attr_mf import AttrMF
    from .baselines.recommenders import ItemKNN

    users = fidelity.sample_users(view, spec.fidelity, spec.seed)
    cfg = fidelity.FidelityConfig(k=spec.k)
    caps = view.dataset.capabilities()
    out = {"fidelity": fidelity.evaluate(AttrMF.shared(view), model, view, users, cfg)}
    if "text" in caps:  # the observational reference of causal_precision
        from . import aspect_effects
        out["fidelity"]["aspect_effects"] = aspect_effects.cached(view)
    if "item_titles" in caps:
        iv = fidelity.HistoryIntervention(ItemKNN.shared(view), view.item_titles)
        out["fidelity_history"] = fidelity.evaluate(iv, model, view, users, cfg)
    return out


def run_estimate(model: CausalEstimator, problem: CausalProblem, spec: RunSpec,
                 device: str) -> tuple[CausalOutputs, dict[str, Any]]:
    rep = problem.replication(spec.seed)
    model.fit(rep.X_train, rep.T_train, rep.Y_train, spec.seed)
    tau_hat = np.asarray(model.effect(rep.X_eval), dtype=float).reshape(-1)
    ci = model.ate_interval(rep.X_eval)
    # Placebo: the same estimator refitted with the treatment permuted (on a 2,000-row subsample of the
    # estimation part, to bound its cost); its ATE should be near 0.
    rng = np.random.default_rng(spec.seed + 10_000)
    sub = rng.choice(len(rep.T_train), min(2000, len(rep.T_train)), replace=False)
    placebo = type(model)(**model.params)
    with warnings.catch_warnings():  # only the point estimate is used: EconML's inference warnings do not apply
        warnings.simplefilter("ignore")
        placebo.fit(rep.X_train[sub], rng.permutation(rep.T_train[sub]), rep.Y_train[sub], spec.seed)
        placebo_ate = float(np.mean(placebo.effect(rep.X_eval)))
    y_res, t_res = problem.residuals(rep, spec.seed)
    out = CausalOutputs(tau_hat, rep.tau_eval, ci, spec.seed,
                        {"spec_version": "v1", "gamma": problem.gamma, "variant": problem.variant,
                         "placebo_ate": placebo_ate, "placebo_rows": int(len(sub))}, y_res, t_res)
    return out, {"data_hash": rep.data_hash}


RUNNERS = {"recommend": run_recommend, "explain": run_explain, "estimate": run_estimate}

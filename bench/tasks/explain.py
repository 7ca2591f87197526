"""The explain task: fit an explainer on the train split and explain sampled test pairs; the scorer alone
reads their reference explanations. With ``fidelity`` > 0, one top-K item of that many users is explained
and the reference recommenders named in the options are intervened on (``xrbench.fidelity``)."""
from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data.schema import Dataset
from ..data.split import PROTOCOLS
from ..metrics.outputs import ExplainCost, FidelityResult, Swap, TextOutputs
from ..protocols import Explainer
from ..registry import register
from ..view import TrainView
from .base import Options, RunContext, Section, Task, TaskResult, option, split_and_view

log = logging.getLogger("xrbench")

#: the columns of the backbone comparison table
BACKBONE_KEYS = ("bleu4", "rougeL_f", "bertscore_f", "usr", "fmr", "len_mean", "tokens_per_s", "wall_s",
                 "peak_rss_mb")


@dataclass(frozen=True, kw_only=True)
class ExplainOptions(Options):
    split: str = option("random", choices=PROTOCOLS)  # random | leave-last-out | predefined | kfold
    folds: int = option(5, ge=2, le=100)  # kfold: the number of folds (seed s is fold s mod folds)
    k: int = option(10, ge=1)  # the top-K list the fidelity metrics intervene on
    sample: int | None = option(500, ge=1)  # test pairs explained per run (None: every pair with a reference)
    fidelity: int = option(0, ge=0)  # users whose top-K explanation is intervened on (0: no causal-fidelity evaluation)
    # recommender whose item attributes are removed (pn, ps, ...)
    attribute_model: str = option("attr-mf", registered="recommender")
    # recommender whose history items are removed (pn_history, ...)
    history_model: str = option("item-knn", registered="recommender")


def _test_rows(ds: Dataset, split: Any, refs: Any, options: ExplainOptions, seed: int) -> np.ndarray:
    rows = split.test
    if refs is not None:  # only pairs whose review yields a reference explanation (the NLG4RS protocol)
        rows = np.array([r for r in rows if int(r) in refs.by_row], dtype=np.int64)
    if options.sample is not None and len(rows) > options.sample:
        rows = np.sort(np.random.default_rng(seed).choice(rows, options.sample, replace=False))
    return rows


def _swaps(model: Explainer, users: list[int], items: list[int]) -> dict[str, Swap]:
    """Counterfactual swaps of the user's stated gender / age group (explainers whose prompts state them)."""
    out: dict[str, Swap] = {}
    if hasattr(model, "explain_swapped"):
        for attribute in ("gender", "age"):
            swapped = model.explain_swapped(users, items, attribute)
            if swapped is not None:
                out[attribute] = Swap([e.text for e in swapped], [list(e.reasons) for e in swapped])
    return out


def _fidelity(model: Explainer, view: TrainView, test_users: np.ndarray,
              options: ExplainOptions) -> tuple[FidelityResult | None, FidelityResult | None]:
    """Intervene on ``options.attribute_model`` (cited attributes removed) and, where items have titles an
    explanation can cite, ``options.history_model`` (cited history items removed from the user's
    profile): both resolved through the registry and fitted once per view."""
    from .. import fidelity

    users = fidelity.sample_users(test_users, options.fidelity, view.seed)
    cfg = fidelity.FidelityConfig(k=options.k, users=options.fidelity)
    attr = fidelity.evaluate(view.fitted(options.attribute_model), model, view, users, cfg)
    effects = None
    if "text" in view.capabilities:  # the observational reference of causal_precision
        from .. import aspect_effects
        effects = aspect_effects.cached(view)
    hist = None
    if "item_titles" in view.capabilities:
        iv = fidelity.HistoryIntervention(view.fitted(options.history_model), view.item_titles)
        hist = FidelityResult.from_dict(fidelity.evaluate(iv, model, view, users, cfg))
    return FidelityResult.from_dict({**attr, "aspect_effects": effects}), hist


@register("task", "explain")
class ExplainTask(Task):
    name = "explain"
    title = "Explanation"
    method_kind = "explainer"
    protocol = Explainer
    options = ExplainOptions
    outputs = TextOutputs
    order = 1
    plot_axes = ("len_mean", "bleu4")

    def run(self, model: Explainer, data: Dataset, options: ExplainOptions, ctx: RunContext) -> TaskResult:
        from ..provenance import peak_rss_mb

        t_run = time.perf_counter()
        split, view, refs = split_and_view(data, options.split, ctx, options.folds)
        rows = _test_rows(data, split, refs, options, ctx.seed)
        inter = data.interactions.iloc[rows]
        users = [view.user_index[u] for u in inter["user"]]
        items = [view.item_index[i] for i in inter["item"]]
        model.bind(view)
        model.fit(view)
        t0 = time.perf_counter()
        tup = [refs.by_row[int(r)] if refs is not None else None for r in rows]
        oracle = bool(getattr(model, "oracle_feature", False))
        if oracle:  # e.g. peter+: the paper's setting, given each test reference's feature (marked on the board)
            model.set_reference_features(users, items, [t.feature if t else None for t in tup])
        expl = model.explain(users, items)
        swaps = _swaps(model, users, items)
        fid, hist = (None, None)
        if options.fidelity and oracle:  # it explains only pairs whose reference feature it is given
            log.info("%s: no causal-fidelity evaluation (it needs each pair's reference feature, which the "
                     "fidelity interventions' top-K items do not have)", type(model).__name__)
        elif options.fidelity:
            test_users = data.interactions["user"].iloc[split.test].map(view.user_index).to_numpy()
            fid, hist = _fidelity(model, view, test_users, options)
        info = dict(model.run_info()) if hasattr(model, "run_info") else {}
        cost = ExplainCost(time.perf_counter() - t0, round(time.perf_counter() - t_run, 3), peak_rss_mb(), len(rows),
                           info.get("tokens_per_s"))
        out = TextOutputs(inter["user"].astype(str).tolist(), inter["item"].astype(str).tolist(),
                          [e.text for e in expl], [t.sentence if t else None for t in tup],
                          [list(e.reasons) for e in expl], [t.feature if t else None for t in tup],
                          list(refs.vocabulary) if refs is not None else None, False, ctx.seed, cost, swaps, fid, hist)
        prov: dict[str, Any] = {"explain_s": cost.explain_s, "pairs": cost.pairs, "wall_s": cost.wall_s,
                                "peak_rss_mb": cost.peak_rss_mb, **info}
        if oracle:
            prov["oracle_feature"] = True
        for key, res in (("fidelity", fid), ("fidelity_history", hist)):
            if res is not None:
                prov[key] = {"config": res.config, "pairs": res.pairs}
        return TaskResult(out, split, {"sample": options.sample, "explain": prov})

    def board_sections(self, board: Any, records: list[Any]) -> list[Section]:
        rows = backbone_rows(records)
        if not rows:
            return []
        from ..leaderboard import cell_text, header

        keys = [k for k in BACKBONE_KEYS if k in board.keys]
        body = []
        for r in rows:
            same = all(o["pairs"] == r["pairs"] for o in rows if o["explainer"] == r["explainer"])
            body.append([r["explainer"], r["backbone"], *(cell_text(board, r["method"], k)[0] for k in keys),
                         "—" if r["batch_size"] is None else str(r["batch_size"]), "yes" if same else "no"])
        return [Section("backbone comparison", ["explainer", "backbone", *map(header, keys), "batch", "same pairs"],
                        body, "same explainer, prompt content and pairs; peak_rss_mb is the run's own peak "
                              "(high-water mark reset at its start, earlier backbones released), tokens_per_s the "
                              "median over its timed batches")]

    def unranked_methods(self, records: list[Any]) -> set[str]:
        return oracle_rows(records)

    def board_notes(self, board: Any, records: list[Any]) -> list[str]:
        """How the cost columns were measured, with the machine's load while the runs went (a busy machine
        slows every cost column); which rows were given the test reference's feature; which were trained here."""
        notes = oracle_notes(records)
        if not {"wall_s", "tokens_per_s", "peak_rss_mb"} & set(board.keys):
            return notes
        loads = [x for r in records for k in ("load_avg_start", "load_avg_end")
                 for x in [((r.provenance or {}).get(k) or [None])[0]] if x is not None]
        cpus = {(r.provenance or {}).get("cpu_count") for r in records} - {None}
        scopes = {(r.provenance or {}).get("peak_rss_scope", "process") for r in records}
        text = ("cost: tokens_per_s = median over each run's timed batches (≥ 3 passes); peak_rss_mb = "
                + ("the run's own peak (high-water mark reset at its start; one backbone in memory at a time)"
                   if scopes == {"run"} else "the process's peak so far for some runs (recorded before xrbench "
                   "measured each run's own peak): not comparable between runs"))
        if loads:
            text += (f"; 1-min load average {min(loads):.2f}–{max(loads):.2f} during the runs"
                     + (f" on {', '.join(map(str, sorted(cpus)))} CPUs" if cpus else ""))
        return notes + [text]


def oracle_rows(records: list[Any]) -> set[str]:
    """The rows given each test pair's reference feature (PETER+'s setting)."""
    return {r.method_label for r in records if r.status == "ok"
            and ((r.provenance or {}).get("explain") or {}).get("oracle_feature")}


def oracle_notes(records: list[Any]) -> list[str]:
    """A note naming the rows given each test pair's reference feature (PETER+'s setting) and the rows trained
    inside the harness (epochs, early stop, weights' hash in the record)."""
    oracle = sorted(oracle_rows(records))
    trained = sorted({r.method_label for r in records if r.status == "ok" and (r.provenance or {}).get("training")})
    out = []
    if oracle:
        out.append(f"given the ground-truth feature: {', '.join(oracle)} — each test pair's reference feature is an "
                   "input (PETER+'s setting in the paper), so FMR/FCR and text scores of these rows are not comparable "
                   "with the other rows': they are not ranked, marked or tested against")
    if trained:
        out.append(f"trained here: {', '.join(trained)} (on each seed's training rows, validated on its validation "
                   "rows, early-stopped within its epoch budget; epochs, why it stopped, losses and the weights' sha256 "
                   "in each record's provenance.training, learning curves on the HTML page)")
    return out


def backbone_rows(records: list[Any]) -> list[dict[str, Any]]:
    """Explainers run on two or more backbones with otherwise equal settings: one row per backbone."""
    by: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for r in records:
        params = dict(r.method.params or {})
        if r.status != "ok" or "backbone" not in params:
            continue
        # the label names the non-default parameters: drop the backbone and the batch size from it
        label = r.method_label
        inner = label[len(r.method.name) + 1:-1].split(",") if label.endswith("]") else []
        rest = [p for p in inner if not p.startswith(("backbone=", "batch_size="))]
        base = r.method.name + (f"[{','.join(rest)}]" if rest else "")
        by[(base, str(params["backbone"]))].append(r)
    rows = []
    for (base, bb), rs in sorted(by.items()):
        if sum(1 for (b, _) in by if b == base) < 2:
            continue
        pairs = ",".join(sorted({str((r.bootstrap.get("units") or {}).get("bleu4", "?")) for r in rs}))
        rows.append({"explainer": base, "backbone": bb, "method": rs[0].method_label,
                     "batch_size": (rs[0].method.params or {}).get("batch_size"), "pairs": pairs})
    return rows

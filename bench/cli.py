"""The ``xrbench`` command: a thin layer over the Python API.

Every user error ends in one line ``xrbench: error: ...`` on stderr and exit status 2, no traceback.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, NoReturn, Sequence

from .errors import XRBenchError

log = logging.getLogger("xrbench")


def _params(values: Sequence[str] | None, flag: str = "--param") -> dict[str, Any]:
    """``KEY=VALUE`` strings, each value read as the user means it (``64`` an int, ``1e-3`` a float, ``true`` a
    bool, ``[a, b]`` a list, else the text; see :func:`xrbench.params.parse_value`). Types and ranges are
    checked later, against what the method, option or dataset declares."""
    from .params import parse_value

    out: dict[str, Any] = {}
    for v in values or []:
        k, sep, raw = v.partition("=")
        k = k.strip()
        if not sep or not k or not raw.strip():
            raise XRBenchError(f"{flag} expects KEY=VALUE, got {v!r}")
        if k in out:
            raise XRBenchError(f"{flag} {k} is given twice ({k}={out[k]!r} and {v!r}); give it once")
        out[k] = parse_value(raw.strip())
    return out


def _write_leaderboards(out: Path) -> str:
    """The md, csv and html leaderboards of ``out``, written together: all rendered, then all written to
    temporary files, then all renamed (a kill or an error leaves the previous three as they were)."""
    from .boardfiles import write_together
    from .leaderboard import build
    from .records import iter_records
    from .render import render_csv, render_html, render_markdown

    found = list(iter_records(out))  # (the records of a plugin task need its --plugin)
    boards = build([r for _, r in found], [p.parent for p, _ in found])  # with folders: learning curves
    md = render_markdown(boards)
    files = {out / "leaderboard.md": md, out / "leaderboard.csv": render_csv(boards),
             out / "leaderboard.html": render_html(boards)}
    try:
        write_together(files)
    except OSError as exc:
        raise XRBenchError(f"{exc.filename or out}: could not write the leaderboard ({exc.strerror or exc})") from None
    return md


def _adhoc_methods(a: argparse.Namespace) -> list[tuple[str, str]]:
    """(kind, name) of the methods named by --recommender/--explainer/--estimator and --method KIND:NAME."""
    from .tasks import method_kinds

    out = [(kind, n) for kind in method_kinds() for n in (getattr(a, kind.replace("-", "_"), None) or [])]
    for m in a.method or []:
        kind, sep, name = m.partition(":")
        if not sep or kind not in method_kinds():
            raise XRBenchError(f"--method expects KIND:NAME with KIND one of {', '.join(method_kinds())}; got '{m}'")
        out.append((kind, name))
    return out


_FLAG = {"cutoffs": "k"}  # option -> the command-line flag that sets it, where the names differ


def _k_flags(ks: list[int] | None) -> dict[str, Any]:
    """``--k 5 10 20``: the ranking cutoffs, and the list length K of the popularity, fairness and fidelity
    metrics (10, metrics.md's K, when given; otherwise the largest cutoff)."""
    if not ks:
        return {}
    return {"cutoffs": list(ks), "k": 10 if 10 in ks else max(ks)}


def _run_options(a: argparse.Namespace) -> dict[str, Any]:
    """The task options set on the command line (--split, --k, --sample/--full, --fidelity, --option K=V)."""
    flags = {"split": a.split, "folds": a.folds, "sample": a.sample, "fidelity": a.fidelity, **_k_flags(a.k)}
    given = _params(a.option, "--option")
    both = sorted(set(given) & {n for n, v in flags.items() if v is not None})
    if both:
        raise XRBenchError(f"--option {both[0]}=... and --{_FLAG.get(both[0], both[0])} both set option "
                           f"'{both[0]}'; give it once")
    if a.full and (a.sample is not None or "sample" in given):
        raise XRBenchError("--full (every test pair) and --sample N contradict each other; give one")
    opts = {**given, **{k: v for k, v in flags.items() if v is not None}}
    from .specs import check_options, option_keys
    unknown = sorted(set(opts) - set(option_keys()))
    if unknown:
        raise XRBenchError(f"--option: unknown option(s) {', '.join(unknown)}; options are "
                           f"{', '.join(sorted(option_keys()))}")
    for k, v in opts.items():  # types and ranges, before any work (e.g. --sample 0, --fidelity -3)
        check_options({k: v}, "--option" if k in given else f"--{_FLAG.get(k, k)}")
    if a.full:
        opts["sample"] = None
    return opts


def _full_training(suite: Any) -> Any:
    """``--full``: besides every test pair, methods trained here with a quick CPU profile (``train_profile``,
    e.g. pepler) train on everything, unless their params name a profile."""
    import dataclasses

    from .registry import REGISTRY
    from .specs import _freeze

    def full(m: Any) -> Any:
        params = dict(m.params)
        if "train_profile" not in params and "train_profile" in REGISTRY.get(m.kind, m.name).default_params():
            return dataclasses.replace(m, params=_freeze({**params, "train_profile": "full"}))
        return m

    return dataclasses.replace(suite, methods=tuple(full(m) for m in suite.methods),
                               method_seeds=tuple((full(m), seeds) for m, seeds in suite.method_seeds))


def _default_seeds(options: dict[str, Any]) -> tuple[int, ...]:
    """An ad-hoc run's seeds when --seeds is not given: 0, or every fold (0..F-1) of a kfold split."""
    if options.get("split") == "kfold":
        return tuple(range(int(options.get("folds", 5))))
    return (0,)


def _executor(a: argparse.Namespace) -> Any:
    """--executor ray: a :class:`~xrbench.executors.RayExecutor` (Ray imported only then); process: a
    :class:`~xrbench.executors.ProcessExecutor`; sequential: None."""
    if a.jobs is not None and a.executor != "process":
        raise XRBenchError("--jobs applies to --executor process; add it, or leave --jobs out")
    if a.executor != "ray":
        for flag, value in (("--ray-address", a.ray_address), ("--ray-cpus", a.ray_cpus),
                            ("--ray-retries", a.ray_retries)):
            if value is not None:
                raise XRBenchError(f"{flag} applies to --executor ray; add it, or leave {flag} out")
        if a.executor == "process":
            from .executors import ProcessExecutor
            return ProcessExecutor(a.jobs)
        return None
    from .executors import MAX_RETRIES, RayExecutor
    return RayExecutor(address=a.ray_address, num_cpus=a.ray_cpus,
                       max_retries=MAX_RETRIES if a.ray_retries is None else a.ray_retries)


def cmd_run(a: argparse.Namespace) -> int:
    from .api import run_specs
    from .registry import load_plugin_file
    from .specs import DatasetSpec, MethodSpec, Suite, _freeze, check_seeds, load_suite

    for p in a.plugin or []:
        load_plugin_file(p)
    adhoc = _adhoc_methods(a)
    if a.suite and (a.dataset or adhoc):
        raise XRBenchError("use either --suite or --dataset with --recommender/--explainer/--estimator, not both")
    params = _params(a.param)
    options = _run_options(a)
    seeds = check_seeds(a.seeds, "--seeds") if a.seeds is not None else None
    if a.suite or not (a.dataset or adhoc):
        for flag, value in (("--param", a.param), ("--dataset-param", a.dataset_param), ("--metrics", a.metrics),
                            ("--params-file", a.params_file)):
            if value:
                raise XRBenchError(f"{flag} applies to an ad-hoc run (--dataset with --recommender, ...); a suite "
                                   "file sets params and metrics per dataset and method")
        suite = load_suite(a.suite or "quick")
        if seeds is not None:
            suite = suite.with_seeds(seeds)
        strict = False
    else:
        if not a.dataset or not adhoc:
            raise XRBenchError("an ad-hoc run needs --dataset and at least one of --recommender, --explainer, "
                               "--estimator (or --method KIND:NAME)")
        dparams = _freeze(_params(a.dataset_param, "--dataset-param"))
        from .tune import params_for_run
        tuned = params_for_run(a.params_file, adhoc, params, a.dataset)  # (kind, name) -> (params, provenance)
        methods = tuple(MethodSpec(kind, n, _freeze({**params, **tuned.get((kind, n), ({}, {}))[0]}),
                                   tuple(tuned.get((kind, n), ({}, {}))[1].items())) for kind, n in adhoc)
        tasks_of = {m.task for m in methods}
        suite = Suite("adhoc", tuple(DatasetSpec(d, dparams) for d in a.dataset), methods,
                      seeds if seeds is not None else _default_seeds(options),
                      tuple((t, tuple(a.metrics)) for t in tasks_of) if a.metrics else ())
        strict = True
    if a.full:
        suite = _full_training(suite)
    specs = suite.with_options(**options).runs()
    out = Path(a.out)
    if a.quiet:  # no generation progress bars either
        from . import generation
        generation.SHOW_PROGRESS = False
    executor = _executor(a)
    try:
        outcomes = run_specs(specs, out=out, device=a.device, data_path=a.data_path, overwrite=a.overwrite,
                             strict=strict, allow_download=not a.no_download, progress=not a.quiet,
                             executor=executor)
    finally:
        if executor is not None:
            executor.close()  # a local Ray started for this run stops with it
    ran = sum(o.action == "ran" for o in outcomes)
    reused = sum(o.action == "reused" for o in outcomes)
    skipped = sum(o.action == "skipped" for o in outcomes)
    failed = [o for o in outcomes if o.record is not None and o.record.status != "ok"]
    log.info("%d run(s) done, %d reused from %s, %d skipped, %d failed", ran, reused, out, skipped, len(failed))
    if any(o.record is not None for o in outcomes):
        md = _write_leaderboards(out)
        if not a.quiet:
            print(md)
        log.info("leaderboard written to %s (and .csv, .html)", out / "leaderboard.md")
    if failed:
        for o in failed:
            print(f"xrbench: run failed: {o.spec.dataset.label} {o.spec.method.label} seed {o.spec.seed}: "
                  f"{o.record.error}", file=sys.stderr)
        return 1
    return 0


def cmd_list(a: argparse.Namespace) -> int:
    from .registry import REGISTRY, describe, load_plugin_file
    from .tasks import method_kinds

    for p in a.plugin or []:
        load_plugin_file(p)
    method_kinds()  # tasks bring their method kinds into the registry
    kinds = REGISTRY.kinds
    if a.kind and a.kind not in kinds:
        import difflib
        close = difflib.get_close_matches(a.kind, kinds, n=1)
        raise XRBenchError(f"unknown kind '{a.kind}'" + (f"; did you mean '{close[0]}'?" if close else "")
                           + f" Kinds: {', '.join(kinds)}")
    table = describe([a.kind] if a.kind else kinds)
    if a.json:
        print(json.dumps(table, indent=2, default=str))
        return 0
    for kind, rows in table.items():
        print(f"{kind}s:")
        for r in rows:
            desc = r.get("description") or r.get("task", "")
            print(f"  {r['name']:<22} {desc}")
    return 0


def cmd_data_inspect(a: argparse.Namespace) -> int:
    from .data.catalog import DataPaths, load_dataset

    paths = DataPaths.from_args([a.path] if a.path else None, single_dataset=a.name,
                                allow_download=not a.no_download)
    ds = load_dataset(a.name, _params(a.param), paths)
    if not hasattr(ds, "inspect"):
        raise XRBenchError(f"'{a.name}' is a generated causal task; it has no interactions to inspect")
    info = ds.inspect()
    if a.json:
        import math

        def finite(v: Any) -> Any:  # JSON has no NaN or Infinity: an unknown number is null
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, dict):
                return {k: finite(x) for k, x in v.items()}
            return [finite(x) for x in v] if isinstance(v, (list, tuple)) else v
        print(json.dumps(finite(info), indent=2, allow_nan=False))
    else:
        for k, v in info.items():
            print(f"{k:>20}: {v}")
    return 0


def cmd_data_effects(a: argparse.Namespace) -> int:
    from . import aspect_effects
    from .data.catalog import DataPaths, load_dataset
    from .tasks import RunContext
    from .tasks.base import split_and_view

    paths = DataPaths.from_args([a.path] if a.path else None, single_dataset=a.name)
    ds = load_dataset(a.name, _params(a.param), paths)
    if not hasattr(ds, "interactions") or "text" not in ds.capabilities():
        raise XRBenchError(f"dataset '{a.name}' has no review text: aspect effects need reviews (e.g. Amazon)")
    _, view, _ = split_and_view(ds, "random", RunContext(a.seed))
    rows = aspect_effects.cached(view, a.top)
    print(json.dumps(rows, indent=2) if a.json else aspect_effects.table_markdown(rows))
    return 0


def _load_plugins(files: Sequence[str] | None) -> None:
    from .registry import load_plugin_file

    for p in files or []:
        load_plugin_file(p)


def cmd_leaderboard(a: argparse.Namespace) -> int:
    from .boardfiles import write_together
    from .render import leaderboard

    _load_plugins(a.plugin)
    text = leaderboard(Path(a.results), a.format, a.skip_bad)
    if a.output:
        out = Path(a.output)
        try:
            write_together({out: text})
        except OSError as exc:  # a read-only folder, a directory, a parent that is a file, a full disk
            raise XRBenchError(f"{out}: could not write the leaderboard ({exc.strerror or exc})") from None
    else:
        sys.stdout.write(text)
    return 0


def cmd_rescore(a: argparse.Namespace) -> int:
    from .rescore import rescore

    _load_plugins(a.plugin)
    keys = [k.strip() for k in (a.metrics or "").split(",") if k.strip()]
    n = rescore(Path(a.results), keys, a.skip_bad)
    print(f"rescored {a.results}: {n} record(s) changed")
    return 0


def cmd_score(a: argparse.Namespace) -> int:
    from .textscore import score_files

    print(json.dumps(score_files(Path(a.hyp), Path(a.ref), a.features, a.protocol, a.lowercase, a.data_path),
                     indent=2 if not a.json else None))
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``xrbench: error: <message> (see 'xrbench <command> --help')``, exit 2
    (its subcommand parsers are of this class too)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"xrbench: error: {' '.join(message.split())} (see '{self.prog} --help')\n")


def parser() -> argparse.ArgumentParser:
    from . import __version__

    p = _Parser(prog="xrbench", description="Benchmark harness for explainable recommendation.")
    p.add_argument("--version", action="version", version=f"xrbench {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    _add_run(sub)
    _add_list_and_data(sub)
    _add_scoring(sub)
    _add_tune(sub)
    from .cli_ci import add_ci, add_submit_env
    add_ci(sub)
    add_submit_env(sub)
    return p


def _add_run(sub: Any) -> None:
    r = sub.add_parser("run", help="run a suite, or one dataset with some methods")
    r.add_argument("--suite", help="a built-in suite (quick, causal) or a YAML file")
    r.add_argument("--dataset", nargs="+", help="ad hoc: dataset name(s)")
    r.add_argument("--dataset-param", action="append", metavar="K=V", help="ad hoc: a dataset parameter")
    from .tasks import method_kinds
    for kind in method_kinds():  # one flag per registered task's method kind
        r.add_argument(f"--{kind}", nargs="+", metavar="NAME")
    r.add_argument("--method", action="append", metavar="KIND:NAME", help="a method of any task's kind")
    r.add_argument("--param", action="append", metavar="K=V", help="ad hoc: a method parameter")
    r.add_argument("--params-file", action="append", metavar="FILE",
                   help="ad hoc: a params file of xrbench tune (sets its method's params; recorded in provenance)")
    r.add_argument("--metrics", nargs="+", help="ad hoc: metric keys (default: the task's defaults)")
    r.add_argument("--split", choices=["random", "leave-last-out", "predefined", "kfold"],
                   help="default random; predefined: the dataset's own folds (NLG4RS), seed s -> fold s+1; kfold: "
                        "user-stratified folds, seed s -> fold s mod F (ad hoc without --seeds: every fold)")
    r.add_argument("--folds", type=int, metavar="F", help="kfold: the number of folds (default 5)")
    r.add_argument("--k", type=int, nargs="+", metavar="K",
                   help="ranking cutoffs (ndcg@K, recall@K, precision@K, mrr@K, hit@K; default 5 10 20); the "
                        "popularity, fairness and fidelity lists are cut at 10 when 10 is given, else at the largest")
    r.add_argument("--option", action="append", metavar="K=V", help="any task option (e.g. attribute_model=attr-mf)")
    r.add_argument("--sample", type=int, help="explanation pairs per run (default: the suite's, else 500)")
    r.add_argument("--full", action="store_true", help="explain every test pair instead of a sample; explainers "
                   "trained here with a quick CPU profile (pepler, pepler-d, causal-pepler) train on everything")
    r.add_argument("--fidelity", type=int, default=None, metavar="N",
                   help="causal fidelity: explain and intervene on one top-K item of N sampled users")
    r.add_argument("--seeds", type=int, nargs="+")
    r.add_argument("--out", default="results", help="results folder (default: results)")
    r.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    r.add_argument("--data-path", action="append", metavar="[NAME=]PATH",
                   help="a dataset file/folder, or a data root like shared/data (repeatable)")
    r.add_argument("--overwrite", default="never", choices=["never", "always", "failed"])
    r.add_argument("--executor", default="sequential", choices=["sequential", "process", "ray"],
                   help="sequential (default): one run after another here; process: --jobs runs at a time in worker "
                        "processes on this machine; ray: each (dataset, method, seed) a Ray task (pip install "
                        "'xrbench[ray]'); records written by the workers into --out, identical in all three")
    r.add_argument("--jobs", type=int, metavar="N", help="--executor process: runs at a time (default: the CPU count; 1 on CUDA)")
    r.add_argument("--ray-address", metavar="ADDR", help="--executor ray: the cluster to use (HOST:PORT printed by "
                   "`ray start --head`, or auto); without it a local Ray starts and stops with the run")
    r.add_argument("--ray-cpus", type=int, metavar="N", help="--executor ray: CPUs of the local Ray (default: all)")
    r.add_argument("--ray-retries", type=int, metavar="N", help="--executor ray: times a run whose worker died "
                   "(killed, out of memory, node lost) is tried again (default 3)")
    r.add_argument("--plugin", action="append", metavar="FILE.py", help="import a local plugin file")
    r.add_argument("--no-download", action="store_true", help="never download datasets")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no leaderboard on stdout")
    r.set_defaults(fn=cmd_run)


def _add_list_and_data(sub: Any) -> None:
    ls = sub.add_parser("list", help="list registered datasets, methods and metrics")
    ls.add_argument("kind", nargs="?", help="dataset, recommender, estimator, explainer or metric")
    ls.add_argument("--json", action="store_true")
    ls.add_argument("--plugin", action="append", metavar="FILE.py")
    ls.set_defaults(fn=cmd_list)

    d = sub.add_parser("data", help="dataset tools")
    dsub = d.add_subparsers(dest="data_command", required=True)
    di = dsub.add_parser("inspect", help="load a dataset and print its summary")
    di.add_argument("name")
    di.add_argument("--path", help="the dataset's file or folder")
    di.add_argument("--param", action="append", metavar="K=V", help="a dataset parameter (e.g. category=...)")
    di.add_argument("--json", action="store_true")
    di.add_argument("--no-download", action="store_true")
    di.set_defaults(fn=cmd_data_inspect)
    de = dsub.add_parser("aspect-effects", help="LinearDML effects of review aspects on the rating (a reference, "
                                                 "not ground truth)")
    de.add_argument("name")
    de.add_argument("--path")
    de.add_argument("--param", action="append", metavar="K=V")
    de.add_argument("--seed", type=int, default=0, help="the split whose training reviews are used")
    de.add_argument("--top", type=int, default=20, help="how many of the most frequent aspects")
    de.add_argument("--json", action="store_true")
    de.set_defaults(fn=cmd_data_effects)


def _add_scoring(sub: Any) -> None:
    lb = sub.add_parser("leaderboard", help="tables from a results folder")
    lb.add_argument("results")
    lb.add_argument("--format", default="md", choices=["md", "csv", "latex", "html"])
    lb.add_argument("--output", help="write to this file (atomically) instead of stdout")
    lb.add_argument("--plugin", action="append", metavar="FILE.py", help="a plugin defining a task or metric")
    lb.add_argument("--skip-bad", action="store_true", help="leave out corrupt records with a warning")
    lb.set_defaults(fn=cmd_leaderboard)

    rs = sub.add_parser("rescore", help="recompute metrics from the saved per-unit outputs")
    rs.add_argument("results")
    rs.add_argument("--metrics", metavar="K1,K2", help="also compute these metrics (e.g. ones registered after "
                    "the run, by a --plugin)")
    rs.add_argument("--plugin", action="append", metavar="FILE.py", help="a plugin defining a task or metric")
    rs.add_argument("--skip-bad", action="store_true", help="leave out records with corrupt records or unit files")
    rs.set_defaults(fn=cmd_rescore)

    sc = sub.add_parser("score", help="score explanation files against references")
    sc.add_argument("--hyp", required=True, help="one explanation per line, or JSONL with a 'text' field")
    sc.add_argument("--ref", required=True, help="same format, same number of rows")
    sc.add_argument("--features", help="JSONL: per-row {'feature': ...}; optional {'vocabulary': [...]} line; or a "
                    "dataset name (its mined feature vocabulary; each row's feature taken from its reference)")
    sc.add_argument("--data-path", help="where the --features dataset is (default: $XRBENCH_DATA)")
    sc.add_argument("--protocol", default="nlg4rs", choices=["nlg4rs", "standard"])
    sc.add_argument("--lowercase", action="store_true")
    sc.add_argument("--json", action="store_true", help="one-line JSON")
    sc.set_defaults(fn=cmd_score)


def cmd_tune(a: argparse.Namespace) -> int:
    from .tune import tune

    _load_plugins(a.plugin)
    r = tune(a.dataset, a.recommender, trials=a.trials, metric=a.metric, space=a.space, seed=a.seed,
             study_dir=a.study_dir, out=a.out, dataset_params=_params(a.dataset_param, "--dataset-param"),
             data_path=a.data_path, split=a.split, device=a.device, progress=not a.quiet, folds=a.folds)
    if not a.quiet:
        print(json.dumps({"study": r.study, "metric": a.metric, "best_value": r.best_value,
                          "default_value": r.default_value, "params": r.params, "trials": r.trials,
                          "ran_now": r.ran, "hash": r.hash, "params_file": str(r.params_file)}, indent=2))
    return 0


def _add_tune(sub: Any) -> None:
    t = sub.add_parser("tune", help="tune a recommender's params with Optuna on the validation rows (resumable)")
    t.add_argument("--dataset", required=True)
    t.add_argument("--recommender", required=True, metavar="NAME")
    t.add_argument("--space", metavar="SPACE.yaml", help="{param: {type: float|int|categorical, low, high, log, "
                   "choices}} (default: the method's shipped space)")
    t.add_argument("--trials", type=int, required=True, help="finished trials the study should have")
    t.add_argument("--metric", default="rmse", help="a recommend metric key scored on the validation rows "
                   "(default rmse; its direction is the metric's)")
    t.add_argument("--seed", type=int, default=0, help="the split's, the model's and the sampler's seed (default 0)")
    t.add_argument("--split", default="random", choices=["random", "leave-last-out", "predefined", "kfold"])
    t.add_argument("--folds", type=int, default=5, metavar="F", help="kfold: the number of folds (seed s: fold s mod F)")
    t.add_argument("--study-dir", default="results/tuning", help="where the SQLite studies live "
                   "(default results/tuning)")
    t.add_argument("--out", help="the params file to write (default STUDY_DIR/<study>.params.yaml)")
    t.add_argument("--dataset-param", action="append", metavar="K=V")
    t.add_argument("--data-path", action="append", metavar="PATH")
    t.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    t.add_argument("--plugin", action="append", metavar="FILE.py", help="import a local plugin file")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no summary on stdout")
    t.set_defaults(fn=cmd_tune)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except BrokenPipeError:  # e.g. ``xrbench list metric | head``: stdout closed early; quiet, as Unix tools are
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # what is still buffered goes nowhere at exit
        except (OSError, ValueError):
            pass
        return 0


def _main(argv: Sequence[str] | None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="xrbench: %(message)s", stream=sys.stderr)
    try:
        return int(args.fn(args) or 0)
    except XRBenchError as exc:
        print(f"xrbench: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("xrbench: interrupted; completed records are kept, rerun the same command to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

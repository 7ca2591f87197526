"""The ``xrbench`` commands for CI and submissions: compare, validate, submit, env (see ``xrbench.cli``)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .cli import _load_plugins


def add_ci(sub: Any) -> None:
    """``compare`` (a CI regression check of two results folders) and ``validate`` (records against the schema,
    their unit files, their metrics and their data)."""
    c = sub.add_parser("compare", help="regressions between two results folders (a CI check)")
    c.add_argument("baseline", help="results folder (or a committed board's folder) of the reference")
    c.add_argument("new", help="results folder to check against it")
    c.add_argument("--tolerance", nargs="+", action="extend", metavar="METRIC=ABS",
                   help="absolute tolerance of a metric (default 1e-9; bertscore_f 1e-4; cost metrics never regress)")
    c.add_argument("--tolerance-file", metavar="FILE.yaml", help="YAML {metric: tolerance}; --tolerance wins")
    c.add_argument("--allow-missing", action="store_true", help="records of BASELINE missing from NEW do not fail")
    c.add_argument("--format", default="md", choices=["md", "json"])
    c.add_argument("--plugin", action="append", metavar="FILE.py", help="a plugin defining a task or metric")
    c.set_defaults(fn=cmd_compare)
    v = sub.add_parser("validate", help="check records: schema, unit files, recomputed metrics, data hashes")
    v.add_argument("paths", nargs="+", metavar="PATH", help="record files or folders")
    v.add_argument("--records-only", action="store_true", help="skip the unit-file and rescoring checks")
    v.add_argument("--no-data-check", action="store_true", help="skip the dataset and split hash check")
    v.add_argument("--data-path", action="append", metavar="[NAME=]PATH",
                   help="a dataset file/folder, or a data root like shared/data (repeatable); never downloads")
    v.add_argument("--plugin", action="append", metavar="FILE.py", help="a plugin defining a task or metric")
    v.set_defaults(fn=cmd_validate)


def cmd_compare(a: argparse.Namespace) -> int:
    from .compare import compare, parse_tolerances
    from .compare_md import render_markdown

    _load_plugins(a.plugin)
    report = compare(Path(a.baseline), Path(a.new), parse_tolerances(a.tolerance, a.tolerance_file),
                     a.allow_missing)
    for w in report.warnings:
        print(f"xrbench: warning: {w}", file=sys.stderr)
    if a.format == "json":
        print(json.dumps(report.to_json(), indent=2, allow_nan=False, default=str))
    else:
        print(render_markdown(report))
    return report.exit_code


def cmd_validate(a: argparse.Namespace) -> int:
    from .validate import validate

    _load_plugins(a.plugin)
    v = validate(a.paths, a.data_path, a.records_only, not a.no_data_check)
    for line in v.problems:
        print(line)
    for note, paths in v.notes.items():
        print(f"xrbench: note: {note} ({len(paths)} record(s), e.g. {paths[0]})", file=sys.stderr)
    print(f"xrbench: validated {v.checked} record(s): {len(v.problems)} problem(s)", file=sys.stderr)
    return 1 if v.problems else 0


def add_submit_env(sub: Any) -> None:
    sm = sub.add_parser("submit", help="validate results and add them, with a method card, to a leaderboard")
    sm.add_argument("results", help="the --out folder of your runs")
    sm.add_argument("--board", required=True, help="a committed leaderboard folder, e.g. leaderboards/quick")
    sm.add_argument("--card", required=True, help="the method card (YAML; see SUBMITTING.md)")
    sm.add_argument("--data-path", action="append", metavar="[NAME=]PATH", help="where the datasets are")
    sm.add_argument("--replace", action="store_true", help="update records of yours already on the board")
    sm.add_argument("--plugin", action="append", metavar="FILE.py", help="the plugin whose metrics the records use")
    sm.set_defaults(fn=cmd_submit)
    ev = sub.add_parser("env", help="versions, device, data and caches: paste this into a bug report")
    ev.add_argument("--data-path", action="append", metavar="PATH", help="a data root to look in")
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(fn=cmd_env)


def cmd_submit(a: argparse.Namespace) -> int:
    from .submit import submit

    _load_plugins(a.plugin)
    written = submit(Path(a.results), Path(a.board), Path(a.card), data_path=a.data_path, replace=a.replace)
    print(f"submitted {len(written)} record(s) into {a.board}; its leaderboards are regenerated")
    return 0


def cmd_env(a: argparse.Namespace) -> int:
    from . import envinfo

    d = envinfo.info(a.data_path)
    print(json.dumps(d, indent=2) if a.json else envinfo.markdown(d), end="" if not a.json else "\n")
    return 0

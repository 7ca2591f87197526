"""Regenerate the committed leaderboards from their records: ``python -m xrbench.publish [--check]``.

Each folder under ``leaderboards/`` holding ``runs/**/record.json`` gets ``leaderboard.md``,
``leaderboard.csv`` and ``leaderboard.html``; README blocks ``<!-- leaderboard:SUITE/DATASET/GROUP -->`` get that table.
``--check`` writes nothing and exits 1 when anything committed is stale (a test runs it).
Only records are committed (metrics, intervals, provenance): the per-unit outputs of ML-100K contain its
ratings, which the GroupLens licence forbids redistributing.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import re
import sys
from pathlib import Path

from .boardfiles import write_together
from .leaderboard import build, groups
from .render import RENDERERS, render_markdown, section_table
from .records import iter_records

BLOCK = re.compile(r"(<!-- leaderboard:([\w.-]+)/([\w.\[\]=,-]+)/([\w ()-]+) -->\n)(.*?)(<!-- /leaderboard -->)", re.S)


def suites(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "runs").is_dir())


@functools.lru_cache(maxsize=None)
def boards_of(suite_dir: Path) -> list:
    """The boards of one committed suite (built once per publish run)."""
    found = list(iter_records(suite_dir / "runs"))  # with their folders: a board reads its learning curves
    boards = build([r for _, r in found], [p.parent for p, _ in found])
    return [dataclasses.replace(b, suite=suite_dir.name) for b in boards]


def page_boards(suite: Path) -> list:
    """The boards a suite's page shows: its own, then those of the suites its ``include.txt`` names (one
    suite per line), titled with their suite (e.g. the explain page shows the fidelity suite's causal-fidelity
    and explanation-bias sections: other pairs, so other sections, not extra columns of the same rows)."""
    boards = list(boards_of(suite))
    inc = suite / "include.txt"
    if inc.is_file():
        boards = [dataclasses.replace(b, source=f"{suite.name} suite") for b in boards]
        for name in inc.read_text(encoding="utf-8").split():
            other = suite.parent / name
            if (other / "runs").is_dir():
                boards += [dataclasses.replace(b, source=f"{name} suite") for b in boards_of(other)]
    return boards


def expected_files(root: Path) -> dict[Path, str]:
    out = {}
    for suite in suites(root):
        boards = page_boards(suite)
        for fmt, ext in (("md", "md"), ("csv", "csv"), ("html", "html")):
            out[suite / f"leaderboard.{ext}"] = RENDERERS[fmt](boards)
    return out


def readme_block(root: Path, suite: str, dataset: str, group: str) -> str:
    if not (root / suite / "runs").is_dir():
        return f"(no records of the {suite} suite committed yet)\n"
    boards = [b for b in boards_of(root / suite) if b.dataset == dataset]
    for b in boards:  # a task's extra table (e.g. "backbone comparison")
        for sec in b.sections:
            if sec.title == group:
                return section_table(sec) + "\n"
    for b in boards:
        for g, keys in groups(b):
            if g == group:
                only = dataclasses.replace(b, keys=keys, sections=[], curves={})  # keeps the best marks and ranks
                text = render_markdown([only])
                return "\n".join(text.splitlines()[2:]) + "\n"
    return f"(no '{group}' table for {dataset} in {suite})\n"


def expected_readme(readme: Path, root: Path) -> str:
    text = readme.read_text(encoding="utf-8")
    return BLOCK.sub(lambda m: m.group(1) + readme_block(root, m.group(2), m.group(3), m.group(4)).strip("\n")
                     + "\n" + m.group(6), text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m xrbench.publish")
    ap.add_argument("--root", default="leaderboards")
    ap.add_argument("--readme", default="README.md")
    ap.add_argument("--check", action="store_true", help="only report stale files")
    a = ap.parse_args(argv)
    root, readme = Path(a.root), Path(a.readme)
    want = expected_files(root)
    if readme.is_file():
        want[readme] = expected_readme(readme, root)
    stale = [p for p, text in want.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
    if a.check:
        for p in stale:
            print(f"stale: {p} (regenerate with: python -m xrbench.publish)")
        return 1 if stale else 0
    write_together({p: want[p] for p in stale})  # all or none: a page never disagrees with its csv
    for p in stale:
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

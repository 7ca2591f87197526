"""The documentation works in a clone: every relative link of README.md, SUBMITTING.md and docs/ resolves
to a file or folder inside the repository, and docs/metrics.md documents every built-in metric key with
the direction the registry gives it."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parents[1]
METRICS_DOC = REPO / "docs" / "metrics.md"

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_INLINE = re.compile(r"!?\[[^\]\n]*\]\(\s*(<[^>\n]*>|[^)\s]+)(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'))?\s*\)")
_REFDEF = re.compile(r"^ {0,3}\[[^\]\n]+\]:\s*(<[^>\n]*>|\S+)", re.M)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, mailto:, ...


def doc_files() -> list[Path]:
    files = [REPO / "README.md", REPO / "SUBMITTING.md", *sorted((REPO / "docs").rglob("*.md"))]
    return [f for f in files if f.is_file()]


def links(text: str) -> list[str]:
    """Targets of the Markdown links and images of ``text`` (inline and reference definitions); code
    blocks are skipped, and code spans are blanked so that `a[0](x)` is not read as a link."""
    text = _FENCE.sub("", text)
    text = _CODE_SPAN.sub(lambda m: "`" + "x" * (len(m.group()) - 2) + "`" if "](" in m.group() else m.group(), text)
    return [t.strip("<>") for t in (*_INLINE.findall(text), *_REFDEF.findall(text))]


def local_path(doc: Path, target: str, repo: Path = REPO) -> Path | None:
    """Where a link target written in ``doc`` points on disk; None for a URL or an anchor of the same page.
    GitHub resolves "/x" from the repository root, anything else from the document's folder."""
    if not target or target.startswith(("#", "//")) or _SCHEME.match(target):
        return None
    path = unquote(target.split("#", 1)[0].split("?", 1)[0])
    if not path:
        return None
    return ((repo / path.lstrip("/")) if path.startswith("/") else (doc.parent / path)).resolve()


def broken(doc: Path, target: str, repo: Path = REPO) -> str | None:
    """Why a link target written in ``doc`` does not resolve inside ``repo`` (None when it does)."""
    dest = local_path(doc, target, repo)
    if dest is None:
        return None
    if not dest.is_relative_to(repo.resolve()):
        return f"{target}: points outside the repository (a clone does not have it)"
    if not dest.exists():
        return f"{target}: no such file or folder in the repository"
    return None


def _ignored(paths: list[Path]) -> set[Path]:
    """The paths git ignores (a clone never has them); none when git or the repository is unavailable."""
    if not paths or not (REPO / ".git").exists():
        return set()
    try:
        r = subprocess.run(["git", "check-ignore", "--stdin"], cwd=REPO, input="\n".join(map(str, paths)),
                           capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return set()
    return {Path(line.strip()) for line in r.stdout.splitlines() if line.strip()}


@pytest.mark.parametrize("doc", doc_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve_inside_the_repository(doc: Path) -> None:
    targets = links(doc.read_text(encoding="utf-8"))
    problems = [why for t in targets if (why := broken(doc, t))]
    local = sorted({p for t in targets if not broken(doc, t) and (p := local_path(doc, t)) is not None})
    problems += [f"{p.relative_to(REPO)}: ignored by git (a clone does not have it)" for p in _ignored(local)]
    assert not problems, f"{doc.relative_to(REPO)}:\n  " + "\n  ".join(problems)


def test_link_checker_catches_what_it_should(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (repo / "docs" / "metrics.md").write_text("x", encoding="utf-8")
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "spec.md").write_text("x", encoding="utf-8")
    readme = repo / "README.md"
    text = ("see [spec](../shared/spec.md), [m](docs/metrics.md#pn), [`m`](docs/metrics.md), [home](/docs/), "
            "[gone](docs/missing.md), [web](https://example.org/a.md), [mail](mailto:a@b.c), [here](#top), "
            "`code [not](../a/link)`\n\n```\n[neither](../b)\n```\n[ref]: ../shared/spec.md\n")
    found = links(text)
    assert found == ["../shared/spec.md", "docs/metrics.md#pn", "docs/metrics.md", "/docs/", "docs/missing.md",
                     "https://example.org/a.md", "mailto:a@b.c", "#top", "../shared/spec.md"]
    bad = [t for t in found if broken(readme, t, repo)]
    assert bad == ["../shared/spec.md", "docs/missing.md", "../shared/spec.md"]
    # the README this test replaced links to the shared spec beside the checkout: that fails
    assert broken(REPO / "README.md", "../shared/spec/metrics.md") is not None


def _builtin_metrics() -> list:
    """The registered metrics of the built-in tasks (plugins some other test registered are left out)."""
    from xrbench.metrics import info  # importing xrbench.metrics registers the built-in metrics
    from xrbench.registry import REGISTRY

    return [info(k) for k in REGISTRY.in_order("metric")
            if info(k).fn.__module__.startswith("xrbench.metrics.")]


def test_every_metric_key_is_documented() -> None:
    doc = METRICS_DOC.read_text(encoding="utf-8")
    metrics = _builtin_metrics()
    assert len(metrics) > 40
    missing = [m.key for m in metrics if f"`{m.key}`" not in doc]
    assert not missing, f"docs/metrics.md does not document: {', '.join(missing)}"


def test_documented_direction_matches_the_registry() -> None:
    """Each key's row of its group table ("| `key` | direction | ...") says ↓ exactly when the key is
    lower-is-better."""
    rows = {}
    for line in METRICS_DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\|\s*`([^`]+)`\s*\|([^|]*)\|", line)
        if m:
            rows[m.group(1)] = m.group(2)
    wrong = []
    for m in _builtin_metrics():
        if m.key not in rows:
            wrong.append(f"{m.key}: no row in a group table")
        elif ("↓" in rows[m.key]) != m.lower_is_better:
            wrong.append(f"{m.key}: documented '{rows[m.key].strip()}', registry lower_is_better={m.lower_is_better}")
    assert not wrong, "\n".join(wrong)

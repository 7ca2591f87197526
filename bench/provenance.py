"""Where a number came from: versions, git commit, device, time and memory."""
from __future__ import annotations

import functools
import platform
import resource
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from . import __version__

PACKAGES = ("numpy", "pandas", "scipy", "scikit-learn", "torch", "econml", "transformers")


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    out = {}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            pass
    return out


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB, macOS bytes)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(r / (1024 * 1024) if sys.platform == "darwin" else r / 1024, 1)


def resolve_device(device: str) -> str:
    if device not in ("auto", "cpu", "cuda"):
        from .errors import XRBenchError
        raise XRBenchError(f"unknown device '{device}'; use auto, cpu or cuda")
    if device != "auto":
        return device
    try:
        import torch
        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def base(device: str) -> dict[str, Any]:
    return {"schema_version": 1, "xrbench_version": __version__, "git_commit": git_commit(),
            "python": platform.python_version(), "platform": platform.platform(), "packages": package_versions(),
            "device": device}

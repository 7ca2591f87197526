"""Benchmark: how long a small run takes as a whole process, and whether the process imported torch.

    python tests/bench/perf_startup.py [--data-path DIR] [--repeats 3]

Runs ``xrbench run --dataset ml-100k --recommender most-pop`` (no method there uses torch) in fresh processes
with ``--device auto`` and ``--device cpu``, and ``python -c "import torch"`` alone: the cost that ``auto``
avoids on a machine with no GPU device file (``xrbench.provenance.resolve_device``). Prints one JSON line per
case: the fastest and every wall time, and (for the runs) whether torch ended up imported. Run it alone.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

# the CLI, then one line saying whether torch was imported along the way
RUN = ("import sys\nfrom xrbench.cli import main\ntry:\n    main()\nexcept SystemExit as e:\n"
       "    code = e.code\nelse:\n    code = 0\nprint('TORCH', 'torch' in sys.modules)\nsys.exit(code)")


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} ... failed:\n{p.stderr[-2000:]}")
    return wall, p.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-path", default=os.environ.get("XRBENCH_DATA"))
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    env = dict(os.environ)
    if a.data_path:
        env["XRBENCH_DATA"] = a.data_path
    walls: dict[str, list[float]] = {"import torch": [], "run --device auto": [], "run --device cpu": []}
    torch_imported: dict[str, bool] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.repeats):  # the cases alternate, so a drifting machine drifts for all of them
            walls["import torch"].append(timed([sys.executable, "-c", "import torch"], env)[0])
            for device in ("auto", "cpu"):
                out = os.path.join(tmp, f"{device}-{r}")
                wall, stdout = timed([sys.executable, "-c", RUN, "run", "--dataset", "ml-100k", "--recommender",
                                      "most-pop", "--device", device, "--out", out, "-q"], env)
                walls[f"run --device {device}"].append(wall)
                torch_imported[f"run --device {device}"] = "TORCH True" in stdout
    for case, w in walls.items():
        row = {"benchmark": "startup", "case": case, "best_s": round(min(w), 2), "walls_s": [round(x, 2) for x in w]}
        if case in torch_imported:
            row["torch_imported"] = torch_imported[case]
        print(json.dumps(row))


if __name__ == "__main__":
    main()

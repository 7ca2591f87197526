"""Benchmark: wall time of ``xrbench run --suite explain`` with nothing generated yet (target: <= 15 min on
2 CPU cores).

    python tests/bench/perf_explain_suite.py [--data-path DIR]

Every explanation is generated anew (an empty cache but for the dequantised backbones). Run alone.
Prints one JSON line: the wall time and, per run, its wall time and tokens/s (see ``perf_suite.py``).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from perf_suite import main  # noqa: E402

if __name__ == "__main__":
    main("explain", 900.0, fresh_generations=True)

"""Benchmark: wall time of ``xrbench run --suite quick`` (target: <= 3 minutes on 2 cores).

Run alone (a second busy process ruins the timing):  python tests/bench/perf_quick_suite.py [--data-path DIR]
Prints one JSON line with the wall time and each run's wall time (see ``perf_suite.py``).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from perf_suite import main  # noqa: E402

if __name__ == "__main__":
    main("quick", 180.0)

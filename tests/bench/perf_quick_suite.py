"""Benchmark: wall time of ``xrbench run --suite quick`` (target: <= 20 s on an idle 2-core machine).

Run alone (a second busy process ruins the timing):  python tests/bench/perf_quick_suite.py [--data-path DIR]
Prints one JSON line with the wall time and each run's wall time (see ``perf_suite.py``), then one with
the suite's CPU seconds (user + system, the measure to compare on a shared machine: other processes
stretch the wall time far more than the CPU time) and the load average before and after.
"""
from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from perf_suite import main  # noqa: E402

if __name__ == "__main__":
    load_before = os.getloadavg()
    try:
        main("quick", 20.0)
    finally:
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(json.dumps({"benchmark": "quick_suite_cpu", "cpu_s": round(ru.ru_utime + ru.ru_stime, 1),
                          "user_s": round(ru.ru_utime, 1), "sys_s": round(ru.ru_stime, 1),
                          "load_avg_before": [round(x, 2) for x in load_before],
                          "load_avg_after": [round(x, 2) for x in os.getloadavg()]}))

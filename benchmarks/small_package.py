"""Benchmark: ``dpkg validate`` of this package against ``python -c "import great_expectations"``.

The goal (issue 11): ``dpkg validate .`` takes at most 0.5 s more than importing GX on the same
machine. Runs the two commands in alternating pairs (A/B, so that a change of load hits both),
``--pairs`` times, and prints for each the median wall time and the median CPU time (user + sys of
the process and its children, which load on the machine inflates far less than wall time), the
differences, and the load average before and after.

    .venv/bin/python benchmarks/small_package.py [--pairs 5] [PATH]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def timed(cmd: list[str]) -> tuple[float, float, int]:
    """(wall s, CPU s of the children, exit code) of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
                          env={**os.environ, "GX_ANALYTICS_ENABLED": "false"})
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=str(ROOT))
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()
    commands = {"import great_expectations": [str(BIN / "python"), "-c", "import great_expectations"],
                "dpkg validate": [str(BIN / "dpkg"), "validate", args.path]}
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(args.pairs):
        for name, cmd in commands.items():
            wall, cpu, code = timed(cmd)
            runs[name].append((wall, cpu))
            print(f"  {name}: {wall:.2f} s wall, {cpu:.2f} s CPU, exit {code}", flush=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    med = {name: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r)) for name, r in runs.items()}
    for name, (wall, cpu) in med.items():
        print(f"{name:26} median {wall:6.2f} s wall {cpu:6.2f} s CPU")
    (gw, gc), (dw, dc) = med["import great_expectations"], med["dpkg validate"]
    print(f"dpkg validate - import GX: {dw - gw:+.2f} s wall, {dc - gc:+.2f} s CPU (goal: at most +0.5 s)")


if __name__ == "__main__":
    main()

"""Start-up time of the CLI, as a ratio to a bare ``python -c pass`` measured in the same run.

Usage: .venv/bin/python benchmarks/startup.py [--runs N]

Each command runs N times (after one warm-up); the median wall time is reported.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "dpkg --help": [str(BIN / "dpkg"), "--help"],
    "dpkg validate --help": [str(BIN / "dpkg"), "validate", "--help"],
    "dpkg query (cached, small query)": [str(BIN / "dpkg"), "query", "SELECT count(*) FROM citations", "--format", "csv"],
}


def median_seconds(command: list[str], runs: int) -> float:
    """Median wall time of ``runs`` runs of ``command`` after one warm-up run."""
    subprocess.run(command, capture_output=True, check=False)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--extra", nargs="*", default=[], help="more commands to time, each as one quoted string")
    args = parser.parse_args()
    commands = dict(COMMANDS)
    for extra in args.extra:
        words = shlex.split(extra)
        commands[extra] = [str(BIN / words[0]), *words[1:]]
    base = None
    print(f"{'command':40s} {'median s':>9s} {'× python -c pass':>18s}")
    for label, command in commands.items():
        seconds = median_seconds(command, args.runs)
        base = base or seconds
        print(f"{label:40s} {seconds:9.3f} {seconds / base:18.1f}")


if __name__ == "__main__":
    main()

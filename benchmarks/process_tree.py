"""Run a command and show, for each process of its tree, when it ran and its peak RSS (Linux).

    .venv/bin/python benchmarks/process_tree.py [--interval 0.005] -- .venv/bin/dpkg validate DIR --format json

``dpkg validate`` runs its phases one after the other in worker processes (``datapkg/isolated.py``);
this prints each phase's start and end (seconds from the command's start), its peak RSS, the peak
of the RSS summed over the tree, and the wall time. RSS is read from ``/proc/<pid>/status``, which is
cheap (``smaps_rollup`` would take the mmap lock and slow the process down).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time


def tree_rss(pid: int) -> dict[int, int]:
    """RSS in kB of ``pid`` and each of its descendants, by process id, from ``/proc/<pid>/status``.

    (Not smaps_rollup: walking the page tables every few ms takes the mmap lock and slows the
    measured process down.)"""
    found: dict[int, int] = {}
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/status") as handle:
                found[current] = next((int(line.split()[1]) for line in handle if line.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    todo += [int(child) for child in handle.read().split()]
        except OSError:  # the process ended meanwhile
            continue
    return found


def _label(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return " ".join(part.decode(errors="replace") for part in handle.read().split(b"\0") if part)[-70:]
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=0.005, help="seconds between samples")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run (after --)")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    seen: dict[int, dict] = {}
    peak_sum = 0
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    while proc.poll() is None:
        now = time.perf_counter() - started
        sizes = tree_rss(proc.pid)
        for pid, rss in sizes.items():
            info = seen.setdefault(pid, {"first": now, "peak": 0, "label": _label(pid)})
            info["last"], info["peak"] = now, max(info["peak"], rss)
        peak_sum = max(peak_sum, sum(sizes.values()))
        time.sleep(args.interval)
    wall = time.perf_counter() - started
    print(f"{'pid':>8} {'from s':>7} {'to s':>7} {'peak MB':>8}  command")
    for pid, info in seen.items():
        print(f"{pid:8} {info['first']:7.2f} {info.get('last', info['first']):7.2f} {info['peak'] / 1024:8.0f}  {info['label']}")
    print(f"wall {wall:.2f} s, peak of the summed RSS {peak_sum / 1024:.0f} MB, exit {proc.returncode}")


if __name__ == "__main__":
    main()

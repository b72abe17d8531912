"""Benchmark: ``dpkg validate --watch``, the time from a file save to the report of what changed.

Copies this package into a temporary folder, starts ``dpkg validate --watch`` on the copy, and
saves edits a curator makes, alternately breaking and fixing a cell:

- ``resources/figures.csv`` (a small table): a currency code ``USD`` -> ``XYZ`` and back;
- ``resources/citations.csv`` (the largest): a word of a quote, ``Vladiostok`` -> ``Vladivostok``
  and back (the quote is then not in its article).

For each save it measures the wall time from just before the write to the line with the report
(``... N new, M fixed (... s, ...)``), which includes the watch's polling interval and the pause
that lets a writer finish; the run's own time is on that line too, and the CPU time the watch
process spent from the save to the report (``/proc``: load on the machine inflates it far less
than wall time). The reference, measured in the same run between the saves: a cold
``dpkg validate`` of the copy, which a curator ran before ``--watch`` existed. Prints the medians
and the load average before and after.

    .venv/bin/python benchmarks/watch_benchmark.py [--saves 6] [--cold 3]
    .venv/bin/python benchmarks/watch_benchmark.py --in-process [--saves 6]   # against a full rerun
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PACKAGE = ("datapackage.json", "resources", "schemas", "seeds", "validations")
EDITS = {"resources/figures.csv": ("USD,currency", "XYZ,currency"),
         "resources/citations.csv": ("Vladiostok", "Vladivostok")}
REPORT = re.compile(r"(\d+) new, (\d+) fixed \(([\d.]+) s, (.*)\)$")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _copy(target: Path) -> None:
    for name in PACKAGE:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        elif source.exists():
            shutil.copy2(source, target / name)


def _reader(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put((time.perf_counter(), line.rstrip("\n")))
    lines.put((time.perf_counter(), None))


def _wait_for(lines: queue.Queue, pattern: re.Pattern | str, timeout: float) -> tuple[float, str]:
    deadline = time.monotonic() + timeout
    while True:
        when, line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        if line is None:
            raise SystemExit("dpkg validate --watch ended early")
        if (pattern.search(line) if isinstance(pattern, re.Pattern) else pattern in line):
            return when, line


def _cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (all its threads; Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _save(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _cold(folder: Path) -> float:
    started = time.perf_counter()
    subprocess.run([str(BIN / "dpkg"), "validate", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def in_process(folder: Path, saves: int) -> None:
    """A/B in one process, interleaved: after each save, what the watch ran before this change (a
    full ``validate_package`` with GX already loaded) and the incremental run; wall and CPU time."""
    from datapkg.incremental import IncrementalValidation
    from datapkg.validate import validate_package

    incremental = IncrementalValidation(folder)
    incremental()
    validate_package(folder)
    runs: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for number in range(saves):
        for rel, (good, bad) in EDITS.items():
            _save(folder / rel, *((good, bad) if number % 2 == 0 else (bad, good)))
            for name, run in (("incremental", incremental), ("full rerun (before)", lambda: validate_package(folder))):
                cpu, wall = time.process_time(), time.perf_counter()
                run()
                runs.setdefault((rel, name), []).append((time.perf_counter() - wall, time.process_time() - cpu))
    incremental.close()
    print(f"in one process, load {_load()}:")
    for (rel, name), done in runs.items():
        print(f"  {rel:26} {name:20} median {statistics.median(w for w, _ in done):.3f} s wall, "
              f"{statistics.median(c for _, c in done):.3f} s CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=6, help="saves of each file (alternately breaking and fixing)")
    parser.add_argument("--cold", type=int, default=3, help="cold `dpkg validate` runs, between the saves")
    parser.add_argument("--in-process", action="store_true",
                        help="instead: the incremental run against a full rerun, A/B in one process")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="dpkg-watch-bench-"))
    _copy(folder)
    if args.in_process:
        print(f"load average before: {_load()} ({os.cpu_count()} CPUs)")
        try:
            in_process(folder, args.saves)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    print(f"load average before: {_load()} ({os.cpu_count()} CPUs)")
    lines: queue.Queue = queue.Queue()
    process = subprocess.Popen([str(BIN / "dpkg"), "validate", "--watch", str(folder)], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1", "GX_ANALYTICS_ENABLED": "false"})
    threading.Thread(target=_reader, args=(process.stdout, lines), daemon=True).start()
    results: dict[str, list[tuple[float, float, str]]] = {rel: [] for rel in EDITS}
    cold: list[float] = []
    try:
        started = time.perf_counter()
        when, _ = _wait_for(lines, "watching for changes", 600)
        print(f"first (full) run, from start: {when - started:.2f} s")
        for number in range(args.saves):
            for rel, (good, bad) in EDITS.items():
                old, new = (good, bad) if number % 2 == 0 else (bad, good)
                time.sleep(0.5)  # past the watch's own pause
                cpu, saved = _cpu(process.pid), time.perf_counter()
                _save(folder / rel, old, new)
                when, line = _wait_for(lines, REPORT, 600)
                cpu = _cpu(process.pid) - cpu
                match = REPORT.search(line)
                results[rel].append((when - saved, float(match.group(3)), cpu))
                print(f"  {rel}: {when - saved:.3f} s save->report, run {match.group(3)} s, {cpu:.2f} s CPU, "
                      f"{match.group(1)} new/{match.group(2)} fixed, {match.group(4)} (load {_load()})", flush=True)
            if len(cold) < args.cold and number % 2 == 1:
                cold.append(_cold(folder))
                print(f"  cold dpkg validate: {cold[-1]:.2f} s (load {_load()})", flush=True)
    finally:
        process.terminate()
        process.wait(timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
    print(f"load average after: {_load()}")
    reference = statistics.median(cold) if cold else None
    for rel, runs in results.items():
        wall, run, cpu = (statistics.median(r[i] for r in runs) for i in range(3))
        ratio = f", {wall / reference:.3f}x the cold run" if reference else ""
        print(f"{rel:26} median {wall:.3f} s save->report (run itself {run:.3f} s, {cpu:.2f} s CPU){ratio}; "
              "goal < 0.5 s")
    if reference:
        print(f"{'cold dpkg validate':26} median {reference:.3f} s")


if __name__ == "__main__":
    main()

"""``dpkg diff`` against csv-diff and daff on the same two CSV files, in the same run.

    .venv/bin/python benchmarks/diff_benchmark.py [--rows 100000,1000000] [--timeout 600]

For each size it writes two versions of a 5-column table (OLD, and NEW with 1 % of the rows
changed, 0.5 % removed and 0.5 % added) as two data packages with ``primaryKey: id``, then times,
each in a fresh process, with the peak RSS summed over the process tree:

- ``dpkg diff OLD NEW --format json --max-rows 100 --exit-zero`` (this repository's .venv);
- ``csv-diff old.csv new.csv --key id --json`` (simonw/csv-diff, PyPI ``csv-diff==1.2``);
- ``daff diff --id id --output out.csv old.csv new.csv`` (PyPI ``daff==1.4.2``, the Python port).

The two reference tools are installed by pip (from PyPI) into a scratch virtual environment under
the system temporary folder the first time. Every tool must find the same counts of added,
removed and changed rows (checked from its output where the output is parsed); a tool that runs
past ``--timeout`` seconds is stopped and reported as such.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from process_tree import tree_rss  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DPKG = ROOT / ".venv" / "bin" / "dpkg"
TOOLS = {"csv-diff": "csv-diff==1.2", "daff": "daff==1.4.2"}
SCHEMA = {"fields": [{"name": "id", "type": "string"}, {"name": "name", "type": "string"},
                     {"name": "value", "type": "integer"}, {"name": "category", "type": "string"},
                     {"name": "note", "type": "string"}], "primaryKey": ["id"]}


def reference_env() -> Path:
    """A scratch venv holding csv-diff and daff (created once)."""
    venv = Path(tempfile.gettempdir()) / "dpkg-diff-benchmark-venv"
    if not (venv / "bin" / "daff").exists() or not (venv / "bin" / "csv-diff").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", *TOOLS.values()], check=True)
    return venv


def write_versions(folder: Path, rows: int, seed: int = 14) -> dict[str, int]:
    """OLD and NEW packages under ``folder``; return the true counts of added/removed/changed rows."""
    rng = random.Random(seed)
    expected = {"added": 0, "removed": 0, "changed": 0}
    for side in ("old", "new"):
        (folder / side).mkdir(parents=True, exist_ok=True)
        descriptor = {"name": "bench", "resources": [{"name": "items", "path": "items.csv", "format": "csv",
                                                      "schema": SCHEMA}]}
        (folder / side / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    with open(folder / "old" / "items.csv", "w", newline="") as o, open(folder / "new" / "items.csv", "w", newline="") as n:
        old, new = csv.writer(o), csv.writer(n)
        for writer in (old, new):
            writer.writerow(["id", "name", "value", "category", "note"])
        for i in range(rows):
            row = [f"r{i:08d}", f"name {i}", str(i * 7 % 100_003), f"cat-{i % 17}", f"note about row {i}"]
            old.writerow(row)
            roll = rng.random()
            if roll < 0.005:
                expected["removed"] += 1
                continue
            if roll < 0.015:
                row = row[:2] + [str(int(row[2]) + 1)] + row[3:]
                expected["changed"] += 1
            new.writerow(row)
            if rng.random() < 0.005:
                new.writerow([f"n{i:08d}", f"new {i}", "1", "cat-new", "added"])
                expected["added"] += 1
    return expected


def run(command: list[str], timeout: float, cwd: Path) -> dict:
    """Wall time and peak tree RSS of ``command`` (stdout kept in a file)."""
    out_path = cwd / "stdout.txt"
    started = time.perf_counter()
    with open(out_path, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE, cwd=cwd)
        peak = 0
        while process.poll() is None:
            peak = max(peak, sum(tree_rss(process.pid).values()))
            if time.perf_counter() - started > timeout:
                process.kill()
                process.wait()
                return {"seconds": None, "peak_mb": round(peak / 1024), "status": f"stopped after {timeout:.0f} s"}
            time.sleep(0.02)
    seconds = time.perf_counter() - started
    status = "ok" if process.returncode in (0, 1) else f"exit {process.returncode}: {process.stderr.read()[:200]!r}"
    return {"seconds": round(seconds, 2), "peak_mb": round(peak / 1024), "status": status, "stdout": out_path}


def counts_dpkg(stdout: Path) -> dict[str, int]:
    rows = json.loads(stdout.read_text())["resources"][0]["rows"]
    return {k: rows[f"{k}_count"] for k in ("added", "removed", "changed")}


def counts_csv_diff(stdout: Path) -> dict[str, int]:
    body = json.loads(stdout.read_text())
    return {k: len(body[k]) for k in ("added", "removed", "changed")}


def counts_daff(out_csv: Path) -> dict[str, int]:
    counts = {"added": 0, "removed": 0, "changed": 0}
    with open(out_csv, newline="") as handle:
        for row in csv.reader(handle):
            action = row[0] if row else ""
            key = {"+++": "added", "---": "removed", "->": "changed"}.get(action)
            if key:
                counts[key] += 1
    return counts


def bench(rows: int, timeout: float, venv: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="dpkg-diff-bench-") as tmp:
        folder = Path(tmp)
        expected = write_versions(folder, rows)
        old, new = folder / "old", folder / "new"
        commands = {
            "dpkg diff": [str(DPKG), "diff", str(old), str(new), "--format", "json", "--max-rows", "100", "--exit-zero"],
            "csv-diff": [str(venv / "bin" / "csv-diff"), str(old / "items.csv"), str(new / "items.csv"), "--key", "id", "--json"],
            "daff": [str(venv / "bin" / "daff"), "diff", "--id", "id", "--output", str(folder / "daff.csv"),
                     str(old / "items.csv"), str(new / "items.csv")],
        }
        size = (old / "items.csv").stat().st_size
        print(f"\n{rows:,} rows ({size / 1e6:.0f} MB per version); true counts {expected}")
        results = {}
        for tool, command in commands.items():
            result = run(command, timeout, folder)
            if result["status"] == "ok":
                parse = {"dpkg diff": lambda r: counts_dpkg(r["stdout"]), "csv-diff": lambda r: counts_csv_diff(r["stdout"]),
                         "daff": lambda r: counts_daff(folder / "daff.csv")}[tool]
                found = parse(result)
                result["counts"] = "same" if found == expected else f"DIFFERENT: {found}"
            results[tool] = result
            print(f"  {tool:10s} {result['seconds'] if result['seconds'] is not None else '-':>8} s  "
                  f"peak {result['peak_mb']:>6} MB  {result['status']}  counts: {result.get('counts', '-')}")
        base = results["dpkg diff"]["seconds"]
        for tool in ("csv-diff", "daff"):
            other = results[tool]["seconds"]
            if base and other:
                print(f"  {tool} / dpkg diff time: {other / base:.1f}x")
            elif base:
                print(f"  {tool} / dpkg diff time: more than {timeout / base:.0f}x ({results[tool]['status']})")
        print("  commands:")
        for tool, command in commands.items():
            shown = " ".join(c.replace(tmp, "$TMP").replace(str(ROOT) + "/", "") for c in command)
            print(f"    {tool}: {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated table sizes")
    parser.add_argument("--timeout", type=float, default=600, help="seconds before a tool is stopped")
    args = parser.parse_args()
    venv = reference_env()
    print(f"machine: {os.cpu_count()} CPUs; python {sys.version.split()[0]}")
    for rows in (int(r) for r in args.rows.split(",")):
        bench(rows, args.timeout, venv)


if __name__ == "__main__":
    main()

"""Benchmark: ``dpkg build`` against its floor, at 1M, 3M and 5M rows (time and whole-tree peak RSS).

The package is gx_benchmark's synthetic one without seeded errors (a 1,000-row parent, an N-row
child with a string primary key, a foreign key, a date, an enum, a number and free text). Each run
is a process of its own, measured the same way (wall time; peak of the RSS summed over the process
tree, sampled every 5 ms):

- ``dpkg build --force --memory-limit M`` (the writing part of a build; validation is measured by
  gx_benchmark.py), and once more into a second folder to check that every artefact is
  byte-identical;
- the **floor**: the same tables loaded with their types and keys (PRIMARY KEY, FOREIGN KEY) into a
  DuckDB file, then each written as zstd Parquet; nothing else (no zip, no dictionary, no checks),
  with DuckDB's defaults (all cores) and the same memory limit: the floor of issue 15. Its
  ``INSERT`` is one statement; when DuckDB cannot commit that under the cap (5M rows under
  512MB: "failed to pin block"), the floor inserts in committed batches of
  ``datapkg.database.batch_rows(cap)`` rows, as ``dpkg build`` does, and says so (the failed
  run is not counted).

    .venv/bin/python benchmarks/build_benchmark.py [--rows 1000000 3000000 5000000] [--memory-limit 512MB]
        [--dir DIR] [--repeat 3] [--no-check]

The two sides run as ``--repeat`` interleaved pairs (floor then build, then build then floor, ...);
the time ratio is the median of the pairs' ratios. Each run prints its wall time, its CPU time
(user + system over the process tree) and the load average when it started: the machine is
shared, other work slows both sides of a pair alike, and a side with fewer busy threads loses
more under load, which the CPU ratio shows apart from the scheduling.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from gx_benchmark import generate, measure  # this folder's: the package and the process-tree measure

from datapkg.database import batch_rows

BIN = Path(sys.executable).parent

FLOOR = """
import duckdb, sys, pathlib
folder, target, limit, batch = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
con = duckdb.connect(str(target), config={"memory_limit": limit})
con.execute("CREATE TABLE parent (id VARCHAR PRIMARY KEY, name VARCHAR, country VARCHAR)")
con.execute("CREATE TABLE child (id VARCHAR PRIMARY KEY, parent_id VARCHAR NOT NULL REFERENCES parent (id), "
            "day DATE, country VARCHAR, amount DOUBLE, note VARCHAR)")
con.execute(f"INSERT INTO parent SELECT * FROM read_csv('{folder}/data/parent.csv', header=true, all_varchar=true)")
typed = (f"read_csv('{folder}/data/child.csv', header=true, columns={{'id': 'VARCHAR', 'parent_id': 'VARCHAR', "
         "'day': 'DATE', 'country': 'VARCHAR', 'amount': 'DOUBLE', 'note': 'VARCHAR'})")
if not batch:
    con.execute(f"INSERT INTO child SELECT * FROM {typed}")
else:  # the keys of one INSERT must fit under the cap until it commits: batches, each committed
    con.execute(f"CREATE TEMP TABLE stage AS SELECT * FROM {typed}")
    rows = con.execute("SELECT count(*) FROM stage").fetchone()[0]
    for low in range(0, rows, batch):
        con.execute(f"INSERT INTO child SELECT * FROM stage WHERE rowid >= {low} AND rowid < {low + batch}")
        con.execute("CHECKPOINT")
    con.execute("DROP TABLE stage")
con.execute("CHECKPOINT")
(target.parent / "parquet").mkdir(exist_ok=True)
for name in ("parent", "child"):
    con.execute(f"COPY {name} TO '{target.parent / 'parquet' / name}.parquet' (FORMAT parquet, COMPRESSION zstd)")
con.close()
"""
FLOOR_NAME = "floor (DuckDB load with keys + zstd Parquet)"
BUILD_NAME = "dpkg build"


def digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _line(name: str, r: dict, load: str) -> str:
    return (f"  {name:34} {r['wall']:7.2f} s (cpu {r['cpu']:6.2f} s) {r['tree_mb']:5.0f} MB  exit {r['rc']}"
            f"  load {load}")


def bench(rows: int, folder: Path, limit: str, check: bool, repeat: int) -> dict:
    """``repeat`` interleaved pairs (floor, build), the order alternating; the ratio is the median of
    the pairs' ratios, so that both sides of a ratio ran under about the same load."""
    pkg = folder / f"pkg-{rows}"
    if not (pkg / "datapackage.json").exists():
        generate(pkg, rows, 0)
    size = sum(p.stat().st_size for p in (pkg / "data").iterdir()) / 1e6
    print(f"{rows:,} rows ({size:.0f} MB of CSV); load average {_load()}", flush=True)
    floor_dir = folder / f"floor-{rows}"
    runs = {FLOOR_NAME: [str(BIN / "python"), "-c", FLOOR, str(pkg), str(floor_dir / "floor.duckdb"), limit, "0"],
            BUILD_NAME: [str(BIN / "dpkg"), "build", str(pkg), "--force", "--quiet", "--memory-limit", limit,
                         "--out", str(folder / f"dist-{rows}-a")]}
    results: dict[str, list[dict]] = {FLOOR_NAME: [], BUILD_NAME: []}
    for attempt in range(repeat):
        for name in (list(runs) if attempt % 2 == 0 else list(runs)[::-1]):
            shutil.rmtree(floor_dir, ignore_errors=True)
            floor_dir.mkdir()
            load = _load()
            r = measure(runs[name])
            print(_line(name, r, load), flush=True)
            if r["rc"] != 0:
                print(r["stderr"])
            if name == FLOOR_NAME and r["rc"] != 0 and "memory" in r["stderr"].lower() and runs[name][-1] == "0":
                runs[name][-1] = str(batch_rows(limit))  # DuckDB cannot commit one INSERT's keys under the cap
                shutil.rmtree(floor_dir, ignore_errors=True)
                floor_dir.mkdir()
                print(f"  (the floor's one INSERT ran out of memory under {limit}; from now on it inserts "
                      f"{runs[name][-1]} rows per transaction, as dpkg build does; that run is not counted)")
                load = _load()
                r = measure(runs[name])
                print(_line(name + " (batches)", r, load), flush=True)
                if r["rc"] != 0:
                    print(r["stderr"])
            results[name].append(r)
    summary: dict = {name: {"wall": round(statistics.median(r["wall"] for r in rs), 2),
                            "cpu": round(statistics.median(r["cpu"] for r in rs), 2),
                            "tree_mb": round(max(r["tree_mb"] for r in rs)),
                            "failed": sum(r["rc"] != 0 for r in rs)} for name, rs in results.items()}
    if check:
        load = _load()
        r = measure([str(BIN / "dpkg"), "build", str(pkg), "--force", "--quiet", "--memory-limit", limit,
                     "--out", str(folder / f"dist-{rows}-b")])
        print(_line("dpkg build (second, for the bytes)", r, load), flush=True)
        one, two = digests(folder / f"dist-{rows}-a"), digests(folder / f"dist-{rows}-b")
        same = sorted(k for k in one if one.get(k) == two.get(k))
        differ = sorted(set(one) ^ set(two) | {k for k in one if k in two and one[k] != two[k]})
        print(f"  byte-identical artefacts: {len(same)}/{len(one)}" + (f"; DIFFER: {differ}" if differ else ""))
        summary["identical"] = {"same": len(same), "of": len(one), "differ": differ}
    pairs = [(b["wall"] / f["wall"], b["cpu"] / f["cpu"]) for f, b in zip(results[FLOOR_NAME], results[BUILD_NAME])
             if f["rc"] == 0 and b["rc"] == 0]
    if pairs:
        summary["ratio"] = round(statistics.median(w for w, _ in pairs), 3)
        summary["cpu_ratio"] = round(statistics.median(c for _, c in pairs), 3)
        print(f"  => build / floor: {summary['ratio']:.2f}x time, median of {len(pairs)} interleaved pair(s) "
              f"({', '.join(f'{w:.2f}' for w, _ in pairs)}; goal <= 2); {summary['cpu_ratio']:.2f}x CPU; "
              f"peak {summary[BUILD_NAME]['tree_mb']:.0f} MB vs {summary[FLOOR_NAME]['tree_mb']:.0f} MB (whole tree); "
              f"load average {_load()}", flush=True)
    else:
        print(f"  => no ratio: a side failed in every pair; load average {_load()}", flush=True)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 3_000_000, 5_000_000])
    parser.add_argument("--memory-limit", default="512MB", help="given to dpkg build and to the floor alike")
    parser.add_argument("--dir", type=Path, default=None, help="where to write packages and releases (default: a temp folder)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved (floor, build) pairs; the ratio is their median")
    parser.add_argument("--no-check", action="store_true", help="skip the second build that checks the bytes")
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="dpkg-build-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"folder {folder}; {os.cpu_count()} CPUs; memory limit {args.memory_limit}")
    results = {rows: bench(rows, folder, args.memory_limit, not args.no_check, args.repeat) for rows in args.rows}
    print(json.dumps({str(k): v for k, v in results.items()}))


if __name__ == "__main__":
    main()

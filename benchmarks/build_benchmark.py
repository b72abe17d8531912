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
  with DuckDB's defaults (all cores) and the same memory limit.

    .venv/bin/python benchmarks/build_benchmark.py [--rows 1000000 3000000 5000000] [--memory-limit 512MB]
        [--dir DIR] [--repeat 1] [--no-check]

The load average is printed before and after: other work on the machine slows both sides alike,
which is why the figures that count are the ratios of one run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gx_benchmark import generate, measure  # this folder's: the package and the process-tree measure

BIN = Path(sys.executable).parent

FLOOR = """
import duckdb, sys, pathlib
folder, target, limit = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
con = duckdb.connect(str(target), config={"memory_limit": limit})
con.execute("CREATE TABLE parent (id VARCHAR PRIMARY KEY, name VARCHAR, country VARCHAR)")
con.execute("CREATE TABLE child (id VARCHAR PRIMARY KEY, parent_id VARCHAR NOT NULL REFERENCES parent (id), "
            "day DATE, country VARCHAR, amount DOUBLE, note VARCHAR)")
con.execute(f"INSERT INTO parent SELECT * FROM read_csv('{folder}/data/parent.csv', header=true, all_varchar=true)")
con.execute(f"INSERT INTO child SELECT * FROM read_csv('{folder}/data/child.csv', header=true, "
            "columns={'id': 'VARCHAR', 'parent_id': 'VARCHAR', 'day': 'DATE', 'country': 'VARCHAR', "
            "'amount': 'DOUBLE', 'note': 'VARCHAR'})")
con.execute("CHECKPOINT")
(target.parent / "parquet").mkdir(exist_ok=True)
for name in ("parent", "child"):
    con.execute(f"COPY {name} TO '{target.parent / 'parquet' / name}.parquet' (FORMAT parquet, COMPRESSION zstd)")
con.close()
"""


def digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _line(name: str, r: dict) -> str:
    return f"  {name:34} {r['wall']:7.2f} s {r['tree_mb']:7.0f} MB  exit {r['rc']}"


def bench(rows: int, folder: Path, limit: str, check: bool, repeat: int) -> dict:
    pkg = folder / f"pkg-{rows}"
    if not (pkg / "datapackage.json").exists():
        generate(pkg, rows, 0)
    size = sum(p.stat().st_size for p in (pkg / "data").iterdir()) / 1e6
    print(f"{rows:,} rows ({size:.0f} MB of CSV); load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
          flush=True)
    best: dict[str, dict] = {}
    for attempt in range(repeat):
        floor_dir = folder / f"floor-{rows}"
        shutil.rmtree(floor_dir, ignore_errors=True)
        floor_dir.mkdir()
        runs = {"floor (DuckDB load with keys + zstd Parquet)":
                [str(BIN / "python"), "-c", FLOOR, str(pkg), str(floor_dir / "floor.duckdb"), limit],
                "dpkg build": [str(BIN / "dpkg"), "build", str(pkg), "--force", "--quiet", "--memory-limit", limit,
                               "--out", str(folder / f"dist-{rows}-a")]}
        for name, cmd in runs.items():
            r = measure(cmd)
            print(_line(name, r), flush=True)
            if r["rc"] != 0:
                print(r["stderr"])
            if name not in best or r["wall"] < best[name]["wall"]:
                best[name] = r
    if check:
        r = measure([str(BIN / "dpkg"), "build", str(pkg), "--force", "--quiet", "--memory-limit", limit,
                     "--out", str(folder / f"dist-{rows}-b")])
        print(_line("dpkg build (second, for the bytes)", r), flush=True)
        one, two = digests(folder / f"dist-{rows}-a"), digests(folder / f"dist-{rows}-b")
        same = sorted(k for k in one if one.get(k) == two.get(k))
        differ = sorted(set(one) ^ set(two) | {k for k in one if k in two and one[k] != two[k]})
        print(f"  byte-identical artefacts: {len(same)}/{len(one)}" + (f"; DIFFER: {differ}" if differ else ""))
        best["identical"] = {"same": len(same), "of": len(one), "differ": differ}
    floor, build = best["floor (DuckDB load with keys + zstd Parquet)"], best["dpkg build"]
    print(f"  => build / floor: {build['wall'] / floor['wall']:.2f}x time (goal <= 2), "
          f"{build['tree_mb']:.0f} MB vs {floor['tree_mb']:.0f} MB peak (whole tree); "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 3_000_000, 5_000_000])
    parser.add_argument("--memory-limit", default="512MB", help="given to dpkg build and to the floor alike")
    parser.add_argument("--dir", type=Path, default=None, help="where to write packages and releases (default: a temp folder)")
    parser.add_argument("--repeat", type=int, default=1, help="run each side N times; report the fastest")
    parser.add_argument("--no-check", action="store_true", help="skip the second build that checks the bytes")
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="dpkg-build-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"folder {folder}; {os.cpu_count()} CPUs; memory limit {args.memory_limit}")
    results = {rows: bench(rows, folder, args.memory_limit, not args.no_check, args.repeat) for rows in args.rows}
    print(json.dumps({str(k): {n: {"wall": round(r["wall"], 2), "tree_mb": round(r["tree_mb"])}
                               if "wall" in r else r for n, r in v.items()} for k, v in results.items()}))


if __name__ == "__main__":
    main()

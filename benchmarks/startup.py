"""Start-up time of the CLI, side by side with the floor it is measured against.

Usage: .venv/bin/python benchmarks/startup.py [--runs N] [--package PATH] [--no-sqlite-utils]

The floor for ``dpkg query`` is bare ``python -c "import duckdb; duckdb.connect(DB,
read_only=True)..."`` on the very database file ``dpkg query`` uses (the package's built or
cached database, found by :func:`datapkg.query.open_database`); ``sqlite-utils query`` runs the
same SQL on the same tables copied into SQLite (sqlite-utils is installed from PyPI into
``benchmarks/out/venv-sqlite-utils`` on first use; skipped with a note if that fails). The
commands run round-robin, N rounds after one warm-up round, so that a busy machine slows every
command alike; the median wall time and the median CPU time (user + system) are reported,
with ratios to the floor.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
OUT = Path(__file__).resolve().parent / "out"
SQL = "select count(*) from citations"
BARE = ("import duckdb, sys\n"
        "con = duckdb.connect(sys.argv[1], read_only=True)\n"
        "cur = con.execute(sys.argv[2])\n"
        "print(','.join(d[0] for d in cur.description))\n"
        "for row in cur.fetchall():\n    print(','.join(map(str, row)))\n")


def database_of(package: str) -> Path:
    """The database file ``dpkg query`` uses for ``package`` (built into the cache first if needed)."""
    from datapkg.query import open_database

    con, db, _kind = open_database(package)
    con.close()
    return db


def sqlite_copy(db: Path, target: Path) -> Path:
    """The tables of ``db`` copied into the SQLite file ``target`` (rebuilt each run)."""
    import duckdb

    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    src = duckdb.connect(str(db), read_only=True)
    dst = sqlite3.connect(target)
    for (table,) in src.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall():
        cur = src.execute(f'SELECT * FROM "{table}"')
        columns = ", ".join(f'"{d[0]}"' for d in cur.description)
        dst.execute(f'CREATE TABLE "{table}" ({columns})')
        rows = [tuple(v if isinstance(v, (int, float, str, bytes, type(None))) else str(v) for v in r)
                for r in cur.fetchall()]
        dst.executemany(f'INSERT INTO "{table}" VALUES ({", ".join("?" * len(cur.description))})', rows)
    dst.commit()
    dst.close()
    src.close()
    return target


def sqlite_utils() -> Path | None:
    """The sqlite-utils console script in its own venv (installed from PyPI on first use), else None."""
    venv = OUT / "venv-sqlite-utils"
    tool = venv / "bin" / "sqlite-utils"
    if not tool.exists():
        made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True)
        got = made.returncode == 0 and subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", "sqlite-utils"],
            capture_output=True).returncode == 0
        if not got:
            print("note: sqlite-utils did not install from PyPI; its line is left out", file=sys.stderr)
            return None
    return tool


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(commands: dict[str, list[str]], runs: int) -> dict[str, tuple[float, float]]:
    """(median wall time, median CPU time) of each command over ``runs`` round-robin rounds (after a warm-up).

    CPU time (user + system of the child) is the steadier figure on a busy machine: waiting for
    a core counts in the wall time only.
    """
    times: dict[str, list[tuple[float, float]]] = {label: [] for label in commands}
    for round_ in range(runs + 1):
        for label, command in commands.items():
            start, cpu = time.perf_counter(), _cpu()
            subprocess.run(command, capture_output=True, check=False)
            if round_:
                times[label].append((time.perf_counter() - start, _cpu() - cpu))
    return {label: (statistics.median(v[0] for v in values), statistics.median(v[1] for v in values))
            for label, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--package", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--no-sqlite-utils", action="store_true")
    args = parser.parse_args()
    db = database_of(args.package)
    dpkg = str(BIN / "dpkg")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "bare python+duckdb (floor)": [sys.executable, "-c", BARE, str(db), SQL],
        "dpkg query --format csv": [dpkg, "query", SQL, "-p", args.package, "--format", "csv"],
        "dpkg --help": [dpkg, "--help"],
        "dpkg validate --help": [dpkg, "validate", "--help"],
    }
    tool = None if args.no_sqlite_utils else sqlite_utils()
    if tool is not None:
        commands["sqlite-utils query (SQLite copy)"] = [str(tool), "query", str(sqlite_copy(db, OUT / "startup.sqlite")),
                                                        SQL, "--csv"]
    for label, command in commands.items():  # every command must work before it is timed
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{label} failed: {done.stderr.strip()}")
    medians = measure(commands, args.runs)
    floor_wall, floor_cpu = medians["bare python+duckdb (floor)"]
    print(f"database: {db}\nSQL: {SQL}\nruns: {args.runs} round-robin rounds, medians; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    print(f"{'command':36s} {'wall s':>7s} {'× floor':>8s} {'CPU s':>7s} {'× floor':>8s}")
    for label, (wall, cpu) in medians.items():
        print(f"{label:36s} {wall:7.3f} {wall / floor_wall:8.2f} {cpu:7.3f} {cpu / floor_cpu:8.2f}")


if __name__ == "__main__":
    main()

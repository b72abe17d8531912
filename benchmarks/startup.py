"""Start-up time of the CLI, side by side with the floor it is measured against.

Usage: .venv/bin/python benchmarks/startup.py [--runs N] [--package PATH] [--no-sqlite-utils] [--no-bytecode-cache]

The floor for ``dpkg query`` is bare ``python -c "import duckdb; duckdb.connect(DB,
read_only=True)..."`` on the very database file ``dpkg query`` uses (the package's built or
cached database, found by :func:`datapkg.query.open_database`); ``sqlite-utils query`` runs the
same SQL on the same tables copied into SQLite (sqlite-utils is installed from PyPI into
``benchmarks/out/venv-sqlite-utils`` on first use; skipped with a note if that fails). The
commands run round-robin, N rounds after one warm-up round, so that a busy machine slows every
command alike; the median wall time and the median CPU time (user + system) are reported,
with ratios to the floor, the spread (25th–75th percentile) of each, and the median of the
per-round ratios (each round's time over the floor's in the same round), with the load average
before and after. dpkg's output must equal the floor's, byte for byte, or nothing is timed.

Every command runs with Python's bytecode cache, as an installed tool does (pip compiles a
wheel's modules at install time; duckdb's are compiled too): the children write and read it in
``benchmarks/out/pycache`` (``PYTHONPYCACHEPREFIX``), filled in the warm-up round, so a
``PYTHONDONTWRITEBYTECODE`` in the caller's environment does not make dpkg compile its own
modules on every run while duckdb's come compiled. ``--no-bytecode-cache`` measures that case
instead (every module without a cached ``.pyc`` is compiled on every run).
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


def child_env(bytecode_cache: bool) -> dict[str, str]:
    """The environment every timed command runs in (the same for all: see the module doc)."""
    env = dict(os.environ)
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(OUT / "pycache")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    return env


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(commands: dict[str, list[str]], runs: int, env: dict[str, str]) -> dict[str, list[tuple[float, float]]]:
    """(wall time, CPU time) of each command in each of ``runs`` round-robin rounds (after a warm-up round).

    CPU time (user + system of the child) is the steadier figure on a busy machine: waiting for
    a core counts in the wall time only.
    """
    times: dict[str, list[tuple[float, float]]] = {label: [] for label in commands}
    for round_ in range(runs + 1):
        for label, command in commands.items():
            start, cpu = time.perf_counter(), _cpu()
            subprocess.run(command, capture_output=True, check=False, env=env)
            if round_:
                times[label].append((time.perf_counter() - start, _cpu() - cpu))
    return times


def spread(values: list[float]) -> tuple[float, float, float]:
    """(median, 25th percentile, 75th percentile)."""
    quartiles = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return statistics.median(values), quartiles[0], quartiles[2]


def report(times: dict[str, list[tuple[float, float]]], floor: str) -> None:
    """Print each command's medians, spreads and ratios to ``floor``."""
    print(f"{'command':34s} {'wall s (p25–p75)':>22s} {'× floor':>7s} {'per round':>17s} "
          f"{'CPU s (p25–p75)':>22s} {'× floor':>7s} {'per round':>17s}")
    for label, samples in times.items():
        cells = []
        for kind in (0, 1):
            mine = [s[kind] for s in samples]
            base = [s[kind] for s in times[floor]]
            med, low, high = spread(mine)
            ratio, r_low, r_high = spread([a / b for a, b in zip(mine, base)])
            cells.append(f"{med:7.3f} ({low:.3f}–{high:.3f}) {med / spread(base)[0]:7.2f} "
                         f"{ratio:5.2f} ({r_low:.2f}–{r_high:.2f})")
        print(f"{label:34s} {cells[0]} {cells[1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--package", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--no-sqlite-utils", action="store_true")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="every run compiles the modules that have no cached .pyc (see above)")
    args = parser.parse_args()
    env = child_env(not args.no_bytecode_cache)
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
    outputs = {}
    for label, command in commands.items():  # every command must work before it is timed
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise SystemExit(f"{label} failed: {done.stderr.strip()}")
        outputs[label] = done.stdout
    if outputs["dpkg query --format csv"] != outputs["bare python+duckdb (floor)"]:
        raise SystemExit(f"dpkg query's output differs from the floor's: {outputs['dpkg query --format csv']!r} "
                         f"!= {outputs['bare python+duckdb (floor)']!r}")
    load_before = os.getloadavg()
    times = measure(commands, args.runs, env)
    load_after = os.getloadavg()
    print(f"database: {db}\nSQL: {SQL}\nruns: {args.runs} round-robin rounds after a warm-up round; "
          f"bytecode cache: {'no' if args.no_bytecode_cache else 'yes'}\nload average (1, 5, 15 min) before "
          f"{', '.join(f'{x:.1f}' for x in load_before)}, after {', '.join(f'{x:.1f}' for x in load_after)} "
          f"on {os.cpu_count()} cores\n× floor: median over the floor's median; per round: median (p25–p75) "
          "of each round's ratio\n")
    report(times, "bare python+duckdb (floor)")


if __name__ == "__main__":
    main()

"""Benchmark: dpkg's GX-on-DuckDB path vs ``frictionless validate`` vs plain DuckDB SQL, at 1M rows.

Generates a package with a 1,000-row parent table and a 1,000,000-row child table (string id
with a pattern that is the primary key, foreign key, ISO date, enum country code, numeric range,
free text) with a known number of seeded errors of each kind at known rows, then runs on the same
files, each in its own process: ``dpkg validate --format json`` (the full command),
``frictionless validate --json``, and a plain DuckDB SQL query set (the floor), plus ``import
great_expectations`` alone. Prints wall time, peak memory (of the largest process, and summed
over the process tree, since ``dpkg validate`` runs its phases in worker processes), the ratios,
and whether each found every seeded error at its row and field.

    .venv/bin/python benchmarks/gx_benchmark.py [--rows 1000000] [--per-kind 10] [--dir DIR] [--repeat 3]
        [--no-primary-key]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from process_tree import tree_rss  # this folder's: the process tree's RSS

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
COUNTRIES = ["RU", "KP", "CN", "US", "JP", "KR", "ID", "IN", "BR", "DE"]
KINDS = {  # kind -> (field, bad value)
    "pattern": ("id", lambda i: f"X{i:07d}"),
    "foreign-key": ("parent_id", lambda i: "P9999"),
    "date": ("day", lambda i: "2024-02-30"),
    "enum": ("country", lambda i: "XX"),
    "range": ("amount", lambda i: "1500.5"),
    "primary-key": ("id", lambda i: f"C{i - 1:07d}"),  # the id of the row above: a duplicate key
}
WORDS = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor".split()


def generate(folder: Path, rows: int, per_kind: int, seed: int = 42,
             primary_key: bool = True, parent_rows: int = 1000) -> dict[tuple[int, str], str]:
    """Write the package into ``folder``; return the seeded errors {(row, field): kind}.

    The child's ``id`` is its primary key unless ``primary_key`` is False (then no duplicate ids
    are seeded, and frictionless need not remember every id it has seen).
    """
    kinds = {k: v for k, v in KINDS.items() if primary_key or k != "primary-key"}
    rng = random.Random(seed)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    width = max(4, len(str(parent_rows)))
    parents = [f"P{i:0{width}d}" for i in range(1, parent_rows + 1)]
    with (folder / "data" / "parent.csv").open("w", encoding="utf-8", newline="") as out:
        out.write("id,name,country\n")
        for i, pid in enumerate(parents):
            out.write(f"{pid},Parent {i},{COUNTRIES[i % len(COUNTRIES)]}\n")
    picked = rng.sample(range(3, rows + 2), per_kind * len(kinds))
    seeded: dict[int, str] = {}
    for n, row in enumerate(sorted(picked)):
        seeded[row] = list(kinds)[n % len(kinds)]
    for row, kind in list(seeded.items()):  # a duplicate must copy a row that keeps its own id
        if kind == "primary-key" and seeded.get(row - 1) in ("pattern", "primary-key"):
            seeded[row] = "range"
    with (folder / "data" / "child.csv").open("w", encoding="utf-8", newline="") as out:
        out.write("id,parent_id,day,country,amount,note\n")
        lines = []
        for i in range(rows):
            row = i + 2
            cells = [f"C{i:07d}", parents[i % len(parents)], f"20{10 + i % 15:02d}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                     COUNTRIES[i % 7], f"{(i * 7919) % 100000 / 100:.2f}", f"{WORDS[i % 12]} {WORDS[(i * 7) % 12]} {i}"]
            kind = seeded.get(row)
            if kind:
                field, bad = kinds[kind]
                cells[["id", "parent_id", "day", "country", "amount", "note"].index(field)] = bad(i)
            lines.append(",".join(cells))
            if len(lines) == 50_000:
                out.write("\n".join(lines) + "\n")
                lines = []
        if lines:
            out.write("\n".join(lines) + "\n")
    descriptor = {
        "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
        "name": "gx-benchmark",
        "resources": [
            {"name": "parent", "path": "data/parent.csv", "format": "csv", "schema": {
                "fields": [{"name": "id", "type": "string", "constraints": {"required": True, "pattern": f"P[0-9]{{{width}}}"}},
                           {"name": "name", "type": "string"},
                           {"name": "country", "type": "string", "constraints": {"enum": COUNTRIES}}],
                "primaryKey": ["id"]}},
            {"name": "child", "path": "data/child.csv", "format": "csv", "schema": {
                "fields": [{"name": "id", "type": "string", "constraints": {"required": True, "pattern": "C[0-9]{7}"}},
                           {"name": "parent_id", "type": "string", "constraints": {"required": True}},
                           {"name": "day", "type": "date"},
                           {"name": "country", "type": "string", "constraints": {"enum": COUNTRIES}},
                           {"name": "amount", "type": "number", "constraints": {"minimum": 0, "maximum": 1000}},
                           {"name": "note", "type": "string"}],
                "foreignKeys": [{"fields": ["parent_id"], "reference": {"resource": "parent", "fields": ["id"]}}]}},
        ],
    }
    if primary_key:
        descriptor["resources"][1]["schema"]["primaryKey"] = ["id"]
    (folder / "datapackage.json").write_text(json.dumps(descriptor, indent=2), encoding="utf-8")
    return {(row, kinds[kind][0]): kind for row, kind in seeded.items()}


# --- the runners (each runs in its own process) -------------------------------------------------

DUCKDB_FLOOR = """
import duckdb, json, sys
folder = sys.argv[1]
con = duckdb.connect()
con.execute(f"CREATE TABLE parent AS SELECT * FROM read_csv('{folder}/data/parent.csv', all_varchar=true)")
con.execute(f"CREATE TABLE child_raw AS SELECT * FROM read_csv('{folder}/data/child.csv', all_varchar=true)")
con.execute("CREATE TABLE child AS SELECT rowid + 2 AS r, * FROM child_raw")
queries = {
  "id": "SELECT r FROM child WHERE NOT regexp_full_match(id, 'C[0-9]{7}')",
  "parent_id": "SELECT r FROM child c WHERE parent_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM parent p WHERE p.id = c.parent_id)",
  "day": "SELECT r FROM child WHERE day IS NOT NULL AND TRY_STRPTIME(day, '%Y-%m-%d') IS NULL",
  "country": "SELECT r FROM child WHERE country NOT IN ('RU','KP','CN','US','JP','KR','ID','IN','BR','DE')",
  "amount": "SELECT r FROM child WHERE TRY_CAST(amount AS DOUBLE) IS NULL OR TRY_CAST(amount AS DOUBLE) NOT BETWEEN 0 AND 1000",
  "id ": "SELECT r FROM (SELECT r, row_number() OVER (PARTITION BY id ORDER BY r) AS n FROM child) WHERE n > 1",
}
found = [[row, field.strip()] for field, sql in queries.items() for (row,) in con.execute(sql).fetchall()]
print(json.dumps({"errors": [{"rowNumber": r, "fieldName": f} for r, f in found]}))
"""

GX_IMPORT = "import great_expectations"


def measure(cmd: list[str]) -> dict:
    """Run ``cmd`` in a child process; return wall seconds, peak RSS (MB) and stdout."""
    proc = subprocess.run([sys.executable, __file__, "--measure-child", json.dumps(cmd)],
                          capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"measuring {cmd[:3]} failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def _measure_child(cmd: list[str]) -> None:
    """(In the measuring process.) Run ``cmd``; print JSON with wall, memory and stdout.

    ``peak_mb``: the largest max RSS of any one process of the run (getrusage). ``tree_mb``: the
    peak of the summed RSS of the whole process tree (worker processes count too), sampled
    every 5 ms, and never less than ``peak_mb``. ``cpu``: CPU seconds (user + system) of the whole
    tree (the processes it waited for).
    """
    started = time.perf_counter()
    peak_rss = 0
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True,
                                env={**os.environ, "GX_ANALYTICS_ENABLED": "false"})
        while proc.poll() is None:
            peak_rss = max(peak_rss, sum(tree_rss(proc.pid).values()))
            time.sleep(0.005)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = usage.ru_maxrss / 1024
    print(json.dumps({"wall": wall, "peak_mb": peak, "tree_mb": max(peak, peak_rss / 1024), "rc": proc.returncode,
                      "cpu": usage.ru_utime + usage.ru_stime,
                      "stdout": stdout, "stderr": stderr[-1000:]}))


def found_pairs(stdout: str, child_file: str = "data/child.csv") -> set[tuple[int, str]]:
    """(row, field) pairs of the errors a JSON report lists (frictionless or dpkg form)."""
    data = json.loads(stdout)
    pairs = set()
    if "tasks" in data:  # frictionless validate --json
        for task in data["tasks"]:
            if not str(task.get("place", "")).endswith(child_file):
                continue
            for err in task.get("errors", []):
                if err.get("rowNumber"):
                    # frictionless names no field for a primary-key error: the child's key is "id"
                    field = (err.get("fieldName") or ",".join(err.get("fieldNames") or [])
                             or ("id" if err.get("type") == "primary-key" else ""))
                    pairs.add((err["rowNumber"], field))
        return pairs
    for err in data.get("errors", []):
        if err.get("rowNumber") or err.get("row"):
            field = err.get("fieldName") or err.get("field") or ("id" if err.get("check") == "primary-key" else None)
            pairs.add((err.get("rowNumber") or err.get("row"), field))  # frictionless' own primary-key finding has no field
    return pairs


def score(stdout: str, expected: set[tuple[int, str]]) -> tuple[int, int] | None:
    """(seeded errors found with their row and field, other findings) of a JSON report; None: no JSON."""
    try:
        pairs = found_pairs(stdout)
    except ValueError:
        return None
    return len(expected & pairs), len(pairs - expected)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--measure-child":
        _measure_child(json.loads(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--per-kind", type=int, default=10)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the package (default: a temp folder)")
    parser.add_argument("--skip-frictionless", action="store_true")
    parser.add_argument("--no-primary-key", action="store_true",
                        help="the child table has no primary key (and no duplicate ids are seeded)")
    parser.add_argument("--repeat", type=int, default=1, help="run each tool N times; report the fastest run")
    parser.add_argument("--parents", type=int, default=1000,
                        help="rows of the parent table the child's foreign key refers to")
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="dpkg-bench-"))
    t = time.perf_counter()
    seeded = generate(folder, args.rows, args.per_kind, primary_key=not args.no_primary_key, parent_rows=args.parents)
    counts = {kind: list(seeded.values()).count(kind) for kind in KINDS if kind in seeded.values()}
    print(f"package: {folder}  ({args.rows:,} child rows{'' if args.no_primary_key else ', primary key id'}, "
          f"{args.parents:,} parent rows; "
          f"{len(seeded)} seeded errors: {', '.join(f'{n} {k}' for k, n in counts.items())}; "
          f"generated in {time.perf_counter() - t:.1f} s)")
    py = str(BIN / "python")
    runs = {
        "dpkg validate": [str(BIN / "dpkg"), "validate", str(folder), "--format", "json"],
        "frictionless validate": [str(BIN / "frictionless"), "validate", "--json", str(folder / "datapackage.json")],
        "DuckDB SQL floor": [py, "-c", DUCKDB_FLOOR, str(folder)],
        "import great_expectations": [py, "-c", GX_IMPORT],
    }
    if args.skip_frictionless:
        runs.pop("frictionless validate")
    results = {}
    print(f"load average before the runs: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    for _ in range(max(1, args.repeat)):
        for name, cmd in runs.items():
            r = measure(cmd)
            print(f"  ran {name}: {r['wall']:.2f} s, {r['peak_mb']:.0f} MB largest process, "
                  f"{r['tree_mb']:.0f} MB all processes, exit {r['rc']}", flush=True)
            if name not in results or r["wall"] < results[name]["wall"]:
                results[name] = r
    expected = set(seeded)
    print()
    print(f"{'tool':26} {'wall s':>7} {'largest':>8} {'all':>8} {'found':>9}  all seeded found with row+field")
    for name, r in results.items():
        line = f"{name:26} {r['wall']:7.2f} {r['peak_mb']:8.0f} {r['tree_mb']:8.0f}"
        if name == "import great_expectations":
            print(f"{line} {'-':>9}  -")
            continue
        scored = score(r["stdout"], expected)
        if scored is None:
            print(f"{line}  (no JSON output: {r['stderr'][-200:]!r})")
            continue
        hit, extra = scored
        print(f"{line} {hit:4}/{len(expected):<4}  "
              f"{'yes' if hit == len(expected) else 'NO'}{f' (+{extra} other)' if extra else ''}")
    print("(peak memory in MB: 'largest' = max RSS of the largest process; 'all' = peak of the RSS summed "
          "over the process tree, sampled every 5 ms)")
    floor = results["DuckDB SQL floor"]["wall"]
    gx_import = results["import great_expectations"]["wall"]
    print()
    for name in ("dpkg validate",):
        r = results[name]
        line = f"{name}: {r['wall'] / (floor + gx_import):.2f}x (DuckDB floor + GX import = {floor + gx_import:.2f} s)"
        if "frictionless validate" in results:
            fr = results["frictionless validate"]
            line += (f"; {r['wall'] / fr['wall']:.2f}x frictionless' wall time (goal <= 0.12), "
                     f"{r['tree_mb'] / fr['tree_mb']:.2f}x its peak memory, all processes (goal <= 1)")
        print(line)


if __name__ == "__main__":
    main()

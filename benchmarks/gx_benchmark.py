"""Benchmark: dpkg's GX-on-DuckDB path vs ``frictionless validate`` vs plain DuckDB SQL, at 1M rows.

Generates a package with a 1,000-row parent table and a 1,000,000-row child table (string id
with a pattern, foreign key, ISO date, enum country code, numeric range, free text) with a known
number of seeded errors of each kind at known rows, then runs on the same files, each in its own
process: ``dpkg validate --format json`` (the full command), the GX path called directly
(frictionless header-only checks + :func:`run_gx_checks`, what ``dpkg validate`` runs once GX is
wired in), ``frictionless validate --json``, and a plain DuckDB SQL query set (the floor), plus
``import great_expectations`` alone. Prints wall time, peak memory (max RSS of the child
process), the ratios, and whether each found every seeded error at its row and field.

    .venv/bin/python benchmarks/gx_benchmark.py [--rows 1000000] [--per-kind 10] [--dir DIR] [--repeat 3]
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

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
COUNTRIES = ["RU", "KP", "CN", "US", "JP", "KR", "ID", "IN", "BR", "DE"]
KINDS = {  # kind -> (field, bad value)
    "pattern": ("id", lambda i: f"X{i:07d}"),
    "foreign-key": ("parent_id", lambda i: "P9999"),
    "date": ("day", lambda i: "2024-02-30"),
    "enum": ("country", lambda i: "XX"),
    "range": ("amount", lambda i: "1500.5"),
}
WORDS = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor".split()


def generate(folder: Path, rows: int, per_kind: int, seed: int = 42) -> dict[tuple[int, str], str]:
    """Write the package into ``folder``; return the seeded errors {(row, field): kind}."""
    rng = random.Random(seed)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    parents = [f"P{i:04d}" for i in range(1, 1001)]
    with (folder / "data" / "parent.csv").open("w", encoding="utf-8", newline="") as out:
        out.write("id,name,country\n")
        for i, pid in enumerate(parents):
            out.write(f"{pid},Parent {i},{COUNTRIES[i % len(COUNTRIES)]}\n")
    picked = rng.sample(range(2, rows + 2), per_kind * len(KINDS))
    seeded: dict[int, str] = {}
    for n, row in enumerate(sorted(picked)):
        seeded[row] = list(KINDS)[n % len(KINDS)]
    with (folder / "data" / "child.csv").open("w", encoding="utf-8", newline="") as out:
        out.write("id,parent_id,day,country,amount,note\n")
        lines = []
        for i in range(rows):
            row = i + 2
            cells = [f"C{i:07d}", parents[i % 1000], f"20{10 + i % 15:02d}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                     COUNTRIES[i % 7], f"{(i * 7919) % 100000 / 100:.2f}", f"{WORDS[i % 12]} {WORDS[(i * 7) % 12]} {i}"]
            kind = seeded.get(row)
            if kind:
                field, bad = KINDS[kind]
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
                "fields": [{"name": "id", "type": "string", "constraints": {"required": True, "pattern": "P[0-9]{4}"}},
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
    (folder / "datapackage.json").write_text(json.dumps(descriptor, indent=2), encoding="utf-8")
    return {(row, KINDS[kind][0]): kind for row, kind in seeded.items()}


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
}
found = [[row, field] for field, sql in queries.items() for (row,) in con.execute(sql).fetchall()]
print(json.dumps({"errors": [{"rowNumber": r, "fieldName": f} for r, f in found]}))
"""

GX_PATH = """
import json, sys
from pathlib import Path
from datapkg.package_source import open_package
from datapkg.checks.frictionless_checks import run_frictionless_checks
from datapkg.checks.gx_checks import gx_resources, run_gx_checks
with open_package(sys.argv[1]) as source:
    covered = gx_resources(source.root, source.descriptor)
    findings, _ = run_frictionless_checks(source, header_only=covered)
    findings += run_gx_checks(source.root, source.descriptor)
print(json.dumps({"errors": [{"rowNumber": f.row, "fieldName": f.field, "type": f.check} for f in findings]}))
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
    """(In the measuring process.) Run ``cmd``; print JSON with wall, peak RSS of the child, stdout."""
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "GX_ANALYTICS_ENABLED": "false"})
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "peak_mb": peak, "rc": proc.returncode, "stdout": proc.stdout,
                      "stderr": proc.stderr[-1000:]}))


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
                    pairs.add((err["rowNumber"], err.get("fieldName") or ",".join(err.get("fieldNames") or [])))
        return pairs
    for err in data.get("errors", []):
        if err.get("rowNumber") or err.get("row"):
            pairs.add((err.get("rowNumber") or err.get("row"), err.get("fieldName") or err.get("field")))
    return pairs


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--measure-child":
        _measure_child(json.loads(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--per-kind", type=int, default=10)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the package (default: a temp folder)")
    parser.add_argument("--skip-frictionless", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="run each tool N times; report the fastest run")
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="dpkg-bench-"))
    t = time.perf_counter()
    seeded = generate(folder, args.rows, args.per_kind)
    print(f"package: {folder}  ({args.rows:,} child rows, {len(seeded)} seeded errors: "
          f"{args.per_kind} each of {', '.join(KINDS)}; generated in {time.perf_counter() - t:.1f} s)")
    py = str(BIN / "python")
    runs = {
        "dpkg validate": [str(BIN / "dpkg"), "validate", str(folder), "--format", "json"],
        "GX path (direct)": [py, "-c", GX_PATH, str(folder)],
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
            print(f"  ran {name}: {r['wall']:.2f} s, {r['peak_mb']:.0f} MB, exit {r['rc']}", flush=True)
            if name not in results or r["wall"] < results[name]["wall"]:
                results[name] = r
    expected = set(seeded)
    print()
    print(f"{'tool':28} {'wall s':>8} {'peak MB':>8} {'found':>10}  all seeded found with row+field")
    for name, r in results.items():
        if name == "import great_expectations":
            print(f"{name:28} {r['wall']:8.2f} {r['peak_mb']:8.0f} {'-':>10}  -")
            continue
        try:
            pairs = found_pairs(r["stdout"])
        except ValueError:
            print(f"{name:28} {r['wall']:8.2f} {r['peak_mb']:8.0f}  (no JSON output: {r['stderr'][-200:]!r})")
            continue
        hit = expected & pairs
        extra = pairs - expected
        print(f"{name:28} {r['wall']:8.2f} {r['peak_mb']:8.0f} {len(hit):4}/{len(expected):<5}  "
              f"{'yes' if hit == expected else 'NO'}{f' (+{len(extra)} other)' if extra else ''}")
    floor = results["DuckDB SQL floor"]["wall"]
    gx_import = results["import great_expectations"]["wall"]
    print()
    for name in ("GX path (direct)", "dpkg validate"):
        r = results[name]
        line = f"{name}: {r['wall'] / (floor + gx_import):.2f}x (DuckDB floor + GX import = {floor + gx_import:.2f} s)"
        if "frictionless validate" in results:
            fr = results["frictionless validate"]
            line += (f"; {r['wall'] / fr['wall']:.2f}x frictionless' wall time (goal <= 0.2), "
                     f"{r['peak_mb'] / fr['peak_mb']:.2f}x its peak memory (goal <= 1)")
        print(line)


if __name__ == "__main__":
    main()

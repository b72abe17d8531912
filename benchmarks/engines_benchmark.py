"""Benchmark: the DuckDB engine against GX's Spark engine (local mode) on the same package, 1M and 5M rows.

The package is gx_benchmark's (a 1,000-row parent, an N-row child, 10 seeded errors of each of 6
kinds at known rows). Each side runs in its own process, measured the same way (wall time; peak
of the RSS summed over the process tree, the JVM included):

- **DuckDB engine**: ``dpkg validate --format json`` (the full command);
- **Spark engine**: :mod:`datapkg.spark_frames` reads the resources into typed Spark DataFrames
  and :mod:`datapkg.checks.gx_spark` runs a suite with the same six rules as GX expectations
  (pattern, foreign key as an ``UnexpectedRowsExpectation``, date, enum, range, primary key) on
  GX's Spark execution engine, master ``local[2]``.

Both report the (row, field) of every seeded error they find.

    .venv/bin/python benchmarks/engines_benchmark.py [--rows 1000000 5000000] [--master local[2]] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from gx_benchmark import COUNTRIES, generate, measure, score  # this folder's

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent

SUITE = {"name": "child", "meta": {"resource": "child"}, "expectations": [
    {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "id", "regex": "^C[0-9]{7}$"}},
    {"type": "unexpected_rows_expectation", "kwargs": {"unexpected_rows_query":
        "SELECT c.__row, 'parent_id' AS field FROM {batch} c WHERE c.parent_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM parent p WHERE p.id = c.parent_id)"}},
    {"type": "unexpected_rows_expectation", "kwargs": {"unexpected_rows_query":
        "SELECT r.__row, 'day' AS field FROM {batch} r WHERE r.day IS NULL"}},
    {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "country", "value_set": COUNTRIES}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "amount", "min_value": 0, "max_value": 1000}},
    {"type": "unexpected_rows_expectation", "kwargs": {"unexpected_rows_query":
        "SELECT d.__row, 'id' AS field FROM {batch} d WHERE d.id IN "
        "(SELECT id FROM child GROUP BY id HAVING count(*) > 1) AND d.__row > (SELECT min(e.__row) FROM child e WHERE e.id = d.id)"}},
]}

SPARK_RUN = """
import json, sys
sys.path.insert(0, sys.argv[3])
from pathlib import Path
from datapkg.spark_frames import spark_session, read_package
from datapkg.checks.gx_spark import run_suites
root = Path(sys.argv[1]); suite = json.loads(sys.argv[2])
spark = spark_session(sys.argv[4])
tables = read_package(spark, root, json.loads((root / 'datapackage.json').read_text()))
run = run_suites(spark, tables, [suite])
errors = []
for _suite, exp, result in run.results:
    res = result.result
    field = exp['kwargs'].get('column')
    for item in res.get('unexpected_index_list') or (res.get('details') or {}).get('unexpected_rows') or []:
        errors.append({"rowNumber": item['__row'], "fieldName": item.get('field') or field})
print(json.dumps({"errors": errors, "not_on_spark": run.not_on_spark}))
spark.stop()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="dpkg-engines-"))
    for rows in args.rows:
        pkg = folder / f"seeded-{rows}"
        if not (pkg / "datapackage.json").exists():
            seeded = generate(pkg, rows, 10)
            (folder / f"seeded-{rows}.json").write_text(json.dumps([[r, f] for (r, f) in seeded]))
        expected = {(r, f) for r, f in json.loads((folder / f"seeded-{rows}.json").read_text())}
        print(f"{rows:,} rows, {len(expected)} seeded errors; load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        runs = {"DuckDB engine (dpkg validate)": [str(BIN / "dpkg"), "validate", str(pkg), "--format", "json"],
                f"Spark engine (GX Spark, {args.master})": [str(BIN / "python"), "-c", SPARK_RUN, str(pkg),
                                                             json.dumps(SUITE), str(ROOT), args.master]}
        for name, cmd in runs.items():
            r = measure(cmd)
            scored = score(r["stdout"], expected)
            if scored is None:
                print(f"  {name}: no JSON ({r['stderr'][-300:]!r})")
                continue
            print(f"  {name:40} {r['wall']:8.2f} s {r['tree_mb']:7.0f} MB  found {scored[0]}/{len(expected)}"
                  f"{f' (+{scored[1]} other)' if scored[1] else ''}", flush=True)
        print(f"  load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()

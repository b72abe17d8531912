"""A large package (a 1,000-row parent, a 1,000,000-row child) builds and queries in one go (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from datapkg.build import build

ROWS = 1_000_000


def large_package(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    con = duckdb.connect()
    con.execute(f"COPY (SELECT 'P' || lpad(i::VARCHAR, 4, '0') AS id, 'parent ' || i AS name FROM range(1000) t(i)) "
                f"TO '{root / 'data/parent.csv'}' (HEADER)")
    con.execute(f"COPY (SELECT 'C' || lpad(i::VARCHAR, 7, '0') AS id, 'P' || lpad((i % 1000)::VARCHAR, 4, '0') AS parent, "
                f"DATE '2024-01-01' + (i % 365)::INTEGER AS day, (i % 997) / 10.0 AS amount FROM range({ROWS}) t(i)) "
                f"TO '{root / 'data/child.csv'}' (HEADER)")
    descriptor = {"name": "large", "version": "1.0.0", "resources": [
        {"name": "parent", "path": "data/parent.csv", "format": "csv",
         "schema": {"fields": [{"name": "id", "type": "string"}, {"name": "name", "type": "string"}], "primaryKey": ["id"]}},
        {"name": "child", "path": "data/child.csv", "format": "csv",
         "schema": {"fields": [{"name": "id", "type": "string"}, {"name": "parent", "type": "string"},
                               {"name": "day", "type": "date"}, {"name": "amount", "type": "number"}],
                    "primaryKey": ["id"],
                    "foreignKeys": [{"fields": ["parent"], "reference": {"resource": "parent", "fields": ["id"]}}]}}]}
    (root / "datapackage.json").write_text(json.dumps(descriptor))
    return root


@pytest.mark.slow
def test_million_rows(tmp_path: Path) -> None:
    root = large_package(tmp_path / "pkg")
    out = tmp_path / "dist"
    result = build(root, out, force=True)
    assert result.tables == {"parent": 1000, "child": ROWS} and result.warnings == []
    con = duckdb.connect(str(out / "large.duckdb"), read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT parent), min(day), max(day) FROM child").fetchone()[:2] == (ROWS, 1000)
    assert ("child", "FOREIGN KEY") in {(t, k) for t, k in con.execute(
        "SELECT table_name, constraint_type FROM duckdb_constraints()").fetchall()}
    assert pq.ParquetFile(out / "parquet" / "child.parquet").metadata.num_rows == ROWS
    dpkg = Path(sys.executable).parent / "dpkg"
    done = subprocess.run([str(dpkg), "query", "-p", str(root), "--dist", str(out), "SELECT * FROM child", "-F", "csv"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.count("\n") == ROWS + 1

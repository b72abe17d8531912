"""The release's .duckdb opens in the DuckDB an analyst has: an older ``duckdb`` from PyPI (slow).

It installs ``duckdb==1.1.3`` (the oldest release line the storage format promises) into a scratch
virtual environment and reads the release built here with it: tables, comments, constraints, a view.
"""

from __future__ import annotations

import json
import subprocess
import venv
from pathlib import Path

import pytest

from datapkg.build import build
from tests.buildpkg import cited_package

OLD_DUCKDB = "1.1.3"
READ = """
import duckdb, json, sys
con = duckdb.connect(sys.argv[1], read_only=True)
print(json.dumps({
    "version": duckdb.__version__,
    "tables": sorted(r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()),
    "people": con.execute("SELECT count(*) FROM people").fetchone()[0],
    "comment": con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'people'").fetchone()[0],
    "keys": sorted({r[0] for r in con.execute("SELECT constraint_type FROM duckdb_constraints()").fetchall()}),
    "view": con.execute("SELECT count(*) FROM cited_facts").fetchone()[0],
}))
"""


@pytest.mark.slow
def test_release_opens_in_duckdb_1_1(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    build(cited_package(tmp_path / "pkg"), out)
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           f"duckdb=={OLD_DUCKDB}"], capture_output=True, text=True)
    assert done.returncode == 0, f"pip could not install duckdb=={OLD_DUCKDB} from the registry: {done.stderr[-500:]}"
    database = next(out.glob("*.duckdb"))
    done = subprocess.run([str(python), "-c", READ, str(database)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-1000:]
    seen = json.loads(done.stdout)
    assert seen["version"] == OLD_DUCKDB
    assert {"people", "events", "cites", "texts"} <= set(seen["tables"]) and seen["people"] > 0 and seen["view"] > 0
    assert seen["comment"] and {"PRIMARY KEY", "FOREIGN KEY", "NOT NULL"} <= set(seen["keys"])
    # the same file in this repository's DuckDB gives the same counts
    import duckdb

    con = duckdb.connect(str(database), read_only=True)
    assert con.execute("SELECT count(*) FROM people").fetchone()[0] == seen["people"]

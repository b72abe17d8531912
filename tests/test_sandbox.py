"""Issue 16 item 1: SQL that comes from a package never reaches the file system, the network or extensions."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from datapkg.checks.gx_checks import run_gx_checks
from datapkg.errors import UsageError
from datapkg.sandbox import SANDBOX_CONFIG, is_locked, lock_down, single_select
from tests.packages import table, write_package

FIELDS = [{"name": "id", "type": "string"}, {"name": "n", "type": "integer"}]
SECRET = "dpkg-secret-line-7f3a"


def _escapes(outside: Path) -> dict[str, str]:
    """Hostile SQL expressions, each trying one way out; ``outside`` is a file outside the package."""
    target = outside.parent / "written.csv"
    return {
        "read_csv": f"(SELECT string_agg(column0, '|') FROM read_csv('{outside}', header=false))",
        "read_text": f"(SELECT string_agg(content, '') FROM read_text('{outside}'))",
        "read_blob": f"(SELECT string_agg(content::varchar, '') FROM read_blob('{outside}'))",
        "glob": f"(SELECT string_agg(file, '|') FROM glob('{outside.parent}/*'))",
        "passwd": "(SELECT string_agg(content, '') FROM read_text('/etc/passwd'))",
        "httpfs": "(SELECT string_agg(content, '') FROM read_text('http://127.0.0.1:9/x'))",
        "attach": f"1); ATTACH '{outside.parent}/evil.duckdb' AS evil; SELECT (1",
        "copy": f"1); COPY (SELECT 1) TO '{target}'; SELECT (1",
        "install": "1); INSTALL httpfs; LOAD httpfs; SELECT (1",
        "settings": "1); SET enable_external_access = true; SELECT (1",
    }


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text(f"{SECRET}\n")
    return secret


def _hostile_package(root: Path, sql: str) -> tuple[Path, dict]:
    write_package(root, [table("t", "t.csv", FIELDS)], {"t.csv": "id,n\na,1\nb,2\n"})
    query = f"SELECT __row AS _row, {sql} AS value FROM {{batch}}"
    suite = {"name": "evil", "meta": {"resource": "t"}, "expectations": [
        {"type": "unexpected_rows_expectation", "kwargs": {"unexpected_rows_query": query},
         "meta": {"dpkg": {"field": "leak"}}}]}
    (root / "validations").mkdir()
    (root / "validations" / "evil.json").write_text(json.dumps(suite))
    return root, json.loads((root / "datapackage.json").read_text())


@pytest.mark.parametrize("way", list(_escapes(Path("/x/y"))))
def test_hostile_suite_sql_is_refused_with_a_finding(tmp_path, outside, way):
    sql = _escapes(outside)[way]
    root, descriptor = _hostile_package(tmp_path / "pkg", sql)
    findings = run_gx_checks(root, descriptor, curation=False)
    assert [(f.check, f.file) for f in findings] == [("gx-suite-error", "validations/evil.json")], findings
    text = " ".join(f"{f.message} {f.value}" for f in findings)
    assert SECRET not in text and "root:x:0:0" not in text
    assert sorted(p.name for p in outside.parent.iterdir()) == ["secret.txt"]  # nothing written
    assert "dpkg" not in " ".join(os.listdir(Path.home() / ".duckdb" / "extensions")) if (Path.home() / ".duckdb" / "extensions").is_dir() else True


def test_validate_cli_never_prints_a_file_the_suite_reads(tmp_path, outside):
    from datapkg.cli.main import app

    root, _ = _hostile_package(tmp_path / "pkg", _escapes(outside)["passwd"])
    result = CliRunner().invoke(app, ["validate", str(root)])
    assert result.exit_code == 1, result.output
    assert "root:x:0:0" not in result.output
    assert "gx-suite-error" in result.output and "files, the network or extensions" in result.output


def test_lock_down_closes_every_way_out(tmp_path, outside):
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT 1 AS a")
    lock_down(con)
    assert is_locked(con)
    for sql in [f"SELECT * FROM read_text('{outside}')", f"COPY t TO '{tmp_path}/x.csv'",
                f"ATTACH '{tmp_path}/x.duckdb'", "INSTALL httpfs", "LOAD httpfs",
                "SET enable_external_access = true", "RESET lock_configuration", "SET autoload_known_extensions = true",
                "SELECT * FROM read_csv('https://127.0.0.1:9/x.csv')"]:
        with pytest.raises(duckdb.Error):
            con.execute(sql).fetchall()
    assert con.execute("SELECT a FROM t").fetchall() == [(1,)]  # its own tables still work
    assert list(tmp_path.glob("x.*")) == []


def test_lock_down_allows_the_named_files_only(tmp_path, outside):
    own = tmp_path / "own.txt"
    own.write_text("mine")
    con = lock_down(duckdb.connect(), paths=[own], directories=[tmp_path / "out"])
    assert con.execute(f"SELECT content FROM read_text('{own}')").fetchall() == [("mine",)]
    with pytest.raises(duckdb.Error):
        con.execute(f"SELECT content FROM read_text('{outside}')")


def test_sandbox_config_locks_a_new_connection():
    con = duckdb.connect(config=SANDBOX_CONFIG)
    assert is_locked(con)
    with pytest.raises(duckdb.Error):
        con.execute("SELECT * FROM read_text('/etc/passwd')")


def test_single_select_refuses_a_second_statement():
    con = duckdb.connect()
    assert single_select(con, "SELECT 1", "x") == "SELECT 1"
    assert single_select(con, "t.a + 1", "x") == "t.a + 1"
    for sql in ["1); DROP TABLE x; SELECT (1", "1); COPY (SELECT 1) TO 'x'; SELECT (1"]:
        with pytest.raises(UsageError, match="one SELECT"):
            single_select(con, sql, "x")


def test_query_on_a_hostile_database_cannot_read_files(tmp_path, outside):
    """A third-party .duckdb whose view reads a file: the query connection refuses it."""
    from datapkg.query import connect, run_sql

    db = tmp_path / "evil.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(f"CREATE VIEW leak AS SELECT content FROM read_text('{outside}')")
    with pytest.raises(UsageError, match="disabled by configuration"):
        run_sql(connect(db), "SELECT * FROM leak").rows

"""The DuckDB loader: types from Table Schemas, frictionless row numbers, raw mode, cast failures."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import frictionless
import pytest

from datapkg.errors import DataError
from datapkg.loader import (CastFailure, LoadError, UnsupportedResource, cast_failures, duckdb_type,
                            load_package)
from tests.packages import table, write_package

FIELDS = [{"name": "id", "type": "integer"}, {"name": "name", "type": "string"},
          {"name": "n", "type": "integer"}]


def _load(tmp_path: Path, text: str | bytes, fields=FIELDS, **kwargs):
    resource = table("t", "data/t.csv", fields, **kwargs.pop("schema", {}))
    resource.update(kwargs.pop("resource", {}))
    write_package(tmp_path, [resource], {"data/t.csv": text})
    import json
    descriptor = json.loads((tmp_path / "datapackage.json").read_text())
    con = duckdb.connect()
    tables = load_package(con, tmp_path, descriptor, **kwargs)
    return con, tables["t"]


def _frictionless_errors(tmp_path: Path) -> list[tuple[str, int | None, str | None]]:
    report = frictionless.validate(str(tmp_path / "datapackage.json"))
    return [(e.type, getattr(e, "row_number", None), getattr(e, "field_name", None))
            for task in report.tasks for e in task.errors]


def test_row_numbers_match_frictionless_with_blank_rows_and_multiline_cells(tmp_path):
    text = 'id,name,n\n1,a,5\n\n2,"multi\nline",x\n3,c,7\n,,\n4,d\n'
    con, loaded = _load(tmp_path, text, keep_raw=True)
    rows = con.execute('SELECT __row, id, name, n FROM "t" ORDER BY __row').fetchall()
    assert [r[0] for r in rows] == [2, 4, 5, 6, 7]
    assert rows[1] == (4, 2, "multi\nline", None)
    failures = cast_failures(con, loaded)
    assert failures == [CastFailure(row=4, field="n", value="x", type="integer")]
    expected = [e for e in _frictionless_errors(tmp_path) if e[0] == "type-error"]
    assert [(f.row, f.field) for f in failures] == [(row, field) for _, row, field in expected]
    # a padded (missing) cell is NULL in the raw table, an empty cell is ''
    assert con.execute('SELECT n FROM raw."t" WHERE __row = 7').fetchone() == (None,)
    assert con.execute('SELECT n FROM raw."t" WHERE __row = 6').fetchone() == ("",)


def test_types_from_table_schema(tmp_path):
    fields = [
        {"name": "i", "type": "integer"}, {"name": "x", "type": "number"},
        {"name": "b", "type": "boolean"}, {"name": "d", "type": "date"},
        {"name": "ts", "type": "datetime"}, {"name": "y", "type": "year"},
        {"name": "l", "type": "list", "itemType": "integer"}, {"name": "s", "type": "string"},
    ]
    text = 'i,x,b,d,ts,y,l,s\n7,2.5,true,2024-03-01,2024-03-01T10:20:30,2024,"1,2,3",hi\n'
    con, loaded = _load(tmp_path, text, fields=fields)
    types = dict((r[0], r[1]) for r in con.execute('DESCRIBE "t"').fetchall())
    assert types == {"__row": "BIGINT", "i": "BIGINT", "x": "DOUBLE", "b": "BOOLEAN", "d": "DATE",
                     "ts": "TIMESTAMP", "y": "INTEGER", "l": "BIGINT[]", "s": "VARCHAR"}
    row = con.execute('SELECT * FROM "t"').fetchone()
    assert row == (2, 7, 2.5, True, dt.date(2024, 3, 1), dt.datetime(2024, 3, 1, 10, 20, 30), 2024, [1, 2, 3], "hi")
    assert loaded.raw is None  # raw copy dropped by default
    assert duckdb_type({"type": "list", "itemType": "date"}) == "DATE[]"


@pytest.mark.parametrize("value,kind", [("1.0", "integer"), ("1.5", "integer"), ("abc", "number"),
                                         ("yes", "boolean"), ("2024-02-30", "date"), ("24", "year"),
                                         ("2024-03-01", "datetime")])
def test_cells_that_frictionless_rejects_are_cast_failures(tmp_path, value, kind):
    con, loaded = _load(tmp_path, f"v\n{value}\n", fields=[{"name": "v", "type": kind}], keep_raw=True)
    assert cast_failures(con, loaded) == [CastFailure(2, "v", value, kind)]
    assert [(e[1], e[2]) for e in _frictionless_errors(tmp_path) if e[0] == "type-error"] == [(2, "v")]


def test_missing_values_and_boolean_values(tmp_path):
    fields = [{"name": "n", "type": "integer"}, {"name": "b", "type": "boolean", "trueValues": ["ja"], "falseValues": ["nein"]}]
    con, loaded = _load(tmp_path, "n,b\nNA,ja\n-,nein\n5,\n", fields=fields,
                        schema={"missingValues": ["", "NA", "-"]}, keep_raw=True)
    assert con.execute('SELECT n, b FROM "t" ORDER BY __row').fetchall() == [(None, True), (None, False), (5, None)]
    assert cast_failures(con, loaded) == []


def test_raw_mode_is_all_varchar(tmp_path):
    con, loaded = _load(tmp_path, "id,name,n\n1,a,x\n", raw=True)
    assert {r[1] for r in con.execute('DESCRIBE "t"').fetchall() if r[0] != "__row"} == {"VARCHAR"}
    assert cast_failures(con, loaded) == [CastFailure(2, "n", "x", "integer")]


def test_raise_mode_names_file_row_and_field(tmp_path):
    with pytest.raises(DataError, match=r"data/t.csv.*row 3 field 'n'.*'x'"):
        _load(tmp_path, "id,name,n\n1,a,5\n2,b,x\n", on_cast_error="raise")


def test_dialect_delimiter_no_header_and_encoding(tmp_path):
    text = "1;Łódź;5\n2;b;6\n".encode("cp1250")
    con, loaded = _load(tmp_path, text, resource={"dialect": {"delimiter": ";", "header": False}, "encoding": "cp1250"})
    assert con.execute('SELECT __row, id, name FROM "t" ORDER BY 1').fetchall() == [(1, 1, "Łódź"), (2, 2, "b")]


def test_bom_and_crlf(tmp_path):
    con, _ = _load(tmp_path, b"\xef\xbb\xbfid,name,n\r\n1,a,5\r\n\r\n2,b,6\r\n")
    assert con.execute('SELECT __row, id FROM "t" ORDER BY 1').fetchall() == [(2, 1), (4, 2)]


def test_undecodable_file_is_a_load_error(tmp_path):
    with pytest.raises(LoadError, match="not valid UTF-8"):
        _load(tmp_path, b"id,name,n\n1,\xff\xfe,5\n")


def test_inline_data_and_unsupported(tmp_path):
    con = duckdb.connect()
    descriptor = {"resources": [{"name": "inl", "data": [["a", "b"], [1, "x"], [2, "y"]],
                                 "schema": {"fields": [{"name": "a", "type": "integer"}, {"name": "b", "type": "string"}]}}]}
    tables = load_package(con, tmp_path, descriptor)
    assert tables["inl"].rows == 2
    assert con.execute('SELECT * FROM "inl" ORDER BY 1').fetchall() == [(2, 1, "x"), (3, 2, "y")]
    with pytest.raises(UnsupportedResource):
        load_package(con, tmp_path, {"resources": [{"name": "x", "path": "x.xlsx", "format": "xlsx",
                                                     "schema": {"fields": [{"name": "a"}]}}]})


def test_schema_by_path_and_project_package(repo_root):
    import json
    con = duckdb.connect()
    descriptor = json.loads((repo_root / "datapackage.json").read_text())
    tables = load_package(con, repo_root, descriptor, on_cast_error="raise")
    assert tables, "the project's own package has tabular resources"
    for loaded in tables.values():
        count = con.execute(f"SELECT count(*) FROM {loaded.table}").fetchone()[0]
        assert count == loaded.rows


def test_a_line_longer_than_the_first_limit_is_read(tmp_path):
    from datapkg.loader import LINE_SIZE

    long_name = "x" * (LINE_SIZE + 1000)
    con, loaded = _load(tmp_path, f"id,name,n\n1,a,5\n2,{long_name},6\n")
    assert con.execute(f"SELECT id, length(name), n FROM {loaded.table} ORDER BY id").fetchall() == [
        (1, 1, 5), (2, LINE_SIZE + 1000, 6)]


def test_a_file_larger_than_duckdbs_memory_cap_is_read(tmp_path):
    """DuckDB's read buffer is min(file size, buffer_size): without a set buffer_size, a file
    larger than the memory cap was reported as unreadable ("could not allocate block")."""
    rows = "".join(f"{i},name number {i:09d} with some padding text,{i % 1000}\n" for i in range(500_000))
    resource = table("t", "data/t.csv", FIELDS)
    write_package(tmp_path, [resource], {"data/t.csv": "id,name,n\n" + rows})
    assert (tmp_path / "data/t.csv").stat().st_size > 24 * 1024 * 1024
    import json
    descriptor = json.loads((tmp_path / "datapackage.json").read_text())
    con = duckdb.connect(config={"memory_limit": "24MB", "temp_directory": str(tmp_path / "spill"), "threads": 1})
    tables = load_package(con, tmp_path, descriptor)
    assert con.execute(f"SELECT count(*), max(id) FROM {tables['t'].table}").fetchone() == (500_000, 499_999)


def test_drop_removes_a_table_or_a_view_and_nothing_else() -> None:
    from datapkg.loader import _drop

    con = duckdb.connect()
    con.execute('CREATE SCHEMA raw; CREATE TABLE raw."t x" AS SELECT 1 AS a; CREATE VIEW raw.v AS SELECT 2 AS b; '
                'CREATE TABLE raw.keep AS SELECT 3 AS c; CREATE VIEW main."t x" AS SELECT 4 AS d')
    _drop(con, "raw", "t x")
    _drop(con, "raw", "v")
    _drop(con, "raw", "missing")
    _drop(con, "nosuchschema", "missing")
    left = con.execute("SELECT schema_name, table_name FROM duckdb_tables() UNION ALL "
                       "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1, 2").fetchall()
    assert left == [("main", "t x"), ("raw", "keep")]

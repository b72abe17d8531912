"""datapkg.gx_duckdb: GX's SQL engine on DuckDB. These fail loudly when a GX (or duckdb-engine)
upgrade changes what the module relies on."""

from __future__ import annotations

import importlib

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from datapkg import gx_duckdb
from datapkg.checks.gx_checks import gx_context, validate_suites
from datapkg.loader import LoadedTable

ROW_FORMAT = {"result_format": "COMPLETE", "unexpected_index_column_names": ["__row"],
              "return_unexpected_index_query": False, "partial_unexpected_count": 200}


def test_the_installed_gx_is_a_known_version():
    import great_expectations as gx

    assert Version(gx.__version__) in SpecifierSet(gx_duckdb.KNOWN_GX), (
        f"GX {gx.__version__} is not among the versions datapkg/gx_duckdb.py is known to work with "
        f"({gx_duckdb.KNOWN_GX}); run these tests, then widen KNOWN_GX and the README")


def test_what_the_module_patches_is_where_it_expects_it():
    gx_context()  # registers
    engine = importlib.import_module(gx_duckdb.ENGINE_MODULE)
    assert "duckdb" in [str(getattr(d, "value", d)) for d in engine._PERSISTED_CONNECTION_DIALECTS]
    original = importlib.import_module(gx_duckdb.REGEX_MODULE).get_dialect_regex_expression
    for name in gx_duckdb.REGEX_USERS:
        patched = importlib.import_module(name).get_dialect_regex_expression
        assert patched is not original and patched.dpkg_original is original, name
    from great_expectations.constants import MAX_RESULT_RECORDS

    from datapkg.checks.gx_checks import ROWS_PER_CHECK

    assert MAX_RESULT_RECORDS == ROWS_PER_CHECK  # the rows an unexpected_rows_expectation returns


def test_register_is_idempotent():
    gx_context()
    engine = importlib.import_module(gx_duckdb.ENGINE_MODULE)
    before = (engine._PERSISTED_CONNECTION_DIALECTS, importlib.import_module(gx_duckdb.REGEX_USERS[0]).get_dialect_regex_expression)
    gx_duckdb.register()
    assert (engine._PERSISTED_CONNECTION_DIALECTS, importlib.import_module(gx_duckdb.REGEX_USERS[0]).get_dialect_regex_expression) == before


@pytest.fixture
def con():
    import duckdb

    connection = duckdb.connect()
    connection.execute("CREATE TABLE t AS SELECT i + 2 AS __row, 'x' || i AS name, i % 10 AS n FROM range(1000) r(i)")
    connection.execute("UPDATE t SET name = 'bad' WHERE __row = 500")
    yield connection
    connection.close()


def _run(con, expectations):
    suite = {"name": "t", "meta": {"resource": "t"}, "expectations": expectations}
    table = LoadedTable("t", "t.csv", [], 1000, '"t"')
    return sorted((f.check, f.row, f.value) for f in validate_suites(con, [(suite, table)], None))


def _exp(kind, **kwargs):
    return {"type": kind, "kwargs": kwargs, "meta": {"dpkg": {"check": kind}}}


def test_each_kind_the_suites_use_returns_its_rows_on_duckdb(con):
    """Persisted connection (rows come back), regex (regexp_matches), the row key (__row)."""
    found = _run(con, [
        _exp("expect_column_values_to_match_regex", column="name", regex="^x[0-9]+$"),
        _exp("expect_column_values_to_not_match_regex", column="name", regex="^ba"),
        _exp("expect_column_values_to_be_between", column="n", min_value=0, max_value=8),
        _exp("expect_column_values_to_be_in_set", column="n", value_set=list(range(9))),
        _exp("expect_column_values_to_not_be_in_set", column="name", value_set=["x5"]),
        _exp("unexpected_rows_expectation", unexpected_rows_query="SELECT __row AS _row, n AS value FROM {batch} WHERE __row = 7"),
    ])
    nines = [("expect_column_values_to_be_between", r, "9") for r in range(11, 1002, 10)]
    assert ("expect_column_values_to_match_regex", 500, "bad") in found
    assert ("expect_column_values_to_not_match_regex", 500, "bad") in found
    assert ("expect_column_values_to_not_be_in_set", 7, "x5") in found
    assert ("unexpected_rows_expectation", 7, "5") in found
    assert [f for f in found if f[0] == "expect_column_values_to_be_between"] == nines
    assert len([f for f in found if f[0] == "expect_column_values_to_be_in_set"]) == len(nines)


def test_a_failing_query_does_not_poison_the_ones_after_it(con):
    """DuckDB's autocommit: one expectation's SQL error leaves the connection usable."""
    found = _run(con, [
        _exp("unexpected_rows_expectation", unexpected_rows_query="SELECT * FROM {batch} WHERE no_such_column = 1"),
        _exp("expect_column_values_to_match_regex", column="name", regex="^x[0-9]+$"),
    ])
    assert ("expect_column_values_to_match_regex", 500, "bad") in found
    assert [f[0] for f in found if f[1] is None] == ["gx-expectation-error"]
    assert con.execute("SELECT count(*) FROM t").fetchone() == (1000,)  # and it is still ours, open

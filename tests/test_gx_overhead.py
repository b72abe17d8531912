"""datapkg.gx_overhead: GX does less work twice, and finds exactly the same. These fail loudly when a
GX upgrade moves what the module patches."""

from __future__ import annotations

import contextlib

import pytest

from datapkg import gx_overhead
from datapkg.checks import gx_checks
from datapkg.checks.gx_checks import gx_context, validate_suites
from datapkg.loader import LoadedTable

ROWS_QUERY = "SELECT __row AS _row, n AS value FROM {batch} WHERE n = 3"


@pytest.fixture
def con():
    import duckdb

    connection = duckdb.connect()
    connection.execute("CREATE TABLE t AS SELECT i + 2 AS __row, 'x' || i AS name, i % 10 AS n FROM range(100) r(i)")
    yield connection
    connection.close()


@pytest.fixture
def statements(monkeypatch):
    """Every SQL statement GX sends to DuckDB (through duckdb-engine), in order."""
    import duckdb_engine

    sent: list[str] = []
    execute = duckdb_engine.CursorWrapper.execute

    def recording(self, statement, parameters=None, context=None):
        sent.append(str(statement))
        return execute(self, statement, parameters, context)

    monkeypatch.setattr(duckdb_engine.CursorWrapper, "execute", recording)
    return sent


def _suite(*expectations):
    return {"name": "t", "meta": {"resource": "t"}, "expectations": list(expectations)}


def _exp(kind, **kwargs):
    return {"type": kind, "kwargs": kwargs, "meta": {"dpkg": {"check": kind}}}


def _findings(con, suite):
    table = LoadedTable("t", "t.csv", [], 100, '"t"')
    return sorted((f.check, f.row, f.field, f.value, f.message) for f in validate_suites(con, [(suite, table)], None))


def test_what_the_module_patches_is_where_it_expects_it():
    gx_context()  # registers
    from great_expectations.expectations.core.unexpected_rows_expectation import UnexpectedRowsExpectation
    from great_expectations.expectations.expectation import Expectation
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    assert UnexpectedRowsExpectation.metric_dependencies == (gx_overhead.ROWS_METRIC, gx_overhead.COUNT_METRIC)
    assert UnexpectedRowsExpectation.get_validation_dependencies.dpkg_original is not None
    assert UnexpectedRowsExpectation._validate.dpkg_original is not None
    assert Expectation.configuration.fget.dpkg_original is not None
    assert ExpectationConfiguration.to_domain_obj.dpkg_original is not None
    from great_expectations.validator.validator import Validator

    assert Validator.graph_validate.dpkg_original is not None
    from great_expectations.core.id_dict import IDDict

    assert IDDict.to_id.dpkg_original is not None


def test_register_is_idempotent():
    gx_context()
    from great_expectations.expectations.expectation import Expectation

    before = Expectation.configuration
    gx_overhead.register()
    assert Expectation.configuration is before


def test_a_changed_gx_is_refused_loudly():
    class Moved:
        metric_dependencies = ("unexpected_rows_query.table",)

    with pytest.raises(RuntimeError, match="GX changed: .*metric_dependencies"):
        gx_overhead._count_only_when_boolean(Moved)

    class NoProperty:
        configuration = None

    with pytest.raises(RuntimeError, match="GX changed: .*no longer a property"):
        gx_overhead._memoise_configurations(NoProperty, NoProperty)

    with pytest.raises(RuntimeError, match="GX changed: .*graph_validate is gone"):
        gx_overhead._reuse_while_validating(NoProperty)

    with pytest.raises(RuntimeError, match="GX changed: .*IDDict.to_id"):
        gx_overhead._plain_ids(NoProperty)


@pytest.mark.parametrize("kwargs, plain", [
    ({"column": "n", "row_condition": None, "condition_parser": None, "batch_id": "b"}, True),
    ({"column": "n", "value_set": ["RU", "KP", 3, 4.5, True, None], "mostly": 1.0}, True),
    ({"column": "n", "nested": {"a": [1, (2, 3)], "b": {"c": None}}, "min_value": -0.0}, True),
    ({"column": "n", "min_value": float("nan")}, False),  # GX turns NaN into null
    ({"column": "n", "max_value": float("inf")}, False),
    ({"column": "n", "value_set": {"x", "y"}}, False),  # a set: GX's converter makes it a list
    ({"column": "n", 3: "a numeric key"}, False),  # GX makes the key a string
    ({"only": "one key"}, True),
    ({}, True),
])
def test_a_metric_id_is_the_one_gx_computes(kwargs, plain):
    """The fast path gives GX's own id for every argument it takes, and leaves the rest to GX."""
    gx_context()
    from great_expectations.core.id_dict import IDDict

    ids = IDDict(kwargs)
    assert IDDict.to_id(ids) == IDDict.to_id.dpkg_original(ids)
    assert IDDict.to_id(ids, id_ignore_keys={"column"}) == IDDict.to_id.dpkg_original(ids, id_ignore_keys={"column"})
    assert gx_overhead.plain_json(dict(kwargs)) is plain


def test_boolean_only_asks_for_the_count_alone_and_complete_for_the_rows(con, statements):
    """The verdict pass runs an unexpected_rows_expectation's SQL once (the count); the pass for
    the failing rows runs it as GX always did, and the rows are found."""
    found = _findings(con, _suite(_exp("unexpected_rows_expectation", unexpected_rows_query=ROWS_QUERY)))
    assert [(check, row, value) for check, row, _, value, _ in found] == [
        ("unexpected_rows_expectation", row, "3") for row in range(5, 102, 10)]
    runs = [s for s in statements if "WHERE n = 3" in s]
    counts = [s for s in runs if s.startswith("SELECT COUNT(*)")]
    assert len(counts) == 2 and len(runs) == 3  # verdict: count; rows: count and rows


def test_a_passing_rule_runs_its_sql_once(con, statements):
    assert _findings(con, _suite(_exp("unexpected_rows_expectation",
                                      unexpected_rows_query="SELECT __row AS _row FROM {batch} WHERE n > 9"))) == []
    assert len([s for s in statements if "WHERE n > 9" in s]) == 1


def test_the_findings_are_the_same_without_the_module(con, monkeypatch):
    """Every kind the suites use, passing and failing: the same findings, messages included,
    whether or not GX may reuse what it computed."""
    suite = _suite(
        _exp("unexpected_rows_expectation", unexpected_rows_query=ROWS_QUERY),
        _exp("unexpected_rows_expectation", unexpected_rows_query="SELECT __row AS _row FROM {batch} WHERE n > 9"),
        _exp("expect_column_values_to_match_regex", column="name", regex="^x[0-4]"),
        _exp("expect_column_values_to_be_between", column="n", min_value=0, max_value=7),
        _exp("expect_column_values_to_be_in_set", column="n", value_set=[0, 1, 2, 3, 4, 5, 6, 7, 8]),
        _exp("expect_column_values_to_not_be_in_set", column="name", value_set=["x5"]),
        _exp("expect_column_values_to_be_unique", column="n"),
    )
    with_it = _findings(con, suite)
    monkeypatch.setattr(gx_overhead, "reuse_configurations", contextlib.nullcontext)
    monkeypatch.setattr(gx_overhead, "_asks_boolean_only", lambda *_: False)  # GX asks for the rows too
    assert _findings(con, suite) == with_it
    assert {f[0] for f in with_it} == {e["type"] for e in suite["expectations"]}  # each kind found something
    assert len(with_it) > 10


def test_configurations_are_reused_inside_the_block_only():
    gx_context()
    suite = gx_checks.gx_suite(_suite(_exp("expect_column_values_to_be_between", column="n", min_value=0)), "memo")
    expectation = suite.expectations[0]
    assert expectation.configuration is not expectation.configuration
    with gx_overhead.reuse_configurations():
        first = expectation.configuration
        assert expectation.configuration is first
        assert first.to_domain_obj() is first.to_domain_obj()
        with gx_overhead.reuse_configurations():  # another lane's block
            assert expectation.configuration is first
        assert expectation.configuration is first
    assert gx_overhead._memo == {}
    expectation.notes = "edited after the validation"
    assert expectation.configuration.notes == "edited after the validation"


def test_every_gx_validation_reuses_configurations(con, monkeypatch):
    """Not only dpkg's own calls: a plain GX ``batch.validate`` (as the Data Docs Checkpoint and
    the Spark engine make) answers from the memo while it runs, and leaves it empty."""
    gx_context()
    from datapkg.gx_duckdb import CONNECTION_STRING, engine_kwargs

    kept = []

    class Recording(dict):
        def __setitem__(self, key, value):
            kept.append(key)
            super().__setitem__(key, value)

    monkeypatch.setattr(gx_overhead, "_memo", Recording())
    context = gx_context()
    source = context.data_sources.add_sql("plain-gx-memo", connection_string=CONNECTION_STRING, kwargs=engine_kwargs(con))
    try:
        batch = source.add_table_asset("t", table_name="t").add_batch_definition_whole_table("all").get_batch()
        suite = gx_checks.gx_suite(_suite(_exp("expect_column_values_to_be_between", column="n", min_value=0, max_value=7)), "plain")
        assert not batch.validate(suite, result_format="BOOLEAN_ONLY").success
    finally:
        context.data_sources.delete("plain-gx-memo")
    assert kept and gx_overhead._memo == {}


def test_gx_is_imported_without_collections_and_what_it_made_is_frozen():
    """The block runs with the collector off; afterwards the collector is as it was and what the
    block made is in the permanent generation, where later collections do not walk it."""
    import gc

    gx_context()  # this process's GX import went through the block
    assert gc.get_freeze_count() > 100_000  # GX's own objects, not a handful
    before = gc.get_freeze_count()
    made = []
    with gx_overhead.imported_without_collections():
        assert not gc.isenabled()
        made.extend([i] for i in range(1000))  # lists: objects the collector tracks
        made.append([made])  # a cycle: not collected, frozen with the rest
    assert gc.isenabled()
    assert gc.get_freeze_count() >= before + 1000
    gc.disable()
    try:
        with gx_overhead.imported_without_collections():
            pass
        assert not gc.isenabled()  # a collector that was off stays off
    finally:
        gc.enable()

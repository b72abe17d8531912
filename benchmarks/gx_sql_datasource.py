"""Check GX's SQL data source on DuckDB (duckdb-engine) against its pandas data source.

GX 1.24 with SQLAlchemy 2.0 + duckdb-engine 0.17 + duckdb 2.0 fails every expectation with
``MetricResolutionError`` / ``IndexError: list index out of range`` (in
``SqlAlchemyExecutionEngine.resolve_metric_bundle``: the connection is closed before the rows
are fetched) and regex with "Regex is not supported for dialect duckdb", while the pandas data
source fed with ``con.sql(...).df()`` works. With ``--register``, :func:`datapkg.gx_duckdb.register`
runs first, and the SQL data source gives the pandas results::

    .venv/bin/python benchmarks/gx_sql_datasource.py [--register]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path


def main() -> int:
    try:
        import duckdb_engine  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError:
        print("needs sqlalchemy and duckdb-engine on PYTHONPATH (see the module docstring)")
        return 2
    import duckdb
    import great_expectations as gx

    if "--register" in sys.argv:
        from datapkg.gx_duckdb import register

        register()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    db = Path(tempfile.mkdtemp()) / "t.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE t AS SELECT i AS id, 'x' || i AS name, i % 100 AS n FROM range(1000) r(i)")
    frame = con.sql("SELECT * FROM t").df()
    con.close()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    suite = gx.ExpectationSuite(name="s")
    suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column="id"))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeBetween(column="n", min_value=0, max_value=50))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToMatchRegex(column="name", regex="^x[0-9]$"))
    sql = context.data_sources.add_sql("sql", connection_string=f"duckdb:///{db}")
    sql_batch = sql.add_table_asset("t", table_name="t").add_batch_definition_whole_table("b").get_batch()
    pandas = context.data_sources.add_pandas("pandas")
    pandas_batch = pandas.add_dataframe_asset("t").add_batch_definition_whole_dataframe("b").get_batch(
        batch_parameters={"dataframe": frame})
    for label, batch in (("sql (duckdb-engine)", sql_batch), ("pandas (con.sql().df())", pandas_batch)):
        print(label)
        for result in batch.validate(suite, result_format="SUMMARY").results:
            info = result.exception_info or {}
            errors = [v.get("exception_message") for v in info.values() if isinstance(v, dict) and v.get("raised_exception")]
            errors += [info["exception_message"]] if info.get("raised_exception") else []
            outcome = f"ERROR {errors[0]!r}" if errors else f"success={result.success} unexpected={result.result.get('unexpected_count')}"
            print(f"  {result.expectation_config.type}: {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

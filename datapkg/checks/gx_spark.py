"""GX suites evaluated by Great Expectations' Spark execution engine (``dpkg validate --engine spark``).

The suites are the ones the DuckDB engine runs (GX's JSON form, ``meta.resource`` naming the
resource a suite checks); each runs on the Spark DataFrame of its resource
(:mod:`datapkg.spark_frames`) through GX's Spark datasource, with ``__row`` as the index column
that gives every unexpected value its row. An ``UnexpectedRowsExpectation`` (a rule that selects
the failing rows, possibly across tables) runs as Spark SQL: its DuckDB SQL is transpiled by
:func:`datapkg.spark_sql.to_spark`; the other resources are temp views under their own names.

An expectation that cannot run on Spark (a column the Spark frame does not have, SQL that Spark
has no counterpart for) is returned in ``not_on_spark`` with the reason, for the caller to print in
one line: it is never skipped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from datapkg.checks.gx_checks import prints_to_stderr
from datapkg.report import Finding
from datapkg.spark_frames import ROW, SparkTable

BATCH = "{batch}"
CELLS = "cells"  # meta.batch of a suite on the text cells (datapkg.expectations.CELLS)
#: Checks (``meta.dpkg.check``) Spark cannot make, and why.
NOT_ON_SPARK = {"missing-cell": "Spark's CSV reader reads an empty cell and a cell missing from a short row alike",
                "blank-row": "Spark's CSV reader skips blank lines (a file with any is refused)",
                "extra-cell": "Spark's CSV reader drops the cells beyond the header without a word"}
BATCH_STANDIN = "__dpkg_batch__"


@dataclass
class SparkRun:
    """What GX's Spark engine made of the suites: (suite, expectation, GX result) per expectation
    that ran, and (suite name, expectation type, reason) per expectation that could not."""

    results: list[tuple[dict[str, Any], dict[str, Any], Any]] = field(default_factory=list)
    not_on_spark: list[tuple[str, str, str]] = field(default_factory=list)


def spark_query(sql: str) -> str:
    """An ``UnexpectedRowsExpectation`` query (DuckDB SQL, ``{batch}`` for the suite's table) in Spark SQL."""
    from datapkg.spark_sql import to_spark

    return to_spark(sql.replace(BATCH, BATCH_STANDIN)).replace(BATCH_STANDIN, BATCH)


def _columns(kwargs: dict[str, Any]) -> list[str]:
    names = [kwargs[k] for k in ("column", "column_A", "column_B") if isinstance(kwargs.get(k), str)]
    return names + [c for c in kwargs.get("column_list") or [] if isinstance(c, str)]


def query_tables(sql: str) -> list[str]:
    """The tables a (Spark) query reads, ``{batch}`` aside."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql.replace(BATCH, BATCH_STANDIN), read="spark")
    ctes = {c.alias for c in tree.find_all(exp.CTE)}
    return [t.name for t in tree.find_all(exp.Table) if t.name not in ctes and t.name != BATCH_STANDIN]


def _expectation(gx: Any, exp: dict[str, Any], columns: list[str], known: set[str], spark: Any = None,
                 batch_view: str = "") -> Any:
    """The GX expectation object for ``exp`` on Spark; ValueError (with the reason) when it cannot run there."""
    from datapkg.spark_sql import NotOnSpark

    kwargs = dict(exp.get("kwargs") or {})
    if ((exp.get("meta") or {}).get("dpkg") or {}).get("check") in NOT_ON_SPARK:
        raise ValueError(NOT_ON_SPARK[exp["meta"]["dpkg"]["check"]])
    missing = [c for c in _columns(kwargs) if c not in columns]
    if missing:
        raise ValueError(f"column {', '.join(missing)} is not a column of the batch on Spark")
    if exp.get("type") == "unexpected_rows_expectation":
        try:
            kwargs["unexpected_rows_query"] = spark_query(kwargs["unexpected_rows_query"])
        except NotOnSpark as exc:
            raise ValueError(str(exc)) from None
        unknown = sorted(set(query_tables(kwargs["unexpected_rows_query"])) - set(known))
        if unknown:
            raise ValueError(f"its SQL reads {', '.join(unknown)}, which the Spark engine does not have")
        if spark is not None:  # Spark's analyser (no data read): a translation Spark refuses is named, not an error
            try:
                spark.sql(kwargs["unexpected_rows_query"].format(batch=batch_view)).schema
            except Exception as exc:  # noqa: BLE001 - pyspark's AnalysisException and parse errors
                raise ValueError(f"Spark SQL refuses the translated rule: {str(exc).strip().splitlines()[0][:160]}") from None
    cls = gx.expectations.registry.get_expectation_impl(exp["type"])
    return cls(**kwargs, meta=exp.get("meta"))


@prints_to_stderr
def run_suites(spark: Any, tables: dict[str, SparkTable], suites: list[dict[str, Any]],
               views: set[str] | None = None) -> SparkRun:
    """Evaluate every expectation of ``suites`` with GX's Spark engine on ``tables`` (a suite with
    ``meta.batch == "cells"`` on the text cells); ``views``: the tables Spark SQL may read
    (default: the resources and their cells)."""
    if views is None:
        views = {n for t in tables.values() for n in (t.name, f"raw__{t.name}")}
    import uuid

    import great_expectations as gx

    from datapkg.checks.gx_checks import gx_context

    run = SparkRun()
    known = set(views)
    context = gx_context()  # this process's GX context, set up once (no analytics, no progress bars)
    source = context.data_sources.add_spark(f"spark-{uuid.uuid4().hex}")
    result_format = {"result_format": "COMPLETE", "unexpected_index_column_names": [ROW],
                     "return_unexpected_index_query": False}
    for suite in suites:
        name = suite.get("name") or "suite"
        resource = (suite.get("meta") or {}).get("resource")
        table = tables.get(resource)
        if table is None:
            run.not_on_spark += [(name, e.get("type", "?"), f"resource {resource!r} is not read into Spark")
                                 for e in suite.get("expectations") or []]
            continue
        cells = (suite.get("meta") or {}).get("batch") == CELLS
        frame = table.cells if cells else table.frame
        if frame is None:
            run.not_on_spark += [(name, e.get("type", "?"), f"{resource} has no text cells on Spark (a Parquet file)")
                                 for e in suite.get("expectations") or []]
            continue
        asset = source.add_dataframe_asset(f"{resource}-{len(run.results)}-{len(run.not_on_spark)}")
        batch = asset.add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame})
        for exp in suite.get("expectations") or []:
            try:
                expectation = _expectation(gx, exp, frame.columns, known, spark,
                                           f"`raw__{resource}`" if cells else f"`{resource}`")
            except (ValueError, TypeError, KeyError) as exc:
                run.not_on_spark.append((name, exp.get("type", "?"), str(exc)))
                continue
            run.results.append((suite, exp, batch.validate(expectation, result_format=result_format)))
    return run


def not_on_spark_findings(run: SparkRun) -> list[Finding]:
    """One warning per expectation that could not run on Spark, naming it and why."""
    return [Finding(check="not-on-spark", severity="warning", resource=None, file=None,
                    message=f"suite {suite}: {kind} cannot run on Spark ({reason}); run it with the DuckDB engine")
            for suite, kind, reason in run.not_on_spark]


def run_spark_checks(root: Any, descriptor: dict[str, Any], *, master: str, allow_remote: bool = False,
                     conf: dict[str, str] | None = None) -> list[Finding]:
    """The package's GX suites (the DuckDB engine's: derived from the Table Schemas, with the
    curation rules, plus ``validations/``) on GX's Spark engine; findings in the report model, and a
    warning per expectation Spark cannot run. The curation rules' helper tables (code lists, article
    texts) are made by DuckDB as for the DuckDB engine and handed to Spark as DataFrames."""
    from pathlib import Path

    import duckdb

    from datapkg.checks.curation import plan_curation_queries
    from datapkg.checks.gx_findings import findings_from_result
    from datapkg.expectations import plain_suites, read_suite_files
    from datapkg.spark_frames import read_package, spark_session

    root = Path(root)
    spark = spark_session(master, conf)
    tables = read_package(spark, root, descriptor, allow_remote=allow_remote)
    con = duckdb.connect()  # the curation rules are planned as the DuckDB engine plans them
    try:
        rules = plan_curation_queries(con, root, descriptor)
        helpers = _hand_over(con, spark, set(tables))
    finally:
        con.close()
    suites = plain_suites(root, descriptor, rules) + read_suite_files(root)
    run = run_suites(spark, tables, suites, {n for t in tables.values() for n in (t.name, f"raw__{t.name}")} | helpers)
    findings = not_on_spark_findings(run)
    for suite, exp, result in run.results:
        findings += findings_from_result(suite, exp, result, tables[suite["meta"]["resource"]].file)
    return findings


def _hand_over(con: Any, spark: Any, resources: set[str]) -> set[str]:
    """The helper tables the curation rules made in DuckDB (``_codes``, ``_article_texts``...) as
    Spark temp views of the same names; returns their names."""
    names = [n for (n,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()
             if n not in resources]
    for name in names:
        frame = con.execute(f'SELECT * FROM "{name.replace(chr(34), chr(34) * 2)}"').df()
        spark.createDataFrame(frame).createOrReplaceTempView(f"`{name}`")
    return set(names)

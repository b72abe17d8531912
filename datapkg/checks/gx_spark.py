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

from datapkg.report import Finding
from datapkg.spark_frames import ROW, SparkTable

BATCH = "{batch}"
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


def _expectation(gx: Any, exp: dict[str, Any], table: SparkTable, known: set[str]) -> Any:
    """The GX expectation object for ``exp`` on Spark; ValueError (with the reason) when it cannot run there."""
    from datapkg.spark_sql import NotOnSpark

    kwargs = dict(exp.get("kwargs") or {})
    missing = [c for c in _columns(kwargs) if c not in table.frame.columns]
    if missing:
        raise ValueError(f"column {', '.join(missing)} is not a column of {table.name} on Spark")
    if exp.get("type") == "unexpected_rows_expectation":
        try:
            kwargs["unexpected_rows_query"] = spark_query(kwargs["unexpected_rows_query"])
        except NotOnSpark as exc:
            raise ValueError(str(exc)) from None
        unknown = sorted(set(query_tables(kwargs["unexpected_rows_query"])) - set(known))
        if unknown:
            raise ValueError(f"its SQL reads {', '.join(unknown)}, which the Spark engine does not have")
    cls = gx.expectations.registry.get_expectation_impl(exp["type"])
    return cls(**kwargs, meta=exp.get("meta"))


def run_suites(spark: Any, tables: dict[str, SparkTable], suites: list[dict[str, Any]]) -> SparkRun:
    """Evaluate every expectation of ``suites`` with GX's Spark engine on ``tables``."""
    import great_expectations as gx

    run = SparkRun()
    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_spark("dpkg")
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
        asset = source.add_dataframe_asset(f"{resource}-{len(run.results)}-{len(run.not_on_spark)}")
        batch = asset.add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": table.frame})
        for exp in suite.get("expectations") or []:
            try:
                expectation = _expectation(gx, exp, table, set(tables))
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
                     schema_resources: set[str] | None = None) -> list[Finding]:
    """The package's GX suites (generated, curation rules, hand-written: the DuckDB engine's set)
    on GX's Spark engine; findings in the report model, plus a warning per expectation Spark cannot run."""
    from pathlib import Path

    import duckdb

    from datapkg.checks.curation import plan_curation_queries
    from datapkg.checks.gx_findings import findings_from_result
    from datapkg.expectations import plain_suites, read_suite_files
    from datapkg.spark_frames import read_package, spark_session

    con = duckdb.connect()  # only to plan the curation rules, as the DuckDB engine does
    try:
        suites = plain_suites(Path(root), descriptor, plan_curation_queries(con, Path(root), descriptor))
    finally:
        con.close()
    suites += read_suite_files(Path(root))
    if schema_resources is not None:
        suites = [s for s in suites if s["meta"]["resource"] in schema_resources]
    spark = spark_session(master)
    tables = read_package(spark, Path(root), descriptor, allow_remote=allow_remote)
    run = run_suites(spark, tables, suites)
    findings = not_on_spark_findings(run)
    for suite, exp, result in run.results:
        table = tables[suite["meta"]["resource"]]
        findings += findings_from_result(suite, exp, result, table.location)
    return findings

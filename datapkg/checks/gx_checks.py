"""Run a package's Great Expectations suites with GX's SQL engine, inside DuckDB, in this process.

1. :mod:`datapkg.loader` loads every local tabular resource into one DuckDB connection: the typed
   table ``"<name>"`` and the cells ``raw."<name>"``; the curation rules add what they need.
2. The connection is locked down (no file system, network or extensions) before any SQL that
   comes from the package runs.
3. GX (registered for DuckDB by :mod:`datapkg.gx_duckdb`) validates every suite of
   :mod:`datapkg.expectations` against its table through that one connection; each unexpected
   row becomes a :class:`~datapkg.report.Finding` with its row (``__row``), field and check.

GX is imported on first use and kept (:func:`gx_context`), so a second run in the same process
(``--watch``, the tests) does not pay for it again.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import shutil
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, TypeVar

from datapkg.errors import DpkgError
from datapkg.expectations import CELLS, plain_suites, read_suite_files
from datapkg.loader import (RAW_SCHEMA, ROW, LoadedTable, LoadError, UnsupportedResource, is_tabular, load_resource,
                            package_resources, resource_schema)
from datapkg.package_source import resource_paths
from datapkg.checks.gx_findings import findings_from_result, raised
from datapkg.report import Finding
from datapkg.sandbox import REFUSED, is_refusal, lock_down, single_select

#: DuckDB's memory cap for the checks (it spills to a temporary folder beyond it).
DUCKDB_MEMORY = "256MB"
#: Modules GX imports at start-up for expectations the suites do not use (KL divergence, charts):
#: loaded on first use instead (:class:`datapkg.isolated.LazyFinder`).
GX_LAZY = ("scipy.stats", "altair")
#: At most this many failing rows per expectation become findings (GX's own cap on the rows an
#: ``unexpected_rows_expectation`` returns); a warning gives the full count.
ROWS_PER_CHECK = 200
#: Suites are validated in this many threads, each with its own DuckDB cursor and GX data source:
#: while one waits for DuckDB (which releases the GIL), the other does GX's bookkeeping.
GX_LANES = 2
#: The key under which each expectation's position in its suite travels through GX (``meta``).
INDEX_KEY = "dpkg_index"

#: GX's Spark integration, which GX imports when pyspark is installed (the ``[spark]`` extra).
SPARK_MODULE = "pyspark"

_context: Any = None
_run_ids = itertools.count()


# --- which resources this path covers -------------------------------------------------------

def gx_resources(root: str | Path, descriptor: dict[str, Any]) -> set[str]:
    """Names of the resources the loader can put into DuckDB (local single-file CSV/TSV, inline
    data) with Table Schema fields: their rows are checked here, at every size. Nothing is loaded."""
    names = set()
    for resource in package_resources(descriptor):
        if not is_tabular(resource) or not isinstance(resource.get("name"), str):
            continue
        paths = resource_paths(resource)
        fmt = str(resource.get("format") or "").lower()
        if paths and (len(paths) != 1 or "://" in paths[0] or fmt not in ("", "csv", "tsv")
                      or paths[0].lower().endswith((".xlsx", ".xls", ".ods", ".json", ".parquet"))):
            continue
        try:
            if resource_schema(Path(root), resource).get("fields"):
                names.add(resource["name"])
        except DpkgError:
            continue
    return names


# --- GX --------------------------------------------------------------------------------------------

def without_spark() -> None:
    """Declare that this process validates with DuckDB only: GX, imported after this, treats
    pyspark as not installed and leaves its Spark integration out (with the ``[spark]`` extra
    installed: 0.35 s CPU and 18 MB less at start-up). No effect once pyspark or GX is loaded."""
    import sys

    if SPARK_MODULE not in sys.modules and "great_expectations" not in sys.modules:
        sys.modules[SPARK_MODULE] = None  # type: ignore[assignment]  # "not installed"


_F = TypeVar("_F", bound=Callable[..., Any])


def prints_to_stderr(function: _F) -> _F:
    """Run ``function`` with what it ``print()``s sent to stderr. GX prints some warnings to stdout
    (``unexpected_rows_query should contain the {batch} parameter``, for a hand-written rule), where
    dpkg's report goes (``--format json``, JUnit...). Only for functions the main thread calls: the
    redirection is the process's own ``sys.stdout``."""

    @functools.wraps(function)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with contextlib.redirect_stdout(sys.stderr):
            return function(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def gx_context() -> Any:
    """This process's ephemeral GX context (GX imported, registered for DuckDB, once)."""
    global _context
    if _context is None:
        import logging

        from datapkg import gx_overhead
        from datapkg.isolated import LazyFinder

        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        sys.meta_path.insert(0, LazyFinder(tuple(n for n in GX_LAZY if n not in sys.modules)))
        with gx_overhead.imported_without_collections():
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            from datapkg import gx_duckdb

            gx_duckdb.register()
            gx_overhead.register()
            context = gx.get_context(mode="ephemeral")
            context.variables.progress_bars = ProgressBarsConfig(globally=False)
        _context = context
    return _context


def gx_suite(plain: dict[str, Any], name: str) -> Any:
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    meta = {k: v for k, v in (plain.get("meta") or {}).items() if k != "great_expectations_version"}
    # given to the constructor, not added one by one: add_expectation compares each new expectation
    # with every one before it (the suites are deduplicated already, :func:`datapkg.expectations.plain_suites`)
    return gx.ExpectationSuite(name=name, meta=meta, expectations=[  # GX orders its results its own way: the number finds ours
        ExpectationConfiguration(type=exp["type"], kwargs=exp.get("kwargs") or {},
                                 meta={**(exp.get("meta") or {}), INDEX_KEY: number}).to_domain_obj()
        for number, exp in enumerate(plain["expectations"])])


def _in_order(plain: dict[str, Any], results: list[Any]) -> list[tuple[dict[str, Any], Any]]:
    """(expectation, its result) for every result GX returned for ``plain``."""
    return [(plain["expectations"][r.expectation_config.meta[INDEX_KEY]], r) for r in results]


def result_format() -> dict[str, Any]:
    return {"result_format": "COMPLETE", "unexpected_index_column_names": [ROW],
            "return_unexpected_index_query": False, "partial_unexpected_count": ROWS_PER_CHECK}


@prints_to_stderr
def validate_suites(con: Any, suites: list[tuple[dict[str, Any], LoadedTable]], data_docs: Path | None) -> list[Finding]:
    """Validate every (suite, table) with GX's SQL engine on ``con``; write Data Docs into ``data_docs``.

    Without Data Docs, GX first decides pass/fail only (``BOOLEAN_ONLY``: a few aggregate queries
    per suite) and lists the failing rows (``COMPLETE``) of the failed expectations only.
    """
    context = gx_context()
    run = f"dpkg-{next(_run_ids)}"
    if data_docs is not None:
        try:
            from datapkg.data_docs import validate_with_docs

            return validate_with_docs(context, run, suites, _batch_definitions(context, run, con, suites), Path(data_docs))
        finally:
            if run in context.data_sources.all():
                context.data_sources.delete(run)
    lanes = max(1, min(GX_LANES, os.cpu_count() or 1, len(suites)))
    numbered = list(enumerate(suites))
    shares = [numbered[i::lanes] for i in range(lanes)]
    cursors = [con.cursor() for _ in shares]
    names = [f"{run}-{i}" for i in range(lanes)]
    try:
        jobs = [(_batch_definitions(context, name, cur, [s for _, s in share]), share)
                for name, cur, share in zip(names, cursors, shares)]
        stop = threading.Event()
        pool = ThreadPoolExecutor(lanes)
        try:
            futures = [pool.submit(_validate_lane, run, batches, share, stop) for batches, share in jobs]
            by_suite = dict(pair for future in futures for pair in future.result())
            return [f for number in sorted(by_suite) for f in by_suite[number]]  # in the suites' order
        except BaseException:  # Ctrl-C: the other lane stops at its next query or suite
            stop.set()
            for cur in cursors:
                cur.interrupt()
            raise
        finally:
            pool.shutdown(wait=True)
    finally:
        for name in names:
            if name in context.data_sources.all():
                context.data_sources.delete(name)
        for cur in cursors:
            cur.close()


def batch_schema(plain: dict[str, Any]) -> str:
    """The DuckDB schema of a suite's batch: ``raw`` (the cells, a ``.cells`` suite) or ``main`` (typed)."""
    return RAW_SCHEMA if plain["meta"].get("batch") == CELLS else "main"


def _batch_definitions(context: Any, name: str, con: Any, suites: list[tuple[dict[str, Any], LoadedTable]]) -> list[Any]:
    """Add GX SQL data source ``name`` on the DuckDB connection ``con`` to ``context``, with a table
    asset and a whole-table batch definition for each suite's table (cells or typed); return those
    batch definitions in the suites' order.

    The data source is added with all its assets at once: GX writes its whole configuration out
    again after each ``add_table_asset`` and ``add_batch_definition_whole_table``.
    """
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.datasource.fluent.sql_datasource import SQLDatasource, TableAsset

    from datapkg.gx_duckdb import CONNECTION_STRING, engine_kwargs

    assets = [TableAsset(name=f"{number}-{plain['name']}", table_name=table.name, schema_name=batch_schema(plain),
                         batch_definitions=[BatchDefinition(name="all")])
              for number, (plain, table) in enumerate(suites)]
    source = context.data_sources.add_sql(SQLDatasource(name=name, connection_string=CONNECTION_STRING,
                                                        kwargs=engine_kwargs(con), assets=assets))
    return [source.get_asset(asset.name).get_batch_definition("all") for asset in assets]


def _validate_lane(run: str, batches: list[Any], suites: list[tuple[int, tuple[dict[str, Any], LoadedTable]]],
                   stop: threading.Event) -> list[tuple[int, list[Finding]]]:
    """Validate the numbered ``suites`` one after the other (one lane, one thread): each number with
    its findings; stop early once ``stop`` is set."""
    done: list[tuple[int, list[Finding]]] = []
    for (number, (plain, table)), definition in zip(suites, batches, strict=True):
        if stop.is_set():
            break
        done.append((number, [f for _, found in validate_batch(definition.get_batch(), plain, table, run) for f in found]))
    return done


def validate_batch(batch: Any, plain: dict[str, Any], table: LoadedTable, label: str) -> list[tuple[dict[str, Any], list[Finding]]]:
    """Validate the suite ``plain`` on one GX ``batch``; (expectation, its findings) for each that failed.

    GX first decides pass/fail only (``BOOLEAN_ONLY``: a few aggregate queries per suite) and
    lists the failing rows (``COMPLETE``) of the failed expectations only. ``label`` names the
    ad-hoc GX suites (unique per run).
    """
    verdicts = batch.validate(gx_suite(plain, f"{label}-{plain['name']}"), result_format="BOOLEAN_ONLY").results
    failed = [exp for exp, verdict in _in_order(plain, verdicts) if not verdict.success or raised(verdict)]
    if not failed:
        return []
    detail = {**plain, "expectations": failed}
    results = batch.validate(gx_suite(detail, f"{label}-{plain['name']}-failed"), result_format=result_format()).results
    return [(exp, _findings_of(detail, exp, result, table)) for exp, result in _in_order(detail, results)]


def _findings_of(plain: dict[str, Any], exp: dict[str, Any], result: Any, table: LoadedTable) -> list[Finding]:
    file = plain["meta"]["file"] if plain["meta"].get("file") and raised(result) else table.file
    return findings_from_result(plain, exp, result, file)


def suite_findings(plain: dict[str, Any], table: LoadedTable, results: list[Any]) -> list[Finding]:
    return [f for exp, result in _in_order(plain, results) for f in _findings_of(plain, exp, result, table)]


# --- entry point ----------------------------------------------------------------------------------

def run_gx_checks(root: str | Path, descriptor: dict[str, Any], *, data_docs: Path | None = None,
                  resources: set[str] | None = None, schema: bool = True, curation: bool = True,
                  only: Callable[[dict[str, Any], dict[str, Any]], bool] | None = None) -> list[Finding]:
    """Validate the package at ``root`` with its GX suites, in DuckDB; return the findings.

    Suites: two derived from each resource's Table Schema (always afresh, :mod:`datapkg.expectations`)
    with the curation rules that apply, plus the hand-written suites in ``validations/``.
    ``resources`` limits the run to those names (default: :func:`gx_resources`); ``schema=False``
    runs the curation rules only, ``curation=False`` all but them; ``only(suite, expectation)``
    keeps the expectations for which it is true.
    """
    root = Path(root)
    loadable = gx_resources(root, descriptor)
    wanted = loadable if resources is None else set(resources) & loadable
    spill = tempfile.mkdtemp(prefix="dpkg-gx-")
    con = open_connection(spill)
    try:
        findings: list[Finding] = []
        tables = _load(con, root, descriptor, loadable, findings)  # the suites' SQL may name any of them
        if not schema:
            findings = []  # an unreadable file is the schema checks' (and frictionless') to report
        lock_down(con)  # the package's tables are in: from here on its SQL runs sandboxed
        planned, runnable = plan_runnable(con, root, descriptor, tables, wanted, schema=schema, curation=curation)
        findings += planned
        if only is not None:
            runnable = [(s, t) for s, t in ((_only(s, only), t) for s, t in runnable) if s["expectations"]]
        if not runnable and data_docs is None:
            return findings  # nothing for GX to check: GX is not started
        return _blank_rows_only(findings + validate_suites(con, runnable, data_docs))
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def _only(suite: dict[str, Any], keep: Callable[[dict[str, Any], dict[str, Any]], bool]) -> dict[str, Any]:
    """``suite`` with the expectations ``exp`` for which ``keep(suite, exp)`` is true."""
    return {**suite, "expectations": [e for e in suite["expectations"] if keep(suite, e)]}


def open_connection(spill: str) -> Any:
    """A DuckDB connection for the checks, capped at :data:`DUCKDB_MEMORY`, spilling into ``spill``."""
    import duckdb

    return duckdb.connect(config={"memory_limit": DUCKDB_MEMORY, "temp_directory": spill})


def plan_runnable(con: Any, root: Path, descriptor: dict[str, Any], tables: dict[str, LoadedTable], wanted: set[str],
                  *, schema: bool = True, curation: bool = True) -> tuple[list[Finding], list[tuple[dict[str, Any], LoadedTable]]]:
    """The suites to run on the ``tables`` loaded into ``con`` (locked down): (findings about the
    suites themselves, [(suite, its table)]). Adds what the curation rules need to ``con``."""
    from datapkg.checks.curation import plan_curation_queries

    findings: list[Finding] = []
    rules = plan_curation_queries(con, root, descriptor, preloaded=set(tables)) if curation else []
    suites = plain_suites(root, descriptor, rules)
    if not schema:
        suites = [_only(s, lambda _, e: bool(e["meta"]["dpkg"].get("rule"))) for s in suites]
    else:
        suites += read_suite_files(root)
    runnable = []
    for suite in _resolvable(suites, set(tables)):
        if suite["meta"].get("file"):
            suite, refused = _one_select_each(con, suite)
            findings += refused
        table = tables.get(suite["meta"]["resource"]) if suite["meta"]["resource"] in wanted else None
        if table is None and suite["meta"].get("file"):
            findings.append(Finding(check="gx-suite-error", file=suite["meta"]["file"],
                                    message=f"suite {suite.get('name')!r} checks resource {suite['meta']['resource']!r}, "
                                            "which is not a local tabular resource of this package"))
        elif table is not None and suite["expectations"]:
            runnable.append((suite, table))
    return findings, runnable


def _resolvable(suites: list[dict[str, Any]], tables: set[str]) -> list[dict[str, Any]]:
    """The suites without the foreign keys into a table that is not loaded (frictionless reports
    a missing or unreadable resource)."""
    def ok(exp: dict[str, Any]) -> bool:
        target = ((exp.get("meta") or {}).get("dpkg") or {}).get("target") if isinstance(exp, dict) else None
        return target is None or target in tables

    return [_only(s, lambda _, e: ok(e)) for s in suites]


def _one_select_each(con: Any, suite: dict[str, Any]) -> tuple[dict[str, Any], list[Finding]]:
    """A hand-written suite without the expectations whose SQL is not one SELECT (each a finding)."""
    from datapkg.errors import UsageError

    kept, refused = [], []
    for exp in suite["expectations"]:
        sql = (exp.get("kwargs") or {}).get("unexpected_rows_query") if isinstance(exp, dict) else None
        try:
            if isinstance(sql, str):
                single_select(con, sql.replace("{batch}", "(SELECT 1)").replace("{{", "{").replace("}}", "}"),
                              f"suite {suite.get('name')!r}")
            kept.append(exp)
        except UsageError as exc:
            reason = f"{REFUSED} ({exc})" if is_refusal(exc) else str(exc)
            refused.append(Finding(check="gx-suite-error", resource=suite["meta"].get("resource"), file=suite["meta"]["file"],
                                   message=f"suite {suite.get('name')!r} cannot run: {reason}"))
    return {**suite, "expectations": kept}, refused


def _load(con: Any, root: Path, descriptor: dict[str, Any], names: set[str], findings: list[Finding]) -> dict[str, LoadedTable]:
    """Load ``names`` (typed table + cells); an unreadable file becomes a finding
    (``encoding-error`` or ``source-error``, as frictionless names them)."""
    tables: dict[str, LoadedTable] = {}
    for resource in package_resources(descriptor):
        if not isinstance(resource.get("name"), str) or resource["name"] not in names:
            continue
        try:
            tables[resource["name"]] = load_resource(con, root, resource, keep_raw=True)
        except LoadError as exc:
            findings.append(Finding(check=exc.check, message=str(exc), resource=resource["name"],
                                    file=(resource_paths(resource) or [None])[0]))
        except UnsupportedResource:
            continue
    return tables


def _blank_rows_only(findings: list[Finding]) -> list[Finding]:
    """Like frictionless, a blank row gets the blank-row finding and no cell findings."""
    blank = {(f.file, f.row) for f in findings if f.check == "blank-row"}
    return [f for f in findings if f.check == "blank-row" or f.row is None or (f.file, f.row) not in blank]

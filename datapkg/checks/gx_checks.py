"""Run the Great Expectations suites of a package against data that DuckDB holds.

How the work is split (chosen by measurement, see ``benchmarks/GX.md``):

1. :mod:`datapkg.loader` loads every tabular resource into DuckDB (raw text + typed, ``__row``).
2. Per resource, a DuckDB view (:mod:`datapkg.checks.gx_candidates`) presents the columns the suites name (see
   :mod:`datapkg.expectations`): typed values, ``<field>::text``, and *derived* columns whose SQL
   (foreign keys, type parsing, the curation rules of :mod:`datapkg.checks.curation`) DuckDB
   computes: NULL where the row is fine.
3. Every row-level expectation GX knows as a column-map (not null, in set, regex, strftime,
   between, lengths, unique, compound unique, null) is also written as a SQL predicate that
   selects the rows that *may* fail it. DuckDB scans the table once and hands GX only those
   candidate rows (all the suite's columns, at most ``max_rows`` of them), so GX's pandas engine
   never holds a million rows. GX then runs the whole suite on the candidates and decides:
   what it reports is what it would report on the full table, because a row outside the
   candidates passes every such expectation.
4. Expectations with no SQL translation (table-level ones, hand-written exotic ones) run on the
   full view of only the columns they name.

GX's SQL data source on DuckDB (duckdb-engine) is not used: with GX 1.24 every expectation fails
with ``MetricResolutionError: list index out of range`` (``benchmarks/gx_sql_datasource.py``).

:func:`run_gx_checks` is the entry point for :mod:`datapkg.validate`. Great Expectations is
imported here only inside functions.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from datapkg.checks.gx_candidates import (FIELD_SEPARATOR, FRAMES, PreparedSuite, expectation_columns, load_frames, prepare,
                                          rule_sql)
from datapkg.errors import DpkgError, UsageError
from datapkg.expectations import TEXT_SUFFIX, plain_suites, read_suite_files
from datapkg.loader import (ROW, LoadedTable, LoadError, UnsupportedResource, is_tabular, load_resource,
                            package_resources, quote_ident, quote_literal, resource_schema)
from datapkg.package_source import resource_paths
from datapkg.report import Finding
from datapkg.sandbox import REFUSED, is_refusal, lock_down

DEFAULT_MAX_ROWS = 100_000
#: DuckDB's memory cap for the checks (it spills to a temporary folder beyond it), and the larger
#: caps the DuckDB phase starts again under if an operator still runs out of memory.
DUCKDB_MEMORY = "64MB"
DUCKDB_MEMORY_RETRIES = ("512MB", "4GB")
#: Modules GX imports at start-up for one expectation (KL divergence) that only its body uses:
#: loaded on first use instead (about 0.9 s of GX's 2.4 s import).
GX_LAZY = ("scipy.stats", "altair")
#: Modules the GX process does not let pandas import (optional for pandas, unused by GX's pandas engine).
GX_BLOCKED = ("pyarrow",)
#: Frictionless row-level error types the GX path covers for the resources it checks.
REPLACES_FRICTIONLESS = ("type-error", "constraint-error", "unique-error", "primary-key", "foreign-key",
                         "blank-row", "missing-cell", "extra-cell")


# --- which resources this path covers -------------------------------------------------------

def gx_resources(root: str | Path, descriptor: dict[str, Any]) -> set[str]:
    """Names of the resources whose row-level checks this path makes (so frictionless can skip them).

    Local single-file CSV/TSV resources and inline-data resources with Table Schema fields.
    Cheap: nothing is loaded.
    """
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


# --- GX results -> findings ------------------------------------------------------------------------

def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def describe(exp: dict[str, Any], value: Any, field_name: str | None) -> str:
    """A sentence a curator can act on for one unexpected value."""
    kind, kw = exp.get("type", ""), exp.get("kwargs") or {}
    dpkg = (exp.get("meta") or {}).get("dpkg") or {}
    shown = _fmt(value)
    if isinstance(dpkg.get("message"), str):
        try:
            return dpkg["message"].format(value=shown, field=field_name)
        except (KeyError, IndexError, ValueError):
            return dpkg["message"]
    if dpkg.get("kind") == "type":
        typ = dpkg.get("type", "value")
        extra = f" in the format {kw['strftime_format']}" if "strftime_format" in kw else ""
        return f'"{shown}" is not a valid {typ}{extra} for field "{field_name}"; fix the cell or the field type'
    if kind == "expect_column_values_to_not_be_null":
        what = "primary key field" if dpkg.get("kind") == "primary-key" else "required field"
        return f'"{field_name}" is a {what} but this row leaves it empty; fill it in'
    if kind == "expect_column_values_to_be_in_set":
        allowed = ", ".join(_fmt(v) for v in kw.get("value_set", [])[:12])
        return f'"{shown}" is not an allowed value of "{field_name}" (allowed: {allowed})'
    if kind == "expect_column_values_to_not_be_in_set":
        return f'"{shown}" is a forbidden value of "{field_name}"'
    if kind == "expect_column_values_to_match_regex":
        pattern = kw.get("regex", "")
        return f'"{shown}" in "{field_name}" does not match the pattern {pattern}'
    if kind == "expect_column_values_to_not_match_regex":
        return f'"{shown}" in "{field_name}" matches the forbidden pattern {kw.get("regex")}'
    if kind == "expect_column_values_to_match_strftime_format":
        return f'"{shown}" in "{field_name}" is not a date in the format {kw.get("strftime_format")}'
    if kind == "expect_column_values_to_be_between":
        low = "-∞" if kw.get("min_value") is None else _fmt(kw["min_value"])
        high = "∞" if kw.get("max_value") is None else _fmt(kw["max_value"])
        return f'{shown} in "{field_name}" is outside the allowed range {low} to {high}'
    if kind == "expect_column_value_lengths_to_be_between":
        return (f'"{shown}" in "{field_name}" has {len(str(value))} characters; allowed '
                f'{kw.get("min_value") or 0} to {kw.get("max_value") or "any"}')
    if kind == "expect_column_values_to_be_unique":
        what = "the primary key" if dpkg.get("kind") == "primary-key" else f'"{field_name}"'
        return f'"{shown}" appears more than once in {what}; values must be unique'
    if kind == "expect_compound_columns_to_be_unique":
        return f"the combination ({field_name}) = ({shown}) appears more than once; it must be unique"
    if dpkg.get("check") == "missing-cell":
        return f'the row has fewer values than the header: field "{shown}" has no value; add the missing cell'
    if dpkg.get("check") == "extra-cell":
        return f'the row has more values than the header (extra value "{shown}"); remove it or add a column'
    if dpkg.get("check") == "blank-row":
        return "the row is completely blank; delete it"
    if dpkg.get("check") == "foreign-key":
        return f'"{shown}" in "{field_name}" has no match in {dpkg.get("reference")}; fix the value or add the referenced row'
    if kind == "expect_column_values_to_be_null":
        return f'"{shown}" breaks the rule {kw.get("column")}'
    return f'"{shown}" in "{field_name}" fails {kind}'


UNIQUE_TYPES = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")


def _repeats_only(rows: list[dict[str, Any]], cols: list[str]) -> list[dict[str, Any]]:
    """GX flags every member of a duplicate group; like frictionless, report only the repeats."""
    seen: set[tuple] = set()
    out = []
    for item in sorted(rows, key=lambda r: r.get(ROW) or 0):
        key = tuple(_fmt(item.get(c)) for c in cols)
        if key in seen:
            out.append(item)
        seen.add(key)
    return out


def findings_from_result(prepared: PreparedSuite, exp: dict[str, Any], result: Any) -> list[Finding]:
    """Findings for one GX ExpectationValidationResult."""
    table = prepared.table
    dpkg = (exp.get("meta") or {}).get("dpkg") or {}
    kind = exp.get("type", "")
    column = (exp.get("kwargs") or {}).get("column")
    field_name = dpkg["field"] if "field" in dpkg else (column.removesuffix(TEXT_SUFFIX) if isinstance(column, str) else None)
    check = dpkg.get("check") or kind
    common = {"resource": table.name, "file": table.file}
    info = result.exception_info or {}
    raised = info.get("raised_exception") if isinstance(info, dict) and "raised_exception" in info else any(
        isinstance(v, dict) and v.get("raised_exception") for v in (info.values() if isinstance(info, dict) else []))
    if raised:
        text = info.get("exception_message") if "exception_message" in info else next(
            (v.get("exception_message") for v in info.values() if isinstance(v, dict)), "")
        return [Finding(check="gx-expectation-error", field=field_name, **common,
                        message=f"GX could not evaluate {kind} on {column or field_name}: {str(text).splitlines()[0] if text else 'error'}")]
    if result.success:
        return []
    res = result.result or {}
    rows = res.get("unexpected_index_list")
    if not isinstance(rows, list) or not rows or not isinstance(rows[0], dict):
        observed = res.get("observed_value")
        return [Finding(check=check, field=field_name, **common,
                        message=f"{kind} failed" + (f" (observed: {observed})" if observed is not None else ""))]
    out = []
    messages = prepared.messages.get(column, {}) if isinstance(column, str) else {}
    cols = expectation_columns(exp)
    if kind in UNIQUE_TYPES:
        rows = _repeats_only(rows, cols)
    for item in rows:
        row = int(item.get(ROW)) if item.get(ROW) is not None else None
        if len(cols) > 1:
            value = ",".join(_fmt(item.get(c)) for c in cols)
        else:
            value = item.get(column) if isinstance(column, str) else None
        if dpkg.get("field_from_value"):  # one finding per field the value names (a short row's missing cells)
            out += [Finding(check=check, message=describe(exp, name, field_name), row=row, field=name, value="", **common)
                    for name in str(value).split(FIELD_SEPARATOR)]
            continue
        message = messages.get(row) if row in messages else describe(exp, value, field_name)
        out.append(Finding(check=check, message=message, row=row, field=field_name,
                           value=None if value is None else _fmt(value), **common))
    return out


# --- GX ------------------------------------------------------------------------------------------

def _gx_suite(gx: Any, suite: dict[str, Any], expectations: list[dict[str, Any]], suffix: str) -> Any:
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    meta = {k: v for k, v in (suite.get("meta") or {}).items() if k != "great_expectations_version"}
    gx_suite = gx.ExpectationSuite(name=f"{suite.get('name')}{suffix}", meta=meta)
    for exp in expectations:
        gx_suite.add_expectation(ExpectationConfiguration(type=exp["type"], kwargs=exp.get("kwargs") or {},
                                                          meta=exp.get("meta") or {}).to_domain_obj())
    return gx_suite


def validate_with_gx(prepared: list[PreparedSuite], data_docs: Path | None) -> list[Finding]:
    """Run every prepared suite with GX (pandas engine); write Data Docs into ``data_docs``."""
    import logging
    import os
    import warnings

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    from great_expectations.data_context.types.base import ProgressBarsConfig

    load_frames(prepared)

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    docs_tmp = None
    site = "dpkg"
    if data_docs is not None:
        data_docs = Path(data_docs)
        data_docs.parent.mkdir(parents=True, exist_ok=True)
        docs_tmp = Path(tempfile.mkdtemp(prefix=f".{data_docs.name}.", dir=data_docs.parent))
        context.add_data_docs_site(site_name=site, site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_tmp)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })
    source = context.data_sources.add_pandas("dpkg")
    findings: list[Finding] = []
    result_format = {"result_format": "COMPLETE", "unexpected_index_column_names": [ROW],
                     "return_unexpected_index_query": False, "partial_unexpected_count": 0}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas' "pattern has match groups" and the like
            findings += _run_all(gx, context, source, prepared, docs_tmp, site, result_format, UpdateDataDocsAction)
        if docs_tmp is not None:
            from datapkg.owned_dir import DATA_DOCS, replace_owned_dir

            if not prepared:
                context.build_data_docs(site_names=[site])  # an index that says nothing ran

            with replace_owned_dir(data_docs, DATA_DOCS, "--data-docs") as target:
                shutil.copytree(docs_tmp, target.tmp, dirs_exist_ok=True)
    finally:
        if docs_tmp is not None:
            shutil.rmtree(docs_tmp, ignore_errors=True)
    return findings


def _run_all(gx: Any, context: Any, source: Any, prepared: list[PreparedSuite], docs_tmp: Path | None,
             site: str, result_format: dict[str, Any], docs_action: Any) -> list[Finding]:
    findings: list[Finding] = []
    for item in prepared:
        for label, frame, exps in (("candidates", item.candidates, item.map_expectations),
                                   ("full", item.full, item.other_expectations)):
            if frame is None or not exps:
                continue
            n = len(context.suites.all())  # a fresh number per GX run: names must be unique
            asset = source.add_dataframe_asset(f"{n}-{label}-{item.table.name}")
            batch_definition = asset.add_batch_definition_whole_dataframe("all")
            suite = context.suites.add(_gx_suite(gx, item.suite, exps, f" [{label} #{n}]"))
            if docs_tmp is not None:
                definition = context.validation_definitions.add(
                    gx.ValidationDefinition(name=f"{n}-{label}-{item.table.name}", data=batch_definition, suite=suite))
                checkpoint = context.checkpoints.add(gx.Checkpoint(
                    name=f"cp-{n}-{label}", validation_definitions=[definition], result_format=result_format,
                    actions=[docs_action(name="docs", site_names=[site])]))
                run = checkpoint.run(batch_parameters={"dataframe": frame})
                results = [r for v in run.run_results.values() for r in v.results]
            else:
                batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
                results = batch.validate(suite, result_format=result_format).results
            by_config = {json.dumps(e["kwargs"], sort_keys=True, default=str) + e["type"]: e for e in exps}
            for result in results:
                config = result.expectation_config
                key = json.dumps(dict(config.kwargs), sort_keys=True, default=str) + config.type
                exp = by_config.get(key) or {"type": config.type, "kwargs": dict(config.kwargs), "meta": config.meta or {}}
                findings += findings_from_result(item, exp, result)
    return findings


# --- entry point ----------------------------------------------------------------------------------

def run_gx_checks(root: str | Path, descriptor: dict[str, Any], *, data_docs: Path | None = None,
                  max_rows: int = DEFAULT_MAX_ROWS, resources: set[str] | None = None,
                  schema_resources: set[str] | None = None, curation: bool = True) -> list[Finding]:
    """Validate the package at ``root`` with its GX suites; return the findings.

    Suites: one generated from each resource's Table Schema (always derived afresh), the
    curation rules that apply (``curation=True``), plus the hand-written suites in
    ``validations/``. ``resources`` limits the run to those names (default: :func:`gx_resources`).
    ``schema_resources`` limits the Table Schema expectations (types, constraints, keys) to those
    resources, e.g. the large ones whose rows frictionless skips; the curation rules and the
    hand-written suites still run on every loaded resource. ``max_rows`` caps the candidate rows
    GX sees per suite (a warning says when it was reached).

    The DuckDB part and the GX part each run in a process of their own, one after the other
    (:mod:`datapkg.isolated`), so that their memory peaks do not add up.
    """
    from datapkg import isolated

    root = Path(root)
    wanted = gx_resources(root, descriptor) if resources is None else set(resources)
    spill = tempfile.mkdtemp(prefix="dpkg-gx-")
    try:
        findings, prepared = isolated.call(_prepare_all, root, descriptor, wanted, data_docs, max_rows,
                                           schema_resources, curation, Path(spill))
        if prepared is None:
            return findings  # nothing for GX to check: GX is not started
        for item in prepared:
            if item.truncated:
                findings.append(Finding(check="gx-truncated", severity="warning", resource=item.table.name, file=item.table.file,
                                        message=f"more than {max_rows} rows may fail; only the first {max_rows} were checked by GX"))
        findings += _validate([p for p in prepared if p.map_expectations or p.other_expectations], data_docs)
        return _blank_rows_only(findings)
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def _prepare_all(root: Path, descriptor: dict[str, Any], wanted: set[str], data_docs: Path | None,
                 max_rows: int, schema_resources: set[str] | None, curation: bool,
                 spill: Path) -> tuple[list[Finding], list[PreparedSuite] | None]:
    """The DuckDB part: load, build the views and write the rows GX will see into the frames
    database in ``spill``. Returns the findings so far and the prepared suites (None when GX has
    nothing to check). DuckDB is closed, and its memory returned, when this returns.

    Runs under :data:`DUCKDB_MEMORY`; if DuckDB runs out of it anyway (a block it cannot spill),
    the phase starts again under each of :data:`DUCKDB_MEMORY_RETRIES` in turn.
    """
    import duckdb

    for memory in (DUCKDB_MEMORY, *DUCKDB_MEMORY_RETRIES):
        for leftover in spill.iterdir():  # of the try under the smaller cap
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        try:
            return _prepare_with(root, descriptor, wanted, data_docs, max_rows, schema_resources, curation, spill, memory)
        except duckdb.OutOfMemoryException as exc:
            error = exc
    raise UsageError(f"DuckDB ran out of memory ({DUCKDB_MEMORY_RETRIES[-1]}) checking the package: "
                     f"{str(error).strip().splitlines()[0]}")


def _prepare_with(root: Path, descriptor: dict[str, Any], wanted: set[str], data_docs: Path | None,
                  max_rows: int, schema_resources: set[str] | None, curation: bool, spill: Path,
                  memory: str) -> tuple[list[Finding], list[PreparedSuite] | None]:
    """:func:`_prepare_all` under one memory cap."""
    import duckdb

    findings: list[Finding] = []
    prepared: list[PreparedSuite] = []
    frames_path = str(spill / "frames.duckdb")
    con = duckdb.connect(config={"memory_limit": memory, "temp_directory": str(spill / "tmp")})
    try:
        queries = []
        if curation:
            from datapkg.checks.curation import plan_curation_queries

            queries = plan_curation_queries(con, root, descriptor)
        suites = _suites(root, descriptor, queries, schema_resources)
        named = {(s.get("meta") or {}).get("resource") for s in suites if s.get("expectations")}
        for suite in suites:
            resource = (suite.get("meta") or {}).get("resource")
            if (suite.get("meta") or {}).get("file") and resource not in wanted:
                findings.append(Finding(check="gx-suite-error", file=suite["meta"]["file"],
                                        message=f"suite {suite.get('name')!r} checks resource {resource!r}, "
                                                "which is not a local tabular resource of this package"))
        if not named & wanted and data_docs is None:
            return findings, None
        tables = _load(con, root, descriptor, (wanted & named) | _referenced(suites, wanted), findings)
        rules = rule_sql(queries)
        con.execute(f"ATTACH {quote_literal(frames_path)} AS {FRAMES}")
        lock_down(con)  # the package's tables are in: from here on its SQL runs sandboxed
        for number, suite in enumerate(suites):
            table = tables.get((suite.get("meta") or {}).get("resource"))
            if table is None or not suite.get("expectations"):
                continue
            try:
                prepared.append(prepare(con, suite, table, rules, max_rows, frames_path, number))
            except duckdb.OutOfMemoryException:
                raise
            except (duckdb.Error, UsageError) as exc:
                reason = f"{REFUSED} ({str(exc).splitlines()[0]})" if is_refusal(exc) else str(exc).splitlines()[0]
                findings.append(Finding(check="gx-suite-error", resource=table.name, file=table.file,
                                        message=f"suite {suite.get('name')!r} cannot run: {reason}"))
        con.execute(f"DETACH {FRAMES}")
    finally:
        con.close()
    return findings, prepared


def _referenced(suites: list[dict[str, Any]], names: set[str]) -> set[str]:
    """Resources that the derived SQL of the suites (foreign keys, hand-written rules) reads."""
    sql = " ".join(((e.get("meta") or {}).get("dpkg") or {}).get("derived", {}).get("sql", "")
                   for suite in suites for e in suite.get("expectations") or []
                   if isinstance(((e.get("meta") or {}).get("dpkg") or {}).get("derived"), dict))
    return {name for name in names if quote_ident(name) in sql}


def _suites(root: Path, descriptor: dict[str, Any], queries: list[Any],
            schema_resources: set[str] | None) -> list[dict[str, Any]]:
    """Generated suites (schema expectations only for ``schema_resources``) plus hand-written ones."""
    suites = plain_suites(root, descriptor, queries)
    if schema_resources is not None:
        for suite in suites:
            if suite["meta"]["resource"] not in schema_resources:
                suite["expectations"] = [e for e in suite["expectations"]
                                         if ((e.get("meta") or {}).get("dpkg") or {}).get("kind") == "rule"]
    return suites + read_suite_files(root)


def _load(con: Any, root: Path, descriptor: dict[str, Any], names: set[str], findings: list[Finding]) -> dict[str, LoadedTable]:
    """Load ``names`` lazily (one copy of the cells); an unreadable file becomes a finding
    (``encoding-error`` or ``source-error``, as frictionless names them)."""
    tables: dict[str, LoadedTable] = {}
    for resource in package_resources(descriptor):
        if resource.get("name") not in names:
            continue
        try:
            tables[resource["name"]] = load_resource(con, root, resource, keep_raw=True, lazy=True)
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


def _validate(prepared: list[PreparedSuite], data_docs: Path | None) -> list[Finding]:
    """:func:`validate_with_gx` in a process of its own (:mod:`datapkg.isolated`), without pyarrow
    (pandas would import it; GX's pandas engine does not use it: 34 MB less) and with the modules
    that only one expectation uses loaded on first use."""
    from datapkg import isolated

    return isolated.call(validate_with_gx, prepared, data_docs, block=GX_BLOCKED, lazy=GX_LAZY)

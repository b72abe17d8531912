"""Run the Great Expectations suites of a package against data that DuckDB holds.

How the work is split (chosen by measurement, see ``benchmarks/README.md``):

1. :mod:`datapkg.loader` loads every tabular resource into DuckDB (raw text + typed, ``__row``).
2. Per resource, a DuckDB view presents the columns the suites name (see
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
import math
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datapkg.errors import DpkgError
from datapkg.expectations import TEXT_SUFFIX, plain_suites, read_suite_files
from datapkg.loader import (LoadedTable, LoadError, UnsupportedResource, blank_lines_table, extra_cells_table,
                            failure_condition, is_tabular, load_resource, package_resources, quote_ident, quote_literal,
                            resource_schema, typed_expression)
from datapkg.package_source import resource_paths
from datapkg.report import Finding

ROW = "__row"
DEFAULT_MAX_ROWS = 100_000
#: DuckDB's memory cap for the checks (it spills to a temporary folder beyond it).
DUCKDB_MEMORY = "128MB"
DUCKDB_MEMORY_RETRY = "4GB"
#: Frictionless row-level error types the GX path covers for the resources it loads.
REPLACES_FRICTIONLESS = ("type-error", "constraint-error", "unique-error", "primary-key", "foreign-key")


@dataclass
class PreparedSuite:
    """One suite ready for GX: its dict, its resource's table and the frames GX will see."""

    suite: dict[str, Any]
    table: LoadedTable
    candidates: Any = None          # pandas frame of candidate rows (map expectations)
    full: Any = None                # pandas frame for expectations without SQL translation
    map_expectations: list[dict[str, Any]] = field(default_factory=list)
    other_expectations: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False
    messages: dict[str, dict[int, str]] = field(default_factory=dict)


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


# --- SQL translation of column-map expectations -----------------------------------------------

def _lit(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float) and math.isfinite(value):
        return repr(value)
    return quote_literal(str(value))


def _text(col: str) -> str:
    return f"CAST({col} AS VARCHAR)"


def candidate_predicate(con: Any, exp: dict[str, Any], view: str) -> str | None:
    """SQL selecting the rows of ``view`` that may fail ``exp`` (a superset), or None if untranslatable."""
    kind, kw = exp.get("type"), exp.get("kwargs") or {}
    column = kw.get("column")
    col = quote_ident(column) if isinstance(column, str) else None
    if kw.get("mostly") not in (None, 1, 1.0) or kw.get("row_condition"):
        return None
    if kind == "expect_column_values_to_not_be_null" and col:
        return f"{col} IS NULL"
    if kind == "expect_column_values_to_be_null" and col:
        return f"{col} IS NOT NULL"
    if kind in ("expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set") and col:
        values = kw.get("value_set")
        if not isinstance(values, list):
            return None
        listed = ", ".join(quote_literal(_value_text(v)) for v in values) or "NULL"
        negate = "NOT " if kind.endswith("to_be_in_set") else ""
        return f"{col} IS NOT NULL AND {negate}({_text(col)} IN ({listed}))"
    if kind in ("expect_column_values_to_match_regex", "expect_column_values_to_not_match_regex") and col:
        regex = kw.get("regex")
        if not isinstance(regex, str) or not _re2_ok(con, regex):
            return None
        negate = "NOT " if kind.endswith("to_match_regex") else ""
        return f"{col} IS NOT NULL AND {negate}regexp_matches({_text(col)}, {quote_literal(regex)})"
    if kind == "expect_column_values_to_match_strftime_format" and col:
        fmt = kw.get("strftime_format")
        if not isinstance(fmt, str):
            return None
        # DuckDB's strptime is close to Python's; the shape test widens the net for the rest.
        return (f"{col} IS NOT NULL AND (TRY_STRPTIME({_text(col)}, {quote_literal(fmt)}) IS NULL "
                f"OR NOT regexp_full_match({_text(col)}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') "
                f"OR {quote_literal(fmt)} <> '%Y-%m-%d')")
    if kind == "expect_column_values_to_be_between" and col:
        low, high = kw.get("min_value"), kw.get("max_value")
        parts = []
        if low is not None:
            parts.append(f"{col} {'<=' if kw.get('strict_min') else '<'} {_lit(low)}")
        if high is not None:
            parts.append(f"{col} {'>=' if kw.get('strict_max') else '>'} {_lit(high)}")
        return f"{col} IS NOT NULL AND ({' OR '.join(parts) or 'FALSE'})"
    if kind == "expect_column_value_lengths_to_be_between" and col:
        low, high = kw.get("min_value"), kw.get("max_value")
        parts = ([f"length({_text(col)}) < {int(low)}"] if low is not None else []) + \
                ([f"length({_text(col)}) > {int(high)}"] if high is not None else [])
        return f"{col} IS NOT NULL AND ({' OR '.join(parts) or 'FALSE'})"
    if kind == "expect_column_values_to_be_unique" and col:
        return f"{col} IN (SELECT {col} FROM {view} WHERE {col} IS NOT NULL GROUP BY {col} HAVING count(*) > 1)"
    if kind == "expect_compound_columns_to_be_unique":
        cols = kw.get("column_list")
        if not isinstance(cols, list) or not cols:
            return None
        packed = "struct_pack(" + ", ".join(f"{quote_ident('c' + str(i))} := {_text(quote_ident(c))}" for i, c in enumerate(cols)) + ")"
        return f"{packed} IN (SELECT {packed} FROM {view} GROUP BY ALL HAVING count(*) > 1)"
    return None


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _re2_ok(con: Any, regex: str) -> bool:
    try:
        con.execute("SELECT regexp_matches('', ?)", [regex]).fetchone()
        return True
    except Exception:  # noqa: BLE001 - a Python-only regex: GX runs it on the full column
        return False


def expectation_columns(exp: dict[str, Any]) -> list[str]:
    """The columns an expectation names."""
    kw = exp.get("kwargs") or {}
    cols = []
    for key in ("column", "column_A", "column_B"):
        if isinstance(kw.get(key), str):
            cols.append(kw[key])
    for key in ("column_list", "column_set"):
        if isinstance(kw.get(key), list):
            cols += [c for c in kw[key] if isinstance(c, str)]
    return cols


# --- the DuckDB view GX reads -------------------------------------------------------------------

def _rule_sql(queries: list[Any]) -> dict[tuple[str, str], str]:
    """Curation rule SQL (``_row, value, message``) by (resource, column name)."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for query in queries:
        key = (query.table.name, f"rule:{query.check}:{query.field}")
        grouped.setdefault(key, []).append(f"SELECT _row, CAST(value AS VARCHAR) AS value, message FROM ({query.sql})")
    return {key: " UNION ALL ".join(parts) for key, parts in grouped.items()}


def create_view(con: Any, table: LoadedTable, columns: set[str], rules: dict[tuple[str, str], str]) -> str:
    """Create the temp view GX reads for ``table`` with every column in ``columns``; return its name."""
    base_cols = [f"r.{ROW}"]
    raw_by_name = {f["name"]: f for f in table.fields}
    for fld in table.fields:
        col = quote_ident(fld["name"])
        base_cols.append(f"{typed_expression(table.schema, fld, 'r.' + col)} AS {col}")
        base_cols.append(f"{typed_text(table.schema, fld, 'r.' + col)} AS {quote_ident(fld['name'] + TEXT_SUFFIX)}")
    raw_cells = [f"r.{quote_ident(f['name'])}" for f in table.fields]
    structure = {
        # DuckDB pads a short row with NULLs (an empty cell is ''): the first padded field
        "row:missing-cell": "coalesce(" + ", ".join(f"CASE WHEN {c} IS NULL THEN {quote_literal(f['name'])} END"
                                                   for c, f in zip(raw_cells, table.fields)) + ")",
        "row:blank-row": "CASE WHEN " + " AND ".join(f"coalesce({c}, '') = ''" for c in raw_cells) + " THEN '' END",
    }
    base_cols += [f"{sql} AS {quote_ident(name)}" for name, sql in structure.items() if name in columns]
    derived, joins = [], []
    for name in sorted(columns):
        if name.startswith("type:") and name[5:] in raw_by_name:
            fld = raw_by_name[name[5:]]
            col = "t." + quote_ident(fld["name"] + TEXT_SUFFIX)
            # the text column is NULL for missing values; parse failures are the rest
            derived.append(f"CASE WHEN {failure_condition({'missingValues': []}, fld, col)} THEN {col} END AS {quote_ident(name)}")
        elif (table.name, name) in rules:
            alias = quote_ident(f"j{len(joins)}")
            joins.append(f"LEFT JOIN (SELECT _row, coalesce(string_agg(value, ' | '), '(empty)') AS value, "
                         f"string_agg(message, ' | ') AS message FROM ({rules[(table.name, name)]}) GROUP BY _row) {alias} "
                         f"ON {alias}._row = t.{ROW}")
            derived.append(f"{alias}.value AS {quote_ident(name)}")
            derived.append(f"{alias}.message AS {quote_ident(name + '#message')}")
    view = quote_ident(f"gx:{table.name}")
    extra_join = ""
    if "row:extra-cell" in columns:
        if _exists(con, extra_cells_table(table.name)):
            extra_join = f" LEFT JOIN {extra_cells_table(table.name)} x ON x.{ROW} = r.{ROW}"
            base_cols.append(f'x.value AS {quote_ident("row:extra-cell")}')
        else:
            base_cols.append(f'NULL::VARCHAR AS {quote_ident("row:extra-cell")}')
    base = f"SELECT {', '.join(base_cols)} FROM {table.raw} r{extra_join}"
    if "row:blank-row" in columns and _exists(con, blank_lines_table(table.name)):
        # blank lines (DuckDB skips them) join as rows with no cells, like frictionless' blank rows
        names = [c.rsplit(" AS ", 1)[1] for c in base_cols[1:]]
        blank = ", ".join(["b.__row"] + [("''" if n == quote_ident("row:blank-row") else "NULL") + f" AS {n}" for n in names])
        base += f" UNION ALL BY NAME SELECT {blank} FROM {blank_lines_table(table.name)} b"
    select = ", ".join(["t.*"] + derived)
    con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT {select} FROM ({base}) t {' '.join(joins)}")
    return view


def _exists(con: Any, qualified: str) -> bool:
    try:
        con.execute(f"SELECT 1 FROM {qualified} LIMIT 0")
        return True
    except Exception:  # noqa: BLE001 - a missing table is the answer
        return False


def typed_text(schema: dict[str, Any], fld: dict[str, Any], col: str) -> str:
    """The cell's text, NULL when it is one of the missing values."""
    missing = fld.get("missingValues", schema.get("missingValues", [""]))
    listed = ", ".join(quote_literal(str(v)) for v in missing)
    return f"CASE WHEN {col} IS NULL{' OR ' + col + ' IN (' + listed + ')' if listed else ''} THEN NULL ELSE {col} END"


def _derived_columns(suite: dict[str, Any], table: LoadedTable) -> tuple[set[str], dict[str, str]]:
    """Columns computed from ``meta.dpkg.derived.sql`` (foreign keys and hand-written rules)."""
    extra: dict[str, str] = {}
    names: set[str] = set()
    for exp in suite.get("expectations") or []:
        names |= set(expectation_columns(exp))
        derived = ((exp.get("meta") or {}).get("dpkg") or {}).get("derived")
        if isinstance(derived, dict) and isinstance(derived.get("sql"), str):
            for col in expectation_columns(exp):
                extra[col] = derived["sql"]
    return names, extra


def prepare(con: Any, suite: dict[str, Any], table: LoadedTable, rules: dict[tuple[str, str], str],
            max_rows: int) -> PreparedSuite:
    """Build the view and the candidate / full frames that GX will validate for ``suite``."""
    names, sql_columns = _derived_columns(suite, table)
    view = create_view(con, table, names, rules)
    if sql_columns:
        extra = ", ".join(f"({sql}) AS {quote_ident(col)}" for col, sql in sql_columns.items())
        wide = quote_ident(f"gx+:{table.name}:{suite.get('name')}")
        con.execute(f"CREATE OR REPLACE TEMP VIEW {wide} AS SELECT t.*, {extra} FROM {view} t")
        view = wide
    prepared = PreparedSuite(suite, table)
    predicates = []
    available = {d[0] for d in con.execute(f"SELECT * FROM {view} LIMIT 0").description}
    for exp in suite.get("expectations") or []:
        unknown = any(c not in available for c in expectation_columns(exp))
        predicate = None if unknown else candidate_predicate(con, exp, view)
        if predicate is None:  # GX evaluates it on the full columns (and reports a missing column itself)
            prepared.other_expectations.append(exp)
        else:
            prepared.map_expectations.append(exp)
            predicates.append(f"({predicate})")
    wanted = [ROW] + sorted(c for c in names if c in available and c != ROW)
    wanted += sorted(c for c in available if c.endswith("#message") and c[: -len("#message")] in names)
    select = ", ".join(quote_ident(c) for c in wanted)
    if prepared.map_expectations:
        where = " OR ".join(predicates)
        frame = _frame(con, f"SELECT {select} FROM {view} WHERE {where} ORDER BY {ROW} LIMIT {max_rows + 1}")
        if len(frame) > max_rows:
            frame = frame.iloc[:max_rows]
            prepared.truncated = True
        prepared.candidates = frame
        for col in frame.columns:
            if col.endswith("#message"):
                values = frame[[ROW, col]].dropna()
                prepared.messages[col[: -len("#message")]] = dict(zip(values[ROW].astype(int), values[col]))
    if prepared.other_expectations:
        cols = {ROW} | {c for exp in prepared.other_expectations for c in expectation_columns(exp) if c in available}
        prepared.full = _frame(con, f"SELECT {', '.join(quote_ident(c) for c in sorted(cols))} FROM {view} ORDER BY {ROW}")
    return prepared


def _frame(con: Any, sql: str) -> Any:
    """A pandas frame of ``sql``; DATE columns hold ``datetime.date`` (GX compares them with date bounds)."""
    cursor = con.execute(sql)
    dates = [d[0] for d in cursor.description if str(d[1]).upper() == "DATE"]
    frame = cursor.df()
    for col in dates:
        frame[col] = [None if v is None or v != v else v.date() for v in frame[col].astype(object)]
        frame[col] = frame[col].astype(object)
    return frame


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
        message = messages.get(row) if row in messages else describe(exp, value, field_name)
        out.append(Finding(check=check, message=message, row=row,
                           field=str(value) if dpkg.get("field_from_value") else field_name,
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
            from datapkg.atomic import replace_dir

            if not prepared:
                context.build_data_docs(site_names=[site])  # an index that says nothing ran

            with replace_dir(data_docs) as target:
                shutil.copytree(docs_tmp, target, dirs_exist_ok=True)
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
    """
    import duckdb

    root = Path(root)
    wanted = gx_resources(root, descriptor) if resources is None else set(resources)
    if wanted and (schema_resources is None or schema_resources & wanted):
        preload_gx()  # schema suites will run: start GX's import (2-3 s) now, it overlaps DuckDB's work
    findings: list[Finding] = []
    prepared: list[PreparedSuite] = []
    spill = tempfile.mkdtemp(prefix="dpkg-gx-")
    con = duckdb.connect(config={"memory_limit": DUCKDB_MEMORY, "temp_directory": spill})
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
            return findings  # nothing for GX to check: no import, no load
        preload_gx()  # (already started above when schema suites run)
        tables = _load(con, root, descriptor, (wanted & named) | _referenced(suites, wanted), findings)
        rules = _rule_sql(queries)
        for suite in suites:
            table = tables.get((suite.get("meta") or {}).get("resource"))
            if table is None or not suite.get("expectations"):
                continue
            try:
                try:
                    prepared.append(prepare(con, suite, table, rules, max_rows))
                except duckdb.OutOfMemoryException:
                    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_RETRY}'")  # a heavy rule: room, then retry
                    prepared.append(prepare(con, suite, table, rules, max_rows))
                    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
            except duckdb.Error as exc:
                findings.append(Finding(check="gx-suite-error", resource=table.name, file=table.file,
                                        message=f"suite {suite.get('name')!r} cannot run: {str(exc).splitlines()[0]}"))
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    for item in prepared:
        if item.truncated:
            findings.append(Finding(check="gx-truncated", severity="warning", resource=item.table.name, file=item.table.file,
                                    message=f"more than {max_rows} rows may fail; only the first {max_rows} were checked by GX"))
    preload_gx().join()
    findings += validate_with_gx([p for p in prepared if p.map_expectations or p.other_expectations], data_docs)
    return _blank_rows_only(findings)


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


_PRELOAD: Any = None


def preload_gx() -> Any:
    """Start importing Great Expectations in a background thread (once); ``join()`` it before use.

    :func:`run_gx_checks` calls it first thing. (Calling it even earlier, before frictionless'
    checks, gained nothing measurable at 1M rows and cost 80 MB: both are Python, one GIL.) An
    import error is left for the main thread's own import to raise.
    """
    import threading

    global _PRELOAD
    if _PRELOAD is not None:
        return _PRELOAD

    def target() -> None:
        import os

        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        try:
            import great_expectations  # noqa: F401
            from great_expectations.checkpoint import UpdateDataDocsAction  # noqa: F401
        except Exception:  # noqa: BLE001 - re-raised by validate_with_gx's import
            pass

    _PRELOAD = threading.Thread(target=target, name="dpkg-gx-import", daemon=True)
    _PRELOAD.start()
    return _PRELOAD


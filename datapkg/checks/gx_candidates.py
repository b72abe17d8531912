"""The DuckDB side of the GX path: the view GX reads and the candidate rows it gets.

For each suite, :func:`prepare` builds a DuckDB view of the resource with the columns the suite
names (typed values, ``<field>::text``, derived columns for types, structure, foreign keys and
curation rules), turns every column-map expectation into a SQL predicate that selects the rows
that *may* fail it (:func:`candidate_predicate`, always a superset), and stores those rows in a
table of a DuckDB file of their own (the *frames* database). The GX process reads them from there as
pandas frames (:func:`load_frames`), so the process that does the DuckDB work never imports pandas.
Expectations without a translation get the full columns they name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from datapkg.expectations import TEXT_SUFFIX
from datapkg.loader import (ROW, LoadedTable, blank_lines_table, extra_cells_table, failure_condition, quote_ident,
                            quote_literal, typed_expression)
from datapkg.sandbox import single_select

#: Joins the names of the fields a short row lacks in the ``row:missing-cell`` column.
FIELD_SEPARATOR = "\x1f"


#: The name under which the frames database is attached while the frames are written.
FRAMES = "gxframes"


@dataclass
class PreparedSuite:
    """One suite ready for GX: its dict, its resource's table and where the rows GX sees are.

    ``candidates_table`` and ``full_table`` name tables of the frames database (a DuckDB file at
    ``frames_path``); :func:`load_frames` reads them into the pandas frames ``candidates`` and ``full``.
    """

    suite: dict[str, Any]
    table: LoadedTable
    candidates_table: str | None = None  # candidate rows (map expectations)
    full_table: str | None = None        # rows for expectations without SQL translation
    candidates: Any = None               # pandas frames of those tables, once loaded
    full: Any = None
    map_expectations: list[dict[str, Any]] = field(default_factory=list)
    other_expectations: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False
    messages: dict[str, dict[int, str]] = field(default_factory=dict)
    frames_path: str | None = None
    row_limit: int | None = None    # read at most this many candidate rows


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


def rule_sql(queries: list[Any]) -> dict[tuple[str, str], str]:
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
        # DuckDB pads a short row with NULLs (an empty cell is ''): every padded field, joined
        "row:missing-cell": "nullif(concat_ws(" + quote_literal(FIELD_SEPARATOR) + ", "
                            + ", ".join(f"CASE WHEN {c} IS NULL THEN {quote_literal(f['name'])} END"
                                        for c, f in zip(raw_cells, table.fields)) + "), '')",
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
            max_rows: int, frames_path: str, number: int) -> PreparedSuite:
    """Build the view for ``suite`` and write the candidate / full rows GX will validate into the
    frames database (attached to ``con`` as :data:`FRAMES`, file ``frames_path``), as tables named
    after ``number``."""
    names, sql_columns = _derived_columns(suite, table)
    view = create_view(con, table, names, rules)
    if sql_columns:
        extra = ", ".join(f"({single_select(con, sql, f'column {col!r}')}) AS {quote_ident(col)}"
                          for col, sql in sql_columns.items())
        wide = quote_ident(f"gx+:{table.name}:{suite.get('name')}")
        con.execute(f"CREATE OR REPLACE TEMP VIEW {wide} AS SELECT t.*, {extra} FROM {view} t")
        view = wide
    prepared = PreparedSuite(suite, table, frames_path=frames_path, row_limit=max_rows)
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
        prepared.candidates_table = f"s{number}_candidates"
        rows = _store(con, prepared.candidates_table,
                      f"SELECT {select} FROM {view} WHERE {where} ORDER BY {ROW} LIMIT {max_rows + 1}")
        prepared.truncated = rows > max_rows
    if prepared.other_expectations:
        cols = {ROW} | {c for exp in prepared.other_expectations for c in expectation_columns(exp) if c in available}
        prepared.full_table = f"s{number}_full"
        _store(con, prepared.full_table, f"SELECT {', '.join(quote_ident(c) for c in sorted(cols))} FROM {view} ORDER BY {ROW}")
    return prepared


def _store(con: Any, name: str, sql: str) -> int:
    """Write the rows of ``sql`` into table ``name`` of the frames database; return how many."""
    target = f"{FRAMES}.{quote_ident(name)}"
    con.execute(f"CREATE OR REPLACE TABLE {target} AS {sql}")
    return con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]


def load_frames(prepared: list[PreparedSuite]) -> None:
    """Read the frames of ``prepared`` from their frames database (once), and collect the rule
    messages (``<column>#message``) by row. Runs where GX runs."""
    import duckdb

    connections: dict[str, Any] = {}
    try:
        for item in prepared:
            if item.frames_path is None:
                continue
            if item.frames_path not in connections:
                connections[item.frames_path] = duckdb.connect(item.frames_path, read_only=True)
            con = connections[item.frames_path]
            if item.candidates_table is not None and item.candidates is None:
                limit = f" LIMIT {int(item.row_limit)}" if item.row_limit is not None else ""
                item.candidates = _frame(con, f"SELECT * FROM {quote_ident(item.candidates_table)} ORDER BY {ROW}{limit}")
                for col in item.candidates.columns:
                    if col.endswith("#message"):
                        values = item.candidates[[ROW, col]].dropna()
                        item.messages[col[: -len("#message")]] = dict(zip(values[ROW].astype(int), values[col]))
            if item.full_table is not None and item.full is None:
                item.full = _frame(con, f"SELECT * FROM {quote_ident(item.full_table)} ORDER BY {ROW}")
    finally:
        for con in connections.values():
            con.close()


def _frame(con: Any, sql: str) -> Any:
    """A pandas frame of ``sql``; DATE columns hold ``datetime.date`` (GX compares them with date bounds)."""
    cursor = con.execute(sql)
    dates = [d[0] for d in cursor.description if str(d[1]).upper() == "DATE"]
    frame = cursor.df()
    for col in dates:
        frame[col] = [None if v is None or v != v else v.date() for v in frame[col].astype(object)]
        frame[col] = frame[col].astype(object)
    return frame

"""GX checks that run again after a save, re-running only what the change can affect (``--watch``).

:class:`IncrementalChecks` keeps, between runs:

- one DuckDB connection (locked down, :func:`datapkg.sandbox.lock_down`) with every loaded table;
  a changed resource is loaded again by the one loader into a scratch connection (the locked one
  may not read files) and its tables are copied over through Arrow, with their DuckDB types;
- one GX SQL data source on that connection, with one table asset and batch definition per table;
- the findings of every expectation, under a key made of the suite, the expectation and the
  version of everything it reads: an expectation is run again only when its key is new. A
  one-column expectation reads its column; an ``unexpected_rows_expectation`` reads the columns
  its SQL names in the tables it names (DuckDB's parse tree, :func:`sql_reads`), or those tables
  whole when the SQL may read whole rows (:func:`expectation_inputs`).

The findings are those :func:`datapkg.checks.gx_checks.run_gx_checks` gives on the same files
(``tests/test_watch.py`` compares them after every kind of edit).
"""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from datapkg.checks.gx_checks import (_blank_rows_only, _load, batch_schema, gx_context, open_connection,
                                      plan_runnable, prints_to_stderr, validate_batch)
from datapkg.expectations import URE
from datapkg.loader import (RAW_SCHEMA, ROW, LoadedTable, _split, _stage_name, blank_lines_table, extra_cells_table,
                            quote_ident, raw_table, row_numbers_table)
from datapkg.report import Finding
from datapkg.sandbox import lock_down

#: Tables the curation rules add; their version is their content (:meth:`IncrementalChecks._derived_versions`).
ARTICLE_TEXTS = "_article_texts"
#: Tables whose content never changes within a process (pycountry's code lists).
CONSTANT = {"_codes"}
#: The suffixes of a resource's row-structure tables (``raw."<name>#blank"``, ``raw."<name>#extra"``).
STRUCTURE_SUFFIXES = ("#blank", "#extra")


def resource_tables(name: str) -> list[str]:
    """The DuckDB tables (or views) the checks read for resource ``name`` (typed, cells, row structure)."""
    return [quote_ident(name), raw_table(name), blank_lines_table(name), extra_cells_table(name)]


def _drop_resource(con: Any, name: str) -> None:
    """Drop every table and view the loader made for ``name`` (views first: they read the tables)."""
    wanted = {_split(t) for t in resource_tables(name) + [_stage_name(name), row_numbers_table(name)]}
    found = con.execute("SELECT schema_name, view_name, 'VIEW' FROM duckdb_views() WHERE NOT internal UNION ALL "
                        "SELECT schema_name, table_name, 'TABLE' FROM duckdb_tables()").fetchall()
    for schema, table, kind in sorted(found, key=lambda row: row[2] != "VIEW"):
        if (schema, table) in wanted:
            con.execute(f"DROP {kind} {quote_ident(schema)}.{quote_ident(table)}")


def _unbraced(sql: str, table: str) -> str:
    return sql.replace("{batch}", table).replace("{{", "{").replace("}}", "}")


#: The kinds of DuckDB table reference whose alias names a whole row when a query names it alone.
TABLE_REFS = {"BASE_TABLE", "SUBQUERY", "TABLE_FUNCTION", "JOIN", "EXPRESSION_LIST", "PIVOT", "COLUMN_DATA"}


@functools.lru_cache(maxsize=4096)
def sql_reads(sql: str) -> tuple[frozenset[tuple[str, str]], frozenset[str] | None] | None:
    """What ``sql`` reads, from DuckDB's own parse tree (``json_serialize_sql``; kept per text):
    ``({(schema, table)}, {every name a column reference uses, lower case})``. The names are None
    when the query may read whole rows (``*``, ``COLUMNS(...)``, a table or alias named alone);
    None altogether when DuckDB cannot parse it."""
    import duckdb

    con = _parser()
    try:
        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    except duckdb.Error:
        return None
    if tree.get("error"):
        return None
    tables: set[tuple[str, str]] = set()
    aliases: set[str] = set()
    refs: list[list[str]] = []
    whole = False
    stack: list[Any] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        kind = node.get("type")
        if node.get("class") == "COLUMN_REF":
            refs.append([str(n) for n in node.get("column_names") or []])
        elif node.get("class") == "STAR" or kind == "STAR":
            whole = True
        if kind in TABLE_REFS:
            aliases.add(str(node.get("alias") or "").lower())
            if kind == "BASE_TABLE":
                tables.add((node.get("schema_name") or "main", node["table_name"]))
                aliases.add(str(node["table_name"]).lower())
        stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
    whole = whole or any(len(ref) == 1 and ref[0].lower() in aliases for ref in refs)
    return frozenset(tables), None if whole else frozenset(part.lower() for ref in refs for part in ref)


@functools.lru_cache(maxsize=1)
def _parser() -> Any:
    """A connection of its own for parsing (nothing is loaded into it, nothing is run)."""
    import duckdb

    from datapkg.sandbox import SANDBOX_CONFIG

    return duckdb.connect(config=SANDBOX_CONFIG)


def one_column(exp: dict[str, Any]) -> str | None:
    """The column an expectation reads when it reads one column of its batch and nothing else
    (``expect_column_values_to_be_unique`` and the like, without a ``row_condition``)."""
    kwargs = exp.get("kwargs") or {}
    column = kwargs.get("column")
    if exp.get("type") == URE or not isinstance(column, str):
        return None
    if any(key != "column" and ("column" in key or "condition" in key) for key in kwargs):
        return None
    return column


def expectation_inputs(suite: dict[str, Any], exp: dict[str, Any],
                       columns: dict[tuple[str, str], list[str]]) -> set[Any] | None:
    """What ``exp`` of ``suite`` reads, as keys of the versions :class:`IncrementalChecks` keeps;
    None when that cannot be told (SQL DuckDB cannot parse, a table that is not one of ours): then
    it runs every time. ``columns``: ``{(resource, schema): its columns}`` of the loaded tables.

    - a one-column expectation (:func:`one_column`): ``(resource, schema, column)`` of its batch;
    - SQL (``unexpected_rows_expectation``): ``(resource, schema, column)`` for every column of each
      table it reads that the query names, plus the row numbers (``__row``); the resource's name
      (the whole of it) when the query may read whole rows, or for the row-structure tables;
      :data:`ARTICLE_TEXTS` for the article texts;
    - any other expectation: its resource.
    """
    resource, schema = suite["meta"]["resource"], batch_schema(suite)
    column = one_column(exp)
    if column is not None:
        return {(resource, schema, column)}
    sql = (exp.get("kwargs") or {}).get("unexpected_rows_query") if exp.get("type") == URE else None
    if not isinstance(sql, str):
        return {resource}
    reads = sql_reads(_unbraced(sql, suite["meta"]["table"]))
    if reads is None:
        return None
    tables, names = reads
    inputs: set[Any] = set()
    for table_schema, name in tables:
        base = next((name[: -len(s)] for s in STRUCTURE_SUFFIXES if name.endswith(s)), name)
        if (table_schema, name) == ("main", ARTICLE_TEXTS):
            inputs.add(ARTICLE_TEXTS)
        elif (table_schema, name) in {("main", c) for c in CONSTANT}:
            continue
        elif base != name and table_schema == RAW_SCHEMA and any(r == base for r, _ in columns):
            inputs.add(base)
        elif (base, table_schema) in columns and names is not None:
            inputs |= {(base, table_schema, c) for c in columns[(base, table_schema)] if c.lower() in names or c == ROW}
        elif (base, table_schema) in columns:
            inputs.add(base)
        else:
            return None
    return inputs


def column_versions(con: Any, name: str) -> dict[tuple[str, str, str], str]:
    """``{(name, schema, column): md5 of its (row number, value) pairs}`` for the typed table and the
    cells of resource ``name``; a column's version covers the row numbers too."""
    versions = {}
    for schema, table in (("main", quote_ident(name)), (RAW_SCHEMA, raw_table(name))):
        columns = [c for (c,) in con.execute("SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
                                             "ORDER BY column_index", [schema, name]).fetchall()]
        if not columns:
            continue
        cells = [f"CASE WHEN {quote_ident(c)} IS NULL THEN 'N' ELSE 'V' || length(CAST({quote_ident(c)} AS VARCHAR)) "
                 f"|| ':' || CAST({quote_ident(c)} AS VARCHAR) END" for c in columns]
        digests = con.execute("SELECT " + ", ".join(
            f"md5(coalesce(string_agg(CAST({ROW} AS VARCHAR) || '=' || {cell}, ',' ORDER BY {ROW}), ''))" for cell in cells)
            + f" FROM {table}").fetchone()
        versions.update({(name, schema, c): d for c, d in zip(columns, digests, strict=True)})
    return versions


class IncrementalChecks:
    """The GX side of ``dpkg validate --watch``: see the module doc. Call :meth:`close` at the end."""

    def __init__(self) -> None:
        self.con: Any = None
        self._scratch: Any = None   # the connection a changed resource is loaded into (then copied over)
        self._spill: str | None = None
        self._source: Any = None
        self._batches: dict[tuple[str, str], Any] = {}
        self.tables: dict[str, LoadedTable] = {}
        self._load_findings: dict[str, list[Finding]] = {}
        self._versions: dict[Any, Any] = {}   # resource: generation; (resource, schema, column): digest
        self._results: dict[tuple, list[Finding]] = {}
        self.ran = 0        # expectations GX evaluated in the last run
        self.kept = 0       # expectations whose findings were kept from the run before

    def close(self) -> None:
        """Drop the connection, the GX data source and every kept result."""
        if self._source is not None:
            gx_context().data_sources.delete(self._source.name)
        for con in (self.con, self._scratch):
            if con is not None:
                con.close()
        if self._spill:
            shutil.rmtree(self._spill, ignore_errors=True)
        self.__init__()

    def run(self, root: Path, descriptor: dict[str, Any], loadable: set[str], reload: set[str] | None) -> list[Finding]:
        """The findings of every GX suite of the package at ``root``.

        ``reload``: the resources whose files changed since the last run (loaded again); None loads
        everything afresh (the first run, or a change of the descriptor or a schema).
        """
        if reload is None or self.con is None:
            self._start(root, descriptor, loadable)
        else:
            for name in sorted(reload & loadable):
                self._reload(root, descriptor, name)
        findings = [f for name in sorted(self._load_findings) for f in self._load_findings[name]]
        planned, runnable = plan_runnable(self.con, root, descriptor, self.tables, loadable)
        versions = {**self._versions, **self._derived_versions()}
        columns: dict[tuple[str, str], list[str]] = {}
        for key in self._versions:
            if isinstance(key, tuple) and key[0] in self.tables:
                columns.setdefault((key[0], key[1]), []).append(key[2])
        results: dict[tuple, list[Finding]] = {}
        self.ran = self.kept = 0
        for suite, table in runnable:
            keys = [self._key(suite, exp, versions, columns) for exp in suite["expectations"]]
            pending = [exp for exp, key in zip(suite["expectations"], keys, strict=True)
                       if key is None or key not in self._results]
            fresh = self._validate(suite, table, pending) if pending else {}
            for exp, key in zip(suite["expectations"], keys, strict=True):
                found = fresh.get(id(exp), []) if key is None or key not in self._results else self._results[key]
                findings += found
                if key is not None:
                    results[key] = found
            self.ran, self.kept = self.ran + len(pending), self.kept + len(keys) - len(pending)
        self._results = results
        return _blank_rows_only(planned + findings)

    # --- tables ------------------------------------------------------------------------------

    def _start(self, root: Path, descriptor: dict[str, Any], loadable: set[str]) -> None:
        self.close()
        self._spill = tempfile.mkdtemp(prefix="dpkg-watch-")
        self.con = open_connection(self._spill)
        found: list[Finding] = []
        self.tables = _load(self.con, root, descriptor, loadable, found)
        self._load_findings = {name: [f for f in found if f.resource == name] for name in loadable}
        self._versions = dict.fromkeys(loadable, 0)
        for name in self.tables:
            self._versions.update(column_versions(self.con, name))
        lock_down(self.con)

    def _reload(self, root: Path, descriptor: dict[str, Any], name: str) -> None:
        """Load resource ``name`` again (in a scratch connection) and copy its tables into ours."""
        _drop_resource(self.con, name)
        self.tables.pop(name, None)
        self._versions = {k: v for k, v in self._versions.items() if not (isinstance(k, tuple) and k[0] == name)}
        self._versions[name] = self._versions.get(name, 0) + 1
        found: list[Finding] = []
        if self._scratch is None:  # never locked: no package SQL runs on it, only the loader
            self._scratch = open_connection(self._spill)
        try:
            loaded = _load(self._scratch, root, descriptor, {name}, found)
            self._load_findings[name] = found
            if name in loaded:
                for table in resource_tables(name):
                    _copy_table(self._scratch, self.con, table)
                self.tables[name] = loaded[name]
                self._versions.update(column_versions(self.con, name))
        finally:
            _drop_resource(self._scratch, name)

    def _derived_versions(self) -> dict[str, str]:
        """The version of each table the curation rules build on every run: its content's hash."""
        exists = self.con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = ?",
                                  [ARTICLE_TEXTS]).fetchone()[0]
        if not exists:
            return {ARTICLE_TEXTS: "absent"}
        digest = self.con.execute(f"SELECT md5(coalesce(string_agg(json_array(article_key, text, raw)::VARCHAR, '\n' "
                                  f"ORDER BY article_key, text, raw), '')) FROM {ARTICLE_TEXTS}").fetchone()[0]
        return {ARTICLE_TEXTS: digest}

    # --- GX ----------------------------------------------------------------------------------

    def _key(self, suite: dict[str, Any], exp: dict[str, Any], versions: dict[Any, Any],
             columns: dict[tuple[str, str], list[str]]) -> tuple | None:
        inputs = expectation_inputs(suite, exp, columns)
        if inputs is None:
            return None
        if any(versions.get(i) is None for i in inputs):
            return None
        return (suite["name"], json.dumps(suite["meta"], sort_keys=True, default=str),
                json.dumps(exp, sort_keys=True, default=str), tuple(sorted((str(i), versions[i]) for i in inputs)))

    def _batch(self, suite: dict[str, Any], table: LoadedTable) -> Any:
        """The GX batch of ``table`` (typed, or its cells for a ``.cells`` suite), made once per table."""
        from datapkg.gx_duckdb import CONNECTION_STRING, engine_kwargs

        context = gx_context()
        if self._source is None:
            self._source = context.data_sources.add_sql(f"dpkg-watch-{id(self)}-{id(self.con)}",
                                                        connection_string=CONNECTION_STRING,
                                                        kwargs=engine_kwargs(self.con))
        schema = batch_schema(suite)
        key = (schema, table.name)
        if key not in self._batches:
            asset = self._source.add_table_asset(f"{schema}-{table.name}", table_name=table.name, schema_name=schema)
            self._batches[key] = asset.add_batch_definition_whole_table("all")
        return self._batches[key].get_batch()

    @prints_to_stderr
    def _validate(self, suite: dict[str, Any], table: LoadedTable, expectations: list[dict[str, Any]]) -> dict[int, list[Finding]]:
        """{id(expectation): its findings} for ``expectations`` of ``suite`` (GX on the kept connection)."""
        subset = {**suite, "expectations": expectations}
        failed = validate_batch(self._batch(suite, table), subset, table, f"watch-{id(self)}")
        return {id(exp): found for exp, found in failed}


def _copy_table(source: Any, target: Any, table: str) -> None:
    """Copy ``table`` from connection ``source`` into ``target`` (Arrow; each column cast back to its
    DuckDB type); nothing when ``source`` has no such table."""
    schema, bare = _split(table)
    columns = source.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
                             "ORDER BY column_index", [schema, bare]).fetchall()
    if not columns:
        return
    data = source.sql(f"SELECT * FROM {table}").to_arrow_table()
    target.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
    target.register("__dpkg_copy", data)
    try:
        casts = ", ".join(f"CAST({quote_ident(c)} AS {kind}) AS {quote_ident(c)}" for c, kind in columns)
        target.execute(f"CREATE TABLE {table} AS SELECT {casts} FROM __dpkg_copy")
    finally:
        target.unregister("__dpkg_copy")

"""Great Expectations' SQL execution engine on DuckDB: the two things GX 1.x lacks, registered once.

GX evaluates the suites with its SQLAlchemy engine through duckdb-engine. Out of the box, on GX 1.24:

1. **Persisted connection.** ``SqlAlchemyExecutionEngine.get_connection`` closes the connection of
   a dialect outside ``_PERSISTED_CONNECTION_DIALECTS`` before the caller fetches the rows, and
   closing a DuckDB connection empties its result: every expectation fails with "list index out
   of range". :func:`register` adds ``duckdb`` to that tuple, so GX keeps one connection open (ours:
   the connection the loader filled, handed over through :func:`engine_kwargs`).
2. **Regex.** ``get_dialect_regex_expression`` has no DuckDB entry ("Regex is not supported for
   dialect duckdb"). :func:`register` wraps it, in the metric modules that imported it, with
   DuckDB's ``regexp_matches`` (a partial match, like GX's pandas ``str.contains``).
3. **Reflection.** GX asks SQLAlchemy for a table's primary key and columns; duckdb-engine answers
   with PostgreSQL's catalog queries: the primary key's casts to ``REGCLASS`` (DuckDB has no such
   type, an error per batch), the columns' takes 0.1 s a table. :func:`register` answers both
   from DuckDB's own catalog (``duckdb_constraints()``, ``duckdb_columns()``).
4. **No open transaction.** duckdb-engine begins a transaction that GX's persisted connection never
   ends, and one failing query (a hand-written suite's bad SQL) would abort every query after it.
   The connection of :func:`engine_kwargs` runs each statement on its own (DuckDB's autocommit).

Known to work with GX 1.24 (``great-expectations>=1.24,<1.25``); ``tests/test_gx_duckdb.py`` fails
loudly if an upgrade moves or renames what this module relies on.
"""

from __future__ import annotations

import importlib
from typing import Any

#: The GX versions this module is known to work with (checked by the tests, stated in the README).
KNOWN_GX = ">=1.24,<1.25"
DIALECT = "duckdb"
ENGINE_MODULE = "great_expectations.execution_engine.sqlalchemy_execution_engine"
REGEX_MODULE = "great_expectations.expectations.metrics.util"
#: GX's metric modules that call ``get_dialect_regex_expression`` (each imported it by name).
REGEX_USERS = tuple(f"great_expectations.expectations.metrics.{name}" for name in (
    "column_map_metrics.column_values_match_regex",
    "column_map_metrics.column_values_not_match_regex",
    "column_map_metrics.column_values_match_regex_list",
    "column_map_metrics.column_values_not_match_regex_list",
    "column_aggregate_metrics.column_values_match_regex_values",
    "column_aggregate_metrics.column_values_not_match_regex_values",
))

_registered = False


class _DialectName(str):
    """``"duckdb"`` where GX expects a ``GXSqlDialect`` member (it reads ``.value`` and compares with ``==``)."""

    @property
    def value(self) -> str:
        return str(self)


def _is_duckdb(dialect: Any) -> bool:
    return getattr(getattr(dialect, "dialect", dialect), "name", None) == DIALECT


def _duckdb_regex(original: Any) -> Any:
    """``get_dialect_regex_expression`` with a DuckDB branch (``regexp_matches``) before GX's own."""
    import sqlalchemy as sa

    def regex_expression(column: Any, regex: str, dialect: Any, positive: bool = True) -> Any:
        if _is_duckdb(dialect):
            matches = sa.func.regexp_matches(column, sa.literal(regex))
            return matches if positive else sa.not_(matches)
        return original(column, regex, dialect, positive)

    regex_expression.dpkg_original = original  # type: ignore[attr-defined]
    return regex_expression


def register() -> None:
    """Teach the GX imported in this process to run on DuckDB (idempotent).

    Raises ``RuntimeError`` when GX no longer has what this module patches (an upgrade changed it).
    """
    global _registered
    if _registered:
        return
    engine = importlib.import_module(ENGINE_MODULE)
    persisted = getattr(engine, "_PERSISTED_CONNECTION_DIALECTS", None)
    if not isinstance(persisted, tuple):
        raise RuntimeError(f"GX changed: {ENGINE_MODULE}._PERSISTED_CONNECTION_DIALECTS is gone ({KNOWN_GX} known)")
    if DIALECT not in [str(getattr(d, "value", d)) for d in persisted]:
        engine._PERSISTED_CONNECTION_DIALECTS = (*persisted, _DialectName(DIALECT))
    original = getattr(importlib.import_module(REGEX_MODULE), "get_dialect_regex_expression", None)
    if original is None:
        raise RuntimeError(f"GX changed: {REGEX_MODULE}.get_dialect_regex_expression is gone ({KNOWN_GX} known)")
    _register_pk_reflection()
    wrapped = _duckdb_regex(original)
    for name in REGEX_USERS:
        module = importlib.import_module(name)
        if getattr(module, "get_dialect_regex_expression", None) is not original:
            raise RuntimeError(f"GX changed: {name} no longer imports get_dialect_regex_expression ({KNOWN_GX} known)")
        module.get_dialect_regex_expression = wrapped
    _registered = True


def _register_pk_reflection() -> None:
    import duckdb_engine
    from sqlalchemy import text

    def get_pk_constraint(self: Any, connection: Any, table_name: str, schema: str | None = None, **_: Any) -> dict[str, Any]:
        row = connection.execute(text(
            "SELECT constraint_column_names FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY' "
            "AND table_name = :table AND schema_name = coalesce(:schema, current_schema()) LIMIT 1"),
            {"table": table_name, "schema": schema}).fetchone()
        return {"constrained_columns": list(row[0]) if row else [], "name": None}

    def get_columns(self: Any, connection: Any, table_name: str, schema: str | None = None, **_: Any) -> list[dict[str, Any]]:
        from sqlalchemy.types import NullType

        rows = connection.execute(text(
            "SELECT column_name, data_type, is_nullable, column_default FROM duckdb_columns() "
            "WHERE table_name = :table AND schema_name = coalesce(:schema, current_schema()) ORDER BY column_index"),
            {"table": table_name, "schema": schema}).fetchall()
        return [{"name": name, "type": self.ischema_names.get(kind.split("(")[0].lower(), NullType)(),
                 "nullable": nullable, "default": default} for name, kind, nullable, default in rows]

    duckdb_engine.Dialect.get_pk_constraint = get_pk_constraint
    duckdb_engine.Dialect.get_columns = get_columns


def _autocommit_wrapper() -> Any:
    from duckdb_engine import ConnectionWrapper

    class Autocommit(ConnectionWrapper):  # type: ignore[misc, valid-type]
        """duckdb-engine's connection, in DuckDB's autocommit mode: no transaction to begin or end."""

        def begin(self) -> None:
            pass

        def rollback(self) -> None:
            pass

        def commit(self) -> None:
            pass

        def close(self) -> None:
            """The DuckDB connection is the caller's: SQLAlchemy disposing of its engine leaves it open."""
            self.closed = True

    return Autocommit


def engine_kwargs(con: Any) -> dict[str, Any]:
    """``create_engine`` keyword arguments that make SQLAlchemy use the open DuckDB connection ``con``.

    GX's SQL data source passes them on (``add_sql(..., connection_string=CONNECTION_STRING,
    kwargs=engine_kwargs(con))``); with :func:`register`, GX keeps that one connection.
    """
    wrapper = _autocommit_wrapper()
    return {"creator": lambda: wrapper(con)}


#: The connection string that goes with :func:`engine_kwargs` (the database is ``con``'s).
CONNECTION_STRING = "duckdb:///:memory:"

"""The SQL sandbox: a DuckDB connection that SQL coming from a package may run on.

A package is hostile until proven otherwise: a hand-written suite (``unexpected_rows_query``),
a GX ``UnexpectedRowsExpectation`` query, or a view inside a third-party ``.duckdb`` is SQL
written by a stranger. :func:`lock_down` is applied to a connection once dpkg has loaded the
package's own tables into it; from then on nothing that connection runs can read or write a
file, reach the network, install or load an extension, or change a setting (DuckDB's
``enable_external_access = false`` and ``lock_configuration = true``). Files already attached
(the database being written, a frames database) and the spill directory keep working; extra
files or folders can be allowed by name (DuckDB's ``allowed_paths`` / ``allowed_directories``).

:data:`SANDBOX_CONFIG` is the same lock for ``duckdb.connect(config=...)`` when the connection
needs nothing loaded first (``dpkg query`` on a built database). :func:`single_select` refuses
package SQL that is more than one ``SELECT`` (so an expression cannot smuggle a second statement).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from datapkg.errors import UsageError

#: Settings that close every way out (extensions: no auto-install, no auto-load, no community
#: or unsigned ones). ``lock_configuration`` must come last: it freezes the rest.
LOCKED_SETTINGS: dict[str, Any] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "enable_external_access": False,
    "lock_configuration": True,
}
#: ``duckdb.connect(config=SANDBOX_CONFIG)``: a connection locked from the start.
SANDBOX_CONFIG: dict[str, Any] = dict(LOCKED_SETTINGS)
#: The marker of DuckDB's refusal (its ``PermissionException`` text) in a one-line message.
REFUSED = "package SQL may not reach files, the network or extensions"


def lock_down(con: Any, *, paths: Iterable[str | Path] = (), directories: Iterable[str | Path] = ()) -> Any:
    """Lock ``con`` for package SQL (see the module doc); return it.

    Call it after the package's own tables are loaded: ``read_csv`` of the package's files is
    refused too from then on, except for ``paths`` (files) and ``directories`` given here.
    """
    from datapkg.loader import quote_literal

    paths, directories = [str(p) for p in paths], [str(Path(d)).rstrip("/") + "/" for d in directories]
    if paths:
        con.execute(f"SET allowed_paths = [{', '.join(quote_literal(p) for p in paths)}]")
    if directories:
        con.execute(f"SET allowed_directories = [{', '.join(quote_literal(d) for d in directories)}]")
    for name, value in LOCKED_SETTINGS.items():
        con.execute(f"SET {name} = {'true' if value else 'false'}")
    return con


def is_locked(con: Any) -> bool:
    """True when ``con`` cannot reach the file system and its settings are frozen."""
    rows = dict(con.execute("SELECT name, value FROM duckdb_settings() WHERE name IN "
                            "('enable_external_access', 'lock_configuration')").fetchall())
    return rows.get("enable_external_access") == "false" and rows.get("lock_configuration") == "true"


def is_refusal(exc: BaseException) -> bool:
    """True for DuckDB's refusal of a sandboxed operation (file, network, extension or setting)."""
    text = str(exc)
    return ("disabled by configuration" in text or "disabled through configuration" in text
            or "configuration has been locked" in text or type(exc).__name__ == "PermissionException")


def single_select(con: Any, sql: str, what: str) -> str:
    """``sql`` unchanged when it is one expression or one ``SELECT``; else a one-line UsageError.

    ``what`` names where the SQL comes from (e.g. ``"suite 'x' column 'y'"``).
    """
    import duckdb

    try:
        statements = con.extract_statements(f"SELECT ({sql})")
    except duckdb.Error as exc:
        raise UsageError(f"{what}: not one SQL expression ({str(exc).strip().splitlines()[0]})") from None
    if len(statements) != 1 or statements[0].type.name != "SELECT":
        raise UsageError(f"{what}: package SQL must be one SELECT expression, not several statements")
    return sql

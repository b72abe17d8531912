"""``dpkg query`` and ``dpkg tables``: read-only SQL over the package's DuckDB database."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path

import typer

from datapkg.cli.entry import DIST_OPTS, FORMAT_OPTS, PACKAGE_OPTS, QUIET_OPTS


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    jsonl = "jsonl"
    markdown = "markdown"


PACKAGE_HELP = ("Folder with datapackage.json/.yaml, a descriptor file, a zipped package, a release folder "
                "(dpkg build's output) or a .duckdb file.")
DIST_HELP = "Folder of a built release to use when up to date (default: dist/ in the package and here)."


def _database(package: str, dist: list[Path] | None, quiet: bool):
    """A read-only connection to the package's up-to-date database (rebuilding the cache if needed)."""
    from datapkg.query import open_database

    said: list[str] = []

    def step(message: str) -> None:  # one note on a terminal when the cache is (re)built
        if not quiet and not said and sys.stderr.isatty():
            typer.echo("dpkg: the package changed; building the query cache…", err=True)
            said.append(message)

    con, _db, _kind = open_database(package, dist=dist or None, step=step)
    return con


def _show_schema(con, fmt: Format, names: list[str] | None = None) -> None:
    from datapkg.query import render_schema, schema_listing

    try:
        typer.echo(render_schema(schema_listing(con, names or []), fmt.value), nl=False)
    finally:
        con.close()


def query(
    sql: str | None = typer.Argument(None, help="SQL to run (or use --file FILE.sql; none: the interactive prompt)."),
    file: Path | None = typer.Option(None, "--file", help="Read the SQL from this file ('-' for stdin)."),
    package: str = typer.Option(".", *PACKAGE_OPTS, help=PACKAGE_HELP),
    format: Format = typer.Option(Format.table, *FORMAT_OPTS, help="Output format.", case_sensitive=False),
    schema: bool = typer.Option(False, "--schema", help="List tables, views, columns, types and comments instead."),
    dist: list[Path] | None = typer.Option(None, *DIST_OPTS, help=DIST_HELP),
    quiet: bool = typer.Option(False, *QUIET_OPTS, help="No progress note when the cache is rebuilt."),
) -> None:
    """Run read-only SQL on the package's DuckDB database (built release if up to date, else a cache).

    With no SQL, on a terminal: the interactive prompt of 'dpkg shell'.

    A statement that writes, attaches or copies files, or a SQL error, ends in one line, exit 2.
    """
    from datapkg.errors import UsageError

    if schema:
        if sql or file:
            raise UsageError("--schema lists the tables; give it no SQL")
        _show_schema(_database(package, dist, quiet), format)
        return
    if sql is not None and file is not None:
        raise UsageError("give the SQL either as an argument or with --file FILE, not both")
    if file is not None:
        try:
            sql = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None
    if sql is None and file is None and sys.stdin.isatty():
        shell(package, dist, quiet)
        return
    if not sql or not sql.strip():
        raise UsageError("no SQL given (pass it as an argument or with --file FILE.sql, or run 'dpkg shell')")
    from datapkg.query import print_query

    con = _database(package, dist, quiet)
    try:
        print_query(con, sql, format.value, sys.stdout)
    finally:
        con.close()


def tables(
    names: list[str] | None = typer.Argument(None, help="Tables or views to describe (default: all of them).",
                                             show_default=False),
    package: str = typer.Option(".", *PACKAGE_OPTS, help=PACKAGE_HELP),
    format: Format = typer.Option(Format.table, *FORMAT_OPTS, help="Output format.", case_sensitive=False),
    dist: list[Path] | None = typer.Option(None, *DIST_OPTS, help=DIST_HELP),
    quiet: bool = typer.Option(False, *QUIET_OPTS, help="No progress note when the cache is rebuilt."),
) -> None:
    """Describe tables and views of the package's database: columns, types and comments.

    'dpkg tables meetings' describes the table meetings; with no name, every table and view.
    An unknown name ends in one line listing the tables there are (exit 2).
    """
    from datapkg.errors import UsageError

    try:
        con = _database(package, dist, quiet)
    except UsageError as exc:
        paths = [n for n in names or [] if Path(n).exists()]
        if package == "." and paths:  # e.g. 'dpkg tables DIR' as before tables took table names
            raise UsageError(f"{exc} (to list the tables of the package at {paths[0]}, use -p {paths[0]})") from None
        raise
    _show_schema(con, format, names or [])


def shell(
    package: str = typer.Option(".", *PACKAGE_OPTS, help=PACKAGE_HELP),
    dist: list[Path] | None = typer.Option(None, *DIST_OPTS, help=DIST_HELP),
    quiet: bool = typer.Option(False, *QUIET_OPTS, help="No progress note when the cache is rebuilt."),
) -> None:
    """Interactive read-only SQL prompt on the package's database ('dpkg query' with no SQL too).

    Statements end with ';'; .tables, .schema [NAME], .mode FORMAT, .help, .quit. With standard
    input not a terminal, runs the statements read from it (exit 2 if one failed).
    """
    from datapkg.shell import SqlShell

    con = _database(package, dist, quiet)
    try:
        code = SqlShell(con, package).run()
    finally:
        con.close()
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``query``, ``tables`` and ``shell`` to the ``dpkg`` app."""
    app.command("query")(query)
    app.command("tables")(tables)
    app.command("shell")(shell)

"""``dpkg query`` and ``dpkg tables``: read-only SQL over a package's DuckDB database.

The database is the built one (``dist/<name>.duckdb``, or ``release/`` in a downloaded
release) when it was made from exactly the content now in the package, else one in the user's
cache (``$DPKG_CACHE_DIR``, else ``~/.cache/dpkg/query``), keyed by the package's content
(:mod:`datapkg.db_inputs`). A ``.duckdb`` file or a release folder is used as it is. Reading
never writes into the package or beside it.

This module is on the fast path of ``dpkg query``: it imports neither frictionless nor Great
Expectations, and builds a database (which loads more) only when no up-to-date one exists.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import decimal
import io
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from datapkg.errors import UsageError
from datapkg.package_source import DESCRIPTOR_NAMES, is_database_file
from datapkg.sandbox import SANDBOX_CONFIG

FORMATS = ("table", "csv", "json", "jsonl", "markdown")
#: Statement types a read-only query may run (SHOW/DESCRIBE/SUMMARIZE parse as SELECT).
ALLOWED = {"SELECT", "EXPLAIN", "PRAGMA", "CALL"}
#: Query caches kept in the user's cache folder (the newest; older ones are deleted when one is built).
CACHE_KEEP = 16
CACHE_NAME = r"[0-9a-f]{32}-.+\.duckdb"
BATCH = 10_000
READ_ONLY_CONFIG = SANDBOX_CONFIG


class Result:
    """Columns, their DuckDB types and the rows of the last statement.

    Rows are fetched lazily from ``cursor`` in batches (:meth:`batches`) so that CSV/JSON
    output streams; :attr:`rows` fetches them all (and keeps them). (A plain class, not a
    dataclass: this module is on ``dpkg query``'s start-up path.)
    """

    def __init__(self, columns: list[str], types: list[str], cursor: Any = None, rows: list[tuple] | None = None) -> None:
        self.columns, self.types, self.cursor, self._rows = columns, types, cursor, rows

    def batches(self, size: int = BATCH) -> Iterator[list[tuple]]:
        """The rows in batches (all at once when they were already fetched)."""
        if self._rows is not None or self.cursor is None:
            yield self.rows
            return
        while batch := self.cursor.fetchmany(size):
            yield batch

    @property
    def rows(self) -> list[tuple]:
        if self._rows is None:
            self._rows = [] if self.cursor is None else self.cursor.fetchall()
        return self._rows


def one_line(exc: BaseException) -> str:
    """DuckDB's message in one line (the echo of the SQL and its caret marks dropped)."""
    lines = [ln.strip() for ln in str(exc).splitlines()]
    kept = [ln for ln in lines if ln and not ln.startswith("LINE ") and set(ln) - {"^", " "}]
    return " ".join(kept) or type(exc).__name__


# --- which database ---------------------------------------------------------------------------

def _db_name(descriptor: dict[str, Any]) -> str:
    from datapkg.package_source import artefact_names

    return artefact_names(descriptor)[0]


def release_database(folder: Path) -> Path | None:
    """The database of a release folder (``dpkg build``'s output: SHA256SUMS and one ``.duckdb``), else None."""
    if not folder.is_dir() or not (folder / "SHA256SUMS").is_file():
        return None
    found = [p for p in folder.glob("*.duckdb") if p.is_file()]
    return found[0] if len(found) == 1 else None


def _open_if_current(db: Path, root: Path, descriptor: dict[str, Any], known: dict[str, str] | None = None,
                     digest: str | None = None) -> Any | None:
    """A read-only connection to ``db`` when it was made from the package now at ``root``, else None
    (``known``, ``digest``: see :func:`datapkg.db_inputs.is_up_to_date`)."""
    import duckdb

    from datapkg.db_inputs import is_up_to_date

    try:
        con = duckdb.connect(str(db), read_only=True, config=READ_ONLY_CONFIG)
    except duckdb.Error:
        return None
    if is_up_to_date(con, root, descriptor, known, digest):
        return con
    con.close()
    return None


def _release_candidates(root: Path, origin: Path, dist: Iterable[Path] | None, name: str) -> list[Path]:
    """Built databases that may belong to the package: ``--dist`` folders, else ``dist/`` and
    ``release/`` (a download) in the package, the folder beside a zip, and ``dist/`` here."""
    folders = list(dist) if dist is not None else [root / "dist", root / "release", origin.parent, Path("dist")]
    seen: dict[Path, None] = {}
    for folder in folders:
        if (folder / name).is_file():  # resolved only when it is there (is_file follows links as resolve does)
            seen.setdefault((folder / name).resolve())
    return list(seen)


def _cached(root: Path, descriptor_name: str, descriptor: dict[str, Any], name: str,
            step: Callable[[str], None]) -> tuple[Any, Path]:
    """The package's database in the user's cache, keyed by content (built first when missing or stale)."""
    from datapkg.db_inputs import cache_key
    from datapkg.user_cache import user_cache_dir

    folder = user_cache_dir("query")
    key, known, digest = cache_key(root, descriptor_name, descriptor)
    db = folder / f"{key[:32]}-{name}"
    if db.is_file():
        con = _open_if_current(db, root, descriptor, known, digest)
        if con is not None:
            return con, db
    step("building the query cache")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _rebuild(db, root, descriptor_name, descriptor, step, known)
    except OSError as exc:
        if not isinstance(exc, PermissionError) and exc.filename is None:
            raise
        raise UsageError(f"cannot write the query cache in {folder}: {exc.strerror or exc}; "
                         "set DPKG_CACHE_DIR to a writable folder") from None
    _prune(folder)
    return connect(db), db


def _prune(folder: Path) -> None:
    """Keep the CACHE_KEEP newest query caches dpkg wrote in ``folder``; delete older ones."""
    mine = [p for p in folder.glob("*.duckdb") if re.fullmatch(CACHE_NAME, p.name)]
    mine.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in mine[CACHE_KEEP:]:
        old.unlink(missing_ok=True)


def _rebuild(target: Path, root: Path, descriptor_name: str, descriptor: dict[str, Any],
             step: Callable[[str], None], known: dict[str, str] | None = None) -> None:
    """Build the database into ``target`` through a temporary file (atomic replace); ``known``:
    the digests of its input files just computed (:func:`datapkg.db_inputs.cache_key`)."""
    from datapkg.atomic import replace_file
    from datapkg.database import create_database

    with replace_file(target, companions=(".wal",)) as tmp:
        create_database(tmp, root, descriptor_name, descriptor, step=step, known=known)


def open_database(path: str | Path = ".", *, dist: Iterable[Path] | None = None,
                  step: Callable[[str], None] | None = None) -> tuple[Any, Path, str]:
    """(read-only connection, database file, kind) for what ``path`` names.

    ``path`` is a package (folder, descriptor, zip), a release folder or a ``.duckdb`` file.
    Kinds: ``"database"`` (the file given), ``"release"`` (a release folder's database),
    ``"build"`` (a built database made from exactly this package's content), ``"cache"``
    (one in the user's cache directory, built first when missing). Nothing is ever written
    into the package or beside it.
    """
    from datapkg.package_source import open_package

    target = Path(str(path))
    if target.is_file() and is_database_file(target):
        return connect(target), target, "database"
    release = release_database(target) if dist is None else None
    if release is not None and not any((target / n).is_file() for n in DESCRIPTOR_NAMES):
        return connect(release), release, "release"
    with open_package(path) as source:
        name = _db_name(source.descriptor)
        for db in _release_candidates(source.root, target.resolve(), dist, name):
            con = _open_if_current(db, source.root, source.descriptor)
            if con is not None:
                return con, db, "build"
        con, db = _cached(source.root, source.descriptor_name, source.descriptor, name, step or (lambda _msg: None))
        return con, db, "cache"


# --- running SQL ------------------------------------------------------------------------------

def connect(db: Path) -> Any:
    """A read-only connection that cannot reach the file system (no ATTACH, COPY, read_csv...)."""
    import duckdb

    try:
        return duckdb.connect(str(db), read_only=True, config=READ_ONLY_CONFIG)
    except duckdb.Error as exc:
        raise UsageError(f"cannot open {db}: {one_line(exc)}") from None


def run_sql(con: Any, sql: str) -> Result:
    """Run ``sql`` (one or more statements) read-only; return the last statement's result.

    A statement that would write, attach, copy, load or change settings is refused before
    anything runs; a SQL error becomes a one-line :class:`UsageError` (exit 2).
    """
    import duckdb

    if not sql.strip():
        raise UsageError("no SQL given")
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise UsageError(one_line(exc)) from None
    if not statements:
        raise UsageError("no SQL statement given")
    for statement in statements:
        kind = statement.type.name
        if kind not in ALLOWED:
            raise UsageError(f"read-only: {kind} statements are not allowed here "
                             f"(dpkg query runs SELECT, EXPLAIN, PRAGMA and CALL only)")
    cursor = None
    try:
        for statement in statements:
            cursor = interruptible(con, con.execute, statement)  # the parsed statement: no second parse
        description = cursor.description or []
    except duckdb.CatalogException as exc:
        message = one_line(exc)
        if "does not exist" in message and ("Table with name" in message or "View with name" in message):
            message += f" (the database has: {', '.join(table_names(con))})"
        raise UsageError(message) from None
    except (duckdb.Error, RuntimeError) as exc:
        raise _stopped(exc) from None
    return Result([d[0] for d in description], [str(d[1]) for d in description], cursor if description else None)


def table_names(con: Any) -> list[str]:
    """The tables and views an analyst sees (schema ``main``; the ``_dpkg`` bookkeeping hidden)."""
    sql = """SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'
             UNION SELECT view_name FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal ORDER BY 1"""
    return [row[0] for row in con.execute(sql).fetchall()]


def unknown_table(name: str, con: Any) -> UsageError:
    """The error for a table that does not exist: it lists the ones that do."""
    known = table_names(con)
    hint = f" (to list the tables of the package at {name}, use -p {name})" if Path(name).exists() else ""
    return UsageError(f"no table or view named {name!r}{hint}; the database has: {', '.join(known) or '(nothing)'}")


def schema_listing(con: Any, tables: Iterable[str] = ()) -> Result:
    """Tables and views with their columns, types and comments (the ``_dpkg`` bookkeeping hidden).

    With ``tables``, only those (each must exist: else :func:`unknown_table`).
    """
    wanted = list(tables)
    known = set(table_names(con)) if wanted else set()
    for name in wanted:
        if name not in known:
            raise unknown_table(name, con)
    sql = """
        SELECT o.name AS "table", o.kind, c.column_name AS "column", c.data_type AS type,
               NOT c.is_nullable AS not_null, coalesce(c.comment, '') AS comment, o.comment AS table_comment
        FROM (SELECT table_name AS name, 'table' AS kind, comment, schema_name FROM duckdb_tables()
              UNION ALL SELECT view_name, 'view', comment, schema_name FROM duckdb_views() WHERE NOT internal) o
        JOIN duckdb_columns() c ON c.table_name = o.name AND c.schema_name = o.schema_name
        WHERE o.schema_name = 'main' AND (len($wanted) = 0 OR list_contains($wanted, o.name))
        ORDER BY o.kind, o.name, c.column_index"""
    cursor = con.execute(sql, {"wanted": wanted})
    return Result([d[0] for d in cursor.description], [str(d[1]) for d in cursor.description], None, cursor.fetchall())


# --- output formats ---------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    """A JSON-ready form of a DuckDB value (dates ISO 8601, decimals as numbers, lists kept)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return str(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    plain = _plain(value)
    if isinstance(plain, (list, dict)):
        return json.dumps(plain, ensure_ascii=False)
    if isinstance(plain, bool):
        return "true" if plain else "false"
    return str(plain)


def write(result: Result, fmt: str, out: TextIO, *, terminal: bool = False) -> None:
    """Write ``result`` to ``out`` as ``table`` (aligned text), ``csv``, ``json``, ``jsonl`` or ``markdown``.

    Package text never drives the terminal: ``table`` and ``markdown`` show control and bidi
    characters as escapes (:func:`datapkg.safe_text.visible`), JSON writes them as ``\\uXXXX``
    (:func:`~datapkg.safe_text.json_safe`, the same data), CSV keeps the exact text unless
    ``terminal`` (stdout is a terminal). CSV, JSON, JSON Lines and markdown stream batch by batch; ``table`` is drawn by
    :mod:`datapkg.result_table` (rich), which shows the first rows and counts the rest.
    """
    import duckdb

    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    try:
        interruptible(result.cursor, _write, result, fmt, out, terminal)
    except (duckdb.Error, RuntimeError) as exc:  # an error that shows only while rows are fetched
        raise _stopped(exc) from None


#: Seconds between the repeated interrupts of a query after Ctrl-C.
INTERRUPT_REPEAT = 0.05


def interruptible(con: Any, work: Callable[..., Any], *args: Any) -> Any:
    """``work(*args)`` with Ctrl-C interrupting ``con``'s query at once (``connection.interrupt()``).

    DuckDB holds the main thread while it runs, so Python's own handler would wait for the query to
    end: the signal's wake-up byte (``signal.set_wakeup_fd``) reaches a watcher thread instead, which
    interrupts the query; the KeyboardInterrupt follows as usual (exit 130).
    """
    import signal
    import threading

    if con is None or threading.current_thread() is not threading.main_thread():
        return work(*args)
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    done = threading.Event()

    def watch() -> None:
        while (data := os.read(read_end, 64)) and not done.is_set():
            if signal.SIGINT in data:
                # again until the work ends: an interrupt that lands before DuckDB has started
                # the query is lost, and the query would then run to its end
                con.interrupt()
                while not done.wait(INTERRUPT_REPEAT):
                    con.interrupt()
                return

    watcher = threading.Thread(target=watch, name="dpkg-interrupt", daemon=True)
    watcher.start()
    try:
        return work(*args)
    finally:
        pending: list[KeyboardInterrupt] = []
        while True:  # the KeyboardInterrupt may land in here: finish the clean-up, then raise it
            try:
                if not done.is_set():
                    done.set()
                    signal.set_wakeup_fd(previous)
                    os.write(write_end, b"\0")
                watcher.join(1)
                break
            except KeyboardInterrupt as exc:
                pending.append(exc)
        os.close(read_end)
        os.close(write_end)
        if pending:
            raise pending[0]


def _stopped(exc: BaseException) -> BaseException:
    """What a DuckDB error becomes: Ctrl-C during a query (DuckDB interrupts it itself) is a
    KeyboardInterrupt (exit 130); anything else a one-line UsageError (exit 2)."""
    import duckdb

    if isinstance(exc, duckdb.InterruptException) or "interrupted" in str(exc).lower():
        return KeyboardInterrupt()
    if isinstance(exc, duckdb.Error):
        return UsageError(one_line(exc))
    return exc


def _write(result: Result, fmt: str, out: TextIO, terminal: bool = False) -> None:
    if fmt == "csv":  # first, and safe_text only on a terminal: CSV into a pipe is dpkg query's fast path
        shown = str
        if terminal:
            from datapkg.safe_text import visible as shown
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([shown(c) for c in result.columns])
        for batch in result.batches():
            writer.writerows([shown(_text(v)) for v in row] for row in batch)
        return
    if fmt in ("json", "jsonl"):
        from datapkg.safe_text import json_safe

        first = True
        if fmt == "json":
            out.write("[")
        for batch in result.batches():
            for row in batch:
                text = json_safe(json.dumps(dict(zip(result.columns, map(_plain, row))), ensure_ascii=False))
                if fmt == "jsonl":
                    out.write(text + "\n")
                else:
                    out.write(("\n  " if first else ",\n  ") + text)
                first = False
        if fmt == "json":
            out.write("]\n" if first else "\n]\n")
        return
    from datapkg.safe_text import visible

    if fmt == "markdown":
        def esc(text: str) -> str:
            return visible(text.replace("\\", "\\\\").replace("|", "\\|"))

        out.write("| " + " | ".join(esc(c) for c in result.columns) + " |\n|" + "---|" * len(result.columns) + "\n")
        for batch in result.batches():
            out.writelines("| " + " | ".join(esc(_text(v)) for v in row) + " |\n" for row in batch)
        return
    from datapkg.result_table import write_table

    write_table(result.columns, result.types, result.batches(), out, _text)


def print_query(con: Any, sql: str, fmt: str, out: TextIO) -> None:
    """Run ``sql`` on ``con`` and write its result to ``out`` (:func:`print_result`)."""
    print_result(run_sql(con, sql), fmt, out)


def print_result(result: Result, fmt: str, out: TextIO) -> None:
    """Write ``result`` to ``out`` in ``fmt``; a reader that goes away (``| head``) is no error."""
    try:
        write(result, fmt, out, terminal=_is_terminal(out))
        out.flush()
    except BrokenPipeError:
        with contextlib.suppress(OSError, ValueError, AttributeError):  # no complaint at the final flush
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())


def _is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


def render(result: Result, fmt: str) -> str:
    """``result`` as text in format ``fmt`` (see :func:`write`)."""
    buffer = io.StringIO()
    write(result, fmt, buffer)
    return buffer.getvalue()


def render_schema(result: Result, fmt: str) -> str:
    """The schema listing: grouped text for ``table``, else the plain formats."""
    if fmt != "table":
        return render(result, fmt)
    from datapkg.result_table import terminal_safe

    lines: list[str] = []
    current = None
    for row in result.rows:
        table, kind, column, type_, not_null, comment, table_comment = (
            terminal_safe(v) if isinstance(v, str) else v for v in row)
        if table != current:
            if current is not None:
                lines.append("")
            lines.append(f"{table} ({kind})" + (f" — {table_comment}" if table_comment else ""))
            current = table
        flag = " NOT NULL" if not_null else ""
        lines.append(f"  {column}  {type_}{flag}" + (f"  — {comment}" if comment else ""))
    return "\n".join(lines) + "\n"


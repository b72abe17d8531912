"""The ``dpkg`` console script: ``dpkg query "SQL"`` on an up-to-date database starts at the floor.

The common analyst call, ``dpkg query SQL [-p PACKAGE] [-f FORMAT] [-q] [--dist DIR]`` with a
database that needs no building, runs here without loading typer and click (about a third of
the start-up time): it opens the database and prints the result with the same library calls
as the ``query`` command. Everything else — help, other commands, other options, a database
that must be built first, and any error — goes to the full typer command line
(:mod:`datapkg.cli.main`), which gives the one-line messages and exit codes. The option
spellings here are the ones ``query`` declares (``datapkg/cli/query_cmd.py`` imports them).
"""

from __future__ import annotations

import sys

PACKAGE_OPTS = ("--package", "-p")
FORMAT_OPTS = ("--format", "-f", "-F")
DIST_OPTS = ("--dist",)
QUIET_OPTS = ("--quiet", "-q")
#: Seconds a Ctrl-C may take to end dpkg before it is ended without further clean-up.
INTERRUPT_GRACE = 2.0
_signalled: list[bool] = []  # one entry per Ctrl-C of this run
_console: list[bool] = []  # set by run(): this process is the dpkg command itself
_said: list[bool] = []  # the line for a Ctrl-C was written: the grace timer does not repeat it


def console_process() -> bool:
    """Whether this process is the ``dpkg`` command (started by :func:`run`), not a library caller or a
    test's CliRunner: only then may a command decide for the whole process (e.g. that GX never needs Spark)."""
    return bool(_console)


def interrupted() -> bool:
    """Whether Ctrl-C was pressed during this run, even if a library swallowed the KeyboardInterrupt."""
    return bool(_signalled)


class _NeedsTheFullPath(Exception):
    """The fast path does not handle this call (a database to build, an error to report)."""


def parse_query(argv: list[str]) -> dict | None:
    """``{sql, package, format, dist}`` for a plain ``query`` call, else None (the full path decides)."""
    if not argv or argv[0] != "query":
        return None
    found: dict = {"sql": None, "package": ".", "format": "table", "dist": []}
    args = iter(argv[1:])
    for arg in args:
        if arg in QUIET_OPTS:
            continue
        if arg in PACKAGE_OPTS + FORMAT_OPTS + DIST_OPTS:
            value = next(args, None)
            if value is None or value.startswith("-"):
                return None
            if arg in DIST_OPTS:
                found["dist"].append(value)
            else:
                found["package" if arg in PACKAGE_OPTS else "format"] = value.lower() if arg in FORMAT_OPTS else value
        elif arg.startswith("-") or found["sql"] is not None:
            return None  # --help, --file, --schema, a=b forms, two SQL arguments...
        else:
            found["sql"] = arg
    if not found["sql"] or not found["sql"].strip():
        return None
    return found


def fast_query(call: dict) -> bool:
    """Run a parsed ``query`` call when its database is ready; False (nothing written) when the full path must."""
    from pathlib import Path

    from datapkg.errors import DpkgError
    from datapkg.query import FORMATS, open_database, print_result, run_sql

    if call["format"] not in FORMATS:
        return False

    def no_building(_message: str) -> None:
        raise _NeedsTheFullPath

    try:
        con, _db, _kind = open_database(call["package"], dist=[Path(d) for d in call["dist"]] or None, step=no_building)
    except (_NeedsTheFullPath, DpkgError):
        return False
    try:
        try:
            result = run_sql(con, call["sql"])
        except DpkgError:
            return False  # nothing written yet: the full path reports it
        try:
            print_result(result, call["format"], sys.stdout)
        except DpkgError as exc:  # an error that shows only while rows are fetched
            sys.stderr.write(error_line(str(exc)) + "\n")
            sys.exit(exc.exit_code)
    finally:
        con.close()
    return True


def error_line(message: str) -> str:
    """The one line every failure of ``dpkg`` prints on stderr (package strings in it shown safely)."""
    from datapkg.safe_text import visible

    return f"dpkg: error: {visible(message)}"


def say_interrupted() -> None:
    """Write the one line a Ctrl-C ends dpkg with on stderr (the grace timer then does not repeat it)."""
    _said.append(True)
    sys.stderr.write(error_line("interrupted") + "\n")
    sys.stderr.flush()


def guard_interrupt(grace: float = INTERRUPT_GRACE) -> None:
    """Make Ctrl-C end dpkg with exit 130 even where a library swallows KeyboardInterrupt.

    The SIGINT raises KeyboardInterrupt as Python's own handler does, so clean-up runs and the
    command exits 130 at once. Some libraries swallow it: ``pyspark.ml.linalg`` (which GX imports
    when pyspark is installed) catches BaseException around an import, and DuckDB turns it into an
    error that GX records and evaluates again. So the signal is also remembered (:func:`interrupted`,
    which ``main.run`` and ``validate`` check before they report) and starts a timer that ends the
    process with 130 after ``grace`` seconds.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def stop_now() -> None:
        import os

        if not _said:
            os.write(2, (error_line("interrupted") + "\n").encode())
        os._exit(130)

    def on_interrupt(_signum: int, _frame: object) -> None:
        _signalled.append(True)
        timer = threading.Timer(grace, stop_now)
        timer.daemon = True
        timer.start()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_interrupt)


def run() -> None:
    """Console-script entry point."""
    _console.append(True)
    guard_interrupt()
    call = parse_query(sys.argv[1:])
    try:
        if call is not None and fast_query(call):
            sys.exit(0)
    except KeyboardInterrupt:  # Ctrl-C: the query was interrupted at once (datapkg.query.interruptible)
        say_interrupted()
        sys.exit(130)
    from datapkg.cli.main import run as full_run

    full_run()

"""``dpkg shell`` (and ``dpkg query`` with no SQL): an interactive, read-only SQL prompt.

A small REPL on the standard library's :mod:`cmd` (line editing and history by ``readline``)
over the package's database, opened read-only and sandboxed as for ``dpkg query``: every
statement goes through :func:`datapkg.query.run_sql` (SELECT, EXPLAIN, PRAGMA, CALL only;
no file or network access). A statement ends with ``;`` and may span lines; dot commands
list the tables, views and their comments. With standard input not a terminal it reads the
statements from there without prompts (a script), as ``sqlite3`` does.
"""

from __future__ import annotations

import cmd
import contextlib
import sys
from typing import Any, TextIO

from datapkg.errors import UsageError
from datapkg.query import FORMATS, render_schema, run_sql, schema_listing, table_names, write

HELP = """\
End each SQL statement with ';' (it may span lines). Read-only: SELECT, EXPLAIN, PRAGMA, CALL.
  .tables              names of the tables and views
  .schema [NAME ...]   columns, types and comments (of every table and view, or of NAME)
  .mode FORMAT         output format: table (default), csv, json, jsonl, markdown
  .help                this text
  .quit / .exit        leave (Ctrl-D too; Ctrl-C drops the statement being typed)"""


class SqlShell(cmd.Cmd):
    """The prompt: SQL statements and dot commands on one read-only connection."""

    def __init__(self, con: Any, label: str, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        super().__init__(stdin=stdin, stdout=stdout)
        self.con, self.mode, self.buffer, self.failed = con, "table", [], 0
        self.interactive = (stdin or sys.stdin).isatty()
        self.use_rawinput = stdin is None
        names = table_names(con)
        self.intro = (f"dpkg shell: {label}, read-only ({len(names)} tables and views). "
                      "End statements with ';'. .help lists the commands.") if self.interactive else None
        self._prompt()

    def _prompt(self) -> None:
        self.prompt = ("dpkg> " if not self.buffer else "  ..> ") if self.interactive else ""

    def emptyline(self) -> bool:  # an empty line repeats nothing
        return False

    def onecmd(self, line: str) -> bool:
        """One input line: a dot command, or part of a SQL statement (run when it ends with ';')."""
        if line == "EOF":
            if self.interactive:
                self.stdout.write("\n")
            return True
        if not self.buffer and line.strip().startswith("."):
            return self._dot(line.strip())
        self.buffer.append(line)
        text = "\n".join(self.buffer).strip()
        if text.endswith(";"):
            self.buffer = []
            self._run(text)
        self._prompt()
        return False

    def _run(self, sql: str) -> None:
        try:
            write(run_sql(self.con, sql), self.mode, self.stdout, terminal=self.interactive)
        except UsageError as exc:
            self._error(str(exc))

    def _error(self, message: str) -> None:
        self.failed += 1
        print(f"dpkg: error: {message}", file=sys.stderr if not self.interactive else self.stdout)

    def _dot(self, line: str) -> bool:
        word, *args = line.split()
        if word in (".quit", ".exit", ".q"):
            return True
        try:
            if word == ".tables":
                self.stdout.write("\n".join(table_names(self.con)) + "\n")
            elif word == ".schema":
                self.stdout.write(render_schema(schema_listing(self.con, args), "table"))
            elif word == ".mode" and len(args) == 1 and args[0] in FORMATS:
                self.mode = args[0]
            elif word == ".help":
                self.stdout.write(HELP + "\n")
            else:
                raise UsageError(f"unknown command {line!r} (.help lists the commands)")
        except UsageError as exc:
            self._error(str(exc))
        return False

    def run(self) -> int:
        """Read until ``.quit`` or end of input; return the exit code (2 when a scripted statement failed)."""
        with _history(self.interactive):
            while True:
                try:
                    self.cmdloop()
                    break
                except KeyboardInterrupt:
                    self.buffer, self.intro = [], None
                    self._prompt()
                    self.stdout.write("^C\n")
        if self.buffer and "".join(self.buffer).strip():
            self._run("\n".join(self.buffer))  # a last statement without its ';'
        return 2 if self.failed and not self.interactive else 0


@contextlib.contextmanager
def _history(interactive: bool):
    """readline history in the user's cache folder, for interactive sessions."""
    if not interactive:
        yield
        return
    try:
        import readline
    except ImportError:  # pragma: no cover - Python built without readline
        yield
        return
    from datapkg.user_cache import user_cache_dir

    path = user_cache_dir("shell") / "shell_history"
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            readline.set_history_length(1000)
            readline.write_history_file(path)

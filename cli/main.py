"""Entry point of the ``dpkg`` console script.

Start-up stays light: this module imports only typer and the per-command modules in
``COMMAND_MODULES``, each of which imports its heavy libraries (frictionless, Great
Expectations, DuckDB) inside the command body.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import typer
import click
from typer.core import TyperGroup

from datapkg import __version__
from datapkg.cli.entry import error_line, interrupted, say_interrupted
from datapkg.errors import DpkgError

#: Modules under ``cli/`` (installed as ``datapkg.cli``) that each define ``register(app)``; one per command (group).
COMMAND_MODULES = [
    "datapkg.cli.validate_cmd",
    "datapkg.cli.download_cmd",
    "datapkg.cli.verify_cmd",
    "datapkg.cli.build_cmd",
    "datapkg.cli.query_cmd",
    "datapkg.cli.expectations_cmd",
    "datapkg.cli.diff_cmd",
]

DEBIAN_OPTIONS = {
    "-i", "--install", "-l", "--list", "-L", "--listfiles", "-r", "--remove", "-P", "--purge",
    "-s", "--status", "-S", "--search", "-c", "--contents", "-x", "--extract", "-X",
    "--vextract", "-b", "--build", "-I", "--info", "-e", "--control", "-f", "--field",
    "-p", "--print-avail", "-C", "--audit", "-A", "--record-avail", "-D", "--debug",
    "-R", "--recursive", "-O", "--selected-only", "-E", "-G", "-B",
    "--configure", "--unpack", "--triggers-only", "--get-selections", "--set-selections",
    "--clear-selections", "--print-architecture", "--print-foreign-architectures",
    "--add-architecture", "--remove-architecture", "--compare-versions", "--update-avail",
    "--merge-avail", "--clear-avail", "--forget-old-unavail", "--verify", "-V",
    "--root", "--admindir", "--instdir", "--force-all", "--no-act", "--dry-run",
    "--simulate", "--yet-to-unpack", "--predep-package", "--assert-support-predepends",
    "--validate-pkgname", "--validate-version", "--ctrl-tarfile", "--fsys-tarfile",
}

#: Debian's package manager; Debian-style invocations are handed to it unchanged when it exists.
DEBIAN_DPKG = "/usr/bin/dpkg"

DEBIAN_NOTICE = (
    "dpkg: this is dpkg the data-package tool (validate, query, build, download), not Debian's "
    "package manager, which lives at /usr/bin/dpkg"
)


def is_debian_invocation(args: list[str]) -> bool:
    """True when the first argument is one of Debian dpkg's options (``-i``, ``--configure``...)."""
    if not args:
        return False
    first = args[0].split("=", 1)[0]
    return first in DEBIAN_OPTIONS or first.startswith(("--force-", "--no-force-", "--refuse-"))


def hand_to_debian(args: list[str]) -> None:
    """Replace this process with Debian's dpkg run on ``args`` (its output, its exit code), when it exists.

    Returns only when there is no Debian dpkg to hand to (or :data:`DEBIAN_DPKG` is this tool itself).
    """
    try:
        with open(DEBIAN_DPKG, "rb") as file:
            head = file.read(1024)
    except OSError:
        return
    if head.startswith(b"#!") and b"datapkg" in head or not os.access(DEBIAN_DPKG, os.X_OK):
        return  # our own console script installed there, or nothing we may run
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(DEBIAN_DPKG, [DEBIAN_DPKG, *args])


def _error(message: str) -> None:
    """The one-line error; package strings in it (paths, names, values) shown safely."""
    typer.echo(error_line(message), err=True)


class DpkgGroup(TyperGroup):
    """A typer group whose every failure is one line on stderr and a known exit code."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if is_debian_invocation(argv):
            hand_to_debian(argv)
            typer.echo(DEBIAN_NOTICE, err=True)
            sys.exit(2)
        try:
            rv = super().main(argv, prog_name or "dpkg", complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            hint = f" (see 'dpkg {exc.ctx.command_path.partition(' ')[2]} --help')".replace("  ", " ") if exc.ctx else ""
            _error(f"{exc.format_message()}{hint}".replace("dpkg  --help", "dpkg --help"))
            code = 2
        except typer.Exit as exc:
            code = exc.exit_code
        except typer.Abort:
            _error("aborted")
            code = 130
        except click.ClickException as exc:
            _error(exc.format_message())
            code = exc.exit_code
        except DpkgError as exc:
            _error(str(exc))
            code = exc.exit_code
        except OSError as exc:  # a folder we cannot write, a disk that is full...
            where = f"{exc.filename}: " if exc.filename else ""
            _error(f"{where}{exc.strerror or exc}")
            code = 2
        except Exception as exc:  # noqa: BLE001 - the promise is: never a traceback
            if os.environ.get("DPKG_DEBUG"):
                raise
            if interrupted():  # the Ctrl-C became another error in a library (DuckDB: "Query interrupted")
                say_interrupted()
                code = 130
            else:
                _error(f"unexpected {type(exc).__name__}: {exc} (set DPKG_DEBUG=1 for a traceback)")
                code = 2
        else:
            code = rv if isinstance(rv, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a Ctrl-C that reaches here is said in one line (typer then exits 130 silently)."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            say_interrupted()
            raise


app = typer.Typer(
    cls=DpkgGroup,
    name="dpkg",
    help="dpkg: validate, query, build and download Frictionless data packages.\n\n"
    "Not Debian's package manager (that one is /usr/bin/dpkg).",
    no_args_is_help=True,
    add_completion=True,  # typer's --install-completion / --show-completion
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: no rich import at start-up (keeps --help under 0.3 s)
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dpkg (data-package tool) {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    """dpkg: validate, query, build and download Frictionless data packages."""


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def run() -> None:
    """Console-script entry point.

    Once GX and duckdb-engine are both loaded, or DuckDB is loaded and a Ctrl-C cut the command
    short, DuckDB's bindings report objects still held at interpreter shutdown as "leaked" on
    stderr; after the command has finished and its output is flushed, the process ends without
    that shutdown (nothing is left to write or clean up).
    """
    try:
        app()
    except SystemExit as done:
        if interrupted() and done.code != 130:  # a Ctrl-C that a library swallowed: the run does not count
            say_interrupted()
            done = SystemExit(130)
        if "duckdb_engine" not in sys.modules and not (interrupted() and "duckdb" in sys.modules):
            raise done from None
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if not isinstance(done.code, int | None):
            print(done.code, file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":  # pragma: no cover - ``python -m datapkg.cli.main`` is the dpkg command itself
    from datapkg.cli.entry import run as console_run

    console_run()

"""``dpkg download``: fetch a release over http(s) or from disk, verify it, extract it atomically."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from datapkg.safe_text import json_safe, visible


class _BarProgress:
    """A rich progress bar on stderr (used only when stderr is a terminal)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                                   TransferSpeedColumn)

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                            TimeRemainingColumn(), console=Console(stderr=True), transient=False)
        self.tasks: dict[str, Any] = {}
        self.bar.start()

    def start(self, name: str, total: int | None, completed: int) -> None:
        if name in self.tasks:
            self.bar.update(self.tasks[name], total=total, completed=completed)
        else:
            self.tasks[name] = self.bar.add_task(name, total=total, completed=completed)

    def advance(self, size: int) -> None:
        if self.tasks:
            self.bar.advance(list(self.tasks.values())[-1], size)

    def note(self, message: str) -> None:
        self.bar.console.print(visible(message), markup=False, highlight=False)

    def stop(self) -> None:
        self.bar.stop()


def download(
    source: str = typer.Argument(..., help="http(s) URL or local path of a release zip, or of a release folder "
                                           "holding SHA256SUMS (URL ending in '/' or in SHA256SUMS)."),
    to: Path | None = typer.Option(None, "--to", help="Folder to create or replace (default: the zip's name without .zip)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing on success."),
    as_json: bool = typer.Option(False, "--json", help="Print the result (or the error) as JSON on stdout."),
    connect_timeout: float = typer.Option(10.0, "--connect-timeout", min=0.001, help="Seconds to open a connection."),
    read_timeout: float = typer.Option(30.0, "--read-timeout", min=0.001, help="Seconds without data before a retry."),
    retries: int = typer.Option(5, "--retries", min=0, help="Retries per file after a failed attempt."),
    backoff: float = typer.Option(1.0, "--backoff", min=0.0, help="First delay between attempts in seconds (doubles)."),
    timeout: float = typer.Option(3600.0, "--timeout", min=0.001, help="Seconds for the whole transfer "
                                                                       "(every file, retries included)."),
    min_rate: int = typer.Option(1024, "--min-rate", min=0, help="Bytes per second a transfer must average over "
                                                                   "each --read-timeout period."),
    no_resume: bool = typer.Option(False, "--no-resume", help="Start over instead of resuming what an earlier, "
                                                                "unfinished run kept (in ~/.cache/dpkg/partial)."),
) -> None:
    """Download a release, verify every checksum, size and hash, and extract it into DIR.

    DIR ends up holding datapackage.json and the resources at their paths (ready for 'dpkg validate DIR'), plus release/ with the zip, SHA256SUMS and the other artefacts ('dpkg verify DIR' checks them again).

    Nothing changes in DIR unless every check passed. A file left unfinished (network failure, Ctrl-C) is kept in the user's cache and resumed by the next run of the same URL. Exit 0 on success, 1 when a checksum, size or hash does not match, 2 on bad input, a refused archive or a network failure.
    """  # noqa: E501 - one line per paragraph: the help screen wraps them
    from datapkg.download import Options
    from datapkg.download import download as run
    from datapkg.errors import DpkgError

    options = Options(connect_timeout=connect_timeout, read_timeout=read_timeout, retries=retries, backoff=backoff,
                      resume=not no_resume, timeout=timeout, min_rate=min_rate)
    # A bar (and notes on retries and resumes) on a terminal only; scripts get one line or JSON.
    progress: Any = _BarProgress() if sys.stderr.isatty() and not (quiet or as_json) else None
    try:
        result = run(source, to, options, progress)
    except DpkgError as exc:
        if as_json:
            typer.echo(json_safe(json.dumps({"ok": False, "error": str(exc), "exit_code": exc.exit_code})))
        raise
    finally:
        if progress is not None:
            progress.stop()
    if as_json:
        typer.echo(json_safe(json.dumps(result.to_dict(), indent=2)))
        return
    if quiet:
        return
    for warning in result.warnings:
        typer.echo(visible(f"dpkg: warning: {warning.file}: {warning.message}"), err=True)
    if result.kept:
        typer.echo(visible(f"dpkg: kept {len(result.kept)} file(s) in {result.dir} that the release did not write: "
                           f"{', '.join(result.kept)}"), err=True)
    sums = f", {len(result.artefacts)} artefact(s) against SHA256SUMS" if len(result.artefacts) > 1 else ""
    typer.echo(visible(f"downloaded {result.package or '(unnamed package)'} {result.version or ''}".rstrip())
               + f" into {result.dir}: {len(result.resources)} resource(s) checked against bytes/hash{sums}")


def register(app: typer.Typer) -> None:
    """Add ``download`` to the ``dpkg`` app."""
    app.command("download")(download)

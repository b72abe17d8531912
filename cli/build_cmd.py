"""``dpkg build``: DuckDB database, Parquet, release zip, data dictionary and SHA256SUMS."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import typer


@contextlib.contextmanager
def progress_steps(label: str) -> Iterator:
    """A ``step(message)`` callback: a rich spinner with the current step on a terminal, silent otherwise."""
    if not sys.stderr.isatty():
        yield lambda _msg: None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("[bold]{task.fields[label]}[/] {task.description}"),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("starting", label=label, total=None)
        yield lambda msg: progress.update(task, description=msg)


def build(
    path: str = typer.Argument(".", help="Folder with datapackage.json/.yaml, a descriptor file, or a zipped package."),
    out: Path = typer.Option(Path("dist"), "--out", "-o", help="Release folder (replaced atomically)."),
    force: bool = typer.Option(False, "--force", help="Build even when the package does not validate."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
) -> None:
    """Build the release: <name>.duckdb, parquet/, <name>-<version>.zip, dictionary.md/.html, SHA256SUMS.

    Refuses an invalid package (prints the validation report, exit 1) unless --force.
    """
    from datapkg.build import InvalidPackage
    from datapkg.build import build as run_build

    try:
        with progress_steps("dpkg build") as step:
            result = run_build(path, out, force=force, step=step)
    except InvalidPackage as exc:
        from datapkg.renderers import get_renderer

        typer.echo(get_renderer("text")(exc.report), err=True)
        raise
    for warning in result.warnings:
        typer.echo(f"dpkg: warning: {warning}", err=True)
    if not quiet:
        rows = sum(result.tables.values())
        typer.echo(f"built {result.out}/: {len(result.tables)} tables ({rows} rows), {len(result.views)} views, "
                   f"{len(result.artefacts)} files")
        for name in result.artefacts:
            typer.echo(f"  {name}")


def register(app: typer.Typer) -> None:
    """Add ``build`` to the ``dpkg`` app."""
    app.command("build")(build)

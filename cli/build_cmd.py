"""``dpkg build``: DuckDB database, Parquet, release zip, data dictionary and SHA256SUMS."""

from __future__ import annotations

from pathlib import Path

import typer

from datapkg.cli.terminal import echo, progress_steps
from datapkg.safe_text import visible


def build(
    path: str = typer.Argument(".", help="Folder with datapackage.json/.yaml, a descriptor file, or a zipped package."),
    out: Path = typer.Option(Path("dist"), "--out", "-o", help="Release folder (replaced atomically)."),
    force: bool = typer.Option(False, "--force", help="Build even when the package does not validate."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    memory_limit: str = typer.Option("1GB", "--memory-limit", metavar="SIZE",
                                     help="DuckDB's memory cap while writing (e.g. 512MB, 4GB); beyond it, "
                                          "DuckDB spills to TMPDIR."),
    previous: str = typer.Option(None, "--previous", metavar="OLD",
                                 help="Previous release (package, zip, release folder or URL): write CHANGES.md, the diff against it."),
) -> None:
    """Build the release: <name>.duckdb, parquet/, <name>-<version>.zip, dictionary.md/.html, SHA256SUMS
    (and CHANGES.md with --previous).

    Refuses an invalid package (prints the validation report, exit 1) unless --force.
    """
    from datapkg.build import InvalidPackage
    from datapkg.build import build as run_build

    try:
        with progress_steps("dpkg build") as step:
            result = run_build(path, out, force=force, step=step, memory_limit=memory_limit,
                               previous=previous)
    except InvalidPackage as exc:
        from datapkg.renderers import get_renderer

        echo(get_renderer("text")(exc.report), err=True)
        raise
    for warning in result.warnings:
        typer.echo(f"dpkg: warning: {visible(warning)}", err=True)
    if result.kept:
        typer.echo(visible(f"dpkg: kept {len(result.kept)} file(s) in {result.out} that the build did not write: "
                           f"{', '.join(result.kept)}"), err=True)
    if not quiet:
        rows = sum(result.tables.values())
        typer.echo(f"built {result.out}/: {len(result.tables)} tables ({rows} rows), {len(result.views)} views, "
                   f"{len(result.artefacts)} files")
        for name in result.artefacts:
            typer.echo(f"  {name}")


def register(app: typer.Typer) -> None:
    """Add ``build`` to the ``dpkg`` app."""
    app.command("build")(build)

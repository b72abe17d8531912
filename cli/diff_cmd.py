"""``dpkg diff``: what changed between two versions of a package, row by row and fact by fact."""

from __future__ import annotations

import os
from enum import Enum

import typer


class Format(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


def diff(
    old: str = typer.Argument(None, help="OLD version: folder, descriptor, zip, release folder or URL "
                              "(with --git: the package in the working tree, default '.')."),
    new: str = typer.Argument(None, help="NEW version (not with --git)."),
    git: str = typer.Option(None, "--git", metavar="REV", help="Compare the package at git revision REV with the working tree."),
    format: Format = typer.Option(Format.text, "--format", "-f", help="Output format.", case_sensitive=False),
    max_rows: int = typer.Option(200, "--max-rows", min=0, help="List at most N rows per kind and resource (0: all); counts stay exact."),
    exit_zero: bool = typer.Option(False, "--exit-zero", help="Exit 0 even when the versions differ (for CI)."),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="Fetch an OLD/NEW given as an http(s) URL."),
    summary_file: bool = typer.Option(False, "--step-summary", help="Also append the Markdown to $GITHUB_STEP_SUMMARY."),
) -> None:
    """Compare two versions of a data package: metadata, schemas, rows matched by primary key, facts.

    Exit 0 when they are the same, 1 when they differ (0 with --exit-zero), 2 on bad input.
    """
    from datapkg.diff import diff_git, diff_packages
    from datapkg.diff_render import render, to_markdown
    from datapkg.errors import UsageError

    limit = max_rows or None
    if git is not None:
        if new is not None:
            raise UsageError("with --git give at most one package (the working tree's), not OLD and NEW")
        result = diff_git(git, old or ".", limit=limit)
    else:
        if old is None or new is None:
            raise UsageError("give OLD and NEW, or --git REV (see 'dpkg diff --help')")
        result = diff_packages(old, new, allow_remote=allow_remote, limit=limit)
    typer.echo(render(result, format.value))
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file and target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(to_markdown(result))
    raise typer.Exit(1 if result.differs and not exit_zero else 0)


def register(app: typer.Typer) -> None:
    """Add ``diff`` to the ``dpkg`` app."""
    app.command("diff")(diff)

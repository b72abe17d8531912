"""``dpkg validate``: every check of a package in one run, in the format CI or a person reads."""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path

import typer

from datapkg.cli.terminal import echo, progress_steps


#: A validation that takes longer than this (seconds) shows progress on a terminal.
PROGRESS_AFTER = 1.0


class Format(str, Enum):
    text = "text"
    json = "json"
    github = "github"
    junit = "junit"


class Engine(str, Enum):
    duckdb = "duckdb"
    spark = "spark"


def _prefix(root: str | None) -> str:
    """The package root relative to the working directory, for GitHub file paths."""
    if not root:
        return ""
    rel = os.path.relpath(root)
    return "" if rel == "." or rel.startswith("..") else rel.rstrip("/") + "/"


def validate(
    path: str = typer.Argument(".", help="Folder with datapackage.json/.yaml, a descriptor file, or a zipped package."),
    format: Format = typer.Option(Format.text, "--format", "-f", help="Output format.", case_sensitive=False),
    max_errors: int = typer.Option(0, "--max-errors", min=0, help="List at most N findings, errors first (0: all). The verdict, exit code "
                                    "and counts still cover every finding."),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="Fetch resources given as http(s) URLs."),
    no_gx: bool = typer.Option(False, "--no-gx", help="Only the frictionless and file checks (a quick pre-commit)."),
    data_docs: Path | None = typer.Option(None, "--data-docs", help="Write Great Expectations Data Docs into DIR."),
    engine: Engine = typer.Option(Engine.duckdb, "--engine", case_sensitive=False,
                                  help="Where the GX suites run: duckdb (this machine) or spark (GX's Spark engine; "
                                       "pip install 'dpkg-datapackage[spark]' and a Java runtime)."),
    spark_master: str = typer.Option("local[*]", "--spark-master", metavar="URL",
                                     help="Spark master for --engine spark: local[*], spark://HOST:7077, yarn..."),
) -> None:
    """Validate a data package: descriptor, cells, keys, files, hashes and curation rules.

    Exit 0 when valid, 1 when the data has errors, 2 on a usage error or unreadable input.
    """
    from datapkg.renderers import get_renderer
    from datapkg.validate import validate_package

    with progress_steps("dpkg validate", delay=PROGRESS_AFTER, enabled=format is Format.text) as step:
        report = validate_package(path, gx=not no_gx, max_errors=max_errors or None,
                                  allow_remote=allow_remote, data_docs=data_docs, step=step,
                                  engine=engine.value, spark_master=spark_master)
    prefix = _prefix(report.stats.get("root"))
    echo(get_renderer(format.value)(report, prefix=prefix))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if format is Format.github and summary:
        from datapkg.renderers.github_renderer import summary_markdown

        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(summary_markdown(report, prefix))
    raise typer.Exit(0 if report.valid else 1)


def register(app: typer.Typer) -> None:
    """Add ``validate`` to the ``dpkg`` app."""
    app.command("validate")(validate)

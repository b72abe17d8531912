"""``dpkg validate``: every check of a package in one run, in the format CI or a person reads."""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path

import typer

from datapkg.cli.entry import console_process, interrupted
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
    data_docs: Path | None = typer.Option(None, "--data-docs", help="Write Great Expectations Data Docs into DIR."),
    engine: Engine = typer.Option(Engine.duckdb, "--engine", case_sensitive=False,
                                  help="Where the GX suites run: duckdb (this machine) or spark (GX's Spark engine; "
                                       "pip install 'dpkg-datapackage[spark]' and a Java runtime)."),
    spark_master: str = typer.Option("local[*]", "--spark-master", metavar="URL",
                                     help="Spark master for --engine spark: local[*], spark://HOST:7077, yarn..."),
    spark_conf: list[str] = typer.Option([], "--spark-conf", metavar="KEY=VALUE",
                                         help="A Spark setting for --engine spark (repeatable), e.g. "
                                              "spark.driver.extraJavaOptions or spark.jars.packages."),
    watch: bool = typer.Option(False, "--watch", help="Stay running: validate again after every save and report "
                               "only what changed (Ctrl-C stops)."),
) -> None:
    """Validate a data package: descriptor, cells, keys, files, hashes and curation rules.

    Exit 0 when valid, 1 when the data has errors, 2 on a usage error or unreadable input.
    """
    from datapkg.renderers import get_renderer
    from datapkg.spark_frames import spark_conf as spark_conf_pairs
    from datapkg.validate import validate_package

    if engine is Engine.duckdb and console_process():  # this process never needs GX's Spark integration
        from datapkg.checks.gx_checks import without_spark

        without_spark()
    if watch:
        _watch(path, max_errors, allow_remote, data_docs)
    with progress_steps("dpkg validate", delay=PROGRESS_AFTER, enabled=format is Format.text) as step:
        report = validate_package(path, max_errors=max_errors or None,
                                  allow_remote=allow_remote, data_docs=data_docs, step=step,
                                  engine=engine.value, spark_master=spark_master,
                                  spark_conf=spark_conf_pairs(spark_conf))
    if interrupted():  # Ctrl-C that a library swallowed (datapkg.cli.entry.guard_interrupt): no verdict
        raise KeyboardInterrupt
    prefix = _prefix(report.stats.get("root"))
    echo(get_renderer(format.value)(report, prefix=prefix))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if format is Format.github and summary:
        from datapkg.renderers.github_renderer import summary_markdown

        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(summary_markdown(report, prefix))
    raise typer.Exit(0 if report.valid else 1)


def _watch(path: str, max_errors: int, allow_remote: bool, data_docs: Path | None) -> None:
    """``--watch``: the full report once, then one block per save with what was added and fixed."""
    from datapkg.incremental import IncrementalValidation
    from datapkg.package_source import package_target
    from datapkg.renderers import get_renderer, location
    from datapkg.validate import validate_package
    from datapkg.watch import watch

    def line(mark: str, finding) -> str:
        where = location(finding)
        return f"{mark} {finding.file or '(package)'}{' ' + where if where else ''}: {finding.check}: {finding.message}"

    package_target(path)  # a path that is not there is a typo, not a file still being written: exit 2
    incremental = IncrementalValidation(path, max_errors=max_errors or None, allow_remote=allow_remote)

    def run():
        if data_docs is not None:  # Data Docs show every result: each run is a full one
            return validate_package(path, max_errors=max_errors or None, allow_remote=allow_remote, data_docs=data_docs)
        return incremental()

    def what_ran() -> str:
        info = incremental.last
        if data_docs is not None:
            return "full run"
        if info.full:
            return f"full run: {info.full}"
        return f"{info.ran} of {info.ran + info.kept} expectations re-run"

    try:
        for number, change in enumerate(watch(Path(path), run)):
            if interrupted():  # Ctrl-C that a library swallowed during the run: no report
                raise KeyboardInterrupt
            if change.error is not None:
                echo(f"dpkg: cannot validate yet ({', '.join(change.changed or [])}): {change.error}")
                continue
            report = change.report
            if number == 0:
                echo(get_renderer("text")(report))
            else:
                echo(f"changed: {', '.join(change.changed or [])}")
                echo("\n".join([line("+", f) for f in change.added] + [line("- fixed:", f) for f in change.gone]))
                state = "valid" if report.valid else f"INVALID: {len(report.errors)} error(s)"
                echo(f"{state}; {len(change.added)} new, {len(change.gone)} fixed ({change.seconds:.2f} s, {what_ran()})")
            echo("watching for changes (Ctrl-C stops)...")
    except KeyboardInterrupt:
        echo("stopped")
        raise typer.Exit(130) from None
    finally:
        incremental.close()


def register(app: typer.Typer) -> None:
    """Add ``validate`` to the ``dpkg`` app."""
    app.command("validate")(validate)

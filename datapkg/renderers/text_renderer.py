"""Human-readable report grouped by file; colour is added by styles that typer.echo strips off a non-terminal."""

from __future__ import annotations

from itertools import groupby

import typer

from datapkg.renderers import location, shown
from datapkg.report import Report

NO_FILE = "(package)"


def render(report: Report, **_: object) -> str:
    """Render ``report`` as text: one block per file, one line per finding, a summary line."""
    lines: list[str] = []
    by_file = sorted(map(shown, report.findings), key=lambda f: f.file or NO_FILE)  # stable: keeps the report's order in a file
    for file, group in groupby(by_file, key=lambda f: f.file or NO_FILE):
        lines.append(typer.style(file, bold=True))
        for finding in group:
            colour = "red" if finding.severity == "error" else "yellow"
            where = location(finding)
            prefix = f"  {where}: " if where else "  "
            lines.append(f"{prefix}{typer.style(finding.check, fg=colour)}: {finding.message}")
    errors, warnings, files = len(report.errors), len(report.warnings), len(report.files)
    seconds = report.stats.get("seconds")
    timing = f" ({seconds} s)" if seconds is not None else ""
    more = f"; {report.omitted_note()}" if report.truncated else ""
    if report.valid:
        verdict = typer.style("valid", fg="green", bold=True)
        lines.append(f"{verdict}: no errors, {warnings} warning(s){more}{timing}")
    else:
        verdict = typer.style("INVALID", fg="red", bold=True)
        lines.append(f"{verdict}: {errors} error(s), {warnings} warning(s) in {files} file(s){more}{timing}")
    return "\n".join(lines)

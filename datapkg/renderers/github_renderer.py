"""GitHub Actions workflow commands (``::error file=…,line=…,title=…::message``) and step summary."""

from __future__ import annotations

from datapkg.renderers import location, shown
from datapkg.report import Finding, Report


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(finding: Finding, prefix: str = "") -> str:
    """One workflow command for ``finding``; ``prefix`` is the package root relative to the repo."""
    level = "error" if finding.severity == "error" else "warning"
    props = []
    if finding.file:
        props.append(f"file={_escape_property(prefix + finding.file)}")
    if finding.row is not None:  # the record's physical first line; the message keeps the row number
        props.append(f"line={finding.line or finding.row}")
    title = finding.check + (f" ({finding.field})" if finding.field else "")
    props.append(f"title={_escape_property(title)}")
    where = location(Finding(finding.check, "", row=finding.row, record=finding.record))
    message = f"{where}: {finding.message}" if where else finding.message
    return f"::{level} {','.join(props)}::{_escape_data(message)}"


def render(report: Report, prefix: str = "", title: str = "dpkg validate", **_: object) -> str:
    """All annotations plus a closing notice line titled ``title``."""
    lines = [annotation(shown(f), prefix) for f in report.findings]
    state = "valid" if report.valid else f"INVALID: {len(report.errors)} error(s)"
    if report.truncated:
        state += f"; {report.omitted_note()}"
    lines.append(f"::notice title={_escape_property(title)}::{state}")
    return "\n".join(lines)


def summary_markdown(report: Report, prefix: str = "", title: str = "dpkg validate") -> str:
    """A Markdown table of every finding, for ``$GITHUB_STEP_SUMMARY``."""
    state = "✅ valid" if report.valid else f"❌ {len(report.errors)} error(s)"
    if report.truncated:
        state += f" ({report.omitted_note()})"
    rows = [f"## {title}: " + state, "", "| file | row | field | check | message |", "|---|---|---|---|---|"]
    for f in map(shown, report.findings):
        cells = [prefix + (f.file or ""), "" if f.row is None else str(f.row), f.field or "", f.check, f.message]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"


__all__ = ["annotation", "location", "render", "summary_markdown"]

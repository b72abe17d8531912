"""Renderers: each turns one :class:`datapkg.report.Report` into one output format."""

from __future__ import annotations

from collections.abc import Callable

from datapkg.report import Finding, Report

FORMATS = ("text", "json", "github", "junit")


def get_renderer(name: str) -> Callable[..., str]:
    """The ``render(report, **options) -> str`` function of output format ``name``."""
    if name not in FORMATS:
        raise ValueError(f"unknown format {name!r}; choose one of {', '.join(FORMATS)}")
    module = __import__(f"datapkg.renderers.{name}_renderer", fromlist=["render"])
    return module.render


def shown(finding: Finding) -> Finding:
    """``finding`` with every string made safe for a terminal (:func:`datapkg.safe_text.visible`):
    the text renderers show package strings only through this."""
    import dataclasses

    from datapkg.safe_text import visible

    return dataclasses.replace(finding, **{f.name: visible(getattr(finding, f.name)) for f in dataclasses.fields(finding)
                                           if isinstance(getattr(finding, f.name), str)})


def location(finding) -> str:
    """'row 3 (record 2), field "d"' style location of a finding (empty when it has none)."""
    parts = []
    if finding.row is not None:
        parts.append(f"row {finding.row}" + (f" (record {finding.record})" if finding.record else ""))
    if finding.field:
        parts.append(f'field "{finding.field}"')
    return ", ".join(parts)


__all__ = ["FORMATS", "Report", "get_renderer", "location", "shown"]

"""Renderers: each turns one :class:`datapkg.report.Report` into one output format."""

from __future__ import annotations

from collections.abc import Callable

from datapkg.report import Report

FORMATS = ("text", "json", "github", "junit")


def get_renderer(name: str) -> Callable[..., str]:
    """The ``render(report, **options) -> str`` function of output format ``name``."""
    if name not in FORMATS:
        raise ValueError(f"unknown format {name!r}; choose one of {', '.join(FORMATS)}")
    module = __import__(f"datapkg.renderers.{name}_renderer", fromlist=["render"])
    return module.render


def location(finding) -> str:
    """'row 3 (record 2), field "d"' style location of a finding (empty when it has none)."""
    parts = []
    if finding.row is not None:
        parts.append(f"row {finding.row}" + (f" (record {finding.record})" if finding.record else ""))
    if finding.field:
        parts.append(f'field "{finding.field}"')
    return ", ".join(parts)


__all__ = ["FORMATS", "Report", "get_renderer", "location"]

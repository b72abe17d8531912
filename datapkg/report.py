"""The one report model shared by every check (frictionless, Great Expectations, domain rules).

Every renderer (text, JSON, GitHub annotations, JUnit) reads a :class:`Report`; no check
prints anything itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

VALUE_MAX = 80
SEVERITIES = ("error", "warning")


def cut_value(value: Any, limit: int = VALUE_MAX) -> str | None:
    """Return ``value`` as text cut to ``limit`` characters (``None`` stays ``None``)."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Finding:
    """One problem, located as precisely as the check can.

    ``check`` is kebab-case (frictionless' own error type where frictionless found it, the GX
    expectation type where GX did); ``file`` is package-relative; ``row`` counts as frictionless
    does (header row 1, first data row 2) and is ``None`` when the problem is not row-level.
    """

    check: str
    message: str
    severity: str = "error"
    resource: str | None = None
    file: str | None = None
    row: int | None = None
    field: str | None = None
    value: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")
        object.__setattr__(self, "value", cut_value(self.value))
        object.__setattr__(self, "message", self.message.replace("\r", "\\r").replace("\n", "\\n"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def sort_key(self) -> tuple:
        return (self.file or "", self.row or 0, self.field or "", self.check, self.message)


@dataclass
class Report:
    """The result of a validation run: findings plus run statistics."""

    findings: list[Finding] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    truncated: bool = False

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def valid(self) -> bool:
        return not self.errors

    def extend(self, findings: list[Finding]) -> None:
        self.findings.extend(findings)

    def limit(self, max_errors: int | None) -> None:
        """Keep at most ``max_errors`` findings (``None`` or 0: keep all)."""
        if max_errors and len(self.findings) > max_errors:
            self.findings = self.findings[:max_errors]
            self.truncated = True

    def sort(self) -> None:
        self.findings.sort(key=Finding.sort_key)

    def to_dict(self) -> dict[str, Any]:
        stats = dict(self.stats)
        stats.setdefault("errors", len(self.errors))
        stats.setdefault("warnings", len(self.findings) - len(self.errors))
        stats["truncated"] = self.truncated
        return {"valid": self.valid, "errors": [f.to_dict() for f in self.findings], "stats": stats}

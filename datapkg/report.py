"""The one report model shared by every check (frictionless, Great Expectations, domain rules).

Every renderer (text, JSON, GitHub annotations, JUnit) reads a :class:`Report`; no check
prints anything itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

VALUE_MAX = 80
SEVERITIES = ("error", "warning")

#: Checks whose finding is the cause of others in the same row (a shifted row makes type errors):
#: they sort first in a row, so a list cut by ``--max-errors`` keeps the cause.
ROOT_CAUSES = frozenset({
    "scheme-error", "encoding-error", "source-error", "format-error", "hash-count", "byte-count",
    "byte-order-mark", "blank-header", "duplicate-label", "blank-label", "incorrect-label", "missing-label",
    "extra-label", "blank-row", "extra-cell", "missing-cell",
})
#: Checks about one cell of a row: after the root causes, before cross-row checks (keys) and rules.
CELL_CHECKS = frozenset({"type-error", "constraint-error"})


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
    ``line`` is the physical line on which that record starts (a quoted cell may span lines) and
    ``record`` its primary key value, where :mod:`datapkg.locate` could place the row.
    """

    check: str
    message: str
    severity: str = "error"
    resource: str | None = None
    file: str | None = None
    row: int | None = None
    field: str | None = None
    value: str | None = None
    line: int | None = None
    record: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")
        object.__setattr__(self, "value", cut_value(self.value))
        object.__setattr__(self, "message", self.message.replace("\r", "\\r").replace("\n", "\\n"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def sort_key(self) -> tuple:
        """Errors before warnings; then by file and row; in a row, root causes before what follows from them."""
        rank = 0 if self.check in ROOT_CAUSES else 1 if self.check in CELL_CHECKS else 2
        return (self.severity != "error", self.file or "", self.row or 0, rank, self.field or "", self.check,
                self.message)


@dataclass
class Report:
    """The result of a validation run: findings plus run statistics.

    ``findings`` is the list to show; ``omitted`` holds what :meth:`limit` cut from it. The verdict
    and every count (:attr:`errors`, :attr:`warnings`) include the omitted findings: a limit
    shortens the list and changes nothing else.
    """

    findings: list[Finding] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    omitted: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        """Every error, listed or omitted."""
        return [f for f in self.findings + self.omitted if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        """Every warning, listed or omitted."""
        return [f for f in self.findings + self.omitted if f.severity != "error"]

    @property
    def files(self) -> set[str | None]:
        """The files with a finding, listed or omitted."""
        return {f.file for f in self.findings + self.omitted}

    @property
    def truncated(self) -> bool:
        return bool(self.omitted)

    @property
    def valid(self) -> bool:
        return not self.errors

    def extend(self, findings: list[Finding]) -> None:
        self.findings.extend(findings)

    def limit(self, max_errors: int | None) -> None:
        """List at most ``max_errors`` findings, errors first (``None`` or 0: list all); the rest is counted."""
        if max_errors and len(self.findings) > max_errors:
            ordered = sorted(self.findings, key=lambda f: f.severity != "error")
            self.omitted = ordered[max_errors:] + self.omitted
            self.findings = ordered[:max_errors]

    def omitted_note(self) -> str:
        """'12 more finding(s) not listed (--max-errors)' when the list is cut, else ''."""
        return f"{len(self.omitted)} more finding(s) not listed (--max-errors)" if self.omitted else ""

    def sort(self) -> None:
        self.findings.sort(key=Finding.sort_key)

    def count_by_resource(self) -> None:
        """Set ``stats.resources.<name>.errors`` to the errors of every check on that resource."""
        for name, entry in self.stats.get("resources", {}).items():
            entry["errors"] = sum(f.resource == name for f in self.errors)

    def to_dict(self) -> dict[str, Any]:
        stats = dict(self.stats)
        stats.setdefault("errors", len(self.errors))
        stats.setdefault("warnings", len(self.warnings))
        stats["truncated"] = self.truncated
        stats["omitted"] = len(self.omitted)
        return {"valid": self.valid, "errors": [f.to_dict() for f in self.findings], "stats": stats}

"""Frictionless validation of a package, mapped onto the one report model.

Frictionless does the work (descriptor against the Data Package / Table Schema profiles, cells,
primary and foreign keys, missing files, ``bytes`` and ``hash``); this module only translates
its errors into :class:`Finding` objects with messages a curator can act on. ``check`` is
frictionless' own error type, so the JSON output lines up with ``frictionless validate --json``.
"""

from __future__ import annotations

from typing import Any

from datapkg.package_source import PackageSource
from datapkg.report import Finding

#: Error types whose row is the header row when frictionless gives none.
HEADER_TAG = "#header"
UNLIMITED = 10**9
QUOTES = '" '


def _describe(error: Any) -> str:
    """A sentence a curator can act on, built from a frictionless error."""
    kind = error.type
    cell = getattr(error, "cell", None)
    field = getattr(error, "field_name", None)
    note = getattr(error, "note", "") or ""
    if kind == "type-error":
        return f'"{cell}" is not a valid value for field "{field}" ({note}); fix the cell or the field type'
    if kind == "constraint-error":
        return f'"{cell}" in field "{field}" breaks a constraint: {note}'
    if kind == "primary-key":
        return f"the primary key is not unique: {note}"
    if kind == "unique-error":
        return f'"{cell}" in field "{field}" must be unique: {note}'
    if kind == "foreign-key":
        return f"the foreign key has no match in the referenced resource: {note}"
    if kind == "blank-row":
        return "the row is completely blank; delete it"
    if kind == "extra-cell":
        return f'the row has more values than the header (extra value "{cell}" at position {error.field_number}); remove it or add a column'
    if kind == "missing-cell":
        return f'the row has fewer values than the header: field "{field}" has no value; add the missing cell'
    if kind == "duplicate-label":
        return f'the header repeats the column name "{error.label}" ({note}); rename one of them'
    if kind == "blank-label":
        return f"the header has a blank column name at position {error.field_number}; name the column"
    if kind == "incorrect-label":
        return f'the header says "{error.label}" where the schema expects "{field}"'
    if kind == "missing-label":
        return f'the header has no column for schema field "{field}"'
    if kind == "extra-label":
        return f'the header has a column "{error.label}" that the schema does not describe'
    if kind == "scheme-error":
        if "No such file" in note:
            return "the file that the resource names does not exist in the package"
        return f"the data file cannot be opened: {note}"
    if kind in ("hash-count", "byte-count"):
        what = "hash" if kind == "hash-count" else "size in bytes"
        expected, _, actual = note.partition(" and actual is ")
        expected = expected.removeprefix("expected is ").strip('" ')
        return (f"the file's {what} is {actual.strip(QUOTES)} but the descriptor records "
                f"{expected}; update the descriptor or restore the file")
    if kind == "encoding-error":
        return f"the file cannot be decoded with its declared encoding: {note}"
    return error.message


def _relative_place(place: str | None, source: PackageSource) -> str | None:
    if not place:
        return None
    return place.removeprefix(str(source.root) + "/")


def to_finding(error: Any, source: PackageSource, resource: str | None, place: str | None) -> Finding:
    """Translate one frictionless error into a :class:`Finding`."""
    row = getattr(error, "row_number", None)
    if row is None and HEADER_TAG in getattr(error, "tags", []):
        rows = getattr(error, "row_numbers", None) or [1]
        row = rows[0]
    field = getattr(error, "field_name", None) or ",".join(getattr(error, "field_names", None) or []) or None
    value = getattr(error, "cell", None)
    if value is None and getattr(error, "field_cells", None):
        value = ",".join(error.field_cells)
    return Finding(
        check=error.type,
        message=_describe(error),
        resource=resource,
        file=_relative_place(place, source) if resource else source.descriptor_name,
        row=row,
        field=field,
        value=value,
    )


def _frictionless_report(source: PackageSource, max_errors: int | None, header_only: set[str]) -> Any:
    """Frictionless' own package validation (``Package.validate``), except that resources in
    ``header_only`` are read only as far as their header and first row: their row-level checks
    run elsewhere (DuckDB + Great Expectations)."""
    import frictionless
    from frictionless import FrictionlessException, Package, Report

    limit_errors = max_errors or UNLIMITED
    if not header_only:
        # The parsed descriptor plus its basepath: frictionless reads .yml descriptors as JSON otherwise.
        return frictionless.validate(source.descriptor, type="package", basepath=str(source.root),
                                     limit_errors=limit_errors)
    try:
        package = Package(source.descriptor, basepath=str(source.root))
        package.to_descriptor(validate=True)
    except FrictionlessException as exception:
        return Report.from_validation(time=0.0, errors=exception.to_errors())
    reports = [resource.validate(limit_errors=limit_errors, limit_rows=1 if resource.name in header_only else None)
               for resource in package.resources]
    return Report.from_validation_reports(time=0.0, reports=reports)


def run_frictionless_checks(source: PackageSource, *, max_errors: int | None = None,
                            header_only: set[str] | None = None) -> tuple[list[Finding], dict[str, Any]]:
    """Validate the package with frictionless; return findings and per-resource statistics.

    ``header_only`` names resources whose row-level checks another path makes: frictionless
    still checks their descriptor, schema and header.
    """
    report = _frictionless_report(source, max_errors, set(header_only or ()))
    findings = [to_finding(e, source, None, None) for e in report.errors]
    findings += [Finding(check="frictionless-warning", message=w, severity="warning",
                         file=source.descriptor_name) for w in report.warnings]
    resources: dict[str, Any] = {}
    for task in report.tasks:
        findings += [to_finding(e, source, task.name, task.place) for e in task.errors]
        warnings = [w for w in task.warnings if not (task.name in (header_only or ()) and w.startswith("reached row limit"))]
        findings += [Finding(check="frictionless-warning", message=w, severity="warning",
                             resource=task.name, file=_relative_place(task.place, source)) for w in warnings]
        resources[task.name] = {"rows": task.stats.get("rows"), "bytes": task.stats.get("bytes"),
                                "errors": task.stats.get("errors")}
    return findings, {"resources": resources}

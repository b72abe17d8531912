"""Frictionless validation of a package, mapped onto the one report model.

Frictionless does the work (descriptor against the Data Package / Table Schema profiles, cells,
primary and foreign keys, missing files, ``bytes`` and ``hash``); this module only translates
its errors into :class:`Finding` objects with messages a curator can act on. ``check`` is
frictionless' own error type, so the JSON output lines up with ``frictionless validate --json``.
"""

from __future__ import annotations

from typing import Any

from datapkg.offline import no_network, offline_descriptor
from datapkg.package_source import PackageSource
from datapkg.report import Finding

#: Error types whose row is the header row when frictionless gives none.
HEADER_TAG = "#header"
#: frictionless' tag of the errors found in a data row (cells, blank rows, keys).
ROW_TAG = "#row"
UNLIMITED = 10**9
QUOTES = '" '


#: Curator-facing sentences per frictionless error type; placeholders are the error's attributes.
MESSAGES = {
    "type-error": '"{cell}" is not a valid value for field "{field_name}" ({note}); fix the cell or the field type',
    "constraint-error": '"{cell}" in field "{field_name}" breaks a constraint: {note}',
    "primary-key": "the primary key is not unique: {note}",
    "unique-error": '"{cell}" in field "{field_name}" must be unique: {note}',
    "foreign-key": "the foreign key has no match in the referenced resource: {note}",
    "blank-row": "the row is completely blank; delete it",
    "extra-cell": 'the row has more values than the header (extra value "{cell}" at position {field_number}); '
                  "remove it or add a column",
    "missing-cell": 'the row has fewer values than the header: field "{field_name}" has no value; add the missing cell',
    "duplicate-label": 'the header repeats the column name "{label}" ({note}); rename one of them',
    "blank-label": "the header has a blank column name at position {field_number}; name the column",
    "incorrect-label": 'the header says "{label}" where the schema expects "{field_name}"',
    "missing-label": 'the header has no column for schema field "{field_name}"',
    "extra-label": 'the header has a column "{label}" that the schema does not describe',
    "encoding-error": "the file cannot be decoded with its declared encoding: {note}",
}


def _describe(error: Any) -> str:
    """A sentence a curator can act on, built from a frictionless error."""
    kind, note = error.type, getattr(error, "note", "") or ""
    if kind == "scheme-error":
        if "No such file" in note:
            return "the file that the resource names does not exist in the package"
        return f"the data file cannot be opened: {note}"
    if kind in ("hash-count", "byte-count"):
        what = "hash" if kind == "hash-count" else "size in bytes"
        expected, _, actual = note.partition(" and actual is ")
        expected = expected.removeprefix("expected is ").strip(QUOTES)
        return (f"the file's {what} is {actual.strip(QUOTES)} but the descriptor records "
                f"{expected}; update the descriptor or restore the file")
    template = MESSAGES.get(kind)
    if template is None:
        return error.message
    return template.format_map({k: getattr(error, k, None) for k in
                                ("cell", "field_name", "field_number", "label")} | {"note": note})


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


def _frictionless_report(source: PackageSource, header_only: set[str], descriptor: dict[str, Any],
                         only: set[str] | None = None) -> Any:
    """Frictionless' own package validation (``Package.validate``), except that resources in
    ``header_only`` are read only as far as their header and first row: their row-level checks
    run in DuckDB (Great Expectations), at every size.

    ``only``: validate only these resources (their descriptor, header and rows as above); the
    package descriptor is not validated again (the caller knows it is unchanged and was accepted).

    Every error is collected (no ``limit_errors``): ``--max-errors`` only shortens the list shown
    (:meth:`datapkg.report.Report.limit`), never the verdict or the counts."""
    import frictionless
    from frictionless import FrictionlessException, Package, Report

    limit_errors = UNLIMITED
    if not header_only and only is None:
        # The parsed descriptor plus its basepath: frictionless reads .yml descriptors as JSON otherwise.
        return frictionless.validate(descriptor, type="package", basepath=str(source.root),
                                     limit_errors=limit_errors)
    try:
        package = Package(descriptor, basepath=str(source.root))
        if only is None:
            package.to_descriptor(validate=True)
    except FrictionlessException as exception:
        return Report.from_validation(time=0.0, errors=exception.to_errors())
    names = {r.name for r in package.resources}
    reports = []
    for resource in package.resources:
        if only is None or resource.name in only:
            header = resource.name in header_only
            if header:
                _without_checked_foreign_keys(resource, names)
            reports.append(resource.validate(limit_errors=limit_errors, limit_rows=1 if header else None))
    return Report.from_validation_reports(time=0.0, reports=reports)


def _without_checked_foreign_keys(resource: Any, names: set[str]) -> None:
    """Drop the foreign keys that the GX suites check from a header-only resource (its descriptor
    was validated with them): frictionless would read every referenced resource whole to build its
    lookup for one row, whose findings are GX's. A key to a resource the package lacks (not in
    ``names``, the package's resources) stays, for frictionless' ``resource-error``."""
    keys = resource.schema.foreign_keys if resource.schema else []
    kept = [fk for fk in keys if (fk.get("reference") or {}).get("resource") not in names | {"", resource.name}]
    if len(kept) != len(keys):
        resource.schema.foreign_keys = kept


def run_frictionless_checks(source: PackageSource, *, header_only: set[str] | None = None,
                            only: set[str] | None = None) -> tuple[list[Finding], dict[str, Any]]:
    """Validate the package with frictionless; return findings and per-resource statistics.

    ``header_only`` names resources whose row-level checks another path makes: frictionless
    still checks their descriptor, schema and header. ``only`` limits the run to those resources
    (``--watch`` after a save: their findings replace those of the run before).
    """
    if source.allow_remote:
        report, findings = _frictionless_report(source, set(header_only or ()), source.descriptor, only), []
    else:  # what frictionless would fetch by itself is taken out; any other attempt fails
        descriptor, findings = offline_descriptor(source.descriptor, source.descriptor_name)
        with no_network():
            report = _frictionless_report(source, set(header_only or ()), descriptor, only)
    findings += [to_finding(e, source, None, None) for e in report.errors]
    findings += [Finding(check="frictionless-warning", message=w, severity="warning",
                         file=source.descriptor_name) for w in report.warnings]
    resources: dict[str, Any] = {}
    for task in report.tasks:
        # a loaded table's first row is GX's to check, as all its others
        errors = [e for e in task.errors if not (task.name in (header_only or ()) and ROW_TAG in getattr(e, "tags", []))]
        findings += [to_finding(e, source, task.name, task.place) for e in errors]
        warnings = [w for w in task.warnings if not (task.name in (header_only or ()) and w.startswith("reached row limit"))]
        findings += [Finding(check="frictionless-warning", message=w, severity="warning",
                             resource=task.name, file=_relative_place(task.place, source)) for w in warnings]
        resources[task.name] = {"rows": task.stats.get("rows"), "bytes": task.stats.get("bytes"),
                                "errors": task.stats.get("errors")}
    return findings, {"resources": resources}

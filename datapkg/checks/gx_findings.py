"""GX's validation results as findings: each unexpected row one :class:`~datapkg.report.Finding`
with the check, row (``__row``), field and value the expectation's ``meta.dpkg`` and result give."""

from __future__ import annotations

from typing import Any

from datapkg.expectations import URE
from datapkg.loader import ROW
from datapkg.report import Finding
from datapkg.sandbox import REFUSED, is_refusal

UNIQUE_TYPES = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def describe(exp: dict[str, Any], value: Any, field: str | None) -> str:
    """A sentence a curator can act on for one unexpected value."""
    kind, kw = exp.get("type", ""), exp.get("kwargs") or {}
    dpkg = (exp.get("meta") or {}).get("dpkg") or {}
    shown, check = _fmt(value), dpkg.get("check")
    if isinstance(dpkg.get("message"), str):
        try:
            return dpkg["message"].format(value=shown, field=field)
        except (KeyError, IndexError, ValueError):
            return dpkg["message"]
    if check == "type-error":
        return f'"{shown}" is not a valid value for field "{field}" (type {dpkg.get("type")}); fix the cell or the field type'
    if check == "missing-cell":
        return f'the row has fewer values than the header: field "{field}" has no value; add the missing cell'
    if check == "extra-cell":
        return f'the row has more values than the header (extra value "{shown}"); remove it or add a column'
    if check == "blank-row":
        return "the row is completely blank; delete it"
    if check == "foreign-key":
        return f'"{shown}" in "{field}" has no match in {dpkg.get("reference")}; fix the value or add the referenced row'
    if dpkg.get("constraint") == "required":
        what = "a primary key field" if check == "primary-key" else "a required field"
        return f'"{field}" is {what} but this row leaves it empty; fill it in'
    if kind == "expect_column_values_to_be_in_set":
        allowed = ", ".join(_fmt(v) for v in kw.get("value_set", [])[:12] if v != "")
        return f'"{shown}" is not an allowed value of "{field}" (allowed: {allowed})'
    if kind == "expect_column_values_to_match_regex":
        return f'"{shown}" in "{field}" does not match the pattern {kw.get("regex", "")}'
    if kind == "expect_column_values_to_be_between":
        low = "-∞" if kw.get("min_value") is None else _fmt(kw["min_value"])
        high = "∞" if kw.get("max_value") is None else _fmt(kw["max_value"])
        return f'{shown} in "{field}" is outside the allowed range {low} to {high}'
    if kind == "expect_column_value_lengths_to_be_between":
        return (f'"{shown}" in "{field}" has {len(str(value))} characters; allowed '
                f'{kw.get("min_value") or 0} to {kw.get("max_value") or "any"}')
    if kind in UNIQUE_TYPES:
        what = "the primary key" if check == "primary-key" else f'"{field}"'
        return f'"{shown}" appears more than once in {what} ({field}); values must be unique'
    return f'"{shown}" in "{field}" fails {kind}'


def _repeats_only(rows: list[dict[str, Any]], cols: list[str]) -> list[dict[str, Any]]:
    """GX flags every member of a duplicate group; like frictionless, report only the repeats."""
    seen: set[tuple] = set()
    out = []
    for item in sorted(rows, key=lambda r: r.get(ROW) or 0):
        key = tuple(_fmt(item.get(c)) for c in cols)
        if key in seen:
            out.append(item)
        seen.add(key)
    return out


def raised(result: Any) -> str | None:
    """GX's error message when it could not evaluate the expectation, else None."""
    info = result.exception_info or {}
    entries = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for entry in entries:
        if entry.get("raised_exception"):
            text = str(entry.get("exception_message") or "error").strip()
            return text.splitlines()[0] if text else "error"
    return None


def _unexpected_rows(exp: dict[str, Any], res: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """(the listed failing rows as dicts with ``_row``/``value``/``field``/``message``, the full count)."""
    kw = exp.get("kwargs") or {}
    if exp["type"] == URE:
        rows = (res.get("details") or {}).get("unexpected_rows") or []
        return [dict(r) for r in rows], int(res.get("observed_value") or 0)
    cols = [kw["column"]] if isinstance(kw.get("column"), str) else list(kw.get("column_list") or [])
    items = [i for i in res.get("unexpected_index_list") or [] if isinstance(i, dict)]
    count = int(res.get("unexpected_count") or 0)
    if exp["type"] in UNIQUE_TYPES:
        items = _repeats_only(items, cols)
        count = len(items) if count <= len(res.get("unexpected_index_list") or []) else count
    return [{"_row": i.get(ROW), "value": ",".join(_fmt(i.get(c)) for c in cols) if len(cols) > 1 else i.get(cols[0]) if cols else None}
            for i in items], count


def findings_from_result(suite: dict[str, Any], exp: dict[str, Any], result: Any, file: str | None) -> list[Finding]:
    """Findings for one GX ExpectationValidationResult of ``exp`` (an expectation of ``suite``)."""
    dpkg = (exp.get("meta") or {}).get("dpkg") or {}
    kw = exp.get("kwargs") or {}
    field = dpkg["field"] if "field" in dpkg else kw.get("column") if isinstance(kw.get("column"), str) else None
    check = dpkg.get("check") or exp.get("type", "")
    common = {"resource": suite["meta"].get("resource"), "file": file}
    error = raised(result)
    if error is not None and is_refusal(RuntimeError(error)):  # the sandbox stopped the suite's SQL
        return [Finding(check="gx-suite-error", field=field, **common,
                        message=f"suite {suite['name']!r} cannot run: {REFUSED}")]
    if error is not None:
        return [Finding(check="gx-expectation-error", field=field, **common,
                        message=f"GX could not evaluate {exp.get('type')} ({suite['name']}): {error}")]
    if result.success:
        return []
    res = result.result or {}
    rows, count = _unexpected_rows(exp, res)
    if not rows:
        observed = res.get("observed_value")
        return [Finding(check=check, field=field, **common,
                        message=f"{exp.get('type')} failed" + (f" (observed: {observed})" if observed is not None else ""))]
    out = []
    for item in rows:
        row = item.get("_row", item.get(ROW))
        name = item.get("field") or field
        value = item.get("value")
        message = item.get("message") or describe(exp, value, name)
        out.append(Finding(check=check, message=str(message), row=int(row) if row is not None else None, field=name,
                           value=None if value is None else _fmt(value), **common))
    if count > len(rows):
        out.append(Finding(check="gx-truncated", severity="warning", field=field, **common,
                           message=f"{count} rows fail {check} ({exp.get('type')}); only the first {len(rows)} are listed"))
    return out

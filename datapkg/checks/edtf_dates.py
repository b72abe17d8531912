"""EDTF date rules: an EDTF string, its typed earliest/latest days, and events inside their event.

A string field declares ``"edtf": {"earliest": "<date field>", "latest": "<date field>"}``. It holds a
day ``YYYY-MM-DD``, month ``YYYY-MM`` or year ``YYYY`` (EDTF level 0), optionally qualified by a
trailing ``?`` ``~`` or ``%`` (level 1), or an interval ``first/last`` whose sides are such dates,
``..`` (open) or empty (unknown). The bounds are derived from it: *earliest* is the first day of the
start, *latest* the last day of the end (NULL for an open or unknown side; qualifiers do not move
them). Rules, each SQL selecting the failing rows:

- ``invalid-edtf-date``: the string is not of that form, names a day that does not exist, or its
  interval starts after it ends;
- ``date-bounds-mismatch``: a bound differs from the one derived from the string (reported on the
  bound field);
- ``part-outside-event`` / ``part-of-a-part``: a field declaring ``"partOf": {"dates": "<edtf
  field>"}`` (a foreign key to its own table) names an event whose bounds do not contain the
  row's, or an event that is itself a part (one level only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from datapkg.loader import ROW, quote_ident, quote_literal

if TYPE_CHECKING:
    from datapkg.checks.curation import RuleQuery, Table

ONE_DATE = r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?[?~%]?"
EDTF_RE = rf"(({ONE_DATE}|\.\.)?/)?({ONE_DATE}|\.\.)?"


def _side(col: str, which: int) -> str:
    """SQL: the start (1) or end (2) side of an EDTF value, without its qualifier."""
    part = f"CASE WHEN contains({col}, '/') THEN split_part({col}, '/', {which}) ELSE {col} END"
    return f"regexp_replace({part}, '[?~%]$', '')"


def first_day(side: str) -> str:
    """SQL: the first day of a bare EDTF date (NULL for '', '..' or a date that does not exist)."""
    padded = f"{side} || CASE length({side}) WHEN 4 THEN '-01-01' WHEN 7 THEN '-01' ELSE '' END"
    return f"(CASE WHEN {side} IN ('', '..') THEN NULL ELSE CAST(try_strptime({padded}, '%Y-%m-%d') AS DATE) END)"


def last_day(side: str) -> str:
    """SQL: the last day of a bare EDTF date."""
    first = first_day(side)
    return (f"(CASE length({side}) WHEN 4 THEN CAST(make_date(CAST(left({side}, 4) AS INTEGER), 12, 31) AS DATE) "
            f"WHEN 7 THEN last_day({first}) ELSE {first} END)")


def earliest_sql(col: str) -> str:
    return first_day(_side(col, 1))


def latest_sql(col: str) -> str:
    return last_day(_side(col, 2))


def valid_sql(col: str) -> str:
    """SQL: ``col`` is a supported EDTF date or interval of real dates, not starting after it ends."""
    start, end = _side(col, 1), _side(col, 2)
    return (f"(regexp_full_match({col}, '{EDTF_RE}') AND {col} NOT IN ('', '/') "
            f"AND ({start} IN ('', '..') OR {first_day(start)} IS NOT NULL) "
            f"AND ({end} IN ('', '..') OR {first_day(end)} IS NOT NULL) "
            f"AND coalesce({earliest_sql(col)} <= {latest_sql(col)}, true))")


def edtf_bounds(table: Table, spec: dict[str, Any]) -> tuple[str, str] | None:
    """The (earliest, latest) fields an EDTF field declares, when both are fields of its table."""
    return table.declared_pair(spec, "edtf", "earliest", "latest")


def edtf_rules(table: Table) -> list[RuleQuery]:
    """The EDTF rules for every field of ``table`` that declares ``edtf`` or ``partOf``."""
    from datapkg.checks.curation import RuleQuery

    rules = []
    for spec in table.fields:
        bounds = edtf_bounds(table, spec)
        if bounds is None:
            continue
        name, col = spec["name"], f"t.{quote_ident(spec['name'])}"
        rules.append(RuleQuery("invalid-edtf-date", table, name, (
            f"SELECT t.{ROW} AS _row, {col} AS value, {quote_literal(name + ' ')} || {col} || ' is not an EDTF date or interval "
            "of real dates (YYYY, YYYY-MM, YYYY-MM-DD, optionally ? ~ %; first/last with .. for an open end), "
            f"or it starts after it ends' AS message FROM {quote_ident(table.name)} t WHERE {col} IS NOT NULL AND NOT {valid_sql(col)}")))
        for bound, derive in zip(bounds, (earliest_sql(col), latest_sql(col))):
            bcol = f"t.{quote_ident(bound)}"
            derived = f"(CASE WHEN {col} IS NULL THEN NULL ELSE {derive} END)"
            rules.append(RuleQuery("date-bounds-mismatch", table, bound, (
                f"SELECT t.{ROW} AS _row, CAST({bcol} AS VARCHAR) AS value, {quote_literal(bound + ' ')} || coalesce(CAST({bcol} AS VARCHAR), '(empty)') || "
                f"{quote_literal(f' does not follow from {name} ')} || coalesce('''' || {col} || '''', '(empty)') || "
                f"'; it should be ' || coalesce(CAST({derived} AS VARCHAR), 'empty') AS message "
                f"FROM {quote_ident(table.name)} t WHERE ({col} IS NULL OR {valid_sql(col)}) AND {bcol} IS DISTINCT FROM {derived}")))
    return rules + _part_rules(table)


def _part_rules(table: Table) -> list[RuleQuery]:
    from datapkg.checks.curation import RuleQuery

    rules = []
    key = table.key
    for spec in table.fields:
        part = spec.get("partOf")
        dates = part.get("dates") if isinstance(part, dict) else None
        date_spec = table.field(dates) if isinstance(dates, str) else None
        bounds = edtf_bounds(table, date_spec) if date_spec else None
        if key is None or bounds is None:
            continue
        name, lo, hi = quote_ident(spec["name"]), quote_ident(bounds[0]), quote_ident(bounds[1])
        join = f"FROM {quote_ident(table.name)} t JOIN {quote_ident(table.name)} p ON p.{quote_ident(key)} = t.{name}"
        rules.append(RuleQuery("part-outside-event", table, spec["name"], (
            f"SELECT t.{ROW} AS _row, t.{name} AS value, {quote_literal(f'the {dates} of this row (')} || "
            f"coalesce(t.{quote_ident(dates)}, '') || ') is not within the {dates} of ' || t.{name} || ' (' || coalesce(p.{quote_ident(dates)}, '') || "
            f"'); a part of an event takes place during it' AS message {join} "
            f"WHERE t.{lo} < p.{lo} OR t.{hi} > p.{hi}")))
        rules.append(RuleQuery("part-of-a-part", table, spec["name"], (
            f"SELECT t.{ROW} AS _row, t.{name} AS value, t.{name} || {quote_literal(f' is itself part of ')} || p.{name} || "
            f"'; point to the event itself (one level of parts)' AS message {join} WHERE p.{name} IS NOT NULL")))
    return rules

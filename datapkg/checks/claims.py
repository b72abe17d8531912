"""Claim rules: who makes a claim resolves to an id, and each correction matches its quote and its record.

Declarations in the Table Schemas:

- ``"refersTo": {"resources": [...], "also": [...]}`` on a field: its value is a primary key of one of
  those resources, or one of the ``also`` words (``article``: the article's own voice). Rule
  ``unresolved-attribution``.
- ``"inQuoteOf": "<field>"`` on a field of a table whose ``<field>`` is a foreign key to the citations
  resource: the value appears in that citation's quote under the whitespace rule
  (``correction-not-in-quote``), and the row's ``article_id``, ``resource`` and ``record_id`` (those
  it has) are the citation's (``correction-citation-mismatch``, reported on ``<field>``).
- ``"recordedValueOf": {"resource": ..., "record": ..., "field": ...}`` on a field: it equals the
  value that the named record holds in the named field (text, or the same number), and that
  record and field exist (``correction-recorded-mismatch``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from datapkg.loader import ROW, quote_ident, quote_literal

if TYPE_CHECKING:
    from datapkg.checks.curation import RuleQuery, Table

Planned = list[tuple["RuleQuery", set[str]]]


def claim_rules(tables: dict[str, Table]) -> Planned:
    """Every claim rule that the tables declare, each with the set of tables its SQL reads."""
    planned: Planned = []
    for table in tables.values():
        for spec in table.fields:
            planned += _attribution(table, spec, tables) + _in_quote_of(table, spec, tables) + _recorded(table, spec, tables)
    return planned


def _attribution(table: Table, spec: dict[str, Any], tables: dict[str, Table]) -> Planned:
    from datapkg.checks.curation import RuleQuery

    refers = spec.get("refersTo")
    names = refers.get("resources") if isinstance(refers, dict) else None
    if not isinstance(names, list) or not names or any(n not in tables or tables[n].key is None for n in names):
        return []
    also = [w for w in refers.get("also") or [] if isinstance(w, str)]
    col = f"t.{quote_ident(spec['name'])}"
    missing = " AND ".join(f"NOT EXISTS (SELECT 1 FROM {quote_ident(n)} r WHERE r.{quote_ident(tables[n].key)} = {col})" for n in names)
    allowed = f" AND {col} NOT IN ({', '.join(quote_literal(w) for w in also)})" if also else ""
    label = " or ".join([f"a {tables[n].key} of {n}" for n in names] + [repr(w) for w in also])
    return [(RuleQuery("unresolved-attribution", table, spec["name"], (
        f"SELECT t.{ROW} AS _row, {col} AS value, '''' || {col} || ''' is not ' || {quote_literal(label)} AS message "
        f"FROM {quote_ident(table.name)} t WHERE {col} IS NOT NULL{allowed} AND {missing}")), {table.name, *names})]


def _citation_target(table: Table, field_name: str, tables: dict[str, Table]) -> Table | None:
    """The table that ``field_name`` of ``table`` points to (foreign key), if it holds quotes."""
    for fk in table.schema.get("foreignKeys") or []:
        fields = fk.get("fields") if isinstance(fk, dict) else None
        fields = [fields] if isinstance(fields, str) else fields
        ref = fk.get("reference") if isinstance(fk, dict) else None
        if fields == [field_name] and isinstance(ref, dict) and ref.get("resource") in tables:
            target = tables[ref["resource"]]
            if "quote" in target.field_names and target.key is not None:
                return target
    return None


def _in_quote_of(table: Table, spec: dict[str, Any], tables: dict[str, Table]) -> Planned:
    from datapkg.checks.curation import RuleQuery, sql_normalise

    link = spec.get("inQuoteOf")
    cit = _citation_target(table, link, tables) if isinstance(link, str) and link in table.field_names else None
    if cit is None:
        return []
    name, col = spec["name"], f"t.{quote_ident(spec['name'])}"
    join = f"FROM {quote_ident(table.name)} t JOIN {quote_ident(cit.name)} c ON c.{quote_ident(cit.key)} = t.{quote_ident(link)}"
    planned = [(RuleQuery("correction-not-in-quote", table, name, (
        f"SELECT t.{ROW} AS _row, {col} AS value, '''' || {col} || ''' (' || {quote_literal(name)} || ') is not in the quote of ' || "
        f"t.{quote_ident(link)} || '; write it as the article does' AS message {join} "
        f"WHERE {col} IS NOT NULL AND c.quote IS NOT NULL AND NOT contains({sql_normalise('c.quote')}, {sql_normalise(col)})")),
        {table.name, cit.name})]
    same = [f for f in ("article_id", "resource", "record_id") if f in table.field_names and f in cit.field_names]
    if same:
        differs = " OR ".join(f"t.{quote_ident(f)} IS DISTINCT FROM c.{quote_ident(f)}" for f in same)
        says = " || ', ' || ".join(f"{quote_literal(f + ' ')} || coalesce(c.{quote_ident(f)}, '')" for f in same)
        planned.append((RuleQuery("correction-citation-mismatch", table, link, (
            f"SELECT t.{ROW} AS _row, t.{quote_ident(link)} AS value, 'citation ' || t.{quote_ident(link)} || ' has ' || {says} || "
            f"'; this row must name the same' AS message {join} WHERE {differs}")), {table.name, cit.name}))
    return planned


def _recorded(table: Table, spec: dict[str, Any], tables: dict[str, Table]) -> Planned:
    from datapkg.checks.curation import RuleQuery

    of = spec.get("recordedValueOf")
    cols = [of.get(k) for k in ("resource", "record", "field")] if isinstance(of, dict) else []
    if len(cols) != 3 or not all(isinstance(c, str) and c in table.field_names for c in cols):
        return []
    res, rec, fld = (f"t.{quote_ident(c)}" for c in cols)
    col = f"t.{quote_ident(spec['name'])}"
    enum = ((table.field(cols[0]) or {}).get("constraints") or {}).get("enum")
    targets = [n for n in (enum if isinstance(enum, list) else tables) if n in tables and tables[n].key is not None]
    parts = []
    for name in targets:
        target = tables[name]
        value = "CASE " + fld + " " + " ".join(
            f"WHEN {quote_literal(f)} THEN CAST(r.{quote_ident(f)} AS VARCHAR)" for f in target.field_names) + " END"
        known = f"{fld} IN ({', '.join(quote_literal(f) for f in target.field_names)})"
        same = f"({value} IS NOT DISTINCT FROM {col} OR coalesce(try_cast({value} AS DOUBLE) = try_cast({col} AS DOUBLE), false))"
        parts.append(
            f"SELECT t.{ROW} AS _row, {col} AS value, CASE "
            f"WHEN r.{quote_ident(target.key)} IS NULL THEN 'record ' || {rec} || {quote_literal(f' is not a {target.key} of {name}')} "
            f"WHEN NOT {known} THEN {fld} || {quote_literal(f' is not a field of {name}')} "
            f"ELSE {rec} || '.' || {fld} || ' holds ' || coalesce('''' || {value} || '''', '(empty)') || ', not ''' || "
            f"coalesce({col}, '') || '''; the correction must say what the record holds' END AS message "
            f"FROM {quote_ident(table.name)} t LEFT JOIN {quote_ident(name)} r ON CAST(r.{quote_ident(target.key)} AS VARCHAR) = {rec} "
            f"WHERE {res} = {quote_literal(name)} AND (r.{quote_ident(target.key)} IS NULL OR NOT {known} OR NOT {same})")
    if not parts:
        return []
    return [(RuleQuery("correction-recorded-mismatch", table, spec["name"], " UNION ALL ".join(parts)),
             {table.name, *targets})]

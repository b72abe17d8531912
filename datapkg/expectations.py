"""Great Expectations suites: derived from the Table Schemas, or hand-written in ``validations/``.

Every row-level rule of a package is one expectation, evaluated by GX's SQL engine on the tables
that :mod:`datapkg.loader` puts into DuckDB. Each tabular resource gets two suites:

- ``<resource>`` checks the typed table ``"<resource>"`` (the table ``dpkg build`` writes):
  ``unique``, ``enum``/``categories``, ``pattern``, ranges, lengths, the primary key and
  ``uniqueKeys`` as GX's own expectations; foreign keys and every curation rule
  (:mod:`datapkg.checks.curation`) as ``unexpected_rows_expectation``, whose SQL selects the
  failing rows;
- ``<resource>.cells`` checks ``raw."<resource>"``, the cells as the CSV reader gave them (text;
  an empty cell is ``''``, a cell missing from a short row is NULL): ``required`` (no cell is one
  of the ``missingValues``), types (the loader's own parse rule, :func:`datapkg.loader.failure_condition`)
  and the row structure (missing cells, blank rows, extra cells).

A rule's SQL names other tables by their resource name (``"articles"``); ``{batch}`` is the table
of the suite (GX puts a subquery with an alias of its own there: name its columns unqualified). It returns ``_row`` (the row number, as frictionless counts it) and may return
``value``, ``message`` and ``field``. ``meta.dpkg`` of every expectation gives the finding's
``check`` (frictionless' error names for the Table Schema rules) and ``field``; a hand-written one
may add ``message`` (``{value}`` and ``{field}`` filled in).

Deriving and reading suites is plain Python; GX is imported only to serialize them
(``dpkg expectations generate``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from datapkg import strict_json
from datapkg.errors import DpkgError, UsageError
from datapkg.loader import (ROW, blank_lines_table, extra_cells_table, failure_condition, is_tabular, missing_values,
                            package_resources, quote_ident, quote_literal, raw_table, resource_schema)
from datapkg.package_source import resource_paths

VALIDATIONS = "validations"
GENERATED_KEY = "dpkg_generated"
CELLS = "cells"
URE = "unexpected_rows_expectation"
#: Types whose enum compares the typed value; the others compare the cell's text.
TYPED_COMPARE = {"string", "integer", "number", "boolean", "year"}


def _exp(exp_type: str, kwargs: dict[str, Any], field: str | None, check: str, **dpkg: Any) -> dict[str, Any]:
    meta = {"field": field, "check": check, **{k: v for k, v in dpkg.items() if v is not None}}
    return {"type": exp_type, "kwargs": kwargs, "meta": {"dpkg": meta}}


def braces(sql: str) -> str:
    """``sql`` with its literal braces doubled, as GX's ``unexpected_rows_query`` wants them."""
    return sql.replace("{", "{{").replace("}", "}}")


def rows_query(sql: str, field: str | None, check: str, **dpkg: Any) -> dict[str, Any]:
    """An ``unexpected_rows_expectation`` whose query is ``sql`` (it names ``{batch}``)."""
    return _exp(URE, {"unexpected_rows_query": sql, "description": dpkg.pop("description", None) or check},
                field, check, **dpkg)


def rule_expectation(rule: Any) -> dict[str, Any]:
    """A curation rule (:class:`datapkg.checks.curation.RuleQuery`: SQL returning ``_row, value,
    message``) as an ``unexpected_rows_expectation`` on its table: the rows of the batch it selects."""
    sql = (f"SELECT r._row, CAST(r.value AS VARCHAR) AS value, r.message FROM ({braces(rule.sql)}) r "
           f"WHERE r._row IN (SELECT {ROW} FROM {{batch}}) ORDER BY r._row")
    return rows_query(sql, rule.field, rule.check, rule=rule.check, description=f"curation rule {rule.check} on {rule.field}")


# --- the typed table -----------------------------------------------------------------------------

def _value_expectations(fld: dict[str, Any]) -> list[dict[str, Any]]:
    """unique, enum, categories, pattern, range, length of one field (on the typed table)."""
    name, kind = fld["name"], fld.get("type", "string")
    constraints = fld.get("constraints") if isinstance(fld.get("constraints"), dict) else {}
    out: list[dict[str, Any]] = []
    if constraints.get("unique"):
        out.append(_exp("expect_column_values_to_be_unique", {"column": name}, name, "unique-error"))
    sets = [("enum", constraints.get("enum"))]
    if isinstance(fld.get("categories"), list) and fld["categories"]:
        sets.append(("categories", [c.get("value") if isinstance(c, dict) else c for c in fld["categories"]]))
    for what, values in sets:
        if isinstance(values, list) and kind in TYPED_COMPARE:
            out.append(_exp("expect_column_values_to_be_in_set", {"column": name, "value_set": values},
                            name, "constraint-error", constraint=what))
    if isinstance(constraints.get("pattern"), str) and kind == "string":
        out.append(_exp("expect_column_values_to_match_regex", {"column": name, "regex": f"^(?:{constraints['pattern']})$"},
                        name, "constraint-error", constraint="pattern"))
    low = constraints.get("minimum", constraints.get("exclusiveMinimum"))
    high = constraints.get("maximum", constraints.get("exclusiveMaximum"))
    if (low is not None or high is not None) and kind in ("integer", "number", "year", "date", "datetime"):
        kwargs: dict[str, Any] = {"column": name, "min_value": low, "max_value": high}
        if "exclusiveMinimum" in constraints and "minimum" not in constraints:
            kwargs["strict_min"] = True
        if "exclusiveMaximum" in constraints and "maximum" not in constraints:
            kwargs["strict_max"] = True
        out.append(_exp("expect_column_values_to_be_between", kwargs, name, "constraint-error", constraint="range"))
    min_len, max_len = constraints.get("minLength"), constraints.get("maxLength")
    if (min_len is not None or max_len is not None) and kind == "string":
        out.append(_exp("expect_column_value_lengths_to_be_between", {"column": name, "min_value": min_len, "max_value": max_len},
                        name, "constraint-error", constraint="length"))
    return out


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def foreign_key_expectation(resource: str, fk: dict[str, Any], fields: list[str]) -> dict[str, Any] | None:
    """A foreign key as the SQL that selects the rows of ``{batch}`` whose key has no match."""
    reference = fk.get("reference") if isinstance(fk.get("reference"), dict) else {}
    child, parent = _as_list(fk.get("fields")), _as_list(reference.get("fields"))
    target = reference.get("resource") or resource  # "" means the resource itself
    if not child or len(child) != len(parent) or any(c not in fields for c in child) or reference.get("package"):
        return None  # (a key into another package is not checked here: frictionless says so)

    def key(prefix: str, names: list[str]) -> str:
        if len(names) == 1:
            return f"CAST({prefix}{quote_ident(names[0])} AS VARCHAR)"
        return "struct_pack(" + ", ".join(f"k{i} := CAST({prefix}{quote_ident(n)} AS VARCHAR)" for i, n in enumerate(names)) + ")"

    value = " || ',' || ".join(f"coalesce(CAST({quote_ident(c)} AS VARCHAR), '')" for c in child)
    # an uncorrelated NOT IN: DuckDB hashes the parent keys once. ({batch} comes with an alias of
    # GX's own: the batch's columns are named unqualified)
    sql = (f"SELECT {ROW} AS _row, {value} AS value FROM {{batch}} "
           f"WHERE ({' OR '.join(f'{quote_ident(c)} IS NOT NULL' for c in child)}) AND {key('', child)} NOT IN "
           f"(SELECT {key('p.', parent)} FROM {quote_ident(target)} p "
           f"WHERE {' AND '.join(f'p.{quote_ident(n)} IS NOT NULL' for n in parent)}) ORDER BY {ROW}")
    reference_text = f"{target}({', '.join(parent)})"
    return rows_query(braces_outside_batch(sql), ",".join(child), "foreign-key", reference=reference_text, target=target,
                      description=f"foreign key ({', '.join(child)}) -> {reference_text}")


def braces_outside_batch(sql: str) -> str:
    """Double every brace of ``sql`` except those of ``{batch}``."""
    return "{batch}".join(braces(part) for part in sql.split("{batch}"))


def compound_unique_expectation(cols: list[str], check: str) -> dict[str, Any]:
    """Rows that repeat an earlier row's values of ``cols`` (all set), as SQL: on GX's SQL engine,
    ``expect_compound_columns_to_be_unique`` does not say which rows."""
    names = ", ".join(quote_ident(c) for c in cols)
    value = " || ',' || ".join(f"CAST({quote_ident(c)} AS VARCHAR)" for c in cols)
    sql = (f"SELECT _row, value FROM (SELECT {ROW} AS _row, {value} AS value, "
           f"row_number() OVER (PARTITION BY {names} ORDER BY {ROW}) AS repeat FROM {{batch}} "
           f"WHERE {' AND '.join(f'{quote_ident(c)} IS NOT NULL' for c in cols)}) WHERE repeat > 1 ORDER BY _row")
    return rows_query(braces_outside_batch(sql), ",".join(cols), check, description=f"({', '.join(cols)}) is unique")


def table_expectations(resource: str, schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Every expectation on the typed table that the Table Schema of ``resource`` implies."""
    fields = schema_fields(schema)
    names = [f["name"] for f in fields]
    out: list[dict[str, Any]] = []
    keys = _as_list(schema.get("primaryKey"))
    if keys and all(k in names for k in keys):
        if len(keys) == 1:
            out.append(_exp("expect_column_values_to_be_unique", {"column": keys[0]}, keys[0], "primary-key"))
        else:
            out.append(compound_unique_expectation(keys, "primary-key"))
    out += [e for fld in fields for e in _value_expectations(fld)]  # after the key: a unique key field is the key's finding
    for unique_key in schema.get("uniqueKeys") or []:
        cols = _as_list(unique_key)
        if not cols or any(c not in names for c in cols):
            continue
        if len(cols) == 1:
            out.append(_exp("expect_column_values_to_be_unique", {"column": cols[0]}, cols[0], "unique-error"))
        else:
            out.append(compound_unique_expectation(cols, "unique-error"))
    for fk in schema.get("foreignKeys") or []:
        built = foreign_key_expectation(resource, fk, names) if isinstance(fk, dict) else None
        if built is not None:
            out.append(built)
    return _dedupe(out)


# --- the cells -------------------------------------------------------------------------------------

def _type_expectation(schema: dict[str, Any], fld: dict[str, Any]) -> dict[str, Any] | None:
    """The cells of a field that do not parse as its type (the loader's own rule), or None for text."""
    kind = fld.get("type", "string")
    if kind in ("string", "any"):
        return None
    col = quote_ident(fld["name"])
    sql = f"SELECT {ROW} AS _row, {col} AS value FROM {{batch}} WHERE {failure_condition(schema, fld, col)} ORDER BY {ROW}"
    return rows_query(braces_outside_batch(sql), fld["name"], "type-error", type=kind,
                      description=f"{fld['name']} parses as {kind}")


def cell_expectations(resource: str, schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Every expectation on the cells (``raw."<resource>"``): row structure, required, types."""
    fields = schema_fields(schema)
    if not fields:
        return []
    missing = " UNION ALL ".join(f"SELECT {ROW} AS _row, {quote_literal(f['name'])} AS field FROM {{batch}} "
                                 f"WHERE {quote_ident(f['name'])} IS NULL" for f in fields)
    out = [
        rows_query(f"SELECT _row, field, '' AS value FROM ({braces_outside_batch(missing)}) ORDER BY _row",
                   None, "missing-cell", description="every row has a cell for every field"),
        rows_query(f"SELECT {ROW} AS _row FROM {braces(blank_lines_table(resource))} "
                   f"WHERE {ROW} NOT IN (SELECT {ROW} FROM {{batch}}) UNION ALL SELECT {ROW} FROM {{batch}} WHERE "
                   + " AND ".join(f"coalesce({quote_ident(f['name'])}, '') = ''" for f in fields) + " ORDER BY _row",
                   None, "blank-row", description="no blank rows (a row of empty cells is blank too)"),
        rows_query(f"SELECT {ROW} AS _row, value FROM {braces(extra_cells_table(resource))} "
                   f"WHERE {ROW} IN (SELECT {ROW} FROM {{batch}}) ORDER BY {ROW}", None, "extra-cell",
                   description="no row has more cells than the header"),
    ]
    keys = _as_list(schema.get("primaryKey"))
    for fld in fields:
        constraints = fld.get("constraints") if isinstance(fld.get("constraints"), dict) else {}
        typed = _type_expectation(schema, fld)
        if typed:
            out.append(typed)
        if constraints.get("required") or fld["name"] in keys:  # frictionless: a key left empty is a primary-key error
            out.append(_exp("expect_column_values_to_not_be_in_set",
                            {"column": fld["name"], "value_set": missing_values(schema, fld)}, fld["name"],
                            "constraint-error" if constraints.get("required") else "primary-key", constraint="required"))
        sets = [("enum", constraints.get("enum"))]
        if isinstance(fld.get("categories"), list) and fld["categories"]:
            sets.append(("categories", [c.get("value") if isinstance(c, dict) else c for c in fld["categories"]]))
        for what, values in sets:
            if isinstance(values, list) and fld.get("type", "string") not in TYPED_COMPARE:
                out.append(_exp("expect_column_values_to_be_in_set",
                                {"column": fld["name"], "value_set": [str(v) for v in values] + missing_values(schema, fld)},
                                fld["name"], "constraint-error", constraint=what))
    return _dedupe(out)


def schema_fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in schema.get("fields", []) if isinstance(f, dict) and isinstance(f.get("name"), str)]


def _dedupe(expectations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, out = set(), []
    for exp in expectations:
        key = (exp["type"], json.dumps(exp["kwargs"], sort_keys=True, default=str))
        if key not in seen:
            seen.add(key)
            out.append(exp)
    return out


# --- suites ----------------------------------------------------------------------------------------

def tabular_resources(root: Path, descriptor: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(resource descriptor, Table Schema) for every tabular resource with schema fields."""
    out = []
    for resource in package_resources(descriptor):
        if not is_tabular(resource) or not isinstance(resource.get("name"), str):
            continue
        try:
            schema = resource_schema(root, resource)
        except DpkgError:
            continue  # an unreadable schema: frictionless reports it
        if schema_fields(schema):
            out.append((resource, schema))
    return out


def plain_suites(root: Path, descriptor: dict[str, Any], rules: list[Any] | None = None) -> list[dict[str, Any]]:
    """The derived suites as plain dicts ``{"name", "meta", "expectations"}`` (no GX import).

    ``rules`` (curation :class:`~datapkg.checks.curation.RuleQuery` objects) join the suites of
    the resources they check. ``meta.table`` names the DuckDB table the suite checks.
    """
    by_table: dict[str, list[dict[str, Any]]] = {}
    for rule in rules or []:
        by_table.setdefault(rule.table.name, []).append(rule_expectation(rule))
    suites = []
    for resource, schema in tabular_resources(root, descriptor):
        name = resource["name"]
        source = resource.get("schema") if isinstance(resource.get("schema"), str) else (resource_paths(resource) or [None])[0]
        common = {"resource": name, GENERATED_KEY: True, "source": source}
        suites.append({"name": name, "meta": {**common, "table": quote_ident(name)},
                       "expectations": table_expectations(name, schema) + _dedupe(by_table.get(name, []))})
        suites.append({"name": f"{name}.{CELLS}", "meta": {**common, "table": raw_table(name), "batch": CELLS},
                       "expectations": cell_expectations(name, schema)})
    return suites


def read_suite_files(root: Path) -> list[dict[str, Any]]:
    """Hand-written suites in ``validations/`` (generated ones are skipped: they are derived afresh).

    A hand-written suite checks the typed table of ``meta.resource``.
    """
    folder = Path(root) / VALIDATIONS
    suites = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = strict_json.loads(path.read_text(encoding="utf-8"), f"{VALIDATIONS}/{path.name}")
        except (OSError, ValueError) as exc:
            raise UsageError(f"{VALIDATIONS}/{path.name} is not a readable JSON suite: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("expectations"), list):
            raise UsageError(f"{VALIDATIONS}/{path.name} is not a GX expectation suite (no 'expectations' list)")
        meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
        if meta.get(GENERATED_KEY):
            continue
        if not isinstance(meta.get("resource"), str):
            raise UsageError(f"{VALIDATIONS}/{path.name}: meta.resource must name the resource the suite checks")
        data.setdefault("name", path.stem)
        data["meta"] = {**meta, "file": f"{VALIDATIONS}/{path.name}", "table": quote_ident(meta["resource"])}
        suites.append(data)
    return suites


def suite_dict(plain: dict[str, Any]) -> dict[str, Any]:
    """A plain suite in GX's serialized form (built through GX, so GX tools read it back)."""
    import os

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    gx.get_context(mode="ephemeral")
    meta = {k: v for k, v in plain["meta"].items() if k != "file"}
    suite = gx.ExpectationSuite(name=plain["name"], meta=meta)
    for exp in plain["expectations"]:
        suite.add_expectation(ExpectationConfiguration(type=exp["type"], kwargs=exp["kwargs"], meta=exp["meta"]).to_domain_obj())
    return suite.to_json_dict()


def generate(root: str | Path, descriptor: dict[str, Any], *, out_dir: Path | None = None) -> list[Path]:
    """Write the derived suites into ``validations/`` (atomically); return the paths.

    Generated files carry ``meta.dpkg_generated = true``; a hand-written suite with the same file
    name is never overwritten (UsageError).
    """
    import duckdb

    from datapkg.atomic import write_text
    from datapkg.checks.curation import plan_curation_queries

    root = Path(root)
    folder = out_dir or root / VALIDATIONS
    con = duckdb.connect()
    try:
        suites = plain_suites(root, descriptor, plan_curation_queries(con, root, descriptor))
    finally:
        con.close()
    rendered: list[tuple[Path, str]] = []
    for plain in suites:
        target = folder / f"{re.sub(r'[^A-Za-z0-9._-]', '_', plain['name']).lstrip('.') or 'resource'}.json"
        if target.exists():
            try:
                existing = json.loads(target.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                existing = {}
            if not (isinstance(existing, dict) and isinstance(existing.get("meta"), dict)
                    and existing["meta"].get(GENERATED_KEY)):
                raise UsageError(f"{target} exists and is not a generated suite; rename it or move it away")
        rendered.append((target, json.dumps(suite_dict(plain), indent=2, ensure_ascii=False, default=str) + "\n"))
    for target, text in rendered:
        write_text(target, text)
    return [target for target, _ in rendered]

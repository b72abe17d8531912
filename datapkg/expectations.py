"""Great Expectations suites derived from Table Schemas, and the suites kept in ``validations/``.

One suite per tabular resource, in GX 1.x's own serialized form
(``ExpectationSuite.to_json_dict()``); ``meta.resource`` names the resource. The suite checks the
columns of the resource as :mod:`datapkg.checks.gx_checks` presents them to GX:

- ``<field>``: the typed value (from :mod:`datapkg.loader`);
- ``<field>::text``: the cell's text, NULL where it is one of the ``missingValues`` (type and
  ``required`` checks read it, so a cell that does not parse is a type error, not a NULL);
- *derived* columns, computed with SQL in DuckDB and asserted by GX with
  ``expect_column_values_to_be_null`` (NULL = the row is fine): foreign keys
  (``meta.dpkg.derived`` holds the SQL) and the curation rules of
  :mod:`datapkg.checks.curation` (``meta.dpkg.rule`` names the rule; its SQL stays there).

Every expectation's ``meta.dpkg`` says which field it checks (``field``) and, for derived ones,
the ``check`` name its findings carry (``foreign-key``, ``quote-not-found``...).

GX itself is imported only to serialize suites (``dpkg expectations generate``); deriving the
expectations and reading suite files is plain Python.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from datapkg import strict_json
from datapkg.errors import DpkgError, UsageError
from datapkg.loader import is_tabular, package_resources, quote_ident, resource_schema
from datapkg.package_source import resource_paths

TEXT_SUFFIX = "::text"
VALIDATIONS = "validations"
GENERATED_KEY = "dpkg_generated"
CURATION_SUITE = "curation"

#: Decimal() syntax (frictionless parses numbers with it).
NUMBER_RE = (r"^\s*[+-]?((\d(_?\d)*(\.(\d(_?\d)*)?)?|\.\d(_?\d)*)([eE][+-]?\d(_?\d)*)?"
             r"|[Nn][Aa][Nn]|[Ss][Nn][Aa][Nn]|[Ii][Nn][Ff]([Ii][Nn][Ii][Tt][Yy])?)\s*$")
INTEGER_RE = r"^\s*[+-]?\d(_?\d)*\s*$"
YEAR_RE = r"^\d{4}$"
YEARMONTH_RE = r"^\d{4}-(0[1-9]|1[0-2])$"
#: Types whose enum / range checks read the typed column; the others read the text.
TYPED_COMPARE = {"string", "integer", "number", "boolean", "year"}


def text_column(field: str) -> str:
    """The name of the column that holds ``field``'s text (NULL for missing values)."""
    return field + TEXT_SUFFIX


def _exp(exp_type: str, kwargs: dict[str, Any], field: str | None, **dpkg: Any) -> dict[str, Any]:
    meta = {"field": field, **{k: v for k, v in dpkg.items() if v is not None}}
    return {"type": exp_type, "kwargs": kwargs, "meta": {"dpkg": meta}}


def _type_expectation(fld: dict[str, Any]) -> dict[str, Any] | None:
    """The GX expectation that a cell's text parses as the field's type (None for text types)."""
    name, kind = fld["name"], fld.get("type", "string")
    fmt = fld.get("format", "default") or "default"
    col = text_column(name)
    if kind == "integer" and fld.get("bareNumber", True):
        return _exp("expect_column_values_to_match_regex", {"column": col, "regex": INTEGER_RE}, name, kind="type", type=kind)
    if kind == "number" and fld.get("bareNumber", True) and not fld.get("groupChar") and fld.get("decimalChar", ".") == ".":
        return _exp("expect_column_values_to_match_regex", {"column": col, "regex": NUMBER_RE}, name, kind="type", type=kind)
    if kind == "year":
        return _exp("expect_column_values_to_match_regex", {"column": col, "regex": YEAR_RE}, name, kind="type", type=kind)
    if kind == "yearmonth":
        return _exp("expect_column_values_to_match_regex", {"column": col, "regex": YEARMONTH_RE}, name, kind="type", type=kind)
    if kind == "boolean":
        values = list(fld.get("trueValues", ["true", "True", "TRUE", "1"])) + list(fld.get("falseValues", ["false", "False", "FALSE", "0"]))
        return _exp("expect_column_values_to_be_in_set", {"column": col, "value_set": values}, name, kind="type", type=kind)
    if kind == "date" and fmt != "any":
        strf = "%Y-%m-%d" if fmt == "default" else fmt
        return _exp("expect_column_values_to_match_strftime_format", {"column": col, "strftime_format": strf},
                    name, kind="type", type=kind)
    if kind in ("string", "any") or (kind == "geopoint" and fmt == "default"):
        return None
    # Everything else: DuckDB parses the text as the loader does, GX asserts that nothing failed.
    return _exp("expect_column_values_to_be_null", {"column": f"type:{name}"}, name, kind="type", type=kind,
                check="type-error", derived={"type_of": name})


def _compare_column(fld: dict[str, Any]) -> str:
    return fld["name"] if fld.get("type", "string") in TYPED_COMPARE else text_column(fld["name"])


def field_expectations(fld: dict[str, Any]) -> list[dict[str, Any]]:
    """Expectations for one Table Schema field: type, required, unique, enum, pattern, range, length, categories."""
    name = fld["name"]
    kind = fld.get("type", "string")
    constraints = fld.get("constraints") if isinstance(fld.get("constraints"), dict) else {}
    out: list[dict[str, Any]] = []
    typed = _type_expectation(fld)
    if typed:
        out.append(typed)
    if constraints.get("required"):
        out.append(_exp("expect_column_values_to_not_be_null", {"column": text_column(name)}, name, kind="required"))
    if constraints.get("unique"):
        out.append(_exp("expect_column_values_to_be_unique", {"column": name}, name, kind="unique"))
    if isinstance(constraints.get("enum"), list):
        out.append(_exp("expect_column_values_to_be_in_set", {"column": _compare_column(fld), "value_set": constraints["enum"]},
                        name, kind="enum"))
    categories = fld.get("categories")
    if isinstance(categories, list) and categories:
        values = [c.get("value") if isinstance(c, dict) else c for c in categories]
        out.append(_exp("expect_column_values_to_be_in_set", {"column": _compare_column(fld), "value_set": values},
                        name, kind="categories"))
    if isinstance(constraints.get("pattern"), str) and kind == "string":
        out.append(_exp("expect_column_values_to_match_regex", {"column": name, "regex": f"^(?:{constraints['pattern']})$"},
                        name, kind="pattern"))
    low = constraints.get("minimum", constraints.get("exclusiveMinimum"))
    high = constraints.get("maximum", constraints.get("exclusiveMaximum"))
    if (low is not None or high is not None) and kind in ("integer", "number", "year", "date", "datetime"):
        # the typed column: GX compares dates as datetimes (it parses ISO bounds itself)
        kwargs: dict[str, Any] = {"column": name, "min_value": low, "max_value": high}
        if "exclusiveMinimum" in constraints and "minimum" not in constraints:
            kwargs["strict_min"] = True
        if "exclusiveMaximum" in constraints and "maximum" not in constraints:
            kwargs["strict_max"] = True
        out.append(_exp("expect_column_values_to_be_between", kwargs, name, kind="range"))
    min_len, max_len = constraints.get("minLength"), constraints.get("maxLength")
    if (min_len is not None or max_len is not None) and kind == "string":
        out.append(_exp("expect_column_value_lengths_to_be_between", {"column": name, "min_value": min_len, "max_value": max_len},
                        name, kind="length"))
    return out


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def foreign_key_sql(resource: str, fk: dict[str, Any], fields: list[str]) -> tuple[str, list[str], str] | None:
    """SQL (over alias ``t``) that is NULL when the row's foreign key resolves, else its value as text."""
    reference = fk.get("reference") if isinstance(fk.get("reference"), dict) else {}
    child = _as_list(fk.get("fields"))
    parent = _as_list(reference.get("fields"))
    target = reference.get("resource") or resource  # "" means the resource itself
    if not child or len(child) != len(parent) or any(c not in fields for c in child):
        return None
    any_set = " OR ".join(f"t.{quote_ident(c)} IS NOT NULL" for c in child)

    def key(alias: str, names: list[str]) -> str:
        if len(names) == 1:
            return f"CAST({alias}.{quote_ident(names[0])} AS VARCHAR)"
        return "struct_pack(" + ", ".join(f"k{i} := CAST({alias}.{quote_ident(n)} AS VARCHAR)" for i, n in enumerate(names)) + ")"

    parent_set = " AND ".join(f"p.{quote_ident(n)} IS NOT NULL" for n in parent)
    value = " || ',' || ".join(f"coalesce(CAST(t.{quote_ident(c)} AS VARCHAR), '')" for c in child)
    # an uncorrelated NOT IN: DuckDB hashes the parent keys once (a correlated EXISTS is 15x slower)
    sql = (f"CASE WHEN ({any_set}) AND {key('t', child)} NOT IN "
           f"(SELECT {key('p', parent)} FROM {quote_ident(target)} p WHERE {parent_set}) THEN {value} END")
    return sql, child, f"{target}({', '.join(parent)})"


def resource_expectations(resource_name: str, schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Every expectation the Table Schema of one resource implies."""
    fields = [f for f in schema.get("fields", []) if isinstance(f, dict) and isinstance(f.get("name"), str)]
    names = [f["name"] for f in fields]
    out: list[dict[str, Any]] = [
        # structure: a row shorter than the header, a blank row, a row longer than the header
        _exp("expect_column_values_to_be_null", {"column": "row:missing-cell"}, None, kind="structure",
             check="missing-cell", field_from_value=True),
        _exp("expect_column_values_to_be_null", {"column": "row:blank-row"}, None, kind="structure", check="blank-row"),
        _exp("expect_column_values_to_be_null", {"column": "row:extra-cell"}, None, kind="structure", check="extra-cell"),
    ]
    for fld in fields:
        out += field_expectations(fld)
    keys = _as_list(schema.get("primaryKey"))
    if keys and all(k in names for k in keys):
        for key in keys:
            out.append(_exp("expect_column_values_to_not_be_null", {"column": text_column(key)}, key, kind="primary-key"))
        if len(keys) == 1:
            out.append(_exp("expect_column_values_to_be_unique", {"column": keys[0]}, keys[0], kind="primary-key"))
        else:
            out.append(_exp("expect_compound_columns_to_be_unique", {"column_list": keys}, ",".join(keys), kind="primary-key"))
    for unique_key in schema.get("uniqueKeys") or []:
        cols = _as_list(unique_key)
        if not cols or any(c not in names for c in cols):
            continue
        if len(cols) == 1:
            out.append(_exp("expect_column_values_to_be_unique", {"column": cols[0]}, cols[0], kind="unique-key"))
        else:
            out.append(_exp("expect_compound_columns_to_be_unique",
                            {"column_list": cols, "ignore_row_if": "any_value_is_missing"}, ",".join(cols), kind="unique-key"))
    for fk in schema.get("foreignKeys") or []:
        if not isinstance(fk, dict):
            continue
        built = foreign_key_sql(resource_name, fk, names)
        if built is None:
            continue
        sql, child, target = built
        out.append(_exp("expect_column_values_to_be_null", {"column": f"fk:{','.join(child)}->{target}"},
                        ",".join(child), kind="foreign-key", check="foreign-key", derived={"sql": sql}, reference=target))
    return _dedupe(out)


def _dedupe(expectations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, out = set(), []
    for exp in expectations:
        key = (exp["type"], json.dumps(exp["kwargs"], sort_keys=True, default=str))
        if key not in seen:
            seen.add(key)
            out.append(exp)
    return out


def rule_expectations(queries: list[Any]) -> dict[str, list[dict[str, Any]]]:
    """One ``expect_column_values_to_be_null`` per curation rule column, by resource.

    ``queries`` come from :func:`datapkg.checks.curation.plan_curation_queries`; the rules and
    their SQL live there, the expectation names the rule (``meta.dpkg.rule``) and GX asserts that
    no row of the resource breaks it.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for query in queries:
        column = f"rule:{query.check}:{query.field}"
        out.setdefault(query.table.name, []).append(
            _exp("expect_column_values_to_be_null", {"column": column}, query.field, kind="rule",
                 check=query.check, rule=query.check))
    return {name: _dedupe(exps) for name, exps in out.items()}


def suite_dict(name: str, resource: str, expectations: list[dict[str, Any]], *, generated: bool = True,
               source: str | None = None) -> dict[str, Any]:
    """A suite in GX's serialized form (built through GX, so GX tools read it back)."""
    import os

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    gx.get_context(mode="ephemeral")
    meta = {"resource": resource, GENERATED_KEY: generated}
    if source:
        meta["source"] = source
    suite = gx.ExpectationSuite(name=name, meta=meta)
    for exp in expectations:
        suite.add_expectation(ExpectationConfiguration(type=exp["type"], kwargs=exp["kwargs"], meta=exp["meta"]).to_domain_obj())
    return suite.to_json_dict()


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
        if isinstance(schema.get("fields"), list) and schema["fields"]:
            out.append((resource, schema))
    return out


def plain_suites(root: Path, descriptor: dict[str, Any], queries: list[Any] | None = None) -> list[dict[str, Any]]:
    """Generated suites as plain dicts ``{"name", "meta", "expectations"}`` (no GX import).

    ``queries`` (curation rule queries) add their rules to the suites of the resources they check.
    """
    rules = rule_expectations(queries or [])
    suites = []
    for resource, schema in tabular_resources(root, descriptor):
        name = resource["name"]
        schema_path = resource.get("schema") if isinstance(resource.get("schema"), str) else None
        exps = resource_expectations(name, schema) + rules.get(name, [])
        suites.append({"name": name, "meta": {"resource": name, GENERATED_KEY: True,
                                              "source": schema_path or (resource_paths(resource) or [None])[0]},
                       "expectations": exps})
    return suites


def read_suite_files(root: Path) -> list[dict[str, Any]]:
    """Hand-written suites in ``validations/`` (generated ones are skipped: they are derived afresh)."""
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
        data["meta"] = {**meta, "file": f"{VALIDATIONS}/{path.name}"}
        suites.append(data)
    return suites


def generate(root: str | Path, descriptor: dict[str, Any], *, out_dir: Path | None = None) -> list[Path]:
    """Write one generated suite per tabular resource into ``validations/`` (atomically); return the paths.

    Generated files carry ``meta.dpkg_generated = true``; a hand-written suite with the same file
    name is never overwritten (UsageError).
    """
    import duckdb

    from datapkg.atomic import write_text

    root = Path(root)
    folder = out_dir or root / VALIDATIONS
    from datapkg.checks.curation import plan_curation_queries

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
        data = suite_dict(plain["name"], plain["meta"]["resource"], plain["expectations"],
                          source=plain["meta"].get("source"))
        rendered.append((target, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"))
    for target, text in rendered:
        write_text(target, text)
    return [target for target, _ in rendered]



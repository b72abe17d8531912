"""Curation rules: every curated fact is cited, every quote is verbatim, every code and date is sound.

The rules are SQL queries over DuckDB: each resource is loaded by THE loader
(:mod:`datapkg.loader`, typed from its Table Schema, plus ``__row``: the frictionless row
number, header = 1). :func:`plan_curation_queries` loads what the rules
need and returns the queries; each returns the columns ``_row``, ``value`` and ``message``.
:mod:`datapkg.expectations` turns every query into a GX ``unexpected_rows_expectation`` on its
table, generically (a new rule needs nothing more), and GX runs them (:func:`run_curation_checks`).

What a rule looks at is declared in the Table Schemas, so the rules run on any package that uses
the same declarations and stay silent on packages that do not:

- a *citations* resource has the fields ``resource``, ``record_id``, ``article_id`` and ``quote``;
  ``article_id`` points (foreign key) to a resource with ``path`` and a primary key: the
  *articles*, whose files hold the texts. Curated resources are the values of the ``enum`` of
  ``citations.resource`` (without an enum only quotes are checked); each has a one-field
  primary key.
- a field with ``"codeList"`` (``ISO 3166-1 alpha-2``, ``ISO 4217``, ``ISO 639-1``) holds codes of
  that list (pycountry); ``"codeListWhen": {"field": "value"}`` limits the rule to matching rows.
- a field with ``"precisionField"`` holds a date at the precision (``day``/``month``/``year``) that
  field gives; ``"endField"`` names the end that the date may not come after.
- a table with ``inferred_fields`` and ``inferred_reason`` (and ``<field>_status`` columns whose
  value ``inferred`` marks an inferred value) flags its inferences.
- a field with ``"inQuote": true`` (optionally ``"separator"``) holds text that appears in a quote
  of a citation of its row.

Quote matching allows exactly one normalisation: every run of whitespace (space, tab, CR, LF,
VT, FF, U+00A0 no-break space) counts as a single space, and the quote is trimmed. Nothing else:
case, punctuation, quotation marks and dashes must match as printed.

Types, required, unique, enum, pattern (e.g. QIDs ``^Q[1-9][0-9]*$``), primary and foreign keys
inside the package are declared in the Table Schemas and checked by the suites derived from them.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datapkg.checks.claims import claim_rules
from datapkg.checks.edtf_dates import edtf_rules
from datapkg.checks.quote_anchors import anchor_rules
from datapkg.errors import DpkgError, UsageError
from datapkg.limits import MAX_NAMED_FILE, regular_file
from datapkg.loader import ROW, is_tabular, load_resource, quote_ident, quote_literal, resource_schema
from datapkg.package_source import check_relative_path, is_remote, resource_paths
from datapkg.report import Finding

WHITESPACE_RE2 = r"[\t\n\v\f\r \x{00A0}]+"
WHITESPACE_PY = re.compile(r"[\t\n\v\f\r \u00a0]+")
PRECISION_PATTERNS = {"day": r"[0-9]{4}-[0-9]{2}-[0-9]{2}", "month": r"[0-9]{4}-[0-9]{2}", "year": r"[0-9]{4}"}
PRECISION_FORMS = {"day": "YYYY-MM-DD", "month": "YYYY-MM", "year": "YYYY"}
CODE_LIST_CHECKS = {
    "ISO 3166-1 alpha-2": ("unknown-country-code", "an ISO 3166-1 alpha-2 country code"),
    "ISO 4217": ("unknown-currency-code", "an ISO 4217 currency code"),
    "ISO 639-1": ("unknown-language-code", "an ISO 639-1 language code"),
}
CITATION_FIELDS = {"resource", "record_id", "article_id", "quote"}


def normalise_whitespace(text: str) -> str:
    """The one normalisation quotes get: whitespace runs become one space, ends trimmed."""
    return WHITESPACE_PY.sub(" ", text).strip()


def sql_normalise(expr: str) -> str:
    """SQL of :func:`normalise_whitespace` applied to ``expr``."""
    return f"trim(regexp_replace({expr}, '{WHITESPACE_RE2}', ' ', 'g'))"


_q = quote_ident  # the loader's one SQL quoter, short names for the rule SQL below
_lit = quote_literal


@dataclass
class Table:
    """A tabular resource of the package as the rules see it."""

    name: str
    file: str
    schema: dict[str, Any]
    fields: list[dict[str, Any]] = field(default_factory=list)

    @property
    def field_names(self) -> list[str]:
        return [f["name"] for f in self.fields]

    @property
    def key(self) -> str | None:
        """The single-field primary key, if the table has one."""
        pk = self.schema.get("primaryKey")
        pk = [pk] if isinstance(pk, str) else pk
        return pk[0] if isinstance(pk, list) and len(pk) == 1 and isinstance(pk[0], str) else None

    def field(self, name: str) -> dict[str, Any] | None:
        return next((f for f in self.fields if f["name"] == name), None)

    def declared_pair(self, spec: dict[str, Any], keyword: str, first: str, second: str) -> tuple[str, str] | None:
        """The two field names a field's ``keyword`` object declares under ``first`` and ``second``
        (``{"textPosition": {"start": ..., "end": ...}}``), when both are fields of this table."""
        declared = spec.get(keyword)
        if not isinstance(declared, dict):
            return None
        one, two = declared.get(first), declared.get(second)
        if isinstance(one, str) and isinstance(two, str) and {one, two} <= set(self.field_names):
            return one, two
        return None


@dataclass(frozen=True)
class RuleQuery:
    """One rule applied to one table and field: SQL returning ``_row``, ``value``, ``message``."""

    check: str
    table: Table
    field: str
    sql: str


# ---------------------------------------------------------------- package discovery and loading

def _resources(descriptor: Any) -> list[dict[str, Any]]:
    """The descriptor's resources that are objects with a string name (frictionless reports the rest)."""
    resources = descriptor.get("resources") if isinstance(descriptor, dict) else None
    return [r for r in resources if isinstance(r, dict) and isinstance(r.get("name"), str)] \
        if isinstance(resources, list) else []


def discover_tables(root: Path, descriptor: dict[str, Any]) -> dict[str, Table]:
    """Local single-file tabular resources with a readable Table Schema, by resource name."""
    tables: dict[str, Table] = {}
    for resource in _resources(descriptor):
        if not is_tabular(resource):
            continue
        paths = resource_paths(resource)
        if len(paths) != 1 or is_remote(paths[0]):
            continue
        try:
            check_relative_path(paths[0], "path")
            schema = resource_schema(root, resource)
        except DpkgError:
            continue  # frictionless reports an unsafe path or an unreadable schema
        fields = [f for f in schema.get("fields") or [] if isinstance(f, dict) and isinstance(f.get("name"), str)]
        tables[resource["name"]] = Table(resource["name"], paths[0], schema, fields)
    return tables


def _load(con: Any, root: Path, descriptor: dict[str, Any], names: set[str]) -> set[str]:
    """Load ``names`` with THE loader (typed, ``__row``); return those that loaded."""
    loaded = set()
    for resource in _resources(descriptor):
        if resource["name"] in names:
            try:
                load_resource(con, root, resource)
            except DpkgError:
                continue  # an unreadable file: frictionless and the file checks report it
            loaded.add(resource["name"])
    return loaded


def _code_table(con: Any) -> None:
    """``_codes(list, code)`` from pycountry, the maintained code lists (once per connection)."""
    if con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = '_codes'").fetchone()[0]:
        return
    lists, codes = _code_rows()  # one statement (executemany: 0.12 s, a statement a row)
    con.execute("CREATE OR REPLACE TABLE _codes AS SELECT unnest($1::VARCHAR[]) AS list, unnest($2::VARCHAR[]) AS code",
                [list(lists), list(codes)])


@functools.cache
def _code_rows() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(lists, codes): pycountry's codes, sorted, read once per process (~6 ms: pycountry's
    languages are ~8,000 objects)."""
    import pycountry

    rows = [("ISO 3166-1 alpha-2", c.alpha_2) for c in pycountry.countries]
    rows += [("ISO 3166-1 alpha-2", c.alpha_2) for c in pycountry.historic_countries if hasattr(c, "alpha_2")]
    rows += [("ISO 4217", c.alpha_3) for c in pycountry.currencies]
    rows += [("ISO 639-1", lang.alpha_2) for lang in pycountry.languages if hasattr(lang, "alpha_2")]
    lists, codes = zip(*sorted(set(rows)))
    return lists, codes


# ---------------------------------------------------------------- the rules

def _where(table: Table, extra: str = "") -> str:
    return f"FROM {_q(table.name)} t WHERE {extra}" if extra else f"FROM {_q(table.name)} t"


def _valid_date(expr: str, precision: str) -> str:
    """SQL: ``expr`` is a real date written at the precision held by ``precision``."""
    return ("(" + " OR ".join(
        f"({precision} IS NOT DISTINCT FROM '{name}' AND regexp_full_match({expr}, '{pattern}') AND "
        f"try_strptime({expr} || '{'' if name == 'day' else '-01' if name == 'month' else '-01-01'}', '%Y-%m-%d') IS NOT NULL)"
        for name, pattern in PRECISION_PATTERNS.items()) + ")")


def _code_list_rules(table: Table) -> list[RuleQuery]:
    rules = []
    for spec in table.fields:
        code_list = spec.get("codeList")
        if code_list not in CODE_LIST_CHECKS:
            continue
        check, label = CODE_LIST_CHECKS[code_list]
        name, col = spec["name"], f"t.{_q(spec['name'])}"
        when = spec.get("codeListWhen") if isinstance(spec.get("codeListWhen"), dict) else {}
        if any(other not in table.field_names for other in when):
            continue
        condition = "".join(f" AND t.{_q(other)} = {_lit(str(value))}" for other, value in when.items())
        # 'ru' or ' RU': the code of the list that differs only in case or surrounding space
        closest = (f"(SELECT min(c.code) FROM _codes c WHERE c.list = {_lit(code_list)} "
                   f"AND upper(c.code) = upper(trim({col})))")
        rules.append(RuleQuery(check, table, name, (
            f"SELECT t.{ROW} AS _row, {col} AS value, "
            f"{_lit(f'{name} must be {label}; ')} || {col} || ' is not one (pycountry list)' || "
            f"coalesce('; did you mean ' || {closest} || '?', '') AS message "
            + _where(table, f"{col} IS NOT NULL{condition} AND {col} NOT IN "
                            f"(SELECT code FROM _codes WHERE list = {_lit(code_list)})"))))
    return rules


def _date_rules(table: Table) -> list[RuleQuery]:
    rules = []
    for spec in table.fields:
        precision_field = spec.get("precisionField")
        if not isinstance(precision_field, str) or precision_field not in table.field_names:
            continue
        name, col, prec = spec["name"], f"t.{_q(spec['name'])}", f"t.{_q(precision_field)}"
        forms = ", ".join(f"{k} {v}" for k, v in PRECISION_FORMS.items())
        rules.append(RuleQuery("date-precision-mismatch", table, name, (
            f"SELECT t.{ROW} AS _row, {col} AS value, "
            f"{_lit(name + ' ')} || {col} || ' is not a real date at the precision ' || "
            f"coalesce('''' || {prec} || '''', '(none)') || ' given in {precision_field} ({forms})' AS message "
            + _where(table, f"{col} IS NOT NULL AND NOT {_valid_date(col, prec)}"))))
        end = spec.get("endField")
        if isinstance(end, str) and end in table.field_names:
            end_col = f"t.{_q(end)}"
            rules.append(RuleQuery("start-after-end", table, name, (
                f"SELECT t.{ROW} AS _row, {col} AS value, "
                f"{_lit(name + ' ')} || {col} || {_lit(f' is after {end} ')} || {end_col} || "
                f"'; swap them or fix the dates' AS message "
                + _where(table, f"{col} IS NOT NULL AND {end_col} IS NOT NULL AND {_valid_date(col, prec)} "
                                f"AND {_valid_date(end_col, prec)} AND {col} > {end_col}"))))
    return rules


def _inference_rules(table: Table) -> list[RuleQuery]:
    names = table.field_names
    if "inferred_fields" not in names or "inferred_reason" not in names:
        return []
    statuses = [n for n in names if n.endswith("_status") and n[: -len("_status")] in names]
    flagged = " OR ".join(["t.inferred_fields IS NOT NULL"] + [f"t.{_q(s)} = 'inferred'" for s in statuses])
    field_list = "[" + ", ".join(_lit(n) for n in names) + "]"
    rules = [
        RuleQuery("inferred-without-reason", table, "inferred_reason", (
            f"SELECT t.{ROW} AS _row, t.inferred_fields AS value, "
            "'this row marks inferred values (' || coalesce(t.inferred_fields, 'a status of inferred') || "
            "') but inferred_reason is empty; say why and from what they were inferred' AS message "
            + _where(table, f"({flagged}) AND t.inferred_reason IS NULL"))),
        RuleQuery("unknown-inferred-field", table, "inferred_fields", (
            f"SELECT _row, value, 'inferred_fields names ''' || value || ''' ' || "
            f"{_lit(f'which is not a field of {table.name}')} AS message FROM ("
            f"SELECT t.{ROW} AS _row, trim(unnest(string_split(t.inferred_fields, ','))) AS value "
            + _where(table, "t.inferred_fields IS NOT NULL") + f") WHERE NOT list_contains({field_list}, value)")),
    ]
    for status in statuses:
        target = status[: -len("_status")]
        rules.append(RuleQuery("inferred-not-flagged", table, status, (
            f"SELECT t.{ROW} AS _row, t.{_q(status)} AS value, "
            f"{_lit(f'{status} says inferred but inferred_fields does not list {target}; add it')} AS message "
            + _where(table, f"t.{_q(status)} = 'inferred' AND NOT list_contains("
                            f"list_transform(string_split(coalesce(t.inferred_fields, ''), ','), lambda x: trim(x)), {_lit(target)})"))))
    return rules


@dataclass
class CitationModel:
    """Which resource holds citations, which the article texts, and which rows must be cited."""

    citations: Table
    articles: Table | None
    curated: list[str]


def find_citation_model(tables: dict[str, Table]) -> CitationModel | None:
    """Recognise the citations resource and its articles by their declarations (see module doc)."""
    citations = next((t for t in tables.values() if CITATION_FIELDS <= set(t.field_names)), None)
    if citations is None:
        return None
    articles = None
    for fk in citations.schema.get("foreignKeys") or []:
        fields = fk.get("fields") if isinstance(fk, dict) else None
        fields = [fields] if isinstance(fields, str) else fields
        reference = fk.get("reference") if isinstance(fk, dict) else None
        if fields == ["article_id"] and isinstance(reference, dict) and reference.get("resource") in tables:
            articles = tables[reference["resource"]]
    if articles is None:
        articles = next((t for t in tables.values() if {"article_id", "path"} <= set(t.field_names)), None)
    enum = (citations.field("resource") or {}).get("constraints", {}).get("enum")
    curated = [n for n in enum if isinstance(n, str)] if isinstance(enum, list) else []
    return CitationModel(citations, articles, curated)


def _article_texts(con: Any, root: Path, articles: Table) -> None:
    """``_article_texts(article_key, text, raw)``: each article's file, whitespace-normalised and as read (UTF-8)."""
    key = articles.key or "article_id"
    rows = con.execute(f"SELECT {_q(key)}, path FROM {_q(articles.name)} WHERE path IS NOT NULL").fetchall()
    texts = []
    for article_key, rel in rows:
        try:
            check_relative_path(rel, "path")
            raw = regular_file(root, rel, "path", MAX_NAMED_FILE).read_text(encoding="utf-8")
        except (UsageError, OSError, UnicodeDecodeError):
            continue  # the file checks report a missing or unsafe file
        texts.append((article_key, normalise_whitespace(raw.removeprefix("\ufeff")), raw))
    con.execute("CREATE OR REPLACE TABLE _article_texts (article_key VARCHAR, text VARCHAR, raw VARCHAR)")
    if texts:
        con.executemany("INSERT INTO _article_texts VALUES (?, ?, ?)", texts)


def _citation_rules(model: CitationModel, tables: dict[str, Table], loaded: set[str]) -> list[RuleQuery]:
    cit = model.citations
    rules = [RuleQuery("quote-without-text", cit, "quote", (  # '' is in every article: a quote needs real characters
        f"SELECT t.{ROW} AS _row, t.quote AS value, 'the quote has no letter or digit (only whitespace, punctuation or "
        "invisible characters), so it proves nothing; copy the passage of the article that supports the row' AS message "
        + _where(cit, "t.quote IS NOT NULL AND NOT regexp_matches(t.quote, '[\\p{L}\\p{N}]')")))]
    if model.articles is not None and model.articles.name in loaded:
        quote = sql_normalise("t.quote")
        rules.append(RuleQuery("quote-not-found", cit, "quote", (
            f"SELECT t.{ROW} AS _row, t.quote AS value, 'this quote is not in the text of article ' || t.article_id || "
            "' (only runs of whitespace may differ); copy it verbatim from the article' AS message "
            f"FROM {_q(cit.name)} t JOIN _article_texts a ON a.article_key = t.article_id "
            f"WHERE t.quote IS NOT NULL AND NOT contains(a.text, {quote})")))
        rules += anchor_rules(cit)
    for name in model.curated:
        target = tables.get(name)
        if target is not None and target.key is not None and name not in loaded:
            continue  # present but unreadable: frictionless reports the file
        if target is None or target.key is None:
            rules.append(RuleQuery("unresolved-reference", cit, "resource", (
                f"SELECT t.{ROW} AS _row, t.resource AS value, 'resource ' || t.resource || "
                f"' is not a table of this package with a one-field primary key' AS message "
                + _where(cit, f"t.resource = {_lit(name)}"))))
            continue
        key = _q(target.key)
        rules.append(RuleQuery("unresolved-reference", cit, "record_id", (
            f"SELECT t.{ROW} AS _row, t.record_id AS value, 'record ' || t.record_id || {_lit(f' is not a {target.key} of {name}')} AS message "
            + _where(cit, f"t.resource = {_lit(name)} AND t.record_id IS NOT NULL AND NOT EXISTS "
                          f"(SELECT 1 FROM {_q(name)} r WHERE r.{key} = t.record_id)"))))
        rules.append(RuleQuery("citation-missing", target, target.key, (
            f"SELECT t.{ROW} AS _row, t.{key} AS value, {_lit(f'no row of {cit.name} cites this {name} row; add a citation with a quote from its article')} AS message "
            + _where(target, f"t.{key} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {_q(cit.name)} c "
                             f"WHERE c.resource = {_lit(name)} AND c.record_id = t.{key})"))))
        for spec in target.fields:
            if spec.get("inQuote") is not True:
                continue
            col, sep = f"t.{_q(spec['name'])}", spec.get("separator")
            parts = f"string_split({col}, {_lit(sep)})" if isinstance(sep, str) and sep else f"[{col}]"
            rules.append(RuleQuery("not-in-quote", target, spec["name"], (
                f"SELECT p._row, p.value, '''' || p.value || '''' || {_lit(' (in ' + spec['name'] + ') appears in no quote citing this row; write it as the article does')} AS message "
                f"FROM (SELECT t.{ROW} AS _row, t.{key} AS id, trim(unnest({parts})) AS value "
                + _where(target, f"{col} IS NOT NULL") + ") p "
                f"WHERE EXISTS (SELECT 1 FROM {_q(cit.name)} c WHERE c.resource = {_lit(name)} AND c.record_id = p.id) "
                f"AND NOT EXISTS (SELECT 1 FROM {_q(cit.name)} c WHERE c.resource = {_lit(name)} AND c.record_id = p.id "
                f"AND c.quote IS NOT NULL AND contains({sql_normalise('c.quote')}, {sql_normalise('p.value')}))")))
    return rules


def plan_curation_queries(con: Any, package_root: Path, descriptor: dict[str, Any],
                          preloaded: set[str] | None = None) -> list[RuleQuery]:
    """Load into ``con`` what the rules need and return the rule queries (empty when none apply).

    ``preloaded``: the resources already loaded into ``con`` by the loader (nothing more is loaded).
    """
    tables = discover_tables(package_root, descriptor)
    per_table: dict[str, list[RuleQuery]] = {}
    for table in tables.values():
        per_table[table.name] = _code_list_rules(table) + _date_rules(table) + _inference_rules(table) + edtf_rules(table)
    model = find_citation_model(tables)
    claims = claim_rules(tables)
    needed = {name for name, rules in per_table.items() if rules} | {n for _, uses in claims for n in uses}
    if model is not None:
        needed |= {model.citations.name} | {n for n in model.curated if n in tables}
        if model.articles is not None:
            needed.add(model.articles.name)
    loaded = needed & preloaded if preloaded is not None else _load(con, package_root, descriptor, needed)
    queries = [q for name, rules in per_table.items() if name in loaded for q in rules]
    queries += [q for q, uses in claims if uses <= loaded]
    if any(q.check.startswith("unknown-") and q.check.endswith("-code") for q in queries):
        _code_table(con)
    if model is not None and model.citations.name in loaded:
        if model.articles is not None and model.articles.name in loaded:
            _article_texts(con, package_root, model.articles)
        queries += _citation_rules(model, tables, loaded)
    return queries


def run_curation_checks(package_root: Path, descriptor: dict[str, Any]) -> list[Finding]:
    """Run every curation rule that applies to the package (as GX expectations, like ``dpkg validate``);
    one Finding per offending cell."""
    from datapkg.checks.gx_checks import run_gx_checks

    return run_gx_checks(Path(package_root), descriptor, schema=False)

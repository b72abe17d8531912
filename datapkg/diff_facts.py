"""The fact-level summary of ``dpkg diff`` for packages that follow the citation model.

A fact is a row of a curated resource (see :mod:`datapkg.facts`). It is *added* or *removed*
with its row, and *changed* when its row changed or any of its citations was added, removed or
changed (another quote, English rendering or article). Each listed fact carries its citations:
every citation of NEW (of OLD for a removed fact) and the ones that went away, a changed quote
with its old and new text. A fact that is still in NEW but whose citations all went away is
flagged.

Citations are matched by their primary key (``citation_id``), else by the whole citation; a
citation that moves to another record counts as removed from one fact and added to the other.
The comparison runs in DuckDB on the tables :mod:`datapkg.diff` loaded (``old``/``new``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from datapkg.diff_rows import FieldChange, table_ref
from datapkg.facts import citation_model, curated_resources, english_field
from datapkg.loader import quote_ident, quote_literal

CITE_COLUMNS = ("resource", "record_id", "article_id", "quote", "quote_en")
GONE = "every citation of this record went away"


@dataclass
class CitedQuote:
    """A citation of a fact; ``status``: kept, added, removed or changed (old_* hold the old text)."""

    citation_id: str | None
    article_id: str | None
    quote: str | None
    quote_en: str | None
    status: str
    old_quote: str | None = None
    old_quote_en: str | None = None
    old_article_id: str | None = None


@dataclass
class Fact:
    """A curated row that was added, removed or changed, with its citations."""

    resource: str
    record_id: str
    status: str
    english: str | None = None
    changes: list[FieldChange] = field(default_factory=list)
    citations: list[CitedQuote] = field(default_factory=list)
    flag: str | None = None


@dataclass
class FactDiff:
    """Facts added, changed and removed (counts exact, list cut at the limit)."""

    citations: str
    facts: list[Fact] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    flagged: int = 0
    truncated: bool = False


def _citation_select(con: Any, side: str, table: Any) -> str:
    """SELECT of one version's citations as (cid, resource, record_id, article_id, quote, quote_en)."""
    names = table.field_names
    key = table.key

    def col(name: str) -> str:
        return f"CAST({quote_ident(name)} AS VARCHAR)" if name in names else "NULL::VARCHAR"

    cid = col(key) if key else f"md5(concat_ws('\x1f', {', '.join(col(c) for c in CITE_COLUMNS[:4])}))"
    cols = ", ".join(f"{col(c)} AS {c}" for c in CITE_COLUMNS)
    return f"SELECT {cid} AS cid, {cols} FROM {table_ref(side, table.name)}"


def _compare_citations(con: Any, models: tuple[Any, Any]) -> None:
    """Table ``_cites``: every citation of either version with its status (one row per fact side)."""
    old_sel, new_sel = _citation_select(con, "old", models[0].citations), _citation_select(con, "new", models[1].citations)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _cites AS
        SELECT coalesce(n.resource, o.resource) AS resource, coalesce(n.record_id, o.record_id) AS record_id,
               coalesce(n.cid, o.cid) AS cid, coalesce(n.article_id, o.article_id) AS article_id,
               coalesce(n.quote, o.quote) AS quote, coalesce(n.quote_en, o.quote_en) AS quote_en,
               o.quote AS old_quote, o.quote_en AS old_quote_en, o.article_id AS old_article_id,
               CASE WHEN o.cid IS NULL THEN 'added' WHEN n.cid IS NULL THEN 'removed'
                    WHEN o.quote IS DISTINCT FROM n.quote OR o.quote_en IS DISTINCT FROM n.quote_en
                      OR o.article_id IS DISTINCT FROM n.article_id THEN 'changed' ELSE 'kept' END AS status,
               o.cid IS NOT NULL AS in_old, n.cid IS NOT NULL AS in_new
        FROM ({old_sel}) o FULL JOIN ({new_sel}) n
          ON o.cid = n.cid AND o.resource IS NOT DISTINCT FROM n.resource
         AND o.record_id IS NOT DISTINCT FROM n.record_id""")


def _row_facts(result: Any, curated: list[str]) -> tuple[dict[tuple[str, str], Fact], dict[str, int]]:
    """Facts from the row diffs of the curated resources (keyed on one field)."""
    facts: dict[tuple[str, str], Fact] = {}
    counts = {"added": 0, "removed": 0, "changed": 0}
    for res in result.resources:
        rows = res.rows
        if res.name not in curated or rows is None or len(rows.key) != 1:
            continue
        key = rows.key[0]
        counts["added"] += rows.added_count
        counts["removed"] += rows.removed_count
        counts["changed"] += rows.changed_count
        for status, listed in (("added", rows.added), ("removed", rows.removed)):
            for row in listed:
                facts[(res.name, str(row.get(key)))] = Fact(res.name, str(row.get(key)), status)
        for change in rows.changed:
            record = str(change.key.get(key))
            facts[(res.name, record)] = Fact(res.name, record, "changed", changes=change.changes)
    return facts, counts


def _citation_facts(con: Any, keys: Keys, facts: dict[tuple[str, str], Fact], counts: dict[str, int],
                    curated: list[str], limit: int | None) -> bool:
    """Add the facts whose row is the same but whose citations changed; True when the list was cut."""
    names = ", ".join(quote_literal(n) for n in curated) or "NULL"
    sql = (f"SELECT DISTINCT resource, record_id FROM _cites WHERE status <> 'kept' AND resource IN ({names}) "
           "ORDER BY 1, 2")
    cut = False
    for resource, record in con.execute(sql).fetchall():
        if (resource, record) in facts:
            continue
        if not _exists(con, keys, resource, record):
            continue  # a citation of a record in neither version: the validator reports it
        counts["changed"] += 1
        if limit and len(facts) >= limit * 3:
            cut = True
            continue
        facts[(resource, record)] = Fact(resource, record, "changed")
    return cut


Keys = dict[tuple[str, str], str]  # (side, resource) -> its one-field primary key, for loaded tables


def _exists(con: Any, keys: Keys, resource: str, record: str) -> bool:
    for side in ("new", "old"):
        key = keys.get((side, resource))
        if key and con.execute(f"SELECT 1 FROM {table_ref(side, resource)} WHERE CAST({quote_ident(key)} AS VARCHAR) = ?",
                               [record]).fetchone():
            return True
    return False


def _attach_citations(con: Any, facts: dict[tuple[str, str], Fact]) -> None:
    """Each fact's citations: NEW's (OLD's for a removed fact) and those that went away."""
    if not facts:
        return
    con.execute("CREATE OR REPLACE TEMP TABLE _facts (resource VARCHAR, record_id VARCHAR)")
    con.executemany("INSERT INTO _facts VALUES (?, ?)", list(facts))
    rows = con.execute("""SELECT c.resource, c.record_id, c.cid, c.article_id, c.quote, c.quote_en, c.status,
                                 c.old_quote, c.old_quote_en, c.old_article_id
                          FROM _cites c JOIN _facts f USING (resource, record_id)
                          ORDER BY c.resource, c.record_id, c.article_id, c.cid""").fetchall()
    for resource, record, cid, article, quote, quote_en, status, old_quote, old_en, old_article in rows:
        fact = facts[(resource, record)]
        if fact.status == "removed" and status == "added":
            continue
        changed = status == "changed"
        fact.citations.append(CitedQuote(cid, article, quote, quote_en, status,
                                         old_quote if changed and old_quote != quote else None,
                                         old_en if changed and old_en != quote_en else None,
                                         old_article if changed and old_article != article else None))
    for fact in facts.values():
        if fact.status != "removed":
            had = any(c.status in ("removed", "kept", "changed") for c in fact.citations)
            if had and not any(c.status != "removed" for c in fact.citations):
                fact.flag = GONE


def _english(con: Any, keys: Keys, facts: dict[tuple[str, str], Fact], tables: tuple[dict, dict]) -> None:
    """Each fact's English rendering from its row (NEW's, OLD's for a removed fact)."""
    for (resource, record), fact in facts.items():
        side = "old" if fact.status == "removed" else "new"
        table = tables[side == "new"].get(resource)
        key = keys.get((side, resource))
        column = english_field(table.field_names) if table else None
        if table is None or key is None or column is None:
            continue
        row = con.execute(f"SELECT CAST({quote_ident(column)} AS VARCHAR) FROM {table_ref(side, resource)} "
                          f"WHERE CAST({quote_ident(key)} AS VARCHAR) = ?", [record]).fetchone()
        fact.english = row[0] if row else None


def diff_facts(con: Any, sources: tuple[Any, Any], result: Any, limit: int | None) -> FactDiff | None:
    """The fact-level summary, or ``None`` unless both versions follow the citation model."""
    from datapkg.checks.curation import discover_tables, find_citation_model

    tables = tuple(discover_tables(s.root, s.descriptor) for s in sources)
    models = tuple(find_citation_model(t) for t in tables)
    if models[0] is None or models[1] is None:
        return None
    loaded = {(r.name, side) for r in result.resources for side in ("old", "new")
              if r.note is None and (r.status != "added" or side == "new") and (r.status != "removed" or side == "old")}
    if (models[0].citations.name, "old") not in loaded or (models[1].citations.name, "new") not in loaded:
        return None
    keys = {(side, name): table.key for index, side in enumerate(("old", "new"))
            for name, table in tables[index].items() if (name, side) in loaded and table.key}
    curated = list(dict.fromkeys(curated_resources(models[1], con, table_ref("new", models[1].citations.name))
                                 + curated_resources(models[0], con, table_ref("old", models[0].citations.name))))
    _compare_citations(con, models)
    facts, counts = _row_facts(result, curated)
    cut = _citation_facts(con, keys, facts, counts, curated, limit)
    _attach_citations(con, facts)
    _english(con, keys, facts, tables)
    order = {name: i for i, name in enumerate(curated)}
    listed = sorted(facts.values(), key=lambda f: (order.get(f.resource, len(order)), f.record_id))
    truncated = cut or any(r.rows is not None and r.rows.truncated for r in result.resources if r.name in curated)
    return FactDiff(models[1].citations.name, listed, counts, sum(1 for f in listed if f.flag), truncated)


__all__ = ["CitedQuote", "Fact", "FactDiff", "citation_model", "diff_facts"]

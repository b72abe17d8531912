"""The analyst views ``dpkg build`` writes into the release database, with their comments.

``<resource>_with_text`` (rows that name a file, with its text), ``<resource>_expanded`` (foreign
keys resolved), ``cited_facts`` and ``<source>_fact_counts`` (for a citations table), then the
views the package declares (``sqlViews``). dpkg's own are written in one transaction; each
declared one in its own, so that one DuckDB refuses is skipped with a warning.
"""

from __future__ import annotations

from typing import Any

from datapkg.database import (DatabaseInfo, ViewInfo, comment, file_rows_resources, one_transaction,
                              foreign_keys, key_list, lit, q)

#: Columns that give a row a readable label, in order of preference (cited_facts.fact).
LABEL_COLUMNS = ("summary_en", "about_en", "name_en", "title_en", "headline", "title", "name", "label", "description")


def _columns(con: Any, table: str) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = 'out' AND schema_name = 'main' "
        "AND table_name = ? ORDER BY column_index", [table]).fetchall()]


def _comments(con: Any, table: str) -> dict[str, str]:
    """Column comments of an output table."""
    return {c: t or "" for c, t in con.execute(
        "SELECT column_name, comment FROM duckdb_columns() WHERE database_name = 'out' AND schema_name = 'main' "
        "AND table_name = ?", [table]).fetchall()}


def _label(columns: list[str]) -> str | None:
    return next((c for c in LABEL_COLUMNS if c in columns), None)


def create_views(con: Any, schemas: dict[str, dict[str, Any]], info: DatabaseInfo,
                  descriptor: dict[str, Any] | None = None) -> None:
    """Analyst views, each only where the package has the tables it needs, then the package's own (sqlViews)."""
    tables = [n for n in info.tables]
    views: list[ViewInfo] = []
    texts = info.texts_table
    # 1. <resource>_with_text: the rows that name files, with the file's text.
    if texts:
        for name in file_rows_resources({n: schemas[n] for n in tables}):
            cols = ", ".join(f"r.{q(c)}" for c in _columns(con, name))
            views.append(ViewInfo(f"{name}_with_text",
                                  f"Every row of {name} with the full text of the file it names (from {texts}).",
                                  f"SELECT {cols}, t.text FROM {q(name)} r LEFT JOIN {q(texts)} t ON t.path = r.path",
                                  {**_comments(con, name), "text": f"Full text of the file named by path (from {texts})."}))
    # 2. <resource>_expanded: a table with its foreign keys resolved.
    for name in tables:
        refs = [(c, r, rc) for c, r, rc in foreign_keys(name, schemas[name]) if r != name and r in info.tables]
        if not refs:
            continue
        own = _columns(con, name)
        select = [f"t.{q(c)}" for c in own]
        notes = dict(_comments(con, name))
        joins = []
        taken = set(own)
        for i, (cols, ref, ref_cols) in enumerate(refs):
            alias = f"r{i}"
            ref_notes = _comments(con, ref)
            on = " AND ".join(f"{alias}.{q(rc)} = t.{q(c)}" for c, rc in zip(cols, ref_cols))
            joins.append(f"LEFT JOIN {q(ref)} {alias} ON {on}")
            for col in _columns(con, ref):
                if col in ref_cols:
                    continue
                label = f"{ref}_{col}" if len(refs) == 1 or sum(r == ref for _, r, _ in refs) == 1 else f"{cols[0]}_{col}"
                if label in taken:
                    continue
                taken.add(label)
                select.append(f"{alias}.{q(col)} AS {q(label)}")
                notes[label] = f"{ref}.{col} of the row that {', '.join(cols)} refers to" + (
                    f": {ref_notes[col]}" if ref_notes.get(col) else ".")
        views.append(ViewInfo(f"{name}_expanded",
                              f"Every row of {name} with the columns of the rows it refers to "
                              f"({', '.join(sorted({r for _, r, _ in refs}))}), prefixed with the table name.",
                              f"SELECT {', '.join(select)} FROM {q(name)} t {' '.join(joins)}", notes))
    # 3. cited_facts and <source>_fact_counts: a citations table (resource + record_id + a foreign key to a source).
    citation = _citation_table(con, schemas, info)
    if citation:
        views += _citation_views(con, citation, schemas, info)
    import duckdb

    from datapkg.package_views import declared_views

    declared, warnings = declared_views(con, descriptor or {})
    info.warnings += warnings
    views += [ViewInfo(name, description, sql) for name, description, sql in declared]
    own = {name for name, _, _ in declared}
    with one_transaction(con):  # dpkg's own views: any error is dpkg's
        for view in views:
            if view.name not in own:
                _create_view(con, view, info, texts)
    for view in views:  # the package's: each on its own, as one that fails is skipped with a warning
        if view.name in own:
            try:
                with one_transaction(con):
                    _create_view(con, view, info, texts)
            except duckdb.Error as exc:
                info.warnings.append(f"view {view.name} not created: {str(exc).strip().splitlines()[0]}")


def _create_view(con: Any, view: ViewInfo, info: DatabaseInfo, texts: str | None) -> None:
    """``view`` in ``out`` with its comments, unless a table or view has its name (a warning)."""
    if view.name in info.tables or view.name == texts or view.name in {v.name for v in info.views}:
        info.warnings.append(f"view {view.name} not created: a table or view has that name")
        return
    con.execute(f"CREATE VIEW out.main.{q(view.name)} AS {view.sql}")
    comment(con, "VIEW", f"out.main.{q(view.name)}", view.description)
    for col in _columns(con, view.name):
        comment(con, "COLUMN", f"out.main.{q(view.name)}.{q(col)}", view.columns.get(col, ""))
    info.views.append(view)


def _citation_table(con: Any, schemas: dict[str, dict[str, Any]], info: DatabaseInfo) -> dict[str, Any] | None:
    """The citations table: fields ``resource`` and ``record_id`` and a foreign key to another table."""
    for name in info.tables:
        fields = {f["name"]: f for f in schemas[name].get("fields", []) if isinstance(f, dict) and "name" in f}
        if not {"resource", "record_id"} <= set(fields):
            continue
        for cols, ref, ref_cols in foreign_keys(name, schemas[name]):
            if ref != name and ref in info.tables and len(cols) == 1:
                enum = (fields["resource"].get("constraints") or {}).get("enum")
                if isinstance(enum, list):
                    facts = [r for r in enum if r in info.tables]
                else:
                    facts = [r for (r,) in con.execute(
                        f"SELECT DISTINCT resource FROM out.main.{q(name)} ORDER BY 1").fetchall() if r in info.tables]
                return {"table": name, "fk": cols[0], "source": ref, "source_key": ref_cols[0], "facts": facts}
    return None


def _citation_views(con: Any, cit: dict[str, Any], schemas: dict[str, dict[str, Any]], info: DatabaseInfo) -> list[ViewInfo]:
    name, fk, source, key = cit["table"], cit["fk"], cit["source"], cit["source_key"]
    own = _columns(con, name)
    src_cols = [c for c in _columns(con, source) if c not in own and c != key]
    labels = []
    for fact in cit["facts"]:
        pk = key_list(schemas[fact].get("primaryKey"))
        label = _label(_columns(con, fact))
        if len(pk) == 1 and label:
            labels.append(f"WHEN {lit(fact)} THEN (SELECT min(CAST(f.{q(label)} AS VARCHAR)) FROM {q(fact)} f "
                          f"WHERE CAST(f.{q(pk[0])} AS VARCHAR) = c.record_id)")
    fact_label = f"CASE c.resource {' '.join(labels)} END" if labels else "NULL"
    select = [f"c.{q(c)}" for c in own] + [f"{fact_label} AS fact"] + [f"s.{q(c)} AS {q(c)}" for c in src_cols]
    joins = f"LEFT JOIN {q(source)} s ON s.{q(key)} = c.{q(fk)}"
    if info.texts_table and "path" in _columns(con, source) and "quote" in own:
        from datapkg.checks.curation import sql_normalise

        select.append(f"contains({sql_normalise('t.text')}, {sql_normalise('c.quote')}) AS quote_in_text")
        joins += f" LEFT JOIN {q(info.texts_table)} t ON t.path = s.path"
    cit["label"] = _label(_columns(con, source))
    info.citations = cit
    notes = {**_comments(con, name), "fact": "A readable label of the cited fact (its summary or name column).",
             "quote_in_text": "True when the quote occurs in the cited text, runs of whitespace counting as one space."}
    source_notes = _comments(con, source)
    notes.update({c: f"{source}.{c}: {source_notes.get(c, '')}".rstrip(": ") for c in src_cols})
    views = [ViewInfo("cited_facts",
                      f"One row per citation: the fact it supports ({name}.resource + record_id, with a readable "
                      f"'fact' label), the quote, and the metadata of the {source} row it cites"
                      + (" (quote_in_text: the quote occurs verbatim in the article text, runs of whitespace counting as one "
                         "space, as the curation rule says)." if "quote_in_text" in " ".join(select) else "."),
                      f"SELECT {', '.join(select)} FROM {q(name)} c {joins}", notes)]
    per = ", ".join(f"count(DISTINCT c.record_id) FILTER (WHERE c.resource = {lit(f)}) AS {q(f)}" for f in cit["facts"])
    label = cit["label"]
    views.append(ViewInfo(
        f"{source}_fact_counts",
        f"Per {source} row: how many citations it gives and how many distinct facts (rows of "
        f"{', '.join(cit['facts'])}) it supports, in all and per table.",
        f"SELECT s.{q(key)}" + (f", s.{q(label)}" if label else "")
        + f", count(c.{q(fk)}) AS citations, count(DISTINCT c.resource || chr(0) || c.record_id) AS facts"
        + (f", {per}" if per else "")
        + f" FROM {q(source)} s LEFT JOIN {q(name)} c ON c.{q(fk)} = s.{q(key)} GROUP BY ALL ORDER BY s.{q(key)}",
        {key: source_notes.get(key, ""), **({label: source_notes.get(label, "")} if label else {}),
         "citations": f"Rows of {name} that cite this {source} row.",
         "facts": "Distinct facts (resource + record_id) those citations support.",
         **{f: f"Distinct rows of {f} this {source} row supports." for f in cit["facts"]}}))
    return views

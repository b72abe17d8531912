"""The data dictionary of a built package, in Markdown and in HTML.

Per resource: description, file, licence, row count, keys and relations (both ways), and per
field its type (Table Schema and DuckDB), constraints, description and a few example values;
then the views, the texts table, and — when the package has a citations table — how many facts
each source (article) supports. Everything comes from the descriptor and the built database;
nothing depends on the clock, so the same inputs give the same bytes.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from datapkg.database import DatabaseInfo, foreign_keys, key_list, q
from datapkg.sandbox import SANDBOX_CONFIG

EXAMPLES = 3
EXAMPLE_SCAN = 10_000
EXAMPLE_WIDTH = 60
CONSTRAINT_ORDER = ("required", "unique", "enum", "pattern", "minimum", "maximum", "exclusiveMinimum",
                    "exclusiveMaximum", "minLength", "maxLength")


def _cut(text: str, width: int = EXAMPLE_WIDTH) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _constraints(fld: dict[str, Any], pk: list[str]) -> list[str]:
    cons = fld.get("constraints") or {}
    out = ["primary key"] if fld.get("name") in pk else []
    for key in CONSTRAINT_ORDER:
        if key not in cons or cons[key] is False:
            continue
        value = cons[key]
        if value is True:
            out.append(key)
        elif key == "enum":
            out.append("one of " + ", ".join(str(v) for v in value))
        else:
            out.append(f"{key} {value}")
    if fld.get("format") not in (None, "default"):
        out.append(f"format {fld['format']}")
    return out


def collect(db_path: Path, descriptor: dict[str, Any], schemas: dict[str, dict[str, Any]], info: DatabaseInfo,
            files: dict[str, str], config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The dictionary's content as plain data (resources, views, texts, per-source fact counts).

    A field's examples are its first distinct non-null values in the table's first
    :data:`EXAMPLE_SCAN` rows (the cost does not grow with the table; a parallel ``LIMIT`` would
    pick different rows from one build to the next). ``config``: DuckDB's settings
    (the build's memory cap and threads)."""
    import duckdb

    from datapkg.loader import duckdb_type

    con = duckdb.connect(str(db_path), read_only=True, config={**(config or {}), **SANDBOX_CONFIG})
    try:
        incoming: dict[str, list[str]] = {}
        for name, schema in schemas.items():
            for cols, ref, ref_cols in foreign_keys(name, schema):
                incoming.setdefault(ref, []).append(f"{name} ({', '.join(cols)}) → {ref} ({', '.join(ref_cols)})")
        resources = []
        for resource in descriptor.get("resources") or []:
            if not isinstance(resource, dict) or not isinstance(resource.get("name"), str):
                continue
            name = resource["name"]
            schema = schemas.get(name, {})
            pk = key_list(schema.get("primaryKey"))
            entry: dict[str, Any] = {
                "name": name, "title": resource.get("title") or "", "description": resource.get("description") or "",
                "file": files.get(name, ""), "rows": info.tables.get(name),
                "licenses": [lic.get("name") or lic.get("title") or "" for lic in resource.get("licenses") or []
                             if isinstance(lic, dict)],
                "primary_key": pk,
                "unique_keys": [key_list(u) for u in schema.get("uniqueKeys") or []],
                "foreign_keys": [f"({', '.join(c)}) → {r} ({', '.join(rc)})" for c, r, rc in foreign_keys(name, schema)],
                "referenced_by": incoming.get(name, []),
                "enforced": info.constraints.get(name, []),
                "skipped": info.skipped.get(name), "fields": [],
            }
            for fld in schema.get("fields") or []:
                if not isinstance(fld, dict) or not isinstance(fld.get("name"), str):
                    continue
                examples: list[str] = []
                if name in info.tables:
                    col = q(fld["name"])
                    examples = [_cut(v) for (v,) in con.execute(
                        f"SELECT CAST(v AS VARCHAR) FROM (SELECT {col} AS v, min(rowid) AS r FROM {q(name)} "
                        f"WHERE rowid < {EXAMPLE_SCAN} AND {col} IS NOT NULL GROUP BY ALL) "
                        f"ORDER BY r LIMIT {EXAMPLES}").fetchall()]
                kind = fld.get("type", "string") + (f"<{fld['itemType']}>" if fld.get("type") == "list" else "")
                entry["fields"].append({
                    "name": fld["name"], "title": fld.get("title") or "", "type": kind, "sql_type": duckdb_type(fld),
                    "constraints": _constraints(fld, pk), "description": fld.get("description") or "",
                    "examples": examples})
            resources.append(entry)
        views = []
        for view in info.views:
            cols = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? "
                               "AND schema_name = 'main' ORDER BY column_index", [view.name]).fetchall()
            views.append({"name": view.name, "description": view.description, "columns": [f"{c} ({t})" for c, t in cols],
                          "rows": con.execute(f"SELECT count(*) FROM {q(view.name)}").fetchone()[0]})
        texts = None
        if info.texts_table:
            count, size = con.execute(f"SELECT count(*), coalesce(sum(bytes), 0) FROM {q(info.texts_table)}").fetchone()
            texts = {"name": info.texts_table, "files": count, "bytes": int(size)}
        support = None
        if info.citations:
            cit = info.citations
            view = f"{cit['source']}_fact_counts"
            if any(v.name == view for v in info.views):
                cur = con.execute(f"SELECT * FROM {q(view)}")
                support = {"source": cit["source"], "citations_table": cit["table"], "columns": [d[0] for d in cur.description],
                           "rows": [[_cut(v, 80) if isinstance(v, str) else v for v in row] for row in cur.fetchall()]}
    finally:
        con.close()
    return {
        "name": descriptor.get("name") or "", "title": descriptor.get("title") or descriptor.get("name") or "",
        "version": descriptor.get("version") or "", "description": descriptor.get("description") or "",
        "licenses": [lic.get("name") or lic.get("title") or "" for lic in descriptor.get("licenses") or [] if isinstance(lic, dict)],
        "resources": resources, "views": views, "texts": texts, "support": support,
    }


def _enforced(res: dict[str, Any]) -> list[str]:
    """The keys and constraints the database enforces, NOT NULLs summed up in one item."""
    items = [c for c in res["enforced"] if not c.startswith("NOT NULL ")]
    not_null = [c.removeprefix("NOT NULL ") for c in res["enforced"] if c.startswith("NOT NULL ")]
    return items + ([f"NOT NULL ({', '.join(not_null)})"] if not_null else [])


# --- Markdown ---------------------------------------------------------------------------------

def _md(text: Any) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def to_markdown(model: dict[str, Any]) -> str:
    """The dictionary as Markdown."""
    out = [f"# Data dictionary: {_md(model['title'])}", ""]
    meta = [f"`{model['name']}`"] + ([f"version {model['version']}"] if model["version"] else [])
    if model["licenses"]:
        meta.append("licence " + ", ".join(model["licenses"]))
    out += [" · ".join(meta), ""]
    if model["description"]:
        out += [model["description"], ""]
    out += ["## Resources", "", "| Resource | Rows | Description |", "|---|---:|---|"]
    for res in model["resources"]:
        rows = "" if res["rows"] is None else res["rows"]
        out.append(f"| [{_md(res['name'])}](#{res['name']}) | {rows} | {_md(res['description'] or res['title'])} |")
    out.append("")
    for res in model["resources"]:
        out += [f"## {res['name']}", ""]
        if res["title"]:
            out += [f"**{_md(res['title'])}**", ""]
        if res["description"]:
            out += [res["description"], ""]
        facts = [("File", f"`{res['file']}`" if res["file"] else ""),
                 ("Rows", "" if res["rows"] is None else str(res["rows"])),
                 ("Licence", ", ".join(res["licenses"])),
                 ("Primary key", ", ".join(res["primary_key"])),
                 ("Unique keys", "; ".join(", ".join(u) for u in res["unique_keys"])),
                 ("Foreign keys", "; ".join(res["foreign_keys"])),
                 ("Referenced by", "; ".join(res["referenced_by"])),
                 ("Enforced by DuckDB", "; ".join(_enforced(res))),
                 ("Not in the database", res["skipped"] or "")]
        out += [f"- {k}: {v}" for k, v in facts if v]
        out += ["", "| Field | Type | Constraints | Description | Examples |", "|---|---|---|---|---|"]
        for fld in res["fields"]:
            examples = "; ".join(f"`{_md(e)}`" for e in fld["examples"])
            out.append(f"| `{_md(fld['name'])}` | {fld['type']} ({fld['sql_type']}) | {_md('; '.join(fld['constraints']))} "
                       f"| {_md(fld['description'] or fld['title'])} | {examples} |")
        out.append("")
    if model["texts"]:
        t = model["texts"]
        out += [f"## Table {t['name']}", "",
                f"The full text of the {t['files']} file(s) that rows name ({t['bytes']} bytes in all): "
                "columns path, text, bytes, sha256. Search it with `contains(text, '...')` or `text ILIKE '%...%'`.", ""]
    if model["views"]:
        out += ["## Views", "", "| View | Rows | What it shows | Columns |", "|---|---:|---|---|"]
        for view in model["views"]:
            out.append(f"| `{view['name']}` | {view['rows']} | {_md(view['description'])} | {_md(', '.join(view['columns']))} |")
        out.append("")
    if model["support"]:
        sup = model["support"]
        out += [f"## Facts per {sup['source']} row", "",
                f"How many citations each row of {sup['source']} gives in {sup['citations_table']} and how many "
                "distinct facts it supports.", "",
                "| " + " | ".join(_md(c) for c in sup["columns"]) + " |", "|" + "---|" * len(sup["columns"])]
        for row in sup["rows"]:
            out.append("| " + " | ".join(_md("" if v is None else v) for v in row) + " |")
        out.append("")
    return "\n".join(out)


# --- HTML -------------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9;line-height:1.45}
header{background:#1f3a5f;color:#fff;padding:1.2rem 2rem}header h1{margin:0 0 .3rem;font-size:1.5rem}
header p{margin:.2rem 0;opacity:.9}main{padding:1rem 2rem;max-width:80rem}
nav{background:#fff;border:1px solid #d8dde6;border-radius:6px;padding:.6rem 1rem;margin:1rem 0}
nav{display:flex;flex-wrap:wrap;gap:.2rem 1rem}nav a{white-space:nowrap}section{background:#fff;border:1px solid #d8dde6;border-radius:6px;padding:.4rem 1.2rem 1rem;margin:1rem 0}
h2{font-size:1.2rem;border-bottom:1px solid #e3e7ee;padding-bottom:.3rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}
dt{font-weight:600;color:#4a5568}dd{margin:0}table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.5rem 0}
th,td{border:1px solid #d8dde6;padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#eef2f7}
td.num,th.num{text-align:right}code{background:#eef2f7;padding:0 .2rem;border-radius:3px;font-size:.85em}
header code{background:rgba(255,255,255,.18);color:#fff}th.num{width:5rem}
.ex code{display:inline-block;margin:0 .2rem .2rem 0}.type{color:#2b6cb0;white-space:nowrap}
th,td,dd,p{overflow-wrap:anywhere}.tw{overflow-x:auto;max-width:100%}
@media (max-width:700px){header{padding:.8rem 1rem}header h1{font-size:1.2rem}main{padding:.5rem}
section{padding:.3rem .7rem .7rem}dl{grid-template-columns:minmax(0,1fr)}dt{margin-top:.3rem}
table,thead,tbody,tr,td{display:block;width:auto}thead{display:none}tr{border:1px solid #d8dde6;border-radius:4px;margin:.5rem 0;padding:.2rem .4rem}
td{border:none;padding:.15rem 0;overflow-wrap:anywhere}td:empty{display:none}td.num{text-align:left}
td::before{content:attr(data-label) ": ";font-weight:600;color:#4a5568}.type{white-space:normal}}
"""


def _h(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _table(head: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    cells = "".join(f'<th{" class=num" if i in numeric else ""}>{_h(c)}</th>' for i, c in enumerate(head))
    body = "".join("<tr>" + "".join(f'<td data-label="{_h(head[i])}"{" class=num" if i in numeric else ""}>{c}</td>'
                                    for i, c in enumerate(row)) + "</tr>"
                   for row in rows)
    return f'<div class="tw"><table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table></div>'


def to_html(model: dict[str, Any]) -> str:
    """The dictionary as one self-contained HTML page (no scripts, no external resources)."""
    parts = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>Data dictionary: {_h(model['title'])}</title><style>{CSS}</style></head><body>",
             f"<header><h1>Data dictionary: {_h(model['title'])}</h1>",
             f"<p><code>{_h(model['name'])}</code>" + (f" · version {_h(model['version'])}" if model["version"] else "")
             + (f" · licence {_h(', '.join(model['licenses']))}" if model["licenses"] else "") + "</p>",
             f"<p>{_h(model['description'])}</p></header><main>"]
    links = [f'<a href="#res-{_h(r["name"])}">{_h(r["name"])}</a>' for r in model["resources"]]
    if model["views"]:
        links.append('<a href="#views">views</a>')
    if model["support"]:
        links.append('<a href="#support">facts per source</a>')
    parts.append(f"<nav>{''.join(links)}</nav>")
    parts.append('<section id="resources"><h2>Resources</h2>' + _table(
        ["Resource", "Rows", "Description"],
        [[f'<a href="#res-{_h(r["name"])}">{_h(r["name"])}</a>', _h(r["rows"]), _h(r["description"] or r["title"])]
         for r in model["resources"]], {1}) + "</section>")
    for res in model["resources"]:
        facts = [("File", f"<code>{_h(res['file'])}</code>" if res["file"] else ""),
                 ("Rows", _h(res["rows"]) if res["rows"] is not None else ""),
                 ("Licence", _h(", ".join(res["licenses"]))),
                 ("Primary key", _h(", ".join(res["primary_key"]))),
                 ("Unique keys", _h("; ".join(", ".join(u) for u in res["unique_keys"]))),
                 ("Foreign keys", "<br>".join(_h(f) for f in res["foreign_keys"])),
                 ("Referenced by", "<br>".join(_h(f) for f in res["referenced_by"])),
                 ("Enforced by DuckDB", _h("; ".join(_enforced(res)))),
                 ("Not in the database", _h(res["skipped"] or ""))]
        rows = [[f"<code>{_h(f['name'])}</code>", f'<span class="type">{_h(f["type"])} ({_h(f["sql_type"])})</span>',
                 _h("; ".join(f["constraints"])), _h(f["description"] or f["title"]),
                 '<span class="ex">' + "".join(f"<code>{_h(e)}</code>" for e in f["examples"]) + "</span>"]
                for f in res["fields"]]
        parts.append(f'<section id="res-{_h(res["name"])}"><h2>{_h(res["name"])}'
                     + (f" — {_h(res['title'])}" if res["title"] else "") + "</h2>"
                     + (f"<p>{_h(res['description'])}</p>" if res["description"] else "")
                     + "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts if v) + "</dl>"
                     + _table(["Field", "Type", "Constraints", "Description", "Examples"], rows) + "</section>")
    if model["texts"]:
        t = model["texts"]
        parts.append(f'<section id="texts"><h2>Table {_h(t["name"])}</h2><p>The full text of the {_h(t["files"])} '
                     f"file(s) that rows name ({_h(t['bytes'])} bytes in all): columns path, text, bytes, sha256. "
                     "Search it with <code>contains(text, '...')</code> or <code>text ILIKE '%...%'</code>.</p></section>")
    if model["views"]:
        parts.append('<section id="views"><h2>Views</h2>' + _table(
            ["View", "Rows", "What it shows", "Columns"],
            [[f"<code>{_h(v['name'])}</code>", _h(v["rows"]), _h(v["description"]), _h(", ".join(v["columns"]))]
             for v in model["views"]], {1}) + "</section>")
    if model["support"]:
        sup = model["support"]
        numeric = {i for i, c in enumerate(sup["columns"]) if sup["rows"] and all(isinstance(r[i], int) for r in sup["rows"])}
        parts.append(f'<section id="support"><h2>Facts per {_h(sup["source"])} row</h2>'
                     f"<p>How many citations each row of {_h(sup['source'])} gives in {_h(sup['citations_table'])} "
                     "and how many distinct facts it supports.</p>"
                     + _table(sup["columns"], [[_h("" if v is None else v) for v in row] for row in sup["rows"]], numeric)
                     + "</section>")
    parts.append("</main></body></html>\n")
    return "\n".join(parts)

"""The evidence reader's model: every article's text with the citations anchored in it, every fact.

For a package that follows the citation model (:func:`datapkg.facts.citation_model`), this
collects, with THE loader:

- each article (a row of the articles resource) with its full text, read as UTF-8 from the file
  its ``path`` names (the bytes decoded, no newline translation, so offsets count code points of
  the file as it is);
- each citation placed in its article by its offsets (the fields its ``quote`` declares with
  ``textPosition``, else ``quote_start``/``quote_end``: the W3C TextPositionSelector of the
  citation contract), checked against the quote under the one
  whitespace rule; a citation without usable offsets is placed by finding its quote in the text
  (as a TextQuoteSelector would), and one that cannot be placed is listed as such;
- each fact (a row of a curated resource) with its English rendering and its citations;
- the corrections (a resource with ``citation_id``, ``as_reported`` and ``recorded``), attached to
  the citation they correct.

:mod:`datapkg.evidence_html` renders it; :func:`write_evidence` writes the pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datapkg.checks.curation import Table, discover_tables, find_citation_model, normalise_whitespace
from datapkg.errors import DpkgError
from datapkg.facts import curated_resources, english_field
from datapkg.loader import load_resource, package_resources, quote_ident
from datapkg.package_source import check_relative_path

CORRECTION_FIELDS = {"citation_id", "as_reported", "recorded"}
ARTICLE_META = ("publisher", "author", "published", "language", "url")
SLUG = re.compile(r"[^A-Za-z0-9_-]+")
MAX_TEXT = 20_000_000  #: characters of one article text the reader shows (larger files are refused)


@dataclass
class Cite:
    """A citation of a fact, placed (``start``/``end``) in its article's text, or not (``None``)."""

    cid: str
    resource: str
    record_id: str
    article_id: str
    quote: str
    quote_en: str | None
    start: int | None = None
    end: int | None = None
    placed_by: str = "offsets"
    anchor: str = ""
    corrections: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Record:
    """A fact: a row of a curated resource, with its English rendering and citations."""

    resource: str
    record_id: str
    english: str | None
    anchor: str
    cites: list[Cite] = field(default_factory=list)


@dataclass
class Article:
    """An article with its text, page file name and citations."""

    key: str
    path: str
    headline: str | None
    meta: list[tuple[str, str]]
    text: str
    page: str
    language: str | None = None
    cites: list[Cite] = field(default_factory=list)


@dataclass
class Evidence:
    """Everything the pages show."""

    title: str
    version: str | None
    articles: list[Article]
    records: dict[str, list[Record]]
    unplaced: list[Cite] = field(default_factory=list)


def slug(text: str, taken: set[str]) -> str:
    """An HTML id / file stem from ``text`` (letters, digits, ``-``, ``_``), unique within ``taken``."""
    base = SLUG.sub("-", text).strip("-") or "x"
    name, n = base, 1
    while name.lower() in taken:
        n += 1
        name = f"{base}-{n}"
    taken.add(name.lower())
    return name


def read_text(root: Path, rel: str) -> str:
    """An article's text: its bytes decoded as UTF-8, nothing translated (offsets count these code points)."""
    check_relative_path(rel, "article path")
    path = root / rel
    if path.stat().st_size > MAX_TEXT * 4:
        raise DpkgError(f"{rel} is larger than the evidence reader shows ({MAX_TEXT} characters)")
    return path.read_bytes().decode("utf-8")


def place(text: str, cite: Cite) -> None:
    """Set ``cite.start``/``end``: its offsets when the text there is its quote, else where the quote is found."""
    want = normalise_whitespace(cite.quote)
    if cite.start is not None and cite.end is not None and 0 <= cite.start < cite.end <= len(text):
        if normalise_whitespace(text[cite.start:cite.end]) == want:
            return
    pattern = r"\s+".join(re.escape(word) for word in want.split(" ")) if want else None
    match = re.search(pattern, text) if pattern else None
    if match:
        cite.start, cite.end, cite.placed_by = match.start(), match.end(), "quote"
    else:
        cite.start = cite.end = None
        cite.placed_by = "unplaced"


def _rows(con: Any, table: Table) -> list[dict[str, Any]]:
    cursor = con.execute(f"SELECT * EXCLUDE (__row) FROM {quote_ident(table.name)} ORDER BY __row")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _articles(con: Any, root: Path, table: Table) -> dict[str, Article]:
    taken = {"index"}
    articles = {}
    key = table.key or "article_id"
    for row in _rows(con, table):
        if row.get(key) is None or not row.get("path"):
            continue
        article_key = str(row[key])
        try:
            text = read_text(root, str(row["path"]))
        except (OSError, UnicodeDecodeError, DpkgError):
            continue  # validate reports a missing or unreadable text; its citations are listed as not found
        meta = [(name, str(row[name])) for name in ARTICLE_META if row.get(name) not in (None, "")]
        articles[article_key] = Article(article_key, str(row["path"]), _text(row.get("headline") or row.get("title")),
                                        meta, text, slug(article_key, taken) + ".html", _text(row.get("language")))
    return articles


def _records(con: Any, tables: dict[str, Table], curated: list[str]) -> dict[str, list[Record]]:
    taken: set[str] = set()
    records: dict[str, list[Record]] = {}
    for name in curated:
        table = tables.get(name)
        if table is None or table.key is None:
            continue
        column = english_field(table.field_names)
        records[name] = [Record(name, str(row[table.key]), _text(row.get(column)) if column else None,
                                slug(f"fact-{name}--{row[table.key]}", taken))
                         for row in _rows(con, table) if row.get(table.key) is not None]
    return records


def _corrections(con: Any, tables: dict[str, Table], loaded: set[str]) -> list[dict[str, Any]]:
    table = next((t for t in tables.values() if CORRECTION_FIELDS <= set(t.field_names) and t.name in loaded), None)
    return [{k: _text(v) for k, v in row.items()} for row in _rows(con, table)] if table else []


def _load(con: Any, root: Path, descriptor: dict[str, Any], names: set[str]) -> set[str]:
    loaded = set()
    for resource in package_resources(descriptor):
        if resource.get("name") in names:
            load_resource(con, root, resource)
            loaded.add(resource["name"])
    return loaded


def collect(root: Path, descriptor: dict[str, Any]) -> Evidence | None:
    """The evidence of the package at ``root``, or ``None`` when it does not follow the citation model."""
    import duckdb

    tables = discover_tables(root, descriptor)
    model = find_citation_model(tables)
    if model is None or model.articles is None:
        return None
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    try:
        names = {model.citations.name, model.articles.name, *model.curated,
                 *(t.name for t in tables.values() if CORRECTION_FIELDS <= set(t.field_names))}
        loaded = _load(con, root, descriptor, {n for n in names if n in tables})
        curated = [n for n in curated_resources(model, con) if n in loaded]
        articles = _articles(con, root, model.articles)
        records = _records(con, tables, curated)
        cite_rows = _rows(con, model.citations)
        corrections = _corrections(con, tables, loaded)
    finally:
        con.close()
    from datapkg.checks.quote_anchors import text_position_fields

    position = text_position_fields(model.citations) or ("quote_start", "quote_end")
    return _assemble(descriptor, articles, records, cite_rows, corrections, model.citations.key or "citation_id",
                     position)


def _assemble(descriptor: dict[str, Any], articles: dict[str, Article], records: dict[str, list[Record]],
              cite_rows: list[dict[str, Any]], corrections: list[dict[str, Any]], key: str,
              position: tuple[str, str]) -> Evidence:
    by_record = {(r.resource, r.record_id): r for rs in records.values() for r in rs}
    taken: set[str] = set()
    evidence = Evidence(str(descriptor.get("title") or descriptor.get("name") or "package"),
                        _text(descriptor.get("version")), list(articles.values()), records)
    cites: dict[str, Cite] = {}
    for n, row in enumerate(cite_rows):
        cid = str(row.get(key) if row.get(key) is not None else f"citation-{n + 1}")
        start, end = row.get(position[0]), row.get(position[1])
        cite = Cite(cid, str(row.get("resource")), str(row.get("record_id")), str(row.get("article_id")),
                    str(row.get("quote") or ""), _text(row.get("quote_en")),
                    start if isinstance(start, int) else None, end if isinstance(end, int) else None,
                    anchor=slug(f"cite-{cid}", taken))
        cites[cid] = cite
        article = articles.get(cite.article_id)
        if article is None:
            cite.placed_by = "unplaced"
            evidence.unplaced.append(cite)
            continue
        place(article.text, cite)
        if cite.start is None:
            evidence.unplaced.append(cite)
        else:
            article.cites.append(cite)
        record = by_record.get((cite.resource, cite.record_id))
        if record is not None:
            record.cites.append(cite)
    for correction in corrections:
        cite = cites.get(correction.get("citation_id") or "")
        if cite is not None:
            cite.corrections.append(correction)
    return evidence


__all__ = ["Article", "Cite", "Evidence", "Record", "collect", "place", "slug"]

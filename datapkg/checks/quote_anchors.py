"""Quote anchors: the character offsets of a quote prove where it sits in its article.

A quote field declares ``"textPosition": {"start": "<field>", "end": "<field>"}`` (W3C Web
Annotation TextPositionSelector): two integer fields of the same table holding offsets into the
article file's text read as UTF-8, counted in Unicode code points, end exclusive. The rule
``quote-offset-mismatch`` selects the rows where the text between those offsets is not the quote
under the one whitespace rule (:func:`datapkg.checks.curation.normalise_whitespace`), or where the
offsets do not fit the text; a quote that is nowhere in its article is ``quote-not-found``'s finding
alone. DuckDB's ``substring`` and ``length`` count code points, so the SQL
reads the offsets exactly as the contract defines them. The texts come from ``_article_texts``
(column ``raw``), built by :mod:`datapkg.checks.curation`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from datapkg.loader import ROW, quote_ident, quote_literal

if TYPE_CHECKING:
    from datapkg.checks.curation import RuleQuery, Table


def text_position_fields(table: Table, quote_field: str = "quote") -> tuple[str, str] | None:
    """The (start, end) fields that ``quote_field`` declares with ``textPosition``, if both exist."""
    return table.declared_pair(table.field(quote_field) or {}, "textPosition", "start", "end")


def anchor_rules(citations: Table) -> list[RuleQuery]:
    """``quote-offset-mismatch`` for a citations table whose quote declares its text position."""
    from datapkg.checks.curation import RuleQuery, sql_normalise

    fields = text_position_fields(citations)
    if fields is None:
        return []
    start, end = (f"t.{quote_ident(name)}" for name in fields)
    piece = f"substring(a.raw, {start} + 1, {end} - {start})"
    message = (
        f"CASE WHEN {start} < 0 OR {end} <= {start} OR {end} > length(a.raw) "
        f"THEN {_lit_pair(fields)} || ' do not fit the article text (' || length(a.raw) || ' characters)' "
        f"ELSE 'the text at ' || {start} || '-' || {end} || ' of article ' || t.article_id || ' is ''' || "
        f"left({sql_normalise(piece)}, 60) || ''', not the quote; set the offsets to where the quote sits "
        "(code points, end exclusive; scripts/anchor_quotes.py computes them)' END")
    return [RuleQuery("quote-offset-mismatch", citations, fields[0], (
        f"SELECT t.{ROW} AS _row, {start} || '-' || {end} AS value, {message} AS message "
        f"FROM {quote_ident(citations.name)} t JOIN _article_texts a ON a.article_key = t.article_id "
        f"WHERE t.quote IS NOT NULL AND {start} IS NOT NULL AND {end} IS NOT NULL "
        f"AND contains(a.text, {sql_normalise('t.quote')}) AND ("
        f"{start} < 0 OR {end} <= {start} OR {end} > length(a.raw) "
        f"OR {sql_normalise(piece)} <> {sql_normalise('t.quote')})"))]


def _lit_pair(fields: tuple[str, str]) -> str:
    return "'" + f"the offsets {fields[0]}-{fields[1]}".replace("'", "''") + "'"

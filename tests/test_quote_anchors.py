"""Quote anchors: citations.quote_start/quote_end locate each quote in its article (code points, end exclusive)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from datapkg.checks.curation import normalise_whitespace
from tests.test_curation import ROOT, edit, findings, pkg, read, row_of  # noqa: F401  (pkg is a fixture)

CITATIONS = "resources/citations.csv"


def _script():
    spec = importlib.util.spec_from_file_location("anchor_quotes", ROOT / "scripts" / "anchor_quotes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_offset_pair_slices_its_quote_out_of_the_article() -> None:
    """Counted without the rule engine: text[start:end] is the quote (whitespace rule), for all citations."""
    texts = {r["article_id"]: (ROOT / r["path"]).read_text(encoding="utf-8") for r in read(ROOT, "articles")}
    rows = read(ROOT, "citations")
    assert rows
    for row in rows:
        start, end = int(row["quote_start"]), int(row["quote_end"])
        assert normalise_whitespace(texts[row["article_id"]][start:end]) == normalise_whitespace(row["quote"]), row["citation_id"]
        assert texts[row["article_id"]][start] == row["quote"].strip()[0]


def test_a_shifted_start_is_found(pkg: Path) -> None:
    row = read(pkg, "citations")[0]
    line = edit(pkg, "citations", "citation_id", row["citation_id"], quote_start=str(int(row["quote_start"]) + 1))
    assert findings(pkg) == [("quote-offset-mismatch", CITATIONS, line, "quote_start")]


def test_offsets_past_the_end_of_the_text_are_found(pkg: Path) -> None:
    row = read(pkg, "citations")[1]
    line = edit(pkg, "citations", "citation_id", row["citation_id"], quote_end="999999")
    assert findings(pkg) == [("quote-offset-mismatch", CITATIONS, line, "quote_start")]


def test_an_end_before_the_start_is_found(pkg: Path) -> None:
    row = read(pkg, "citations")[2]
    line = edit(pkg, "citations", "citation_id", row["citation_id"], quote_end=str(int(row["quote_start"])))
    assert findings(pkg) == [("quote-offset-mismatch", CITATIONS, line, "quote_start")]


def test_offsets_are_code_points_not_bytes(pkg: Path) -> None:
    """art-001 has Cyrillic letters before this quote: its UTF-8 byte offsets differ and are refused."""
    texts = {r["article_id"]: (pkg / r["path"]).read_text(encoding="utf-8") for r in read(pkg, "articles")}
    row = next(r for r in read(pkg, "citations") if r["article_id"] == "art-001"
               and len(texts["art-001"][: int(r["quote_start"])].encode()) != int(r["quote_start"]))
    text = texts["art-001"]
    byte_start = len(text[: int(row["quote_start"])].encode())
    byte_end = len(text[: int(row["quote_end"])].encode())
    line = edit(pkg, "citations", "citation_id", row["citation_id"], quote_start=str(byte_start), quote_end=str(byte_end))
    assert findings(pkg) == [("quote-offset-mismatch", CITATIONS, line, "quote_start")]


def test_the_script_locates_a_quote_across_whitespace_runs() -> None:
    locate = _script().locate
    text = "Satu  dua\n\ttiga empat. Dua tiga"
    start, end = locate(text, "dua tiga")
    assert text[start:end] == "dua\n\ttiga" and (start, end) == (6, 15)
    assert locate(text, "lima") is None


def test_the_script_fills_missing_offsets_that_the_validator_accepts(pkg: Path) -> None:
    rows = read(pkg, "citations")
    edit(pkg, "citations", "citation_id", rows[5]["citation_id"], quote_start="", quote_end="")
    assert _script().main([str(pkg)]) == 0
    assert read(pkg, "citations")[5]["quote_start"] == rows[5]["quote_start"]
    assert findings(pkg) == []
    assert row_of(pkg, "citations", "citation_id", rows[5]["citation_id"]) == 7

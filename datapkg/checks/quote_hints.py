"""Where a quote departs from its article: the closest passage and the first character that differs.

``quote-not-found`` (a curation rule, :mod:`datapkg.checks.curation`) says only that a quote is not
in its article. This module adds to each such finding, after the rules ran on either path (DuckDB
or GX), the article file, the passage of the article closest to the quote (difflib's longest
matching block, aligned on the quote), and the first character where they differ, written with its
code point and Unicode name so that a curly apostrophe (U+2019) or a non-breaking hyphen (U+2011)
shows at a glance. Quote and article are compared under the one whitespace rule
(:func:`datapkg.checks.curation.normalise_whitespace`), as the rule does.

Bounded: at most :data:`MAX_HINTS` findings per run, articles up to :data:`MAX_ARTICLE_CHARS`, the
passage found by verbatim pieces of the quote in linear time (difflib's quadratic search only on
articles up to :data:`DIFFLIB_CHARS`), and no new hint once :data:`TIME_BUDGET` seconds have gone;
past those the finding keeps its message.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
import unicodedata
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from datapkg.checks.curation import discover_tables, find_citation_model, normalise_whitespace
from datapkg.errors import DpkgError
from datapkg.loader import package_resources
from datapkg.locate import read_rows
from datapkg.package_source import check_relative_path
from datapkg.report import Finding

CHECK = "quote-not-found"
MAX_HINTS = 200
MAX_ARTICLE_CHARS = 2_000_000
TIME_BUDGET = 5.0
#: Characters of the article shown around the departure point.
CONTEXT = 30
#: Length of the quote's pieces looked up verbatim to find the passage.
PIECE = 24
#: Up to this length an article with no verbatim piece of the quote is searched with difflib.
DIFFLIB_CHARS = 100_000


def describe_char(char: str) -> str:
    """``U+2019 RIGHT SINGLE QUOTATION MARK (’)``: a character made visible."""
    name = unicodedata.name(char, "")
    shown = char if char.isprintable() and not char.isspace() else repr(char)[1:-1] or " "
    return f"U+{ord(char):04X}{' ' + name if name else ''} ({shown})"


def _anchor(quote: str, text: str) -> int | None:
    """Where in ``text`` the passage aligned with ``quote`` starts: found by a piece of the quote that
    occurs verbatim (``str.find``, linear in the text), else by difflib's longest matching block
    (quadratic, so only on texts up to :data:`DIFFLIB_CHARS`)."""
    size = min(len(quote), PIECE)
    starts = Counter(at - offset for offset in range(0, max(1, len(quote) - size + 1), max(1, size // 2))
                     if (at := text.find(quote[offset: offset + size])) >= 0)
    if starts:  # the start most pieces agree on (a common phrase may also occur elsewhere)
        return starts.most_common(1)[0][0]
    if len(text) > DIFFLIB_CHARS:
        return None
    a, b, found = SequenceMatcher(None, text, quote, autojunk=False).find_longest_match(0, len(text), 0, len(quote))
    return a - b if found else None


def departure(quote: str, text: str) -> tuple[int, int] | None:
    """(index in ``quote``, index in ``text``) of the first character where ``quote`` departs from the
    passage of ``text`` closest to it; None when none is close. Both are whitespace-normalised."""
    start = _anchor(quote, text)
    if start is None:
        return None
    lo, hi = max(0, start - CONTEXT), min(len(text), start + len(quote) + CONTEXT)
    ops = SequenceMatcher(None, quote, text[lo:hi], autojunk=False).get_opcodes()
    # the window's own text before and after the passage is not a difference
    ops = [op for op in ops if not (op[0] == "insert" and op[1] in (0, len(quote)))]
    return next(((i1, lo + j1) for tag, i1, _i2, j1, _j2 in ops if tag != "equal"), None)


def hint(quote: str, text: str, article_file: str) -> str:
    """The sentence added to a quote-not-found finding."""
    quote, text = normalise_whitespace(quote), normalise_whitespace(text)
    found = departure(quote, text)
    if found is None:
        return f"; the article ({article_file}) has no passage close to it"
    at_quote, at_text = found
    passage = text[max(0, at_text - CONTEXT): at_text + CONTEXT]
    left = "…" if at_text > CONTEXT else ""
    right = "…" if at_text + CONTEXT < len(text) else ""
    ours = describe_char(quote[at_quote]) if at_quote < len(quote) else "nothing more"
    theirs = describe_char(text[at_text]) if at_text < len(text) else "the end of the text"
    return (f"; closest passage in {article_file}: \"{left}{passage}{right}\"; the quote departs from it at "
            f"character {at_quote + 1}: the quote has {ours} where the article has {theirs}")


def _articles(root: Path, descriptor: dict[str, Any]) -> tuple[str, str, dict[str, str]] | None:
    """(citations file, its resource name, {article key: article file}) of the package's citation model."""
    tables = discover_tables(root, descriptor)
    model = find_citation_model(tables)
    if model is None or model.articles is None:
        return None
    resources = {r["name"]: r for r in package_resources(descriptor) if isinstance(r.get("name"), str)}
    key = model.articles.key or "article_id"
    rows = read_rows(root / model.articles.file, resources[model.articles.name], root)
    paths = {row.get(key, ""): row["path"] for row in rows.values() if row.get("path")}
    return model.citations.file, model.citations.name, paths


def explain_quotes(findings: list[Finding], root: Path, descriptor: dict[str, Any]) -> list[Finding]:
    """``findings`` with a hint added to every quote-not-found finding it can explain (within the bounds)."""
    wanted = [f for f in findings if f.check == CHECK and f.row][:MAX_HINTS]
    if not wanted:
        return findings
    try:
        model = _articles(root, descriptor)
        if model is None:
            return findings
        file, name, paths = model
        resource = next(r for r in package_resources(descriptor) if r.get("name") == name)
        rows = read_rows(root / file, resource, root, {f.row for f in wanted if f.file == file})
    except (DpkgError, OSError, ValueError, KeyError, StopIteration):
        return findings  # an unreadable table: the checks report it
    hints: dict[int, str] = {}
    deadline = time.monotonic() + TIME_BUDGET
    for row, cells in rows.items():
        article = paths.get(cells.get("article_id", ""))
        if not article or not cells.get("quote") or time.monotonic() > deadline:
            continue
        try:
            check_relative_path(article, "path")
            text = (root / article).read_text(encoding="utf-8-sig", errors="replace")[:MAX_ARTICLE_CHARS]
        except (DpkgError, OSError):
            continue
        hints[row] = hint(cells["quote"], text, article)
    return [dataclasses.replace(f, message=f.message + hints[f.row])
            if f in wanted and f.file == file and f.row in hints else f for f in findings]

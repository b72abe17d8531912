"""Fill ``quote_start``/``quote_end`` of resources/citations.csv from the article texts.

Offsets are counted in Unicode code points into the article file read as UTF-8, end exclusive
(W3C TextPositionSelector). The quote is found under the one whitespace rule
(:func:`datapkg.checks.curation.normalise_whitespace`); the first occurrence wins. Rows whose
offsets are already set are left alone unless ``--all`` is given. `dpkg validate` proves the
result (check ``quote-offset-mismatch``); this script only saves typing.

    .venv/bin/python scripts/anchor_quotes.py [--all] [PACKAGE_DIR]
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

from datapkg.atomic import write_bytes
from datapkg.checks.curation import WHITESPACE_PY, normalise_whitespace


def normalised_with_map(text: str) -> tuple[str, list[int]]:
    """The text with every whitespace run as one space, and for each of its characters its offset in ``text``."""
    out: list[str] = []
    where: list[int] = []
    pos = 0
    for match in WHITESPACE_PY.finditer(text):
        for i in range(pos, match.start()):
            out.append(text[i])
            where.append(i)
        out.append(" ")
        where.append(match.start())
        pos = match.end()
    for i in range(pos, len(text)):
        out.append(text[i])
        where.append(i)
    return "".join(out), where


def locate(text: str, quote: str) -> tuple[int, int] | None:
    """``(start, end)`` of the first place where ``quote`` sits in ``text`` under the whitespace rule."""
    norm, where = normalised_with_map(text)
    needle = normalise_whitespace(quote)
    at = norm.find(needle)
    if at < 0 or not needle:
        return None
    last = where[at + len(needle) - 1]
    return where[at], last + 1


def main(argv: list[str]) -> int:
    redo = "--all" in argv
    args = [a for a in argv if a != "--all"]
    root = Path(args[0]) if args else Path(".")
    with (root / "resources" / "articles.csv").open(encoding="utf-8", newline="") as handle:
        paths = {r["article_id"]: r["path"] for r in csv.DictReader(handle)}
    cit_path = root / "resources" / "citations.csv"
    with cit_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    for name in ("quote_start", "quote_end"):
        if name not in fields:
            fields.insert(fields.index("quote") + 1 if name == "quote_start" else fields.index("quote_start") + 1, name)
    texts: dict[str, str] = {}
    missing = 0
    for row in rows:
        if row.get("quote_start") and row.get("quote_end") and not redo:
            continue
        article = row["article_id"]
        if article not in texts:
            texts[article] = (root / paths[article]).read_text(encoding="utf-8")
        span = locate(texts[article], row["quote"])
        if span is None:
            missing += 1
            print(f"{row['citation_id']}: quote not found in {article}", file=sys.stderr)
            continue
        row["quote_start"], row["quote_end"] = str(span[0]), str(span[1])
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_bytes(cit_path, out.getvalue().encode("utf-8"))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

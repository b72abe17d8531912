"""A small curated package (articles, texts, two curated tables, citations with offsets, corrections)
for the diff and evidence-reader tests. Citation offsets follow the contract: code points into the
article's text, end exclusive."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from tests.packages import table, write_package

TEXTS = {
    "art-1": "Kim Jong-un met Vladimir Putin in Vostochny on 13 September 2023.\n"
             "They talked about rockets & <b>satellites</b> for   two hours.\n",
    "art-2": "Putin arrived in Pyongyang on 19 June 2024 — his first visit in 24 years.\n"
             "Kim met him at the airport.\n",
}
PEOPLE = [
    {"person_id": "p-kim", "name_en": "Kim Jong-un"},
    {"person_id": "p-putin", "name_en": "Vladimir Putin"},
]
EVENTS = [
    {"event_id": "e-2023", "place": "Vostochny", "summary_en": "Summit at the Vostochny cosmodrome"},
    {"event_id": "e-2024", "place": "Pyongyang", "summary_en": "Putin's state visit to Pyongyang"},
]
# (citation_id, resource, record_id, article_id, quote, quote_en); c1 and c2 overlap, c3 lies inside c4
CITATIONS = [
    ("cit-0001", "people", "p-kim", "art-1", "Kim Jong-un met Vladimir Putin", "Kim Jong-un met Vladimir Putin"),
    ("cit-0002", "people", "p-putin", "art-1", "Vladimir Putin in Vostochny", "Vladimir Putin in Vostochny"),
    ("cit-0003", "events", "e-2023", "art-1", "Kim Jong-un met Vladimir Putin in Vostochny on 13 September 2023.",
     "Kim Jong-un met Vladimir Putin in Vostochny on 13 September 2023."),
    ("cit-0004", "events", "e-2023", "art-1", "They talked about rockets & <b>satellites</b> for two hours.",
     "They talked about rockets and satellites for two hours."),
    ("cit-0005", "events", "e-2024", "art-2", "Putin arrived in Pyongyang on 19 June 2024",
     "Putin arrived in Pyongyang on 19 June 2024"),
    ("cit-0006", "people", "p-putin", "art-2", "Putin arrived in Pyongyang", "Putin arrived in Pyongyang"),
]
CORRECTIONS = [
    {"correction_id": "cor-1", "resource": "events", "record_id": "e-2024", "field": "summary_en",
     "article_id": "art-2", "citation_id": "cit-0005", "as_reported": "first visit in 24 years",
     "recorded": "first visit since July 2000", "evidence": "Kremlin archive", "evidence_url": "https://example.org/x",
     "note": "The article counts from 2000."},
]


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    return out.getvalue()


def _offsets(text: str, quote: str) -> tuple[int, int]:
    """Offsets of ``quote`` in ``text`` under the one whitespace rule (runs of whitespace = one space)."""
    import re

    pattern = r"\s+".join(re.escape(word) for word in quote.split())
    match = re.search(pattern, text)
    assert match, quote
    return match.start(), match.end()


def fields(*names: str, **types: str) -> list[dict[str, Any]]:
    return [{"name": n, "type": types.get(n, "string")} for n in names]


def curated_package(root: Path, *, citations: list[tuple] | None = None, events: list[dict] | None = None,
                    people: list[dict] | None = None, corrections: list[dict] | None = None,
                    offsets: bool = True, **descriptor: Any) -> Path:
    """Write the curated package under ``root``; return ``root``."""
    citations = CITATIONS if citations is None else citations
    texts = {f"texts/{a}.txt": t for a, t in TEXTS.items()}
    cite_rows = []
    for cid, resource, record, article, quote, quote_en in citations:
        row = {"citation_id": cid, "resource": resource, "record_id": record, "article_id": article,
               "quote": quote, "quote_en": quote_en}
        if offsets:
            row["quote_start"], row["quote_end"] = _offsets(TEXTS[article], quote)
        cite_rows.append(row)
    cite_fields = ["citation_id", "resource", "record_id", "article_id", "quote", "quote_en"]
    if offsets:
        cite_fields += ["quote_start", "quote_end"]
    articles = [{"article_id": a, "path": f"texts/{a}.txt", "headline": f"Headline of {a}"} for a in TEXTS]
    files = {
        **texts,
        "data/articles.csv": _csv(articles, ["article_id", "path", "headline"]),
        "data/people.csv": _csv(PEOPLE if people is None else people, ["person_id", "name_en"]),
        "data/events.csv": _csv(EVENTS if events is None else events, ["event_id", "place", "summary_en"]),
        "data/citations.csv": _csv(cite_rows, cite_fields),
    }
    cor_fields = ["correction_id", "resource", "record_id", "field", "article_id", "citation_id", "as_reported",
                  "recorded", "evidence", "evidence_url", "note"]
    resources = [
        table("articles", "data/articles.csv", fields("article_id", "path", "headline"), primaryKey=["article_id"]),
        table("people", "data/people.csv", fields("person_id", "name_en"), primaryKey=["person_id"]),
        table("events", "data/events.csv", fields("event_id", "place", "summary_en"), primaryKey=["event_id"]),
        table("citations", "data/citations.csv",
              [{**f, **({"constraints": {"enum": ["people", "events"]}} if f["name"] == "resource" else {})}
               for f in fields(*cite_fields, quote_start="integer", quote_end="integer")],
              primaryKey=["citation_id"],
              foreignKeys=[{"fields": ["article_id"], "reference": {"resource": "articles", "fields": ["article_id"]}}]),
    ]
    corrections = CORRECTIONS if corrections is None else corrections
    if corrections:
        files["data/corrections.csv"] = _csv(corrections, cor_fields)
        resources.append(table("corrections", "data/corrections.csv", fields(*cor_fields),
                               primaryKey=["correction_id"]))
    descriptor = {"name": "curated-test", "version": "1.0.0", **descriptor}
    write_package(root, resources, files, **descriptor)
    return root

"""Views a package declares (``sqlViews``): created in the database, malformed ones skipped with a warning."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from datapkg.package_views import declared_views
from datapkg.sandbox import lock_down
from tests.test_query_analysts import own_cache, run  # noqa: F401  (own_cache is an autouse fixture)

ROOT = Path(__file__).resolve().parent.parent


def test_facts_as_reported_shows_each_citation_with_the_articles_version() -> None:
    rows = run(ROOT, "SELECT * FROM facts_as_reported")
    with (ROOT / "resources" / "citations.csv").open(encoding="utf-8", newline="") as handle:
        citations = list(csv.DictReader(handle))
    assert sorted(r["citation_id"] for r in rows) == sorted(c["citation_id"] for c in citations)
    moskow = {(r["article_id"], r["record_id"]) for r in rows if r["as_reported"] == "Moskow"}
    assert moskow == {("art-003", "mtg-2019-04-25-vladivostok-summit"), ("art-002", "mtg-2019-04-kim-visit-russia")}
    assert [r["article_id"] for r in rows] == sorted(r["article_id"] for r in rows)  # article by article


@pytest.mark.parametrize("entries, warning", [
    ("x", "sqlViews is not a list"),
    ([{"name": "Bad Name", "sql": "SELECT 1"}], "needs a lower-case identifier"),
    ([{"name": "v"}], "needs a lower-case identifier"),
    ([{"name": "v", "sql": "SELECT 1; DROP TABLE t"}], "view v"),
    ([{"name": "v", "sql": "COPY t TO 'x.csv'"}], "view v"),
])
def test_malformed_declarations_are_skipped(entries: object, warning: str) -> None:
    con = lock_down(duckdb.connect())
    views, warnings = declared_views(con, {"sqlViews": entries})
    assert views == [] and len(warnings) == 1 and warning in warnings[0]


def test_a_well_formed_declaration() -> None:
    con = lock_down(duckdb.connect())
    views, warnings = declared_views(con, {"sqlViews": [{"name": "v", "sql": "SELECT 1 AS one"}]})
    assert views == [("v", "View v, declared by the package.", "SELECT 1 AS one")] and warnings == []
    assert declared_views(con, {}) == ([], [])

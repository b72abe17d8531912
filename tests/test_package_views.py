"""Views a package declares (``sqlViews``): created in the database, malformed ones skipped with a warning."""

from __future__ import annotations

import json

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


def test_a_declared_view_that_fails_is_skipped_and_the_rest_are_written(tmp_path) -> None:
    """dpkg's own views and comments are written in one transaction; each view the package declares
    in its own, so one that DuckDB refuses (a missing table) or whose name is taken is skipped with a
    warning, and the views before and after it are in the file with their comments."""
    import duckdb

    from datapkg.database import create_database
    from tests.buildpkg import cited_package

    root = cited_package(tmp_path / "pkg", sqlViews=[
        {"name": "first", "sql": "SELECT person_id FROM people"},
        {"name": "broken", "sql": "SELECT * FROM no_such_table"},
        {"name": "people", "sql": "SELECT 1 AS one"},
        {"name": "last", "sql": "SELECT event_id FROM events"}])
    descriptor = json.loads((root / "datapackage.json").read_text(encoding="utf-8"))
    target = tmp_path / "out.duckdb"
    info = create_database(target, root, "datapackage.json", descriptor)
    assert [w.split(":")[0] for w in info.warnings if w.startswith("view ")] == [
        "view broken not created", "view people not created"]
    with duckdb.connect(str(target), read_only=True) as con:
        views = dict(con.execute("SELECT view_name, comment FROM duckdb_views() WHERE NOT internal").fetchall())
        columns = dict(con.execute("SELECT table_name || '.' || column_name, comment FROM duckdb_columns() "
                                   "WHERE table_name IN ('first', 'events_expanded')").fetchall())
    assert {"first", "last", "events_expanded"} <= set(views) and "broken" not in views
    assert views["first"] == "View first, declared by the package."
    assert columns["events_expanded.person_id"] == "Person id: Who." and "first.person_id" in columns

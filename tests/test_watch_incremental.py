"""--watch's incremental validation: after every kind of edit, the report equals a cold validate_package."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from datapkg.checks.gx_incremental import expectation_inputs
from datapkg.incremental import IncrementalValidation
from datapkg.report import Report
from datapkg.validate import validate_package
from tests.curatedpkg import curated_package


def _state(report: Report) -> dict:
    """Everything a report says, except how long it took (findings in a fixed order)."""
    data = report.to_dict()
    data["stats"].pop("seconds")
    data["errors"] = sorted(json.dumps(e, sort_keys=True) for e in data["errors"])
    return data


def _replace(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, (rel, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _truncate(root: Path, rel: str) -> None:
    """A save caught half-way: the file ends in the middle of a line."""
    path = root / rel
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])


def test_a_table_edit_reruns_only_what_reads_the_table_and_gives_the_cold_report(tmp_path: Path):
    root = curated_package(tmp_path / "pkg")
    watch = IncrementalValidation(root)
    try:
        watch()
        total = watch.last.ran
        _replace(root, "data/citations.csv", "Vladimir Putin in Vostochny", "Vladimir Putin at Vostochny")
        report = watch()
        assert _state(report) == _state(validate_package(root))
        assert watch.last.full is None and watch.last.reloaded == ["citations"] and 0 < watch.last.ran < total
        assert ("quote-not-found", 3) in {(f.check, f.row) for f in report.findings}
    finally:
        watch.close()


@pytest.mark.slow
def test_after_every_kind_of_edit_the_watch_reports_what_a_cold_run_reports(tmp_path: Path):
    root = curated_package(tmp_path / "pkg")
    saved = {rel: (root / rel).read_bytes() for rel in ("data/citations.csv", "datapackage.json")}
    watch = IncrementalValidation(root)
    try:
        first = watch()
        assert watch.last.full == "first run" and first.valid
        assert _state(first) == _state(validate_package(root))
        total = watch.last.ran

        def same(edit, *, full: str | None = None, reloaded: list[str] | None = None) -> Report:
            edit()
            report = watch()
            assert _state(report) == _state(validate_package(root)), edit.__name__
            assert watch.last.full == full, (edit.__name__, watch.last)
            if reloaded is not None:
                assert watch.last.reloaded == reloaded, (edit.__name__, watch.last)
            return report

        def quote_broken():
            _replace(root, "data/citations.csv", "Vladimir Putin in Vostochny", "Vladimir Putin at Vostochny")
        broken = same(quote_broken, reloaded=["citations"])
        assert ("quote-not-found", "data/citations.csv", 3, "quote") in {(f.check, f.file, f.row, f.field) for f in broken.findings}
        assert 0 < watch.last.ran < total  # only what reads citations ran again

        def enum_broken():  # one cell: only the expectations on its column and the table's SQL run again
            _replace(root, "data/citations.csv", "cit-0005,events", "cit-0005,evants")
        enum = same(enum_broken, reloaded=["citations"])
        assert ("constraint-error", 6, "resource") in {(f.check, f.row, f.field) for f in enum.findings}

        def person_removed():  # every later row moves up: row numbers of people change
            _replace(root, "data/people.csv", "p-kim,Kim Jong-un\n", "")
        removed = same(person_removed, reloaded=["people"])
        assert any(f.check == "unresolved-reference" and f.value == "p-kim" for f in removed.findings)

        def article_text_edited():  # no table changed: the rules on the article texts run again
            _replace(root, "texts/art-2.txt", "Putin arrived", "Putin flew")
        edited = same(article_text_edited, reloaded=[])
        assert 0 < watch.last.ran < total
        assert "quote-not-found" in {f.check for f in edited.findings}

        def event_repeated_and_blank_line():
            _replace(root, "data/events.csv", "e-2024,", "e-2023,")
            (root / "data/events.csv").write_text((root / "data/events.csv").read_text() + "\n,,\n")
        repeated = same(event_repeated_and_blank_line, reloaded=["events"])
        assert {"primary-key", "blank-row"} <= {f.check for f in repeated.findings}

        def citations_half_written():
            _truncate(root, "data/citations.csv")
        same(citations_half_written, reloaded=["citations"])

        def citations_written_out():
            (root / "data/citations.csv").write_bytes(saved["data/citations.csv"])
        same(citations_written_out, reloaded=["citations"])

        def touched_only():  # a new modification time, the same bytes: nothing is loaded or run again
            path = root / "data/people.csv"
            stat = path.stat()
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000))
        same(touched_only, reloaded=[])
        assert watch.last.ran == 0 and watch.last.changed == []

        def schema_changed():  # a descriptor change starts afresh
            descriptor = json.loads(saved["datapackage.json"])
            people = next(r for r in descriptor["resources"] if r["name"] == "people")
            people["schema"]["fields"][1]["constraints"] = {"pattern": "[A-Z].*"}
            (root / "datapackage.json").write_text(json.dumps(descriptor))
        same(schema_changed, full="datapackage.json changed")
        assert watch.last.kept == 0

        def event_back():
            _replace(root, "data/events.csv", "e-2023,Pyongyang", "e-2024,Pyongyang")
        same(event_back, reloaded=["events"])
    finally:
        watch.close()


def test_a_half_written_descriptor_fails_one_run_and_the_next_starts_afresh(tmp_path: Path):
    root = curated_package(tmp_path / "pkg")
    good = (root / "datapackage.json").read_text()
    watch = IncrementalValidation(root)
    try:
        watch()
        (root / "datapackage.json").write_text(good[: len(good) // 2])
        try:
            watch()
        except Exception as exc:  # noqa: BLE001 - the watch loop turns it into one line
            assert str(exc)
        else:
            raise AssertionError("a half-written descriptor validated")
        (root / "datapackage.json").write_text(good)
        report = watch()
        assert watch.last.full == "the run before did not finish"
        assert _state(report) == _state(validate_package(root))
    finally:
        watch.close()


def test_what_an_expectation_reads():
    typed = {"name": "people", "meta": {"resource": "people", "table": '"people"'}}
    cells = {"name": "people.cells", "meta": {"resource": "people", "table": 'raw."people"', "batch": "cells"}}
    columns = {("people", "main"): ["__row", "person_id", "name_en"], ("people", "raw"): ["__row", "person_id", "name_en"],
               ("citations", "main"): ["__row", "record_id", "quote"], ("events", "raw"): ["__row", "event_id"]}
    column = {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "person_id"}}
    assert expectation_inputs(typed, column, columns) == {("people", "main", "person_id")}
    assert expectation_inputs(cells, column, columns) == {("people", "raw", "person_id")}
    conditional = {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "person_id", "row_condition": "x>1"}}
    assert expectation_inputs(typed, conditional, columns) == {"people"}

    def rows(sql: str) -> dict:
        return {"type": "unexpected_rows_expectation", "kwargs": {"unexpected_rows_query": sql}}

    # the columns the SQL names, in each table it reads, and the row numbers
    assert expectation_inputs(typed, rows('SELECT __row AS _row FROM {batch} WHERE person_id NOT IN '
                                          '(SELECT c.Record_ID FROM "citations" c)'), columns) == {
        ("people", "main", "__row"), ("people", "main", "person_id"),
        ("citations", "main", "__row"), ("citations", "main", "record_id")}
    # the row-structure tables and the article texts as a whole; the code lists never change
    assert expectation_inputs(cells, rows('SELECT __row AS _row FROM raw."events#blank" UNION ALL '
                                          'SELECT __row FROM {batch} WHERE name_en IN (SELECT code FROM _codes)'),
                              columns) == {"events", ("people", "raw", "__row"), ("people", "raw", "name_en")}
    assert expectation_inputs(typed, rows("SELECT r._row FROM {batch} r JOIN _article_texts a ON a.text = r.name_en"),
                              columns) == {"_article_texts", ("people", "main", "__row"), ("people", "main", "name_en")}
    # whole rows: *, or a table named alone
    assert expectation_inputs(typed, rows("SELECT * FROM {batch}"), columns) == {"people"}
    assert expectation_inputs(typed, rows("SELECT p.__row AS _row, to_json(p) AS value FROM {batch} p"), columns) == {"people"}
    # a table that is not one of ours, or SQL DuckDB cannot parse: run it every time
    assert expectation_inputs(typed, rows("SELECT 1 AS _row FROM somewhere_else"), columns) is None
    assert expectation_inputs(typed, rows("SELEKT nonsense {batch}"), columns) is None

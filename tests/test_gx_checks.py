"""The GX path: each generated expectation kind fed broken data gives the exact finding."""

from __future__ import annotations

import json
from pathlib import Path

import frictionless
import pytest

from datapkg.checks.gx_checks import gx_resources, run_gx_checks
from tests.packages import write_package

PARENT_FIELDS = [
    {"name": "id", "type": "string", "constraints": {"required": True, "pattern": "P[0-9]{3}"}},
    {"name": "name", "type": "string", "constraints": {"required": True}},
]
CHILD_FIELDS = [
    {"name": "id", "type": "string", "constraints": {"required": True, "unique": True, "pattern": "C[0-9]+"}},
    {"name": "parent_id", "type": "string"},
    {"name": "day", "type": "date"},
    {"name": "country", "type": "string", "constraints": {"enum": ["RU", "KP", "CN"]}},
    {"name": "amount", "type": "number", "constraints": {"minimum": 0, "maximum": 100}},
    {"name": "n", "type": "integer"},
    {"name": "flag", "type": "boolean"},
    {"name": "note", "type": "string", "constraints": {"minLength": 2, "maxLength": 10}},
    {"name": "year", "type": "year"},
    {"name": "kind", "type": "string", "categories": ["a", "b"]},
]
CHILD_HEADER = [f["name"] for f in CHILD_FIELDS]
CLEAN_ROW = ["C1", "P001", "2024-03-01", "RU", "5.5", "7", "true", "ok note", "2024", "a"]


def _package(tmp_path: Path, child_rows: list[list[str]], child_schema: dict | None = None,
             parent_rows: list[list[str]] | None = None) -> tuple[Path, dict]:
    parent_rows = parent_rows or [["P001", "first"], ["P002", "second"]]
    child = "\n".join(",".join(r) for r in [CHILD_HEADER] + child_rows) + "\n"
    parent = "\n".join(",".join(r) for r in [["id", "name"]] + parent_rows) + "\n"
    resources = [
        {"name": "parent", "path": "data/parent.csv", "format": "csv",
         "schema": {"fields": PARENT_FIELDS, "primaryKey": ["id"]}},
        {"name": "child", "path": "data/child.csv", "format": "csv",
         "schema": child_schema or {"fields": CHILD_FIELDS, "primaryKey": ["id"],
                                    "foreignKeys": [{"fields": ["parent_id"], "reference": {"resource": "parent", "fields": ["id"]}}]}},
    ]
    descriptor_path = write_package(tmp_path, resources, {"data/parent.csv": parent, "data/child.csv": child})
    return tmp_path, json.loads(descriptor_path.read_text())


def _rows(n: int = 4) -> list[list[str]]:
    rows = []
    for i in range(n):
        row = list(CLEAN_ROW)
        row[0] = f"C{i + 1}"
        rows.append(row)
    return rows


def _findings(tmp_path: Path, rows: list[list[str]], **kwargs) -> list[tuple]:
    root, descriptor = _package(tmp_path, rows, **kwargs)
    findings = run_gx_checks(root, descriptor, curation=False)
    return sorted((f.check, f.file, f.row, f.field, f.value) for f in findings)


def test_clean_package_has_no_findings(tmp_path):
    assert _findings(tmp_path, _rows()) == []


BROKEN_CELLS = [
    ("id", "X9", "constraint-error"),
    ("day", "2024-02-30", "type-error"),
    ("day", "01/03/2024", "type-error"),
    ("country", "US", "constraint-error"),
    ("amount", "100.5", "constraint-error"),
    ("amount", "-1", "constraint-error"),
    ("amount", "lots", "type-error"),
    ("n", "7.5", "type-error"),
    ("flag", "yes", "type-error"),
    ("note", "x", "constraint-error"),
    ("note", "far too long a note", "constraint-error"),
    ("year", "24", "type-error"),
    ("kind", "c", "constraint-error"),
    ("parent_id", "P999", "foreign-key"),
]


@pytest.fixture(scope="module")
def broken_cells(tmp_path_factory) -> list[tuple]:
    """The findings of one package whose child table has a row per case of
    :func:`test_each_expectation_kind_reports_the_broken_cell`, case ``i`` breaking its cell in row
    ``i + 2`` (each row is the clean row but for its id; no check relates one row to another here
    but the id's uniqueness, which every case keeps)."""
    rows = _rows(len(BROKEN_CELLS))
    for i, (column, bad, _check) in enumerate(BROKEN_CELLS):
        rows[i][CHILD_HEADER.index(column)] = bad
    return _findings(tmp_path_factory.mktemp("broken-cells"), rows)


@pytest.mark.xdist_group("gx-broken-cells")  # one worker runs the checks once for every case
@pytest.mark.parametrize("column,bad,check", BROKEN_CELLS)
def test_each_expectation_kind_reports_the_broken_cell(broken_cells, column, bad, check):
    row = BROKEN_CELLS.index((column, bad, check)) + 2
    assert [f for f in broken_cells if f[1:3] == ("data/child.csv", row)] == [(check, "data/child.csv", row, column, bad)]
    cases = {("data/child.csv", r) for r in range(2, len(BROKEN_CELLS) + 2)}
    assert [f for f in broken_cells if f[1:3] not in cases] == []  # nothing found but the cases' cells


def test_required_field_left_empty(tmp_path):
    parent = [["P001", "first"], ["P002", ""]]
    assert _findings(tmp_path, _rows(), parent_rows=parent) == [
        ("constraint-error", "data/parent.csv", 3, "name", "")]


def test_unique_reports_the_repeats_like_frictionless(tmp_path):
    rows = _rows()
    rows[3][0] = "C2"
    found = _findings(tmp_path, rows)
    assert found == [("primary-key", "data/child.csv", 5, "id", "C2")]


def test_compound_primary_key_and_unique_keys(tmp_path):
    schema = {"fields": CHILD_FIELDS, "primaryKey": ["id", "n"], "uniqueKeys": [["country", "kind"]]}
    rows = _rows(3)
    rows[1][0] = "C1"
    rows[2][3] = "KP"
    found = _findings(tmp_path, rows, child_schema=schema)
    # rows 2 and 3 share (id, n); rows 2 and 3 also share (country, kind) = (RU, a); row 4 is (KP, a)
    assert ("primary-key", "data/child.csv", 3, "id,n", "C1,7") in found
    assert ("unique-error", "data/child.csv", 3, "country,kind", "RU,a") in found
    assert all(f[2] == 3 for f in found)


def test_missing_values_are_not_type_errors(tmp_path):
    schema = {"fields": CHILD_FIELDS, "missingValues": ["", "NA"]}
    rows = _rows()
    rows[1][5] = "NA"
    rows[2][5] = "x"
    assert _findings(tmp_path, rows, child_schema=schema) == [
        ("type-error", "data/child.csv", 4, "n", "x")]


def test_hand_written_suite_adds_to_generated(tmp_path):
    rows = _rows()
    rows[1][4] = "60"
    root, descriptor = _package(tmp_path, rows)
    suite = {"name": "child", "meta": {"resource": "child"}, "expectations": [  # same name as the generated one
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "amount", "max_value": 50},
         "meta": {"dpkg": {"message": "amount {value} is above 50"}}},
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 10}, "meta": {}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "no_such_column"}, "meta": {}},
    ]}
    (root / "validations").mkdir()
    (root / "validations" / "child-extra.json").write_text(json.dumps(suite))
    findings = run_gx_checks(root, descriptor, curation=False)
    got = sorted((f.check, f.row, f.field, f.message) for f in findings)
    assert ("expect_column_values_to_be_between", 3, "amount", "amount 60 is above 50") in got
    assert ("expect_table_row_count_to_be_between", None, None, "expect_table_row_count_to_be_between failed (observed: 4)") in got
    assert [g[:3] for g in got if g[0] == "gx-expectation-error"] == [("gx-expectation-error", None, "no_such_column")]
    assert len(got) == 3


def test_what_gx_prints_goes_to_stderr_not_into_the_report(tmp_path):
    """GX print()s a warning for a rule without {batch}: `--format json` still writes JSON alone."""
    from typer.testing import CliRunner

    from datapkg.cli.main import app

    root, _ = _package(tmp_path, _rows())
    (root / "validations").mkdir()
    (root / "validations" / "child-extra.json").write_text(json.dumps({
        "name": "child-extra", "meta": {"resource": "child"}, "expectations": [
            {"type": "unexpected_rows_expectation", "meta": {"dpkg": {"check": "no-batch"}},
             "kwargs": {"unexpected_rows_query": "SELECT __row AS _row FROM child WHERE amount > 5"}}]}))
    result = CliRunner().invoke(app, ["validate", str(root), "--format", "json"])
    assert result.exit_code == 1
    assert {e["check"] for e in json.loads(result.stdout)["errors"]} == {"no-batch"}
    assert "should contain the {batch} parameter" in result.stderr


def test_gx_resources_names_what_the_path_covers(tmp_path):
    root, descriptor = _package(tmp_path, _rows())
    descriptor["resources"].append({"name": "sheet", "path": "x.xlsx", "format": "xlsx", "schema": {"fields": [{"name": "a"}]}})
    assert gx_resources(root, descriptor) == {"parent", "child"}


def test_data_docs_are_written(tmp_path):
    rows = _rows()
    rows[0][3] = "US"
    root, descriptor = _package(tmp_path / "pkg", rows)
    docs = tmp_path / "docs"
    findings = run_gx_checks(root, descriptor, data_docs=docs, curation=False)
    assert [f.row for f in findings] == [2]
    pages = list(docs.rglob("*.html"))
    assert (docs / "index.html").is_file() and len(pages) > 1


def test_same_seeded_errors_as_frictionless(tmp_path):
    """Seeded errors of each kind: frictionless and the GX path find them at the same file, row and field."""
    rows = _rows(8)
    seeds = {(3, "id"): "bad", (4, "day"): "2024-13-01", (5, "country"): "XX", (6, "amount"): "1000",
             (7, "n"): "seven", (8, "parent_id"): "P404", (9, "note"): "y"}
    for (row, column), value in seeds.items():
        rows[row - 2][CHILD_HEADER.index(column)] = value
    root, descriptor = _package(tmp_path, rows)
    report = frictionless.validate(str(root / "datapackage.json"))
    by_frictionless = sorted({(task.place, e.row_number,
                               getattr(e, "field_name", None) or ",".join(getattr(e, "field_names", [])))
                              for task in report.tasks for e in task.errors})
    by_gx = sorted({(f.file, f.row, f.field) for f in run_gx_checks(root, descriptor, curation=False)})
    assert by_gx == by_frictionless
    assert len(by_gx) == len(seeds)


def test_resources_limit_the_suites_that_run(tmp_path):
    rows = _rows()
    rows[0][3] = "US"
    root, descriptor = _package(tmp_path, rows, parent_rows=[["P001", "first"], ["bad", "x"]])
    findings = run_gx_checks(root, descriptor, curation=False, resources={"parent"})
    assert [(f.file, f.row, f.field) for f in findings] == [("data/parent.csv", 3, "id")]


def test_only_keeps_the_expectations_it_is_true_for(tmp_path):
    rows = _rows()
    rows[0][3], rows[1][4] = "US", "-1"  # an enum and a minimum broken in child
    root, descriptor = _package(tmp_path, rows, parent_rows=[["P001", "first"], ["bad", "x"]])
    every = run_gx_checks(root, descriptor, curation=False)
    assert {(f.file, f.row, f.field) for f in every} == {("data/parent.csv", 3, "id"), ("data/child.csv", 2, "country"),
                                                        ("data/child.csv", 3, "amount")}
    country = run_gx_checks(root, descriptor, curation=False,
                            only=lambda suite, exp: (exp.get("kwargs") or {}).get("column") == "country")
    assert [(f.check, f.file, f.row, f.field) for f in country] == [("constraint-error", "data/child.csv", 2, "country")]
    assert run_gx_checks(root, descriptor, curation=False, only=lambda suite, exp: False) == []


def test_validate_package_passes_only_to_gx_and_runs_every_structure_check(tmp_path):
    from datapkg.validate import validate_package

    rows = _rows()
    rows[0][3], rows[1][4] = "US", "-1"
    root, _ = _package(tmp_path, rows)
    (root / "resources").mkdir()
    (root / "resources" / "stray.csv").write_text("x\n")  # a file check's finding
    every = {(f.check, f.file, f.row, f.field) for f in validate_package(root).findings}
    assert {("constraint-error", "data/child.csv", 2, "country"), ("constraint-error", "data/child.csv", 3, "amount"),
            ("stray-file", "resources/stray.csv", None, None)} <= every
    country = validate_package(root, only=lambda suite, exp: (exp.get("kwargs") or {}).get("column") == "country")
    assert {(f.check, f.file, f.row, f.field) for f in country.findings} == {
        ("constraint-error", "data/child.csv", 2, "country"), ("stray-file", "resources/stray.csv", None, None)}


def test_suite_for_an_unknown_resource_and_malformed_descriptor(tmp_path):
    root, descriptor = _package(tmp_path, _rows())
    (root / "validations").mkdir()
    (root / "validations" / "ghost.json").write_text(json.dumps(
        {"name": "ghost", "meta": {"resource": "ghost"}, "expectations": []}))
    findings = run_gx_checks(root, descriptor, curation=False)
    assert [(f.check, f.file) for f in findings] == [("gx-suite-error", "validations/ghost.json")]
    malformed = run_gx_checks(root, {"resources": 5})
    assert [(f.check, f.file) for f in malformed] == [("gx-suite-error", "validations/ghost.json")]
    assert gx_resources(root, {"resources": 5}) == set()


def test_structure_missing_cell_and_blank_row_like_frictionless(tmp_path):
    fields = [{"name": "a", "type": "string"}, {"name": "b", "type": "string"}, {"name": "c", "type": "string"}]
    fields[0]["constraints"] = {"required": True}
    text = "a,b,c\nx,y,z\nx,y\n,,\nx,y,z\n\n\nx,y,z\nx\n"
    write_package(tmp_path, [{"name": "t", "path": "t.csv", "format": "csv", "schema": {"fields": fields}}], {"t.csv": text})
    descriptor = json.loads((tmp_path / "datapackage.json").read_text())
    by_gx = sorted((f.check, f.row, f.field) for f in run_gx_checks(tmp_path, descriptor, curation=False))
    assert by_gx == [("blank-row", 4, None), ("blank-row", 6, None), ("blank-row", 7, None), ("missing-cell", 3, "c"),
                     ("missing-cell", 9, "b"), ("missing-cell", 9, "c")]  # a short row: each missing cell
    report = frictionless.validate(str(tmp_path / "datapackage.json"))
    by_frictionless = sorted((e.type, e.row_number, getattr(e, "field_name", None)) for t in report.tasks for e in t.errors)
    assert by_gx == by_frictionless


def test_nothing_to_check_means_no_gx_import(tmp_path):
    import subprocess
    import sys

    root, _ = _package(tmp_path, _rows())
    code = ("import json, sys; from pathlib import Path; from datapkg.checks.gx_checks import run_gx_checks; "
            f"root = Path({str(root)!r}); d = json.loads((root / 'datapackage.json').read_text()); "
            "print(run_gx_checks(root, d, resources=set(), curation=False), 'great_expectations' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "False"]


def test_undecodable_bytes_deep_in_a_file_are_an_encoding_error(tmp_path):
    rows = _rows(3)
    root, descriptor = _package(tmp_path, rows)
    path = root / "data" / "child.csv"
    path.write_bytes(path.read_bytes() + b"C9,P001,2024-03-01,RU,1,1,true,caf\xe9,2024,a\n")
    findings = run_gx_checks(root, descriptor, curation=False)
    assert [(f.check, f.file, f.row) for f in findings] == [("encoding-error", "data/child.csv", None)]
    assert "not valid UTF-8" in findings[0].message


def test_schema_checks_of_a_large_child_still_see_its_parent(tmp_path):
    rows = _rows()
    rows[1][1] = "P404"
    root, descriptor = _package(tmp_path, rows)
    findings = run_gx_checks(root, descriptor, curation=False, resources={"child"})
    assert [(f.check, f.file, f.row, f.field) for f in findings] == [("foreign-key", "data/child.csv", 3, "parent_id")]


def test_data_docs_even_when_nothing_is_checked(tmp_path):
    root, descriptor = _package(tmp_path / "pkg", _rows())
    docs = tmp_path / "docs"
    assert run_gx_checks(root, descriptor, curation=False, resources=set(), data_docs=docs) == []
    assert (docs / "index.html").is_file()


@pytest.mark.parametrize("early", [True, False])
def test_extra_cells_like_frictionless(tmp_path, early):
    """A row longer than the header: in DuckDB's sniffing sample, or far beyond it."""
    fields = [{"name": "a", "type": "integer"}, {"name": "b", "type": "string"}]
    lines = ["a,b"] + [f"{i},x" for i in range(30_000)]
    bad = 3 if early else 25_000
    lines[bad - 1] += ",EXTRA"
    write_package(tmp_path, [{"name": "t", "path": "t.csv", "format": "csv", "schema": {"fields": fields}}],
                  {"t.csv": "\n".join(lines) + "\n"})
    descriptor = json.loads((tmp_path / "datapackage.json").read_text())
    found = [(f.check, f.row, f.field, f.value) for f in run_gx_checks(tmp_path, descriptor, curation=False)]
    assert found == [("extra-cell", bad, None, "EXTRA")]
    report = frictionless.validate(str(tmp_path / "datapackage.json"))
    assert [(e.type, e.row_number) for t in report.tasks for e in t.errors] == [("extra-cell", bad)]


def test_gx_leaves_no_temporary_files(tmp_path, monkeypatch):
    import tempfile

    rows = _rows()
    rows[0][3] = "US"
    root, descriptor = _package(tmp_path / "pkg", rows)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    assert run_gx_checks(root, descriptor)
    assert list(scratch.iterdir()) == []


def test_a_second_run_in_the_same_process_gives_the_same_findings(tmp_path):
    """GX stays loaded between runs (--watch, tests): nothing of the first run leaks into the second."""
    rows = _rows()
    rows[1][1] = "P404"
    root, descriptor = _package(tmp_path, rows)
    first = run_gx_checks(root, descriptor)
    assert first and run_gx_checks(root, descriptor) == first


def test_two_lanes_give_the_findings_of_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Suites validated in two threads (two DuckDB cursors, two GX data sources) give the same
    findings, in the same order, as one lane does."""
    from datapkg.checks import gx_checks
    from datapkg.validate import validate_package
    from tests.test_validate import _pad

    package = _pad(tmp_path / "p", 100)
    monkeypatch.setattr(gx_checks, "GX_LANES", 1)
    one = [f.to_dict() for f in validate_package(package).findings]
    monkeypatch.setattr(gx_checks, "GX_LANES", 2)
    two = [f.to_dict() for f in validate_package(package).findings]
    assert one == two
    assert len(one) > 10


def test_the_duckdb_engine_leaves_gx_spark_integration_out(tmp_path: Path) -> None:
    """`dpkg validate` (DuckDB engine) blocks pyspark before GX loads, so GX's Spark integration is
    not imported even with the [spark] extra installed; library callers and CliRunner are left alone."""
    import subprocess
    import sys

    from tests.packages import table

    package = tmp_path / "p"  # one type error: GX loads during the validation
    write_package(package, [table("t", "data/t.csv", [{"name": "id", "type": "integer"}])], {"data/t.csv": "id\n1\nx\n"})
    script = ("import sys\nfrom datapkg.cli import entry, main\n"
              "package = sys.argv[1]\n"
              "main.run = lambda: print(main.app(['validate', package, '--format', 'json'], standalone_mode=False))\n"
              "sys.argv = ['dpkg', 'validate', package]\n"
              "try:\n    entry.run()\nexcept SystemExit:\n    pass\n"
              "import great_expectations.compatibility.pyspark as spark\n"
              "print('BLOCKED' if sys.modules.get('pyspark', 0) is None and not spark.pyspark else 'LOADED')\n")
    done = subprocess.run([sys.executable, "-c", script, str(package)], capture_output=True, text=True, timeout=300)
    assert done.stdout.strip().splitlines()[-2:] == ["1", "BLOCKED"], done.stdout[-2000:] + done.stderr[-2000:]
    assert '"check": "type-error"' in done.stdout  # the validation ran (it failed at once on its arguments)
    # the library path, in this process (which never runs the CLI entry point): neither importing
    # gx_checks, nor a GX context, nor a CliRunner validation blocks pyspark
    from typer.testing import CliRunner

    from datapkg.checks.gx_checks import gx_context
    from datapkg.cli.main import app

    gx_context()
    assert sys.modules.get("pyspark", 0) is not None
    assert CliRunner().invoke(app, ["validate", str(package), "--format", "json"]).exit_code == 1
    assert sys.modules.get("pyspark", 0) is not None  # this test process may still use Spark

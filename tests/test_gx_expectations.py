"""Suite generation from Table Schemas, ``dpkg expectations generate``, curation rules through GX."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from datapkg.cli.main import app
from datapkg.checks.gx_checks import run_gx_checks
from datapkg.expectations import URE, cell_expectations, table_expectations
from tests.packages import write_package

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True, "unique": True, "minimum": 1}},
        {"name": "code", "type": "string", "constraints": {"pattern": "[A-Z]{2}", "enum": ["RU", "KP"],
                                                            "minLength": 2, "maxLength": 2}},
        {"name": "day", "type": "date", "constraints": {"exclusiveMaximum": "2030-01-01"}},
        {"name": "kind", "type": "string", "categories": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}]},
        {"name": "tags", "type": "list", "itemType": "integer"},
        {"name": "parent", "type": "integer"},
    ],
    "primaryKey": "id",
    "uniqueKeys": [["code", "day"]],
    "foreignKeys": [{"fields": "parent", "reference": {"resource": "", "fields": "id"}}],
}


def _kinds(expectations):
    return {(e["type"], e["kwargs"].get("column") or e["meta"]["dpkg"]["field"], e["meta"]["dpkg"]["check"],
             e["meta"]["dpkg"].get("constraint")) for e in expectations}


def test_every_schema_constraint_becomes_an_expectation():
    """On the typed table, GX's own expectations and SQL for the keys; on the cells, structure,
    required and the types (the loader's parse rule). Real columns only."""
    assert _kinds(table_expectations("t", SCHEMA)) == {
        ("expect_column_values_to_be_unique", "id", "primary-key", None),   # the key's finding wins over unique
        ("expect_column_values_to_be_between", "id", "constraint-error", "range"),
        ("expect_column_values_to_be_in_set", "code", "constraint-error", "enum"),
        ("expect_column_values_to_match_regex", "code", "constraint-error", "pattern"),
        ("expect_column_value_lengths_to_be_between", "code", "constraint-error", "length"),
        ("expect_column_values_to_be_between", "day", "constraint-error", "range"),
        ("expect_column_values_to_be_in_set", "kind", "constraint-error", "categories"),
        (URE, "code,day", "unique-error", None),
        (URE, "parent", "foreign-key", None),
    }
    assert _kinds(cell_expectations("t", SCHEMA)) == {
        (URE, None, "missing-cell", None), (URE, None, "blank-row", None), (URE, None, "extra-cell", None),
        ("expect_column_values_to_not_be_in_set", "id", "constraint-error", "required"),
        (URE, "id", "type-error", None), (URE, "day", "type-error", None), (URE, "tags", "type-error", None),
        (URE, "parent", "type-error", None),
    }
    day_range = next(e for e in table_expectations("t", SCHEMA) if e["kwargs"].get("column") == "day")
    assert day_range["kwargs"]["strict_max"] is True
    for exp in table_expectations("t", SCHEMA) + cell_expectations("t", SCHEMA):
        assert "::" not in json.dumps(exp["kwargs"]) and "rule:" not in json.dumps(exp["kwargs"])  # no synthetic column
        if exp["type"] == URE:
            assert "{batch}" in exp["kwargs"]["unexpected_rows_query"]


def test_generated_kinds_catch_broken_rows(tmp_path):
    text = ("id,code,day,kind,tags,parent\n"
            "1,RU,2024-01-01,a,\"1,2\",\n"
            "2,KP,2024-01-02,b,\"3,x\",1\n"        # row 3: list item not an integer
            "3,RU,2031-05-01,a,,7\n"               # row 4: day too late; parent 7 missing
            "0,RU,2024-01-01,a,,\n")               # row 5: id < 1; (code, day) repeats row 2
    write_package(tmp_path, [{"name": "t", "path": "t.csv", "format": "csv", "schema": SCHEMA}], {"t.csv": text})
    descriptor = json.loads((tmp_path / "datapackage.json").read_text())
    found = sorted((f.check, f.row, f.field) for f in run_gx_checks(tmp_path, descriptor, curation=False))
    assert found == [
        ("constraint-error", 4, "day"),
        ("constraint-error", 5, "id"),
        ("foreign-key", 4, "parent"),
        ("type-error", 3, "tags"),
        ("unique-error", 5, "code,day"),
    ]


def _copy_project(repo_root: Path, target: Path) -> Path:
    shutil.copytree(repo_root, target, ignore=shutil.ignore_patterns(".venv", ".git", "dist", "*.egg-info", "__pycache__",
                                                                      ".pytest_cache", "node_modules", "validations"))
    return target


def test_cli_generate_writes_gx_suites_that_gx_reads(tmp_path, repo_root):
    import great_expectations as gx

    pkg = _copy_project(repo_root, tmp_path / "pkg")
    result = CliRunner().invoke(app, ["expectations", "generate", str(pkg)])
    assert result.exit_code == 0, result.stderr
    descriptor = json.loads((pkg / "datapackage.json").read_text())
    files = sorted(p.name for p in (pkg / "validations").glob("*.json"))
    assert files == sorted(f"{r['name']}{suffix}.json" for r in descriptor["resources"] if "schema" in r
                           for suffix in ("", ".cells"))
    gx.get_context(mode="ephemeral")
    for path in (pkg / "validations").glob("*.json"):
        data = json.loads(path.read_text())
        assert data["meta"]["resource"] == path.stem.removesuffix(".cells")
        suite = gx.ExpectationSuite(**data)
        assert len(suite.expectations) == len(data["expectations"]) > 0
    # a hand-written suite is never overwritten
    hand = pkg / "validations" / "articles.json"
    hand.write_text(json.dumps({"name": "mine", "meta": {"resource": "articles"}, "expectations": []}))
    result = CliRunner().invoke(app, ["expectations", "generate", str(pkg)])
    assert result.exit_code == 2 and "not a generated suite" in result.stderr
    assert json.loads(hand.read_text())["name"] == "mine"


def test_cli_generate_bad_path():
    result = CliRunner().invoke(app, ["expectations", "generate", "/no/such/package"])
    assert result.exit_code == 2 and "no such file" in result.stderr


def test_curation_rules_are_asserted_by_gx(tmp_path, repo_root):
    """A quote changed in citations.csv: the curation rule's SQL finds it, GX reports it."""
    pkg = _copy_project(repo_root, tmp_path / "pkg")
    citations = pkg / "resources" / "citations.csv"
    lines = citations.read_text(encoding="utf-8").splitlines(keepends=True)
    header = lines[0].rstrip("\r\n").split(",")
    quote_at = header.index("quote")
    import csv
    import io

    rows = list(csv.reader(io.StringIO("".join(lines))))
    rows[1][quote_at] = "Kalimat ini tidak ada di artikel mana pun sama sekali."
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    citations.write_text(out.getvalue(), encoding="utf-8")
    descriptor = json.loads((pkg / "datapackage.json").read_text())
    findings = run_gx_checks(pkg, descriptor)
    assert [f for f in findings if f.check.startswith("gx-")] == []  # every suite ran
    found = [f for f in findings if f.check == "quote-not-found"]
    assert [(f.file, f.row, f.field) for f in found] == [("resources/citations.csv", 2, "quote")]
    assert "is not in the text of article" in found[0].message


def test_cli_generate_zipped_package_needs_out(tmp_path):
    import zipfile

    write_package(tmp_path / "src", [{"name": "t/x", "path": "t.csv", "format": "csv", "schema": SCHEMA}],
                  {"t.csv": "id,code,day,kind,tags,parent\n1,RU,2024-01-01,a,,\n"})
    archive = tmp_path / "p.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ("datapackage.json", "t.csv"):
            zf.write(tmp_path / "src" / name, name)
    result = CliRunner().invoke(app, ["expectations", "generate", str(archive)])
    assert result.exit_code == 2 and "--out" in result.stderr
    result = CliRunner().invoke(app, ["expectations", "generate", str(archive), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["t_x.cells.json", "t_x.json"]  # safe file names


def _edit_csv(path: Path, row: int, field: str, value: str) -> None:
    """Set ``field`` of data row ``row`` (frictionless numbering: first data row is 2)."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    rows[row - 1][rows[0].index(field)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def test_gx_asserts_the_same_curation_findings_as_the_curation_engine(tmp_path, repo_root):
    from datapkg.checks.curation import run_curation_checks
    from tests.test_curation import changed_columns, reads_any

    pkg = _copy_project(repo_root, tmp_path / "pkg")
    _edit_csv(pkg / "resources" / "officials.csv", 2, "country", "XX")           # unknown country code
    _edit_csv(pkg / "resources" / "meetings.csv", 2, "date", "2000-13")           # not an EDTF date
    _edit_csv(pkg / "resources" / "citations.csv", 3, "quote", "Tidak ada di artikel mana pun, sungguh.")
    descriptor = json.loads((pkg / "datapackage.json").read_text())
    by_curation = {(f.check, f.file, f.row, f.field) for f in run_curation_checks(pkg, descriptor)}
    # every suite, but only the expectations that read a changed column: the others find nothing in
    # this repository's package (tests/test_curation.py: findings(), test_real_package_has_no_curation_findings)
    changed = changed_columns(pkg)
    assert changed == {("officials", "country"), ("meetings", "date"), ("citations", "quote")}
    gx_findings = run_gx_checks(pkg, descriptor, only=lambda suite, exp: reads_any(suite, exp, changed))
    by_gx = {(f.check, f.file, f.row, f.field) for f in gx_findings}
    assert {"unknown-country-code", "invalid-edtf-date", "quote-not-found"} <= {c for c, *_ in by_curation}
    assert by_curation <= by_gx  # run_curation_checks: the same expectations, the curation ones only
    assert {k for k in by_gx if k[0] in {c for c, *_ in by_curation}} == by_curation

"""dpkg validate: every check fed broken data, asserting the exact finding (check, file, row, field)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datapkg.cli.main import app
from tests.packages import table, write_package

runner = CliRunner()
ID = {"name": "id", "type": "integer", "constraints": {"required": True}}


def run_json(path: Path, *extra: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["validate", str(path), "--format", "json", *extra])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def keys(report: dict) -> set[tuple]:
    return {(e["check"], e["file"], e["row"], e["field"]) for e in report["errors"]}


# One package per frictionless error type: (resources, files) -> expected key
CASES = {
    "type-error": ([table("t", "data/t.csv", [ID, {"name": "d", "type": "date"}])],
                   {"data/t.csv": "id,d\n1,2020-01-01\n2,not-a-date\n"}, ("type-error", "data/t.csv", 3, "d")),
    "required": ([table("t", "data/t.csv", [ID, {"name": "n", "type": "string", "constraints": {"required": True}}])],
                 {"data/t.csv": "id,n\n1,a\n2,\n"}, ("constraint-error", "data/t.csv", 3, "n")),
    "enum": ([table("t", "data/t.csv", [ID, {"name": "c", "type": "string", "constraints": {"enum": ["RU", "KP"]}}])],
             {"data/t.csv": "id,c\n1,RU\n2,XX\n"}, ("constraint-error", "data/t.csv", 3, "c")),
    "pattern": ([table("t", "data/t.csv", [ID, {"name": "q", "type": "string", "constraints": {"pattern": "Q[0-9]+"}}])],
                {"data/t.csv": "id,q\n1,Q1\n2,X1\n3,Q3\n"}, ("constraint-error", "data/t.csv", 3, "q")),
    "minimum": ([table("t", "data/t.csv", [ID, {"name": "v", "type": "number", "constraints": {"minimum": 0}}])],
                {"data/t.csv": "id,v\n1,5\n2,3\n3,-1\n"}, ("constraint-error", "data/t.csv", 4, "v")),
    "unique": ([table("t", "data/t.csv", [ID, {"name": "u", "type": "string", "constraints": {"unique": True}}])],
               {"data/t.csv": "id,u\n1,a\n2,a\n"}, ("unique-error", "data/t.csv", 3, "u")),
    "primary-key": ([table("t", "data/t.csv", [ID], primaryKey=["id"])],
                    {"data/t.csv": "id\n1\n2\n2\n"}, ("primary-key", "data/t.csv", 4, "id")),
    "foreign-key": ([table("p", "data/p.csv", [ID], primaryKey=["id"]),
                     table("c", "data/c.csv", [{"name": "pid", "type": "integer"}],
                           foreignKeys=[{"fields": ["pid"], "reference": {"resource": "p", "fields": ["id"]}}])],
                    {"data/p.csv": "id\n1\n", "data/c.csv": "pid\n1\n7\n"}, ("foreign-key", "data/c.csv", 3, "pid")),
    "blank-row": ([table("t", "data/t.csv", [ID])], {"data/t.csv": "id\n1\n\n3\n"}, ("blank-row", "data/t.csv", 3, None)),
    "extra-cell": ([table("t", "data/t.csv", [ID])], {"data/t.csv": "id\n1\n2,x\n"}, ("extra-cell", "data/t.csv", 3, None)),
    "missing-cell": ([table("t", "data/t.csv", [ID, {"name": "n", "type": "string"}])],
                     {"data/t.csv": "id,n\n1,a\n2\n"}, ("missing-cell", "data/t.csv", 3, "n")),
    "duplicate-label": ([table("t", "data/t.csv", [ID, {"name": "id2", "type": "integer"}])],
                        {"data/t.csv": "id,id\n1,2\n"}, ("duplicate-label", "data/t.csv", 1, "id2")),
    "blank-label": ([table("t", "data/t.csv", [ID, {"name": "n", "type": "string"}])],
                    {"data/t.csv": "id,\n1,a\n"}, ("blank-label", "data/t.csv", 1, "n")),
    "incorrect-label": ([table("t", "data/t.csv", [ID, {"name": "n", "type": "string"}])],
                        {"data/t.csv": "id,name\n1,a\n"}, ("incorrect-label", "data/t.csv", 1, "n")),
    "scheme-error": ([table("t", "data/missing.csv", [ID])], {}, ("scheme-error", "data/missing.csv", None, None)),
    "encoding-error": ([table("t", "data/t.csv", [{"name": "s", "type": "string"}]) | {"encoding": "utf-8"}],
                       {"data/t.csv": b"s\n\xff\xfe\n"}, ("encoding-error", "data/t.csv", None, None)),
    "hash-count": ([table("t", "data/t.csv", [ID]) | {"hash": "sha256:" + "0" * 64}],
                   {"data/t.csv": "id\n1\n"}, ("hash-count", "data/t.csv", None, None)),
    "byte-count": ([table("t", "data/t.csv", [ID]) | {"bytes": 999}],
                   {"data/t.csv": "id\n1\n"}, ("byte-count", "data/t.csv", None, None)),
    "resource-error": ([{"name": "t", "path": 5}], {}, ("resource-error", "datapackage.json", None, None)),
    "package-error": (5, {}, ("package-error", "datapackage.json", None, None)),
    "field-error": ([{"name": "t", "path": "t.csv", "schema": {"fields": [{"name": "id", "type": "no-such-type"}]}}],
                     {"t.csv": "id\n1\n"}, ("field-error", "datapackage.json", None, None)),
    "byte-order-mark": ([table("t", "data/t.csv", [ID])], {"data/t.csv": b"\xef\xbb\xbfid\n1\n"},
                        ("byte-order-mark", "data/t.csv", 1, None)),
    "stray-file": ([table("t", "resources/t.csv", [ID])], {"resources/t.csv": "id\n1\n", "resources/old.csv": "id\n"},
                   ("stray-file", "resources/old.csv", None, None)),
}


@pytest.fixture(scope="module")
def case_validation(tmp_path_factory: pytest.TempPathFactory):
    """``case -> run_json`` of the package of ``CASES[case]``, validated once per case for the two
    tests below, which make the same call (``dpkg validate --format json``) and read it."""
    done: dict[str, tuple[int, dict]] = {}

    def of(case: str) -> tuple[int, dict]:
        if case not in done:
            resources, files, _expected = CASES[case]
            root = tmp_path_factory.mktemp(case)
            write_package(root, resources, files)
            done[case] = run_json(root)
        return done[case]

    return of


@pytest.mark.xdist_group("validate-cases")  # with test_each_check_on_the_default_path: one validation per case
@pytest.mark.parametrize("case", sorted(CASES))
def test_each_check_reports_exact_location(case_validation, case: str) -> None:
    expected = CASES[case][2]
    code, report = case_validation(case)
    assert code == 1
    assert expected in keys(report), report["errors"]
    finding = next(e for e in report["errors"] if (e["check"], e["file"], e["row"], e["field"]) == expected)
    assert finding["message"] and "\n" not in finding["message"]


def _articles_package(tmp_path: Path, recorded: str | None = None, path: str = "seeds/a.txt") -> Path:
    text = "Sebuah artikel.\n"
    digest = hashlib.sha256(text.encode()).hexdigest()
    fields = [{"name": "article_id", "type": "string"}, {"name": "path", "type": "string"},
              {"name": "sha256", "type": "string"}]
    return write_package(tmp_path, [table("articles", "resources/articles.csv", fields)],
                         {"seeds/a.txt": text, "resources/articles.csv": f"article_id,path,sha256\na1,{path},{recorded or digest}\n"})


def test_article_files_are_named_and_hashed(tmp_path: Path) -> None:
    _articles_package(tmp_path)
    code, report = run_json(tmp_path)
    assert code == 0 and report["valid"] and report["errors"] == []


def test_hash_mismatch_of_an_article_row(tmp_path: Path) -> None:
    _articles_package(tmp_path, recorded="ab" * 32)
    code, report = run_json(tmp_path)
    assert code == 1
    assert keys(report) == {("hash-mismatch", "resources/articles.csv", 2, "sha256")}
    assert report["errors"][0]["value"] == "ab" * 32


def test_missing_article_file(tmp_path: Path) -> None:
    _articles_package(tmp_path, path="seeds/gone.txt")
    code, report = run_json(tmp_path)
    assert ("file-missing", "resources/articles.csv", 2, "path") in keys(report)
    assert ("stray-file", "seeds/a.txt", None, None) in keys(report)


def test_article_path_climbing_out(tmp_path: Path) -> None:
    _articles_package(tmp_path, path="../etc/passwd")
    code, report = run_json(tmp_path)
    assert ("unsafe-path", "resources/articles.csv", 2, "path") in keys(report)


def test_all_errors_in_one_run_and_max_errors(tmp_path: Path) -> None:
    write_package(tmp_path, [table("t", "data/t.csv", [ID, {"name": "d", "type": "date"}])],
                  {"data/t.csv": "id,d\n1,x\n2,y\n3,z\n"})
    _, report = run_json(tmp_path)
    assert [e["row"] for e in report["errors"]] == [2, 3, 4]
    _, report = run_json(tmp_path, "--max-errors", "2")
    assert len(report["errors"]) == 2 and report["stats"]["truncated"] is True


@pytest.fixture
def shifted(tmp_path: Path) -> Path:
    """A row with an extra comma (the cause) shifting a value into an integer field, and a bad date."""
    write_package(tmp_path, [table("t", "data/t.csv", [ID, {"name": "d", "type": "date"}, {"name": "n", "type": "integer"}],
                                   primaryKey=["id"])],
                  {"data/t.csv": "id,d,n\n1,2020-01-01,3\n2,2020-01-02,x,5\n3,2020-13-01,4\n"})
    return tmp_path


@pytest.mark.parametrize("limit", ["1", "2"])
def test_max_errors_never_changes_the_verdict_or_the_counts(shifted: Path, limit: str) -> None:
    code, full = run_json(shifted)
    assert code == 1 and full["stats"]["errors"] == 3
    code, cut = run_json(shifted, "--max-errors", limit)
    assert code == 1 and cut["valid"] is False
    assert cut["stats"]["errors"] == 3 and cut["stats"]["omitted"] == 3 - int(limit)
    assert cut["stats"]["resources"]["t"]["errors"] == 3
    assert len(cut["errors"]) == int(limit)
    assert cut["errors"][0]["check"] == "extra-cell"  # the cause is kept, not the type error it makes
    assert not any("error limit" in e["message"] for e in cut["errors"])


def test_max_errors_in_every_format_says_what_is_not_listed(shifted: Path) -> None:
    import xml.etree.ElementTree as ET

    text = runner.invoke(app, ["validate", str(shifted), "--max-errors", "1"])
    assert text.exit_code == 1
    assert text.stdout.splitlines()[1].startswith("  row 3 (record 2): extra-cell: ")
    assert "INVALID: 3 error(s), 0 warning(s) in 1 file(s); 2 more finding(s) not listed (--max-errors)" in text.stdout
    github = runner.invoke(app, ["validate", str(shifted), "--max-errors", "1", "--format", "github"])
    assert github.exit_code == 1
    assert github.stdout.splitlines()[-1] == (
        "::notice title=dpkg validate::INVALID: 3 error(s); 2 more finding(s) not listed (--max-errors)")
    junit = runner.invoke(app, ["validate", str(shifted), "--max-errors", "1", "--format", "junit"])
    assert junit.exit_code == 1
    root = ET.fromstring(junit.stdout.split("\n", 1)[1])
    assert root.get("failures") == "3"
    cut = root.find("./testsuite[@name='not listed']/testcase/failure")
    assert cut is not None and cut.get("message") == "2 more finding(s) not listed (--max-errors)"


def test_max_errors_keeps_errors_before_warnings(tmp_path: Path) -> None:
    from datapkg.report import Finding, Report

    report = Report([Finding("stray-file", "w", severity="warning", file="a.csv"),
                     Finding("type-error", "e", file="b.csv", row=2, field="d")])
    report.sort()
    report.limit(1)
    assert [f.check for f in report.findings] == ["type-error"]
    assert not report.valid and len(report.warnings) == 1 and report.omitted_note().startswith("1 more")


def test_resource_error_count_covers_every_check(tmp_path: Path) -> None:
    """stats.resources.<name>.errors counts the curation rules' findings too, not only frictionless'."""
    write_package(tmp_path, [table("t", "data/t.csv", [ID, {"name": "c", "type": "string", "codeList": "ISO 3166-1 alpha-2"}])],
                  {"data/t.csv": "id,c\n1,XX\n2,x\n"})
    code, report = run_json(tmp_path)
    assert code == 1 and [e["check"] for e in report["errors"]] == ["unknown-country-code"] * 2
    assert report["stats"]["resources"]["t"]["errors"] == 2


# --- parity with `frictionless validate --json` on the same files --------------------------------

def test_parity_with_frictionless_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every frictionless case above, in one package: same errors, rows and fields as frictionless."""
    resources, files = [], {}
    for index, case in enumerate(sorted(c for c in CASES if c not in ("package-error", "resource-error", "field-error", "byte-order-mark", "stray-file"))):
        for resource in CASES[case][0]:
            renamed = json.loads(json.dumps(resource).replace("data/", f"data{index}/"))
            renamed["name"] = f"{resource['name']}{index}"
            for fk in renamed["schema"].get("foreignKeys", []):
                fk["reference"]["resource"] += str(index)
            resources.append(renamed)
        files.update({rel.replace("data/", f"data{index}/"): body for rel, body in CASES[case][1].items()})
    write_package(tmp_path, resources, files)
    script = Path(__file__).resolve().parent.parent / "scripts" / "compare_with_frictionless.py"
    spec = importlib.util.spec_from_file_location("compare_with_frictionless", script)
    compare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compare)  # in this process (GX is loaded); frictionless runs as its CLI
    assert compare.main([str(tmp_path / "datapackage.json")]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert out.startswith("SAME")
    counted = int(out.split("frictionless=")[1].split()[0])
    assert counted >= len(CASES) - 5  # every frictionless case contributed its error


# --- output formats ----------------------------------------------------------------------------

@pytest.fixture
def broken(tmp_path: Path) -> Path:
    write_package(tmp_path, [table("t", "data/t.csv", [ID, {"name": "d", "type": "date"}])],
                  {"data/t.csv": "id,d\n1,2020-01-01\n2,bad, date\n"})
    return tmp_path


def test_text_format_groups_by_file_without_colour(broken: Path) -> None:
    result = runner.invoke(app, ["validate", str(broken)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "data/t.csv"
    assert any(line.startswith('  row 3, field "d": type-error: "bad" is not a valid value for field "d"') for line in lines)
    assert any(line.startswith("  row 3: extra-cell: ") for line in lines)
    assert "\x1b[" not in result.stdout
    assert lines[-1].startswith("INVALID: 2 error(s)")


def test_json_format_is_only_json_on_stdout(broken: Path) -> None:
    code, report = run_json(broken)
    assert code == 1 and report["valid"] is False
    assert set(report) == {"valid", "errors", "stats"}
    assert set(report["errors"][0]) == {"check", "severity", "resource", "file", "row", "field", "value", "message",
                                        "line", "record"}


def test_github_format_and_step_summary(broken: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    summary = tmp_path_factory.mktemp("gh") / "summary.md"
    result = runner.invoke(app, ["validate", str(broken), "--format", "github"],
                           env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert all(line.startswith("::error file=data/t.csv,line=3,title=") for line in lines[:2])
    assert any(",title=type-error (d)::row 3: \"bad\" is not a valid value" in line for line in lines)
    assert lines[-1] == "::notice title=dpkg validate::INVALID: 2 error(s)"
    table_md = summary.read_text()
    assert "| file | row | field | check | message |" in table_md and "| 3 | d | type-error |" in table_md


def test_github_annotates_the_physical_line_of_a_record(tmp_path: Path) -> None:
    """A quoted cell spanning lines in row 2 moves row 4 onto line 5; CRLF and a blank line count too."""
    write_package(tmp_path, [table("t", "data/t.csv", [ID, {"name": "s", "type": "string"}, {"name": "n", "type": "integer"}],
                                   primaryKey=["id"])],
                  {"data/t.csv": 'id,s,n\r\n1,"two\r\nlines",1\r\n7,"a ""quoted""\nword",2\r\n\r\n9,x,bad\r\n'})
    result = runner.invoke(app, ["validate", str(tmp_path), "--format", "github"])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "::error file=data/t.csv,line=6,title=blank-row::row 4: the row is completely blank; delete it"
    # (a blank row is one finding: frictionless adds a primary-key error for its empty key, dpkg does not)
    assert lines[1].startswith("::error file=data/t.csv,line=7,title=type-error (n)::row 5 (record 9): \"bad\"")
    text = runner.invoke(app, ["validate", str(tmp_path)])
    assert '  row 5 (record 9), field "n": type-error: "bad"' in text.stdout
    _, report = run_json(tmp_path)
    assert [(e["row"], e["line"], e["record"]) for e in report["errors"]] == [(4, 6, None), (5, 7, "9")]


def test_locate_places_rows_of_a_compound_key_and_a_headerless_file(tmp_path: Path) -> None:
    from datapkg.locate import scan_places

    path = tmp_path / "t.csv"
    path.write_text('a,b\n"x\ny",1\nz,2\n', encoding="utf-8")
    compound = {"name": "t", "path": "t.csv", "schema": {"fields": [{"name": "a"}, {"name": "b"}], "primaryKey": ["a", "b"]}}
    places = scan_places(path, compound, tmp_path, {1, 3})
    assert (places[1].line, places[1].record, places[3].line, places[3].record) == (1, None, 4, "z,2")
    headerless = compound | {"dialect": {"header": False}}
    assert scan_places(path, headerless, tmp_path, {1})[1].record == "a,b"


@pytest.mark.parametrize("text", [
    "id,n\nr1,1\n\nr3,3\n# not a comment here\nr5,5",  # a blank line, no final line break
    "\ufeffid,n\nr1,1\nr2,2\n",  # a byte-order mark
    "id;n\nr1;1\nr2;2\n",  # another delimiter
    'id,n\n"r1",1\n"r\n2",2\nr3,3\n',  # quoted cells, one spanning lines: the csv reader's path
    "id,n\r\nr1,1\r\nr2,2\r\n",  # CRLF: the csv reader's path
])
def test_locate_by_lines_gives_what_the_csv_reader_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """A file none of whose records can span lines is placed by counting lines; every place is the
    one the csv reader gives, and a file with a quote or a carriage return is read by the csv reader."""
    from datapkg import locate

    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8", newline="")
    resource = {"name": "t", "path": "t.csv", "schema": {"fields": [{"name": "id"}, {"name": "n"}], "primaryKey": ["id"]},
                "dialect": {"delimiter": ";" if ";" in text else ","}}
    rows = {1, 2, 3, 4, 5, 9}
    fast = locate.scan_places(path, resource, tmp_path, rows)
    monkeypatch.setattr(locate, "_one_line_each", lambda *_: False)
    assert fast == locate.scan_places(path, resource, tmp_path, rows)
    monkeypatch.undo()
    assert locate._one_line_each(path, locate._csv_options(resource, resource["dialect"], "t.csv"), 9) == ('"' not in text and "\r" not in text)
    assert fast[2] == locate.Place(2, "r1")


def test_locate_by_lines_reads_only_as_far_as_the_csv_reader_would(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A quote beyond the last row to place does not send the file to the csv reader, and the
    file is not read past the chunk that holds that row."""
    from datapkg import locate

    path = tmp_path / "t.csv"
    path.write_text('id,n\nr1,1\nr2,2\n"r3",3\n', encoding="utf-8", newline="")
    opts = locate._csv_options({"name": "t", "path": "t.csv"}, {}, "t.csv")
    monkeypatch.setattr(locate, "CHUNK", 6)  # "id,n\nr" | "1,1\nr2" | ",2\n\"r3" ...
    assert locate._one_line_each(path, opts, 2)  # two chunks hold lines 1-2: the quote is not read
    assert not locate._one_line_each(path, opts, 3)  # line 3 ends in the chunk with the quote


def test_junit_format_parses(broken: Path) -> None:
    import xml.etree.ElementTree as ET

    result = runner.invoke(app, ["validate", str(broken), "--format", "junit"])
    root = ET.fromstring(result.stdout.split("\n", 1)[1])
    assert root.tag == "testsuites" and root.get("failures") == "2"
    failure = root.find("./testsuite/testcase/failure")
    assert failure is not None and failure.get("type") in ("type-error", "extra-cell")


def test_valid_package_exits_zero(tmp_path: Path) -> None:
    write_package(tmp_path, [table("t", "data/t.csv", [ID])], {"data/t.csv": "id\n1\n"})
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 0 and result.stdout.startswith("valid: no errors")


def test_descriptor_file_and_yaml_descriptor(tmp_path: Path) -> None:
    import yaml

    write_package(tmp_path, [table("t", "data/t.csv", [ID])], {"data/t.csv": "id\n1\nx\n"})
    descriptor = json.loads((tmp_path / "datapackage.json").read_text())
    (tmp_path / "datapackage.json").unlink()
    (tmp_path / "datapackage.yml").write_text(yaml.safe_dump(descriptor))
    for target in (tmp_path, tmp_path / "datapackage.yml"):
        code, report = run_json(target)
        assert keys(report) == {("type-error", "data/t.csv", 3, "id")}


# --- bad input: one line, exit 2, no traceback -------------------------------------------------

def _one_line_error(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("content, expected", [
    ("{not json", "is not valid JSON at line 1, column 2"),
    ("[1, 2]", "must hold a JSON object"),
    ('"text"', "must hold a JSON object"),
])
def test_malformed_descriptor(tmp_path: Path, content: str, expected: str) -> None:
    (tmp_path / "datapackage.json").write_text(content)
    assert expected in _one_line_error(["validate", str(tmp_path)])


def test_descriptor_in_unreadable_encoding(tmp_path: Path) -> None:
    (tmp_path / "datapackage.json").write_bytes('{"name": "é"}'.encode("utf-16"))
    assert "is not UTF-8 text" in _one_line_error(["validate", str(tmp_path)])


def test_missing_path() -> None:
    assert _one_line_error(["validate", "/nonexistent/pkg"]) == "dpkg: error: /nonexistent/pkg: no such file or folder"


def test_folder_without_descriptor(tmp_path: Path) -> None:
    assert "no datapackage.json" in _one_line_error(["validate", str(tmp_path)])


@pytest.mark.parametrize("path, expected", [
    ("/etc/passwd", "is absolute"),
    ("../outside.csv", "climbs out of the package"),
    ("data/../../outside.csv", "climbs out of the package"),
    ("file:///etc/passwd", "unsupported scheme 'file:'"),
    ("http://127.0.0.1:9/x.csv", "is remote; it is not fetched unless you pass --allow-remote"),
])
def test_hostile_resource_paths(tmp_path: Path, path: str, expected: str) -> None:
    write_package(tmp_path, [table("t", path, [ID])], {})
    assert expected in _one_line_error(["validate", str(tmp_path)])


def test_hostile_schema_path(tmp_path: Path) -> None:
    write_package(tmp_path, [{"name": "t", "path": "t.csv", "schema": "../schema.json"}], {"t.csv": "id\n1\n"})
    assert "resource 't' schema '../schema.json' climbs out" in _one_line_error(["validate", str(tmp_path)])


def test_wrong_option_and_format() -> None:
    line = _one_line_error(["validate", "--frob"])
    assert "No such option" in line and "--frob" in line
    assert "'xml' is not one of" in _one_line_error(["validate", "--format", "xml"])


def test_version_and_help() -> None:
    assert runner.invoke(app, ["--version"]).stdout.startswith("dpkg (data-package tool)")
    result = runner.invoke(app, ["validate", "--help"])
    assert result.exit_code == 0 and "--max-errors" in result.stdout


def test_start_up_imports_no_heavy_library() -> None:
    """`dpkg --help` must not import Great Expectations, frictionless, DuckDB or pandas."""
    code = ("import sys; from datapkg.cli.main import app; "
            "print(sorted(m for m in ('great_expectations', 'frictionless', 'duckdb', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- frictionless reading only the header of tables whose rows are checked elsewhere ----------

def test_header_only_resources_keep_descriptor_header_bytes_and_hash_checks(tmp_path: Path) -> None:
    from datapkg.checks.files import run_file_checks
    from datapkg.checks.frictionless_checks import run_frictionless_checks
    from datapkg.package_source import open_package

    big = table("big", "data/big.csv", [ID, {"name": "n", "type": "string"}]) | {"bytes": 1, "hash": "sha256:" + "0" * 64}
    write_package(tmp_path, [big], {"data/big.csv": "id,name\n1,a\nbad,b\n"})
    with open_package(tmp_path) as source:
        findings, _ = run_frictionless_checks(source, header_only={"big"})
        findings += run_file_checks(source, header_only={"big"})
    got = {(f.check, f.file, f.row, f.field) for f in findings}
    # the header error stays, the row-level type error is left to the other path, bytes and hash are still checked
    assert got == {("incorrect-label", "data/big.csv", 1, "n"), ("byte-count", "data/big.csv", None, None),
                   ("hash-count", "data/big.csv", None, None)}


def test_symlink_out_of_the_package(tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text("id\n1\n")
    pkg = tmp_path / "pkg"
    write_package(pkg, [table("t", "data/t.csv", [ID])], {})
    (pkg / "data").mkdir()
    (pkg / "data" / "t.csv").symlink_to(outside)
    assert "resolves outside the package" in _one_line_error(["validate", str(pkg)])


# --- zipped packages ---------------------------------------------------------------------------

def _zip(folder: Path, target: Path, extra: dict[str, str] | None = None) -> Path:
    import zipfile

    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
        for name, body in (extra or {}).items():
            archive.writestr(name, body)
    return target


def test_zipped_package_findings_name_package_paths(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    write_package(pkg, [table("t", "data/t.csv", [ID])], {"data/t.csv": "id\n1\nx\n"})
    code, report = run_json(_zip(pkg, tmp_path / "pkg.zip"))
    assert code == 1 and keys(report) == {("type-error", "data/t.csv", 3, "id")}


def test_zip_slip_package_is_refused(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    write_package(pkg, [table("t", "data/t.csv", [ID])], {"data/t.csv": "id\n1\n"})
    line = _one_line_error(["validate", str(_zip(pkg, tmp_path / "evil.zip", {"../evil.txt": "x"}))])
    assert "evil.zip" in line and "../evil.txt" in line
    assert not (tmp_path / "evil.txt").exists()


def test_zipped_package_over_the_unzipped_cap_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "pkg"
    write_package(pkg, [table("t", "data/t.csv", [ID])], {"data/t.csv": "id\n" + "1\n" * 600})
    archive = _zip(pkg, tmp_path / "pkg.zip")
    monkeypatch.setenv("DPKG_MAX_UNZIPPED", "1K")
    line = _one_line_error(["validate", str(archive)])
    assert line.startswith("dpkg: error: pkg.zip: uncompressed size over the cap of 1024 bytes at member ")
    monkeypatch.setenv("DPKG_MAX_UNZIPPED", "1M")
    assert run_json(archive)[0] == 0


@pytest.mark.xdist_group("build-release")  # conftest's repository_validation comes with repo_release
def test_this_repository_package_is_valid(repository_validation: tuple[int, dict]) -> None:
    code, report = repository_validation  # what `dpkg validate --format json` says of this repository (conftest)
    assert code == 0, report["errors"][:5]


@pytest.mark.xdist_group("validate-cases")
@pytest.mark.parametrize("case", sorted(CASES))
def test_each_check_on_the_default_path(case_validation, case: str) -> None:
    """The default path (GX on) reports the same finding for every case."""
    code, report = case_validation(case)  # `dpkg validate --format json` of the case's package, shared
    assert code == 1, report["errors"]
    assert CASES[case][2] in keys(report)


# --- the same seeded errors on both paths: frictionless row by row, and DuckDB + GX -------------

SEEDED = {
    "data/p.csv": "id,code\n1,P1\n2,X2\n3,P1\n",
    "data/c.csv": ("id,pid,d,cc,v,t\n1,1,2020-01-01,RU,5,ab\n2,9,2020-13-01,XX,-1,abcdefg\n2,1,2020-01-02,KP,50,a\n"
                   ",1,2020-01-02,KP,50,a\n\n5,1,2020-01-02,KP,50,a,extra\n6,1,2020-01-02\n7,x,2020-01-02,KP,1e2,a\n"),
}
#: (file, row, field) of every seeded error, whichever path finds it
SEEDED_AT = {
    ("data/p.csv", 3, "code"), ("data/p.csv", 4, "code"),               # pattern, unique
    ("data/c.csv", 3, "pid"), ("data/c.csv", 3, "d"), ("data/c.csv", 3, "cc"),  # foreign key, date, enum
    ("data/c.csv", 3, "v"), ("data/c.csv", 3, "t"),                     # minimum, maxLength
    ("data/c.csv", 5, "id"), ("data/c.csv", 6, None),                   # required, blank row
    ("data/c.csv", 7, None), ("data/c.csv", 9, "pid"),                  # extra cell, integer
    ("data/c.csv", 8, "cc"), ("data/c.csv", 8, "v"), ("data/c.csv", 8, "t"),  # a short row: each missing cell
}


def _seeded_package(root: Path) -> Path:
    fields = [ID, {"name": "pid", "type": "integer"}, {"name": "d", "type": "date"},
              {"name": "cc", "type": "string", "constraints": {"enum": ["RU", "KP"]}},
              {"name": "v", "type": "number", "constraints": {"minimum": 0, "maximum": 100}},
              {"name": "t", "type": "string", "constraints": {"maxLength": 5}}]
    write_package(root, [
        table("p", "data/p.csv", [ID, {"name": "code", "type": "string", "constraints": {"pattern": "P[0-9]+", "unique": True}}],
              primaryKey=["id"]),
        table("c", "data/c.csv", fields, primaryKey=["id"],
              foreignKeys=[{"fields": ["pid"], "reference": {"resource": "p", "fields": ["id"]}}]),
    ], SEEDED)
    return root


def _pad(root: Path, rows: int) -> Path:
    """The seeded package with clean rows after the seeded ones, up to ``rows`` rows in data/c.csv."""
    _seeded_package(root)
    clean = "".join(f"{i},1,2020-01-02,KP,50,a\n" for i in range(100, 100 + rows - 8))
    with (root / "data" / "c.csv").open("a", encoding="utf-8") as handle:
        handle.write(clean)
    return root


def _located(report) -> list[tuple]:
    return sorted((f.check, f.file, f.row, f.field, f.value, f.message) for f in report.findings)


def test_seeded_errors_have_frictionless_names_and_places(tmp_path: Path) -> None:
    """Every seeded error is found where frictionless finds it, under frictionless' check name."""
    import frictionless

    from datapkg.validate import validate_package

    _seeded_package(tmp_path)
    report = validate_package(tmp_path)
    ours = {(f.check, f.file, f.row, f.field) for f in report.findings}
    theirs = frictionless.validate(str(tmp_path / "datapackage.json"))
    by_frictionless = {(e.type, t.place.removeprefix(str(tmp_path) + "/"), e.row_number,
                        getattr(e, "field_name", None) or ",".join(getattr(e, "field_names", None) or []) or None)
                       for t in theirs.tasks for e in t.errors}
    assert SEEDED_AT <= {(file, row, field) for _, file, row, field in ours}
    assert {k for k in by_frictionless if k[0] != "primary-key"} <= ours  # frictionless' pk finding names no field
    assert not any(f.check.startswith("expect_") for f in report.findings)
    assert report.stats["checked_by_gx"] == ["c", "p"]


def test_the_same_findings_at_every_size(tmp_path: Path) -> None:
    """The seeded package at 100 rows and at 100,000 rows (3 MB, past the old 5 MB switch's reach
    for no reason now): identical findings, check names, rows, fields, values and messages."""
    from datapkg.validate import validate_package

    small = _located(validate_package(_pad(tmp_path / "small", 100)))
    large = _located(validate_package(_pad(tmp_path / "large", 100_000)))
    assert small == large
    assert {(file, row, field) for _, file, row, field, _, _ in small} >= SEEDED_AT


@pytest.mark.slow
def test_the_same_findings_at_a_million_rows(tmp_path: Path) -> None:
    from datapkg.validate import validate_package

    small = _located(validate_package(_pad(tmp_path / "small", 100)))
    assert _located(validate_package(_pad(tmp_path / "large", 1_000_000))) == small


# --- --allow-remote and --data-docs -------------------------------------------------------------

@pytest.fixture
def served(tmp_path: Path):
    """A folder served over HTTP on 127.0.0.1 for the duration of a test."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    folder = tmp_path / "served"
    folder.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        disable_nagle_algorithm = True  # the body does not wait for the client's delayed ACK of the headers

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    # shutdown() waits for serve_forever's next poll (0.5 s by default)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_allow_remote_fetches_and_checks_a_remote_resource(tmp_path: Path, served) -> None:
    folder, base = served
    (folder / "t.csv").write_text("id\n1\nx\n")
    write_package(tmp_path / "pkg", [table("t", f"{base}/t.csv", [ID])], {})
    assert "is remote" in _one_line_error(["validate", str(tmp_path / "pkg")])
    code, report = run_json(tmp_path / "pkg", "--allow-remote")
    assert code == 1 and keys(report) == {("type-error", f"{base}/t.csv", 3, "id")}


def test_data_docs_option_writes_a_site(tmp_path: Path) -> None:
    """A valid package with curation rules (the data docs' content: tests/test_data_docs.py)."""
    from tests.buildpkg import cited_package

    docs = tmp_path / "docs"
    result = runner.invoke(app, ["validate", str(cited_package(tmp_path / "pkg")), "--format", "json", "--data-docs", str(docs)])
    assert result.exit_code == 0, result.output
    pages = list(docs.rglob("*.html"))
    assert pages and any("validations" in str(p) or "index" in p.name for p in pages)


def test_unwritable_output_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "docs").write_text("a file where a folder should be")
    from tests.buildpkg import plain_package

    line = _one_line_error(["build", "-q", "-o", str(tmp_path / "ro" / "docs" / "dist"), str(plain_package(tmp_path / "pkg"))])
    assert line.startswith("dpkg: error: ") and "unexpected" not in line


def test_a_stray_file_does_not_stop_the_content_checks(tmp_path: Path) -> None:
    """Only a package-level frictionless error skips the row checks; a file-check finding does not."""
    from datapkg.validate import validate_package

    write_package(tmp_path, [table("t", "resources/t.csv", [ID, {"name": "q", "type": "string", "constraints": {"pattern": "Q[0-9]+"}}])],
                  {"resources/t.csv": "id,q\n1,Q1\n2,X1\n", "resources/old.csv": "id\n"})
    report = validate_package(tmp_path)
    found = {(f.check, f.file, f.row, f.field) for f in report.findings}
    assert found == {("stray-file", "resources/old.csv", None, None),
                     ("constraint-error", "resources/t.csv", 3, "q")}

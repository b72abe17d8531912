"""dpkg query and dpkg tables: which database, formats, read-only, errors, start-up imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datapkg.cli.main import app
from datapkg.build import build
from datapkg.query import open_database
from tests.buildpkg import PEOPLE_CSV, cited_package

SMALL = "SELECT person_id, age, born, active, tags FROM people ORDER BY person_id LIMIT 2"


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's cache folder of the tests that do not look at the cache: the query cache is keyed
    by content, so the one of ``cited_package`` is built once here and then found by every test."""
    return tmp_path_factory.mktemp("shared-user-cache")


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_cache: Path) -> Path:
    monkeypatch.setenv("DPKG_CACHE_DIR", str(shared_cache))  # never inside the package
    monkeypatch.chdir(tmp_path)  # no stray dist/ of the repository is looked at
    return cited_package(tmp_path / "pkg")


@pytest.fixture
def cache(package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's cache folder of this test's own (never inside the package), for the tests that look at it."""
    monkeypatch.setenv("DPKG_CACHE_DIR", str(tmp_path / "user-cache"))
    return tmp_path / "user-cache"


def cached(cache: Path) -> list[Path]:
    return sorted(cache.glob("*-test-package.duckdb"))


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input)


def test_cache_built_reused_and_rebuilt_on_content_change(package: Path, cache: Path) -> None:
    con, db, kind = open_database(package)
    con.close()
    assert (kind, [db]) == ("cache", cached(cache))
    stamp = db.stat().st_mtime_ns
    con, _, kind = open_database(package)
    con.close()
    assert kind == "cache" and db.stat().st_mtime_ns == stamp  # reused, not rebuilt
    # touching a file without changing it does not rebuild (content hashes, not timestamps)
    os.utime(package / "resources/people.csv")
    con, _, _ = open_database(package)
    con.close()
    assert db.stat().st_mtime_ns == stamp
    (package / "resources/people.csv").write_text(PEOPLE_CSV + "p4,Choe Son-hui,minister,60,1964-08-10,true,,\n")
    result = run("query", "-p", str(package), "SELECT count(*) AS n FROM people", "-F", "csv")
    assert result.exit_code == 0 and result.stdout == "n\n4\n"
    assert db.stat().st_mtime_ns == stamp and len(cached(cache)) == 2  # keyed by content: a new cache
    # a changed article text is an input too
    (package / "texts/a2.txt").write_text("Nothing about anyone.\n")
    result = run("query", "-p", str(package), "SELECT count(*) FROM texts WHERE contains(text, 'Pyongyang')", "-F", "csv")
    assert result.stdout.splitlines()[1] == "0"
    assert not list(package.rglob(".dpkg-cache"))


def test_uses_built_database_only_when_up_to_date(package: Path, cache: Path) -> None:
    # force: the package is valid and its validation is not what is tested here (the release is the same)
    build(package, package / "dist", force=True)
    con, db, kind = open_database(package)
    con.close()
    assert (kind, db) == ("build", (package / "dist" / "test-package.duckdb").resolve())
    assert not cached(cache)
    (package / "resources/people.csv").write_text(PEOPLE_CSV.replace("Kim Jong-un", "Kim Jong Un"))
    con, db, kind = open_database(package)
    assert kind == "cache"
    assert con.execute("SELECT name FROM people WHERE person_id = 'p1'").fetchone() == ("Kim Jong Un",)
    con.close()
    other = package.parent / "elsewhere"
    build(package, other, force=True)
    con, db, kind = open_database(package, dist=[other])
    con.close()
    assert kind == "build" and db == (other / "test-package.duckdb").resolve()


def test_dist_option_and_dpkg_cache_dir(package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DPKG_CACHE_DIR", str(tmp_path / "cachehere"))
    result = run("query", "-p", str(package), "--dist", str(tmp_path / "nothing"), "SELECT 1 AS one", "-F", "csv")
    assert result.exit_code == 0 and result.stdout == "one\n1\n"
    assert len(cached(tmp_path / "cachehere")) == 1 and not list(package.rglob("*.duckdb"))


def test_formats(package: Path) -> None:
    table = run("query", "-p", str(package), SMALL)
    assert table.exit_code == 0
    assert [line.rstrip() for line in table.stdout.splitlines()] == [
        "person_id   age   born         active   tags",
        "─" * 56,
        "p1           40   1984-01-08   true     [\"kp\", \"leader\"]",
        "p2           71   1952-10-07   true     [\"ru\"]",
        "(2 rows)"]
    as_csv = run("query", "-p", str(package), SMALL, "--format", "csv")
    assert as_csv.stdout == 'person_id,age,born,active,tags\np1,40,1984-01-08,true,"[""kp"", ""leader""]"\np2,71,1952-10-07,true,"[""ru""]"\n'
    as_json = json.loads(run("query", "-p", str(package), SMALL, "-F", "json").stdout)
    assert as_json == [{"person_id": "p1", "age": 40, "born": "1984-01-08", "active": True, "tags": ["kp", "leader"]},
                       {"person_id": "p2", "age": 71, "born": "1952-10-07", "active": True, "tags": ["ru"]}]
    lines = run("query", "-p", str(package), SMALL, "-F", "jsonl").stdout.splitlines()
    assert [json.loads(line) for line in lines] == as_json
    markdown = run("query", "-p", str(package), "SELECT 'a|b' AS x, NULL AS y", "-F", "markdown").stdout
    assert markdown == "| x | y |\n|---|---|\n| a\\|b |  |\n"
    empty = run("query", "-p", str(package), "SELECT * FROM people WHERE false", "-F", "json")
    assert empty.exit_code == 0 and json.loads(empty.stdout) == []
    bad = run("query", "-p", str(package), "SELECT 1", "-F", "xml")
    assert bad.exit_code == 2


@pytest.mark.parametrize("sql, kind", [
    ("INSERT INTO people (person_id, name) VALUES ('x', 'y')", "INSERT"),
    ("DELETE FROM people", "DELETE"),
    ("UPDATE people SET age = 1", "UPDATE"),
    ("CREATE TABLE t (a INT)", "CREATE"),
    ("DROP TABLE people", "DROP"),
    ("ATTACH 'other.duckdb' AS other", "ATTACH"),
    ("COPY people TO 'out.csv'", "COPY"),
    ("EXPORT DATABASE 'outdir'", "EXPORT"),
    ("SET threads = 1", "SET"),
    ("INSTALL httpfs", "LOAD"),
    ("SELECT 1; DELETE FROM people", "DELETE"),
])
def test_writes_refused_in_one_line(package: Path, sql: str, kind: str) -> None:
    result = run("query", "-p", str(package), sql)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"dpkg: error: read-only: {kind} statements are not allowed here " \
                            "(dpkg query runs SELECT, EXPLAIN, PRAGMA and CALL only)\n"
    assert not (package / "out.csv").exists() and not (package.parent / "other.duckdb").exists()
    count = run("query", "-p", str(package), "SELECT count(*) FROM people", "-F", "csv")
    assert count.stdout == "count_star()\n3\n"


def test_sql_errors_in_one_line(package: Path) -> None:
    syntax = run("query", "-p", str(package), "SELEC 1")
    assert syntax.exit_code == 2 and syntax.stderr == 'dpkg: error: Parser Error: syntax error at or near "SELEC"\n'
    missing = run("query", "-p", str(package), "SELECT * FROM nowhere")
    assert missing.exit_code == 2 and len(missing.stderr.splitlines()) == 1
    assert missing.stderr.startswith("dpkg: error: Catalog Error: Table with name nowhere does not exist!")
    files = run("query", "-p", str(package), "SELECT * FROM read_csv('/etc/passwd')")
    assert files.exit_code == 2 and "file system operations are disabled" in files.stderr
    assert len(files.stderr.splitlines()) == 1 and "Traceback" not in files.output


def test_sql_from_file_and_stdin(package: Path, tmp_path: Path) -> None:
    sql_file = tmp_path / "q.sql"
    sql_file.write_text("-- two statements: the last one's rows are printed\nSELECT 1;\nSELECT name FROM people WHERE age > 50;\n")
    result = run("query", "-p", str(package), "--file", str(sql_file), "-F", "csv")
    assert result.exit_code == 0 and result.stdout == "name\nVladimir Putin\n"
    piped = run("query", "-p", str(package), "--file", "-", "-F", "csv", input="SELECT 2 AS two")
    assert piped.stdout == "two\n2\n"
    both = run("query", "-p", str(package), "SELECT 1", "--file", str(sql_file))
    assert both.exit_code == 2 and "not both" in both.stderr
    none = run("query", "-p", str(package))
    assert none.exit_code == 2 and "no SQL given" in none.stderr
    gone = run("query", "-p", str(package), "--file", str(tmp_path / "missing.sql"))
    assert gone.exit_code == 2 and gone.stderr.startswith("dpkg: error: cannot read")
    comment_only = run("query", "-p", str(package), "-- nothing")
    assert comment_only.exit_code == 2 and len(comment_only.stderr.splitlines()) == 1


def test_bad_package_path(tmp_path: Path) -> None:
    result = run("query", "-p", str(tmp_path / "none"), "SELECT 1")
    assert result.exit_code == 2 and "no such file or folder" in result.stderr


def test_tables_and_schema(package: Path) -> None:
    listing = run("tables", "-p", str(package))
    assert listing.exit_code == 0
    text = listing.stdout
    assert "people (table) — People: The people table." in text
    assert "  age  BIGINT  — Age in years." in text
    assert "  person_id  VARCHAR NOT NULL  — Person id." in text
    assert "cited_facts (view) — One row per citation" in text
    assert "_dpkg" not in text and "inputs (table)" not in text
    same = run("query", "-p", str(package), "--schema")
    assert same.stdout == text
    rows = json.loads(run("tables", "-p", str(package), "-F", "json").stdout)
    assert {"table": "texts", "kind": "table", "column": "text", "type": "VARCHAR", "not_null": True,
            "comment": "The file's full text (UTF-8).",
            "table_comment": rows[[r["table"] for r in rows].index("texts")]["table_comment"]} in rows
    assert run("query", "-p", str(package), "--schema", "SELECT 1").exit_code == 2


def test_query_on_a_release_zip(package: Path, cited_release: Path) -> None:
    out = cited_release  # dpkg build's release of the same package (conftest), only read
    result = run("query", "-p", str(out / "test-package-1.2.0.zip"), "SELECT count(*) FROM cites", "-F", "csv")
    assert result.exit_code == 0 and result.stdout.splitlines()[1] == "5"


def test_fast_path_imports_no_frictionless_or_gx(package: Path) -> None:
    run("query", "-p", str(package), "SELECT 1")  # build the cache first
    code = ("import sys; from datapkg.cli.main import app\n"
            "try:\n    app(['query', '-p', sys.argv[1], 'SELECT count(*) FROM people', '-F', 'csv'])\n"
            "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
            "heavy = [m for m in ('frictionless', 'great_expectations', 'pandas', 'pyarrow', 'rich') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    done = subprocess.run([sys.executable, "-c", code, str(package)], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "HEAVY []"


def test_large_result_streams_and_survives_a_closed_pipe(package: Path, tmp_path: Path) -> None:
    sql = "SELECT range AS n, 'row ' || range AS label FROM range(50000)"
    rows = json.loads(run("query", "-p", str(package), sql, "-F", "json").stdout)
    assert len(rows) == 50000 and rows[-1] == {"n": 49999, "label": "row 49999"}
    lines = run("query", "-p", str(package), sql, "-F", "csv").stdout.splitlines()
    assert len(lines) == 50001 and lines[1] == "0,row 0"
    dpkg = Path(sys.executable).parent / "dpkg"
    done = subprocess.run(f"'{dpkg}' query -p '{package}' \"{sql}\" -F jsonl | head -n 1", shell=True,
                          capture_output=True, text=True)
    assert done.stdout == '{"n": 0, "label": "row 0"}\n' and done.stderr == ""


def test_corrupt_cache_is_rebuilt(package: Path, cache: Path) -> None:
    con, db, _ = open_database(package)
    con.close()
    db.write_bytes(b"not a database at all")
    result = run("query", "-p", str(package), "SELECT count(*) AS n FROM people", "-F", "csv")
    assert result.exit_code == 0 and result.stdout == "n\n3\n"
    assert cached(cache) == [db] and db.read_bytes()[8:12] == b"DUCK"


def test_tables_describes_the_named_table(package: Path, tmp_path: Path) -> None:
    one = run("tables", "people", "-p", str(package))
    assert one.exit_code == 0, one.output
    assert one.stdout.startswith("people (table) — People: The people table.\n")
    assert "events" not in one.stdout and "cited_facts" not in one.stdout
    two = json.loads(run("tables", "people", "cited_facts", "-p", str(package), "-f", "json").stdout)
    assert {r["table"] for r in two} == {"people", "cited_facts"}


def test_an_unknown_table_lists_the_tables_there_are(package: Path) -> None:
    result = run("tables", "meetingz", "-p", str(package))
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and "no table or view named 'meetingz'" in line
    assert "people" in line and "cited_facts" in line and "_dpkg" not in line and "inputs" not in line
    result = run("tables", str(package))  # a path where a table name goes: say how to name the package
    assert result.exit_code == 2 and f"use -p {package}" in result.stderr
    query = run("query", "-p", str(package), "SELECT * FROM meetingz")
    assert query.exit_code == 2 and "meetingz" in query.stderr and "people" in query.stderr.split("database has")[1]


def test_table_fits_the_terminal_folds_long_text_and_shows_null(package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    sql = ("SELECT 'p' AS id, repeat('word ', 30) AS long, NULL AS missing, '' AS empty, "
           "'a' || chr(27) || '[31mred' AS hostile")
    lines = run("query", "-p", str(package), sql).stdout.splitlines()
    assert max(len(line) for line in lines) <= 40 and len(lines) > 6  # the long text is folded, not cut off
    assert lines[0].split() == ["id", "long", "missing", "empty", "hostile"]
    text = "\n".join(lines)
    assert "NULL" in text and "\x1b" not in text and "a\\x1b[3" in text
    assert lines[-1] == "(1 row)"
    wide = run("query", "-p", str(package), "SELECT repeat('x', 1000) AS x").stdout
    assert "…" in wide and wide.count("x") < 300  # cut with an ellipsis
    many = run("query", "-p", str(package), "SELECT range AS n FROM range(250)").stdout.splitlines()
    assert many[-1] == "(250 rows; first 100 shown)" and len(many) == 103


def test_readme_file_read_is_refused_in_dpkg_query_as_the_readme_says(package: Path) -> None:
    build(package, package / "dist", force=True)  # a valid package: the same release, without validating it again
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert "That file read works in your own DuckDB, not\nthrough `dpkg query`" in readme
    result = run("query", "-p", str(package), f"SELECT * FROM '{package}/dist/parquet/people.parquet'")
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1 and "people" not in result.stdout
    same = run("query", "-p", str(package / "dist"), "SELECT count(*) AS n FROM people", "-f", "csv")
    assert same.stdout == "n\n3\n"


FAST_CASES = [
    ["query", "SELECT count(*) AS n FROM people", "-f", "csv"],
    ["query", "SELECT person_id, age FROM people ORDER BY 1", "--format", "JSON", "-q"],
    ["query", "-F", "jsonl", "SELECT name FROM people WHERE age > 50"],
    ["query", "SELECT * FROM nowhere", "-f", "csv"],          # an error: the full path reports it
    ["query", "COPY people TO 'x.csv'"],                      # refused: the full path reports it
    ["query", "SELECT 1", "-f", "xml"],                       # a bad format: the full path says so
    ["query", "SELECT 1 AS one", "--dist", "nowhere", "-f", "markdown"],
    ["query", "SELECT 1", "SELECT 2"],                        # two SQL arguments: the full path refuses
]


@pytest.mark.parametrize("args", FAST_CASES)
def test_console_script_fast_path_answers_as_the_full_command_line(args: list[str], package: Path) -> None:
    """`dpkg query SQL` skips typer when the database is ready; its output and exit code are the full path's."""
    run("query", "-p", str(package), "SELECT 1")  # the cache exists: the fast path can answer
    full = run(*args, "-p", str(package))
    code = ("import sys, io\nfrom datapkg.cli import entry\nsys.argv = ['dpkg', *sys.argv[1:]]\n"
            "try:\n    entry.run()\nexcept SystemExit as exc:\n    code = exc.code or 0\n"
            "print('TYPER', 'typer' in sys.modules, file=sys.stderr)\nsys.exit(code)")
    done = subprocess.run([sys.executable, "-c", code, *args, "-p", str(package)], capture_output=True, text=True,
                          cwd=package.parent, env={**os.environ, "COLUMNS": "80"})
    assert (done.returncode, done.stdout) == (full.exit_code, full.stdout)
    assert done.stderr.splitlines()[:-1] == full.stderr.splitlines()
    used_typer = done.stderr.splitlines()[-1] == "TYPER True"
    assert used_typer == (full.exit_code != 0), "only calls that fail need the full command line"


def test_fast_path_leaves_building_to_the_full_command_line(package: Path, cache: Path) -> None:
    from datapkg.cli.entry import fast_query, parse_query

    call = parse_query(["query", "SELECT 1", "-p", str(package)])
    assert call is not None and fast_query(call) is False  # no database yet: nothing written, the full path builds
    for argv in (["query"], ["query", "--help"], ["query", "--file", "q.sql"], ["query", "--schema"],
                 ["query", "--format=csv", "SELECT 1"], ["tables"], ["-l"], []):
        assert parse_query(argv) is None

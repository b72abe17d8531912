"""dpkg build: DuckDB database, Parquet, release zip, dictionary, SHA256SUMS; reproducible and atomic."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from datapkg.cli.main import app
from datapkg import build as build_module
from datapkg.build import InvalidPackage, build
from datapkg.errors import UsageError
from datapkg.database import STORAGE_VERSION
from datapkg.duckdb_file import IDENTIFIER_OFFSET, LayoutError, checksum, normalise_identifier, storage_version_number
from tests.buildpkg import CITES_CSV, EVENTS_CSV, PEOPLE_CSV, TEXTS, cited_package, plain_package

#: One worker runs this file under ``--dist loadgroup`` (make test): its module fixtures are built once.
pytestmark = pytest.mark.xdist_group("build-release")

DB = "test-package.duckdb"
ZIP = "test-package-1.2.0.zip"


def csv_rows(text: str) -> int:
    return len(list(csv.reader(io.StringIO(text)))) - 1


@pytest.fixture
def package(tmp_path: Path) -> Path:
    return cited_package(tmp_path / "pkg")


@pytest.fixture
def release(cited_release: Path) -> Path:
    """The release of ``cited_package`` (the same bytes as ``package``), built once (conftest's
    ``cited_release``) for the tests that only read it; a test that changes a release changes a
    copy (:func:`own_release`)."""
    return cited_release


@pytest.fixture
def own_release(cited_release: Path, tmp_path: Path) -> Path:
    """A copy of that release (dpkg build's bytes, its manifest included) in ``tmp_path / "dist"``."""
    return shutil.copytree(cited_release, tmp_path / "dist")


def test_layout_and_sha256sums(release: Path) -> None:
    names = sorted(p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file())
    assert names == [".dpkg-manifest.json", "SHA256SUMS", "dictionary.html", "dictionary.md", "parquet/cites.parquet", "parquet/docs.parquet",
                     "parquet/events.parquet", "parquet/people.parquet", ZIP, DB]
    lines = (release / "SHA256SUMS").read_text().splitlines()
    listed = [line.split("  ", 1)[1] for line in lines]
    assert listed == sorted(listed) and "SHA256SUMS" not in listed
    assert set(listed) == set(names) - {"SHA256SUMS", ".dpkg-manifest.json"}
    for line in lines:
        digest, rel = line.split("  ", 1)
        assert digest == hashlib.sha256((release / rel).read_bytes()).hexdigest()
    if shutil.which("sha256sum"):
        done = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=release, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_duckdb_tables_types_and_row_counts(release: Path) -> None:
    con = duckdb.connect(str(release / DB), read_only=True)
    counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in ("people", "events", "cites", "docs")}
    assert counts == {"people": csv_rows(PEOPLE_CSV), "events": csv_rows(EVENTS_CSV), "cites": csv_rows(CITES_CSV),
                      "docs": len(TEXTS)}
    types = dict(con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'people'").fetchall())
    assert types == {"person_id": "VARCHAR", "name": "VARCHAR", "role": "VARCHAR", "age": "BIGINT", "born": "DATE",
                     "active": "BOOLEAN", "tags": "VARCHAR[]", "score": "DOUBLE"}
    row = con.execute("SELECT age, born, active, tags, score FROM people WHERE person_id = 'p1'").fetchone()
    assert (row[0], str(row[1]), row[2], row[3], row[4]) == (40, "1984-01-08", True, ["kp", "leader"], 1.5)
    assert con.execute("SELECT age, tags FROM people WHERE person_id = 'p3'").fetchone() == (None, None)
    # no bookkeeping column of the loader leaks into the release
    assert "__row" not in {c for (c,) in con.execute("SELECT column_name FROM duckdb_columns()").fetchall()}


def test_duckdb_keys_not_null_and_checks(release: Path, tmp_path: Path) -> None:
    con = duckdb.connect(str(release / DB), read_only=True)
    cons = {(t, k, tuple(c)) for t, k, c in con.execute(
        "SELECT table_name, constraint_type, constraint_column_names FROM duckdb_constraints() "
        "WHERE schema_name = 'main'").fetchall()}
    assert ("people", "PRIMARY KEY", ("person_id",)) in cons
    assert ("events", "FOREIGN KEY", ("person_id",)) in cons
    assert ("events", "FOREIGN KEY", ("parent_id",)) in cons  # self reference, loaded parent first
    assert ("cites", "FOREIGN KEY", ("doc_id",)) in cons
    assert ("events", "NOT NULL", ("summary_en",)) in cons
    assert ("people", "CHECK", ("role",)) in cons
    assert ("people", "NOT NULL", ("age",)) not in cons
    con.close()
    copy = tmp_path / "copy.duckdb"
    shutil.copy(release / DB, copy)
    rw = duckdb.connect(str(copy))
    for bad in ("INSERT INTO people (person_id, name) VALUES ('p1', 'dup')",
                "INSERT INTO events VALUES ('e9', 'nobody', NULL, 'x', NULL)",
                "INSERT INTO events VALUES ('e9', 'p1', NULL, NULL, NULL)",
                "INSERT INTO people (person_id, name, role) VALUES ('p9', 'x', 'king')"):
        with pytest.raises(duckdb.ConstraintException):
            rw.execute(bad)


def test_duckdb_comments(release: Path) -> None:
    con = duckdb.connect(str(release / DB), read_only=True)
    tables = dict(con.execute("SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = 'main'").fetchall())
    assert tables["people"] == "People: The people table."
    assert tables["texts"].startswith("Full text of every file named by a row of docs")
    missing = con.execute("SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'main' "
                          "AND NOT internal AND comment IS NULL").fetchall()
    assert missing == []
    assert con.execute("SELECT comment FROM duckdb_columns() WHERE table_name = 'people' AND column_name = 'name'"
                       ).fetchone()[0] == "Name: Usual English name."
    views = dict(con.execute("SELECT view_name, comment FROM duckdb_views() WHERE NOT internal").fetchall())
    assert set(views) == {"docs_with_text", "events_expanded", "cites_expanded", "cited_facts", "docs_fact_counts"}
    assert all(views.values())


def test_texts_searchable_and_views(release: Path) -> None:
    con = duckdb.connect(str(release / DB), read_only=True)
    assert con.execute("SELECT path FROM texts WHERE contains(text, 'Pyongyang')").fetchall() == [("texts/a2.txt",)]
    assert con.execute("SELECT doc_id FROM docs_with_text WHERE text ILIKE '%vostochny%'").fetchall() == [("d1",)]
    facts = con.execute("SELECT cite_id, fact, headline, quote_in_text FROM cited_facts ORDER BY cite_id").fetchall()
    assert facts[0] == ("c1", "Kim Jong-un", "Headline 1", True)
    assert facts[1] == ("c2", "Summit at Vostochny", "Headline 1", True)  # whitespace runs count as one space
    counts = con.execute("SELECT doc_id, citations, facts, people, events FROM docs_fact_counts").fetchall()
    assert counts == [("d1", 3, 3, 2, 1), ("d2", 2, 2, 1, 1)]
    assert con.execute("SELECT people_name FROM events_expanded WHERE event_id = 'e2'").fetchone() == ("Vladimir Putin",)


def test_parquet_typed_and_zstd(release: Path) -> None:
    table = pq.read_table(release / "parquet" / "people.parquet")
    assert table.num_rows == csv_rows(PEOPLE_CSV)
    types = {f.name: str(f.type) for f in table.schema}
    assert types["age"] == "int64" and types["born"] == "date32[day]" and types["active"] == "bool"
    assert types["tags"].startswith("list<") and types["score"] == "double"
    meta = pq.ParquetFile(release / "parquet" / "people.parquet").metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    for name, text in (("events", EVENTS_CSV), ("cites", CITES_CSV)):
        assert pq.read_table(release / "parquet" / f"{name}.parquet").num_rows == csv_rows(text)


def test_release_zip_validates_with_frictionless(release: Path, package: Path, tmp_path: Path) -> None:
    target = tmp_path / "unzipped"
    with zipfile.ZipFile(release / ZIP) as archive:
        names = archive.namelist()
        assert names == sorted(names)
        assert {i.date_time for i in archive.infolist()} == {(2026, 1, 2, 3, 4, 4)}
        archive.extractall(target)
    assert set(names) == {"datapackage.json", "resources/docs.csv", "resources/people.csv", "resources/events.csv",
                          "resources/cites.csv", *TEXTS}
    descriptor = json.loads((target / "datapackage.json").read_text())
    for resource in descriptor["resources"]:
        data = (package / resource["path"]).read_bytes()
        assert resource["bytes"] == len(data)
        assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
    done = subprocess.run([str(Path(sys.executable).parent / "frictionless"), "validate", "--json", "datapackage.json"],
                          cwd=target, capture_output=True, text=True)
    assert json.loads(done.stdout)["valid"] is True, done.stdout[:2000]
    ours = CliRunner().invoke(app, ["validate", str(target)])
    assert ours.exit_code == 0, ours.output


def test_corrupted_release_file_fails_frictionless_hash(release: Path, tmp_path: Path) -> None:
    target = tmp_path / "unzipped"
    with zipfile.ZipFile(release / ZIP) as archive:
        archive.extractall(target)
    (target / "resources/people.csv").write_text(PEOPLE_CSV.replace("Kim", "Kum"))
    result = CliRunner().invoke(app, ["validate", str(target), "--format", "json"])
    assert result.exit_code == 1
    checks = {(f["check"], f["file"]) for f in json.loads(result.stdout)["errors"]}
    assert ("hash-count", "resources/people.csv") in checks


def release_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_reproducible(release: Path, package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two builds of the same inputs — another time, another copy of the package, another output
    folder and working directory — give the same bytes in every file, the .duckdb included."""
    first = release  # built from another copy of cited_package, earlier
    built = (first / DB).stat().st_mtime
    time.sleep(max(0.0, built + 1.1 - time.time()))  # another second on the clock; the inputs' timestamps change too
    moved = shutil.copytree(package, tmp_path / "elsewhere" / "deeper")
    for path in moved.rglob("*"):
        os.utime(path, (2_000_000_000, 2_000_000_000))
    monkeypatch.chdir(tmp_path / "elsewhere")
    second = tmp_path / "other" / "two"
    build(Path("deeper"), second)
    one, two = release_files(first), release_files(second)
    assert sorted(one) == sorted(two) and len(one) == 10 and DB in one and ".dpkg-manifest.json" in one
    for rel in [DB, *one]:
        assert one[rel] == two[rel], rel
    sums = (first / "SHA256SUMS").read_text().splitlines()
    assert len(sums) == 8 and any(line.endswith(f"  {DB}") for line in sums)
    assert sums == (second / "SHA256SUMS").read_text().splitlines()


def test_duckdb_file_identifier_and_checksums(release: Path, tmp_path: Path) -> None:
    """The release is in storage format v1.1.0 (version number 64), which has no database
    identifier; a newer-format database's random identifier is replaced by one derived from the
    file's content, with the header checksums recomputed the way DuckDB computes them."""
    data = (release / DB).read_bytes()
    assert storage_version_number(release / DB) == 64 and STORAGE_VERSION == "v1.1.0"
    identifier = data[IDENTIFIER_OFFSET:IDENTIFIER_OFFSET + 16]
    assert identifier == bytes(16)
    # DuckDB's checksum, also of a data block (the first block starts after the three 4 KiB headers)
    for start, end in ((0, 4096), (4096, 8192), (8192, 12288), (12288, 12288 + 16384)):
        assert int.from_bytes(data[start:start + 8], "little") == checksum(data[start + 8:end]), start
    # normalising again changes nothing
    assert normalise_identifier(release / DB) == identifier and (release / DB).read_bytes() == data
    assert str(tmp_path).encode() not in data and b"\x03outf\x00\x04main" in data  # the catalog is always "out"
    # a database DuckDB made here (random identifier) is normalised, opens and keeps its content;
    # two made alike (same catalog name, integer columns: no uninitialised bytes) become identical
    copies = []
    for folder in ("a", "b"):
        path = tmp_path / folder / "db.duckdb"
        path.parent.mkdir()
        con = duckdb.connect()
        con.execute(f"ATTACH '{path}' AS db")
        con.execute("CREATE TABLE db.t (i BIGINT PRIMARY KEY, j INTEGER NOT NULL)")
        con.execute("INSERT INTO db.t SELECT i, i % 7 FROM range(1000) r(i)")
        con.execute("COMMENT ON TABLE db.t IS 'numbers'")
        con.execute("DETACH db")
        con.close()
        before = path.read_bytes()
        new = normalise_identifier(path)
        after = path.read_bytes()
        assert new != before[IDENTIFIER_OFFSET:IDENTIFIER_OFFSET + 16] and after[IDENTIFIER_OFFSET:IDENTIFIER_OFFSET + 16] == new
        assert after[12288:] == before[12288:]
        con = duckdb.connect(str(path), read_only=True)
        assert con.execute("SELECT count(*), max(i), sum(j) FROM t").fetchone() == (1000, 999, 2997)
        assert con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 't'").fetchone() == ("numbers",)
        assert {t for (t,) in con.execute("SELECT constraint_type FROM duckdb_constraints()").fetchall()} == {
            "NOT NULL", "PRIMARY KEY"}
        con.close()
        copies.append(after)
        assert [p.name for p in path.parent.iterdir()] == ["db.duckdb"]
    assert copies[0] == copies[1]


def test_duckdb_file_unexpected_layout_is_refused(release: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.duckdb"
    data = bytearray((release / DB).read_bytes())
    data[200] ^= 1  # a header byte: the stored checksum no longer matches
    broken.write_bytes(bytes(data))
    with pytest.raises(LayoutError, match="checksum"):
        normalise_identifier(broken)
    assert broken.read_bytes() == bytes(data)
    text = tmp_path / "text.duckdb"
    text.write_bytes(b"not a database" * 1000)
    with pytest.raises(LayoutError, match="not a DuckDB"):
        normalise_identifier(text)
    wal = tmp_path / "wal.duckdb"
    shutil.copy(release / DB, wal)
    Path(f"{wal}.wal").write_bytes(b"")
    with pytest.raises(LayoutError, match="WAL"):
        normalise_identifier(wal)


def test_source_date_epoch_sets_the_zip_time(package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # 2023-11-14 22:13:20 UTC
    build(package, tmp_path / "out", force=True)  # the package is valid: validating it is not what is tested here
    with zipfile.ZipFile(tmp_path / "out" / ZIP) as archive:
        assert {i.date_time for i in archive.infolist()} == {(2023, 11, 14, 22, 13, 20)}


def test_interrupted_build_keeps_previous_release(package: Path, own_release: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    release = own_release
    before = {p.relative_to(release): p.read_bytes() for p in release.rglob("*") if p.is_file()}
    (package / "resources/people.csv").write_text(PEOPLE_CSV + "p4,New person,leader,1,2000-01-01,true,,\n")

    def boom(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(build_module, "write_sums", boom)
    with pytest.raises(KeyboardInterrupt):
        build(package, release, force=True)  # valid: validating it again is not what is tested here
    after = {p.relative_to(release): p.read_bytes() for p in release.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in release.parent.iterdir() if p.name.startswith(".")] == []
    monkeypatch.undo()
    build(package, release, force=True)
    assert pq.read_table(release / "parquet" / "people.parquet").num_rows == 4


def test_invalid_package_refused_unless_force(package: Path, tmp_path: Path) -> None:
    (package / "resources/people.csv").write_text(PEOPLE_CSV + "p1,Duplicate,leader,x,2000-01-01,true,,\n")
    out = tmp_path / "out"
    with pytest.raises(InvalidPackage) as info:
        build(package, out)
    checks = {(f.check, f.file, f.row, f.field) for f in info.value.report.errors}
    assert ("type-error", "resources/people.csv", 5, "age") in checks
    assert not out.exists()
    runner = CliRunner()
    result = runner.invoke(app, ["build", str(package), "--out", str(out)])
    assert result.exit_code == 1
    assert "type-error" in result.stderr and result.stderr.strip().splitlines()[-1].startswith("dpkg: error: the package is invalid")
    assert not out.exists()
    forced = runner.invoke(app, ["build", str(package), "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    assert "constraints relaxed" in forced.stderr  # the duplicate key cannot be a PRIMARY KEY
    con = duckdb.connect(str(out / DB), read_only=True)
    assert con.execute("SELECT count(*), count(age) FROM people").fetchone() == (4, 2)
    people = (out / "dictionary.md").read_text().split("## people", 1)[1].split("\n## ", 1)[0]
    assert "- Primary key: person_id" in people and "Enforced by DuckDB" not in people


def test_out_folder_guards(package: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["build", str(package), "--out", str(other)])
    assert result.exit_code == 2 and "was not written by dpkg build" in result.stderr
    assert (other / "keep.txt").read_text() == "mine"
    result = runner.invoke(app, ["build", str(package), "--out", str(package)])
    assert result.exit_code == 2 and "would replace the package itself" in result.stderr
    result = runner.invoke(app, ["build", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "no such file or folder" in result.stderr


def test_cli_options(package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["build", str(package), "-o", str(tmp_path / "a")])
    assert result.exit_code == 0 and "4 tables (13 rows), 5 views" in result.stdout and ZIP in result.stdout
    # --force below: the package is valid, and validating it is not what these calls test
    quiet = runner.invoke(app, ["build", str(package), "-o", str(tmp_path / "a"), "--quiet", "--force"])
    assert quiet.exit_code == 0 and quiet.stdout == ""
    monkeypatch.chdir(package)
    default = runner.invoke(app, ["build", "-q", "--force"])
    assert default.exit_code == 0 and (package / "dist" / DB).is_file()
    from_zip = runner.invoke(app, ["build", str(tmp_path / "a" / ZIP), "-o", str(tmp_path / "z"), "-q"])
    assert from_zip.exit_code == 0, from_zip.output
    assert (tmp_path / "z" / ZIP).read_bytes() == (tmp_path / "a" / ZIP).read_bytes()
    assert "--force" in runner.invoke(app, ["build", "--help"]).stdout


def test_dictionary_markdown(release: Path) -> None:
    text = (release / "dictionary.md").read_text()
    assert "## people" in text and "| `age` | integer (BIGINT) |" in text
    assert "`Kim Jong-un`; `Vladimir Putin`; `Sergei Lavrov`" in text
    assert "- Rows: 3" in text and "- Primary key: person_id" in text
    assert "- Foreign keys: (person_id) → people (person_id); (parent_id) → events (event_id)" in text
    assert "- Referenced by: events (person_id) → people (person_id)" in text
    assert "one of leader, president, minister" in text
    assert "- Enforced by DuckDB: CHECK role IN enum; PRIMARY KEY (person_id); NOT NULL (name)" in text
    assert "## Views" in text and "`cited_facts`" in text
    assert "## Facts per docs row" in text and "| d1 | Headline 1 | 3 | 3 | 2 | 1 |" in text


def test_plain_package_has_no_citation_parts(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    build(plain_package(tmp_path / "plain"), out)
    text = (out / "dictionary.md").read_text()
    assert "## numbers" in text and "Facts per" not in text and "## Views" not in text
    con = duckdb.connect(str(out / "plain.duckdb"), read_only=True)
    assert con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall() == [("numbers",)]
    assert (out / "plain.zip").is_file()


def test_real_package_builds(repo_root: Path, repo_release) -> None:
    result = repo_release  # build(repo_root, out): validated, then built
    out = result.out
    descriptor = json.loads((repo_root / "datapackage.json").read_text())
    con = duckdb.connect(str(out / f"{descriptor['name']}.duckdb"), read_only=True)
    for resource in descriptor["resources"]:
        rows = csv_rows((repo_root / resource["path"]).read_text(encoding="utf-8"))
        assert con.execute(f'SELECT count(*) FROM "{resource["name"]}"').fetchone()[0] == rows == result.tables[resource["name"]]
    assert con.execute("SELECT count(*) FROM texts").fetchone()[0] == len(list((repo_root / "seeds").glob("*.txt")))


@pytest.mark.browser
def test_dictionary_html_in_chromium(release: Path, tmp_path: Path) -> None:
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium); run scripts/ensure_chromium.sh")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"]
    url = (release / "dictionary.html").as_uri()
    dom = subprocess.run([str(chromium), *flags, "--dump-dom", url], capture_output=True, text=True, timeout=60)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<h1>Data dictionary: Cited test package</h1>" in dom.stdout
    assert dom.stdout.count("<section") == 4 + 1 + 1 + 1 + 1  # resources + overview + texts + views + support
    assert 'id="res-people"' in dom.stdout and "Vladimir Putin" in dom.stdout
    shot = tmp_path / "dictionary.png"
    done = subprocess.run([str(chromium), *flags, f"--screenshot={shot}", "--window-size=1280,1600", url],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_inline_data_non_tabular_file_and_self_cycle(tmp_path: Path) -> None:
    from tests.packages import write_package

    root = tmp_path / "mixed"
    write_package(root, [
        {"name": "codes", "data": [["code", "label"], ["RU", "Russia"], ["KP", "North Korea"]],
         "schema": {"fields": [{"name": "code", "type": "string"}, {"name": "label", "type": "string"}],
                    "primaryKey": ["code"]}},
        {"name": "notes", "path": "docs/notes.txt", "format": "txt", "mediatype": "text/plain"},
        {"name": "tree", "path": "tree.csv", "format": "csv",
         "schema": {"fields": [{"name": "id", "type": "string"}, {"name": "up", "type": "string"}], "primaryKey": ["id"],
                    "foreignKeys": [{"fields": ["up"], "reference": {"resource": "", "fields": ["id"]}}]}},
    ], {"docs/notes.txt": "free text\n", "tree.csv": "id,up\na,b\nb,a\n"}, name="mixed")
    out = tmp_path / "dist"
    result = build(root, out, force=True)
    assert result.tables == {"codes": 2, "tree": 2}
    assert any("table tree: constraints relaxed" in w and "cycle" in w for w in result.warnings)
    con = duckdb.connect(str(out / "mixed.duckdb"), read_only=True)
    assert con.execute("SELECT label FROM codes WHERE code = 'KP'").fetchone() == ("North Korea",)
    with zipfile.ZipFile(out / "mixed.zip") as archive:
        assert archive.namelist() == ["datapackage.json", "docs/notes.txt", "tree.csv"]
        released = json.loads(archive.read("datapackage.json"))
    assert "hash" not in released["resources"][0]  # inline data has no file to hash
    assert released["resources"][1]["hash"] == "sha256:" + hashlib.sha256(b"free text\n").hexdigest()
    assert "## notes" in (out / "dictionary.md").read_text()


def test_failed_first_build_leaves_nothing(package: Path, tmp_path: Path) -> None:
    (package / "resources/events.csv").unlink()
    out = tmp_path / "fresh"
    result = CliRunner().invoke(app, ["build", str(package), "--out", str(out), "--force"])
    assert result.exit_code == 1
    assert result.stderr == "dpkg: error: resources/events.csv: the file does not exist\n"
    assert not out.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_resource_name_that_is_a_path_is_refused(tmp_path: Path) -> None:
    from tests.packages import table, write_package

    root = tmp_path / "evil"
    write_package(root, [table("../../escape", "data.csv", [{"name": "a", "type": "integer"}])], {"data.csv": "a\n1\n"})
    result = CliRunner().invoke(app, ["build", str(root), "--out", str(tmp_path / "out"), "--force"])
    assert result.exit_code == 2 and "cannot be a Parquet file name" in result.stderr
    assert not (tmp_path / "escape.parquet").exists() and not (tmp_path / "out").exists()


def test_yaml_descriptor_with_dates(tmp_path: Path) -> None:
    root = tmp_path / "yamlpkg"
    (root / "data").mkdir(parents=True)
    (root / "data" / "a.csv").write_text("x\n1\n")
    (root / "datapackage.yaml").write_text(
        "name: yaml-package\ncreated: 2024-05-01\nresources:\n  - name: a\n    path: data/a.csv\n"
        "    schema:\n      fields:\n        - {name: x, type: integer}\n        - {name: y, type: date}\n"
        "    sources:\n      - {title: Somewhere, published: 2024-04-30}\n")
    (root / "data" / "a.csv").write_text("x,y\n1,2024-01-02\n")
    out = tmp_path / "dist"
    build(root, out, force=True)  # frictionless wants 'created' as a string: an unquoted YAML date is invalid
    with zipfile.ZipFile(out / "yaml-package.zip") as archive:
        released = json.loads(archive.read("datapackage.json"))
        assert {i.date_time for i in archive.infolist()} == {(2024, 5, 1, 0, 0, 0)}
    assert released["created"] == "2024-05-01"
    assert released["resources"][0]["sources"][0]["published"] == "2024-04-30"
    assert pq.read_table(out / "parquet" / "a.parquet").to_pylist()[0]["x"] == 1


def test_memory_limit(package: Path, release: Path, tmp_path: Path) -> None:
    """--memory-limit caps DuckDB while it writes; a size DuckDB cannot read is a usage error (exit 2),
    one too small to write the release is a one-line error that names the cap; nothing is written."""
    result = CliRunner().invoke(app, ["build", str(package), "--out", str(tmp_path / "a"), "--memory-limit", "lots"])
    assert result.exit_code == 2 and "--memory-limit 'lots'" in result.output and not (tmp_path / "a").exists()
    with pytest.raises(UsageError, match=r"ran out of memory under --memory-limit 1MB"):
        build(package, tmp_path / "b", memory_limit="1MB", force=True)  # the cap is on writing, not validating
    assert not (tmp_path / "b").exists()
    build(package, tmp_path / "c", memory_limit="64MB", force=True)
    assert release_files(tmp_path / "c") == release_files(release)  # the same package, built with the default cap

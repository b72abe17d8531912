"""How dpkg build spends its time: each input file hashed once, the zip at zlib level 1 and written
while the database is, a failed build stops the zip (see datapkg/build.py build_into)."""

from __future__ import annotations

import hashlib
import json
import threading
import zipfile
import zlib
from pathlib import Path

import duckdb
import pytest

from datapkg import build as build_module
from datapkg import db_inputs, release
from datapkg.build import build
from datapkg.database import create_database, rows_may_name_files
from datapkg.errors import UsageError
from datapkg.release import COMPRESSLEVEL, Cancelled, named_files, released_descriptor, write_sums, zip_package
from tests.buildpkg import cited_package, plain_package


def deflated(data: bytes, level: int) -> int:
    """Bytes of the raw deflate stream of ``data`` at ``level`` (what a zip member holds)."""
    packer = zlib.compressobj(level, zlib.DEFLATED, -15)
    return len(packer.compress(data) + packer.flush())


def test_zip_members_are_deflated_at_level_1(tmp_path: Path) -> None:
    """ZipFile.open(ZipInfo) compresses at the member's level, zlib's 6 unless set: the members are
    at COMPRESSLEVEL (1), as their compressed sizes show."""
    root = plain_package(tmp_path / "pkg")
    big = root / "big.csv"
    big.write_text("id,note\n" + "".join(f"{i},lorem ipsum dolor {i * 7919 % 1000}\n" for i in range(20000)))
    descriptor = {"name": "p", "resources": [{"name": "big", "path": "big.csv"}]}
    zip_package(root, descriptor, ["big.csv"], tmp_path / "p.zip")
    data = big.read_bytes()
    assert deflated(data, 1) != deflated(data, 6)  # the test can tell the two apart
    with zipfile.ZipFile(tmp_path / "p.zip") as archive:
        member = archive.getinfo("big.csv")
        assert archive.read("big.csv") == data
    assert COMPRESSLEVEL == 1 and member.compress_size == deflated(data, 1)


def test_released_descriptor_and_sums_use_known_digests(tmp_path: Path) -> None:
    """A digest already computed is used as it is (the file is not read again); others are computed."""
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "a.csv").write_text("x\n1\n")
    (root / "b.csv").write_text("x\n2\n")
    descriptor = {"name": "p", "resources": [{"name": "a", "path": "a.csv"}, {"name": "b", "path": "b.csv"}]}
    released = released_descriptor(root, descriptor, {"a.csv": "f" * 64})
    assert [r["hash"] for r in released["resources"]] == [
        "sha256:" + "f" * 64, "sha256:" + hashlib.sha256(b"x\n2\n").hexdigest()]
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    (folder / "b.txt").write_text("b")
    text = write_sums(folder, known={"a.txt": "0" * 64})
    assert text == f"{'0' * 64}  a.txt\n{hashlib.sha256(b'b').hexdigest()}  b.txt\n"


def test_database_records_known_digests(tmp_path: Path) -> None:
    """create_database records the digests it is given for its inputs and hashes only the others."""
    root = plain_package(tmp_path / "pkg")
    descriptor = json.loads((root / "datapackage.json").read_text())
    files = [f for f in db_inputs.input_files(root, "datapackage.json", descriptor, []) if f != "datapackage.json"]
    given = {files[0]: "e" * 64}
    create_database(tmp_path / "db.duckdb", root, "datapackage.json", descriptor, known=given)
    con = duckdb.connect(str(tmp_path / "db.duckdb"), read_only=True)
    recorded = dict(con.execute("SELECT path, sha256 FROM _dpkg.inputs").fetchall())
    con.close()
    assert recorded[files[0]] == "e" * 64
    assert recorded == {f: given.get(f) or hashlib.sha256((root / f).read_bytes()).hexdigest() for f in files}


def test_rows_may_name_files(tmp_path: Path) -> None:
    """Only the descriptor is read: a table with a path and a sha256 field (or a schema that cannot
    be read) may name files; a package without one cannot."""
    plain = plain_package(tmp_path / "plain")
    cited = cited_package(tmp_path / "cited")
    assert rows_may_name_files(plain, json.loads((plain / "datapackage.json").read_text())) is False
    assert rows_may_name_files(cited, json.loads((cited / "datapackage.json").read_text())) is True
    broken = {"resources": [{"name": "x", "path": "x.csv", "schema": "missing.json"}]}
    assert rows_may_name_files(plain, broken) is True


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files hashed in this process (by the database's input record and the release), in order."""
    seen: list[str] = []
    original = db_inputs.sha256_of

    def counting(path: Path) -> str:
        seen.append(Path(path).resolve().as_posix())
        return original(path)

    monkeypatch.setattr(db_inputs, "sha256_of", counting)
    monkeypatch.setattr(release, "sha256_of", counting)
    return seen


def test_each_input_file_is_hashed_once(tmp_path: Path, hashed: list[str]) -> None:
    """The build hashes every input file once (the zip's descriptor and the database's record of its
    inputs share the digests); the release still carries the right ones."""
    root = plain_package(tmp_path / "pkg")
    out = tmp_path / "dist"
    build(root, out, force=True)
    inputs = [p for p in hashed if p.startswith(root.resolve().as_posix())]
    assert inputs and len(inputs) == len(set(inputs))
    with zipfile.ZipFile(next(out.glob("*.zip"))) as archive:
        released = json.loads(archive.read("datapackage.json"))
    for resource in released["resources"]:
        if "path" in resource:
            assert resource["hash"] == "sha256:" + hashlib.sha256((root / resource["path"]).read_bytes()).hexdigest()


def _record_order(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record when the zip starts and when the database writer starts and ends."""
    from datapkg import duckdb_file

    events: list[str] = []
    real_zip, real_writer = build_module.zip_package, duckdb_file.write_database

    def zip_spy(*args, **kwargs):
        events.append("zip")
        return real_zip(*args, **kwargs)

    def writer_spy(*args, **kwargs):
        events.append("writer starts")
        info = real_writer(*args, **kwargs)
        events.append("writer ends")
        return info

    monkeypatch.setattr(build_module, "zip_package", zip_spy)
    monkeypatch.setattr(duckdb_file, "write_database", writer_spy)
    return events


def test_zip_is_written_with_the_database_when_its_members_are_known(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """No table names files: the zip starts before the database writer. A table that names files
    (texts the zip carries): the zip waits for the writer, and holds those files."""
    events = _record_order(monkeypatch)
    build(plain_package(tmp_path / "plain"), tmp_path / "a", force=True)
    assert events.index("zip") < events.index("writer starts")
    events.clear()
    cited = cited_package(tmp_path / "cited")
    build(cited, tmp_path / "b", force=True)  # valid: validating it is not what is tested here
    assert events == ["writer starts", "writer ends", "zip"]
    with zipfile.ZipFile(next((tmp_path / "b").glob("*.zip"))) as archive:
        assert {"texts/a1.txt", "texts/a2.txt"} <= set(archive.namelist())


def test_failed_writer_stops_the_zip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the database writer fails, the zip being written beside it is told to stop, the error
    is the writer's, and nothing is left."""
    stopped = threading.Event()

    def slow_zip(*args, cancel: threading.Event, **kwargs) -> None:
        if cancel.wait(timeout=30):
            stopped.set()
            raise Cancelled("abandoned")

    def failing_writer(*args, **kwargs):
        raise UsageError("the writer failed")

    from datapkg import duckdb_file

    monkeypatch.setattr(build_module, "zip_package", slow_zip)
    monkeypatch.setattr(duckdb_file, "write_database", failing_writer)
    with pytest.raises(UsageError, match="the writer failed"):
        build(plain_package(tmp_path / "pkg"), tmp_path / "dist", force=True)
    assert stopped.is_set() and not (tmp_path / "dist").exists()


def test_cancelled_zip_leaves_no_file(tmp_path: Path) -> None:
    root = plain_package(tmp_path / "pkg")
    descriptor = json.loads((root / "datapackage.json").read_text())
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        zip_package(root, descriptor, named_files(root, descriptor), tmp_path / "z" / "p.zip", cancel=cancel)
    assert list((tmp_path / "z").iterdir()) == []


def test_query_cache_hashes_each_input_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            hashed: list[str]) -> None:
    """dpkg query's cache: the digests that key it are the ones its database records (each input file
    is read once to hash it); the cache is then current."""
    from datapkg.query import open_database

    monkeypatch.setenv("DPKG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    root = cited_package(tmp_path / "pkg")
    con, db, kind = open_database(root)
    con.close()
    assert kind == "cache" and hashed and len(hashed) == len(set(hashed))
    assert "texts/a1.txt" in " ".join(hashed)  # the files rows name are hashed by the writer
    hashed.clear()
    con, again, kind = open_database(root)
    con.close()
    assert (again, kind) == (db, "cache")


def _keyed_package(root: Path, child_rows: str) -> tuple[Path, dict]:
    from tests.packages import table, write_package

    write_package(root, [
        table("parent", "parent.csv", [{"name": "id", "type": "string"}], primaryKey=["id"]),
        table("child", "child.csv", [{"name": "id", "type": "integer"}, {"name": "parent_id", "type": "string"}],
              primaryKey=["id"], foreignKeys=[{"fields": ["parent_id"], "reference": {"resource": "parent", "fields": ["id"]}}]),
    ], {"parent.csv": "id\na\nb\n", "child.csv": "id,parent_id\n" + child_rows})
    return root, json.loads((root / "datapackage.json").read_text())


def test_large_table_is_inserted_in_batches_with_its_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A table with more rows than batch_rows(cap) is inserted in several transactions: every row,
    in the file's order (blank lines in between), with the keys kept, and a key repeated across two
    batches is still found (the constraint is relaxed, with the duplicate named)."""
    import datapkg.database as database

    monkeypatch.setattr(database, "MIN_BATCH_ROWS", 2)
    monkeypatch.setattr(database, "BATCH_BYTES_PER_ROW", 1 << 40)
    assert database.batch_rows("512MB") == 2 and database.batch_rows(None) is None
    inserts: list[str] = []
    real_insert = database._insert

    def spy(con, name, *args):
        real = con.execute

        class Counting:
            def __getattr__(self, attr):
                return getattr(con, attr)

            def execute(self, sql, *a):
                if sql.startswith("INSERT INTO out.main"):
                    inserts.append(name)
                return real(sql, *a)

        return real_insert(Counting(), name, *args)

    monkeypatch.setattr(database, "_insert", spy)
    root, descriptor = _keyed_package(tmp_path / "ok", "5,a\n4,b\n\n3,a\n2,b\n1,a\n")
    info = create_database(tmp_path / "ok.duckdb", root, "datapackage.json", descriptor, memory_limit="512MB")
    assert info.warnings == [] and inserts.count("child") == 3 and inserts.count("parent") == 1
    con = duckdb.connect(str(tmp_path / "ok.duckdb"), read_only=True)
    assert con.execute("SELECT id FROM child").fetchall() == [(5,), (4,), (3,), (2,), (1,)]
    assert {c for (c,) in con.execute("SELECT constraint_type FROM duckdb_constraints() WHERE table_name = 'child'")
            .fetchall()} >= {"PRIMARY KEY", "FOREIGN KEY"}
    con.close()
    root, descriptor = _keyed_package(tmp_path / "dup", "1,a\n2,b\n3,a\n1,b\n")
    info = create_database(tmp_path / "dup.duckdb", root, "datapackage.json", descriptor, memory_limit="512MB")
    assert any("constraints relaxed" in w and "Duplicate key" in w and "id: 1" in w for w in info.warnings), info.warnings


def test_out_of_memory_is_not_a_broken_constraint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB failing to commit a table's keys under the cap is an out-of-memory error naming the
    table, not a constraint the data breaks (the writer used to drop the keys and go on)."""
    import datapkg.database as database

    def out_of_memory(con, name, *args):
        if name == "child":
            raise duckdb.TransactionException("TransactionContext Error: Failed to commit: failed to pin block "
                                              "of size 256.0 KiB (488.1 MiB/488.2 MiB used)")

    monkeypatch.setattr(database, "_insert", out_of_memory)
    root, descriptor = _keyed_package(tmp_path / "pkg", "1,a\n")
    with pytest.raises(duckdb.OutOfMemoryException, match="table child: .*failed to pin block"):
        create_database(tmp_path / "db.duckdb", root, "datapackage.json", descriptor, memory_limit="512MB")

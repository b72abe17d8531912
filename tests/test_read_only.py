"""Reading never writes: validate and query leave a package (folder, zip, release) byte-for-byte as found.

Caches live in the user's cache folder, keyed by content; a downloaded release is queried
through its own database; a ``.duckdb`` file or a release folder is accepted as a package.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datapkg.cli.main import app
from datapkg.download import download
from datapkg.query import open_database
from tests.buildpkg import cited_package

#: One worker runs this file with tests/test_build.py under ``--dist loadgroup``: conftest's cited_release is built once.
pytestmark = pytest.mark.xdist_group("build-release")

COUNT = "SELECT count(*) AS n FROM people"


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every file and folder under ``folder``: its bytes' hash, mode and mtime."""
    out = {}
    for path in sorted(folder.rglob("*")):
        stat = path.stat()
        content = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        out[path.relative_to(folder).as_posix()] = (content, stat.st_mode, stat.st_mtime_ns)
    return out


def run(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DPKG_CACHE_DIR", str(tmp_path / "user-cache"))
    return tmp_path / "user-cache"


@pytest.fixture
def release(cited_release: Path) -> Path:
    """A built release folder (dpkg build's output) of the small cited package: conftest's
    ``cited_release``, built once; every test here only reads it (most assert it is unchanged)."""
    return cited_release


def test_query_on_a_downloaded_release_uses_its_own_database(release: Path, cache: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    download(f"{release}/", tmp_path / "rnk")
    before = snapshot(tmp_path / "rnk")
    con, db, kind = open_database(tmp_path / "rnk")
    con.close()
    assert (kind, db) == ("build", (tmp_path / "rnk" / "release" / "test-package.duckdb").resolve())
    result = run("query", "-p", str(tmp_path / "rnk"), COUNT, "-f", "csv")
    assert (result.exit_code, result.stdout) == (0, "n\n3\n")
    assert snapshot(tmp_path / "rnk") == before
    assert not cache.exists() or not list(cache.iterdir())


def test_query_on_a_zip_writes_nothing_beside_it(release: Path, cache: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    alone = tmp_path / "zips"
    alone.mkdir()
    shutil.copy2(release / "test-package-1.2.0.zip", alone)
    before = snapshot(alone)
    result = run("query", "-p", str(alone / "test-package-1.2.0.zip"), COUNT, "-f", "csv")
    assert (result.exit_code, result.stdout) == (0, "n\n3\n")
    assert snapshot(alone) == before
    assert [p.name.split("-", 1)[1] for p in cache.iterdir()] == ["test-package.duckdb"]
    # beside its own database (in the release folder) the zip is queried through that database
    before = snapshot(release)
    con, db, kind = open_database(release / "test-package-1.2.0.zip")
    con.close()
    assert (kind, db) == ("build", (release / "test-package.duckdb").resolve())
    assert snapshot(release) == before


@pytest.mark.parametrize("command", [["validate"], ["query", COUNT, "-p"], ["tables", "-p"]])
def test_validate_and_query_leave_the_package_byte_for_byte(command: list[str], cache: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    package = cited_package(tmp_path / "pkg")
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    result = run(*command, str(package))
    assert result.exit_code == 0, result.output
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith("user-cache")} == before


def test_a_duckdb_file_and_a_release_folder_are_packages(release: Path, cache: Path) -> None:
    before = snapshot(release)
    for given, kind in ((release / "test-package.duckdb", "database"), (release, "release")):
        con, db, got = open_database(given)
        con.close()
        assert (got, db) == (kind, release / "test-package.duckdb")
        result = run("query", "-p", str(given), COUNT, "-f", "csv")
        assert (result.exit_code, result.stdout) == (0, "n\n3\n")
        assert "people (table)" in run("tables", "-p", str(given)).stdout
    assert snapshot(release) == before and not cache.exists()


def test_a_release_folder_validates_through_its_zip(release: Path) -> None:
    result = run("validate", str(release))
    assert result.exit_code == 0, result.output


def test_an_unwritable_cache_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = cited_package(tmp_path / "pkg")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DPKG_CACHE_DIR", str(blocker / "cache"))
    result = run("query", "-p", str(package), COUNT)
    assert result.exit_code == 2 and "cannot write the query cache" in result.stderr and "DPKG_CACHE_DIR" in result.stderr


def test_validate_names_a_database_for_what_it_is(release: Path) -> None:
    result = run("validate", str(release / "test-package.duckdb"))
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1
    assert "is a DuckDB database, not a package" in result.stderr

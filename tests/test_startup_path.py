"""What ``dpkg query``'s start-up path does cheaply must equal what it replaced (issue 13: start-up at the floor).

Real paths resolved once per folder equal ``os.path.realpath``; a descriptor with a byte-order mark
reads as before; and a file changed in place (same size, times put back) never gives a stale answer.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from datapkg.errors import UsageError
from datapkg.limits import is_within, real_path, regular_file
from datapkg.package_source import open_package, read_descriptor
from tests.buildpkg import PEOPLE_CSV, cited_package


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A package folder with a linked folder, a linked file, a dangling link and a link out of it."""
    root = tmp_path / "pkg"
    (root / "data").mkdir(parents=True)
    (root / "data" / "a.csv").write_text("x\n1\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "b.csv").write_text("x\n2\n")
    (root / "linked").symlink_to(root / "data")
    (root / "data" / "alias.csv").symlink_to("a.csv")
    (root / "data" / "out.csv").symlink_to(tmp_path / "outside" / "b.csv")
    (root / "data" / "dangling.csv").symlink_to("nowhere.csv")
    (root / "away").symlink_to(tmp_path / "outside")
    return root


PATHS = ["data/a.csv", "linked/a.csv", "data/alias.csv", "linked/alias.csv", "data/out.csv", "data/dangling.csv",
         "away/b.csv", "data/../data/a.csv", "linked/../data/a.csv", "data/./a.csv", "data/", "linked", "away",
         "missing/x.csv", "data/missing.csv", ".", "data/a.csv/x"]


def test_real_path_with_shared_lookups_is_os_realpath(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    known: dict[str, str] = {}
    for rel in PATHS + PATHS:  # twice: the second time from what was found the first time
        path = str(tree / rel)
        assert real_path(path, known) == os.path.realpath(path), rel
        assert real_path(path) == os.path.realpath(path), rel
    monkeypatch.chdir(tree)
    for rel in PATHS:
        assert real_path(rel, {}) == os.path.realpath(rel), rel


def test_is_within() -> None:
    assert is_within("/a/b", "/a/b") and is_within("/a/b", "/a/b/c") and is_within("/", "/a")
    assert not is_within("/a/b", "/a/bc") and not is_within("/a/b", "/a")


@pytest.mark.parametrize("known", [None, {}])
def test_regular_file_refuses_links_out_with_or_without_shared_lookups(tree: Path, known: dict | None) -> None:
    assert regular_file(tree, "linked/alias.csv", "path", known=known) == tree / "linked/alias.csv"
    for rel in ("data/out.csv", "away/b.csv"):
        with pytest.raises(UsageError, match=f"path '{rel}' resolves outside the package"):
            regular_file(tree, rel, "path", known=known)
    with pytest.raises(FileNotFoundError):
        regular_file(tree, "data/dangling.csv", "path", known=known)


def test_open_package_refuses_a_resource_linked_out_of_the_package(tree: Path) -> None:
    (tree / "datapackage.json").write_text('{"name": "p", "resources": [{"name": "a", "path": "data/a.csv"}, '
                                           '{"name": "b", "path": "linked/out.csv"}]}')
    with pytest.raises(UsageError) as info:
        open_package(tree)
    assert str(info.value) == "resource 'b' path 'linked/out.csv' resolves outside the package (symbolic link)"


def test_a_descriptor_with_a_byte_order_mark(tmp_path: Path) -> None:
    descriptor = tmp_path / "datapackage.json"
    descriptor.write_bytes(b'\xef\xbb\xbf{"name": "p", "title": "\xc3\xa9"}')
    assert read_descriptor(descriptor) == {"name": "p", "title": "é"}
    descriptor.write_bytes(b'\xef\xbb\xbf{"name": "p\xff"}')
    with pytest.raises(UsageError) as info:
        read_descriptor(descriptor)
    # the position is counted after the mark, as Python's "utf-8-sig" codec counts it
    start = next(exc.start for exc in [_decode_error(descriptor.read_bytes())])
    assert str(info.value) == f"datapackage.json is not UTF-8 text (byte {start}: {descriptor.read_bytes()[start:start + 1]!r})"
    assert start == 11


def _decode_error(raw: bytes) -> UnicodeDecodeError:
    try:
        raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return exc
    raise AssertionError("decodes")


def _fast_query(package: Path, sql: str, capsys: pytest.CaptureFixture[str]) -> str:
    """``dpkg query SQL -p PACKAGE -f csv`` through the console script's fast path (which must answer)."""
    from datapkg.cli.entry import fast_query, parse_query

    capsys.readouterr()
    assert fast_query(parse_query(["query", sql, "-p", str(package), "-f", "csv"])) is True
    return capsys.readouterr().out


def _same_size_edit(path: Path, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` (same length) in place, then put the file's times back."""
    before = path.stat()
    text = path.read_text(encoding="utf-8")
    assert len(old.encode()) == len(new.encode()) and old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns


def test_a_file_changed_in_place_never_gives_a_stale_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Same size, same modification time: the fast path still sees the new content (keyed by content)."""
    from datapkg.query import open_database

    monkeypatch.setenv("DPKG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    package = cited_package(tmp_path / "pkg")
    open_database(package)[0].close()  # the cache exists: the fast path answers
    sql = "SELECT name FROM people WHERE person_id = 'p1'"
    assert _fast_query(package, sql, capsys) == "name\nKim Jong-un\n"
    assert "Kim Jong-un" in PEOPLE_CSV
    _same_size_edit(package / "resources/people.csv", "Kim Jong-un", "Kim Jong-UN")
    # the fast path leaves building to the full command line; after that build it answers anew
    from datapkg.cli.entry import fast_query, parse_query

    assert fast_query(parse_query(["query", sql, "-p", str(package), "-f", "csv"])) is False
    open_database(package)[0].close()
    assert _fast_query(package, sql, capsys) == "name\nKim Jong-UN\n"
    text = next(p for p in (package / "texts").iterdir() if "Pyongyang" in p.read_text(encoding="utf-8"))
    count = "SELECT count(*) AS n FROM texts WHERE contains(text, 'Pyongyang')"
    before = _fast_query(package, count, capsys)
    _same_size_edit(text, "Pyongyang", "Pyongyanq")
    open_database(package)[0].close()
    assert _fast_query(package, count, capsys) != before

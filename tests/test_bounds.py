"""Issue 16 item 3: every input is bounded; a hostile package never hangs dpkg or eats its memory."""

from __future__ import annotations

import gzip
import json
import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datapkg.cli.main import app
from datapkg.errors import UsageError
from datapkg.limits import MAX_COLUMNS, regular_file
from tests.packages import table, write_package

runner = CliRunner()


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_a_fifo_resource_is_refused_at_once(tmp_path: Path):
    write_package(tmp_path, [table("t", "t.csv", [{"name": "id"}])], {})
    os.mkfifo(tmp_path / "t.csv")
    started = time.perf_counter()
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 2 and time.perf_counter() - started < 20
    assert one_line(result) == "dpkg: error: resource 't' path 't.csv' is a FIFO, not a regular file; refused"


def test_a_fifo_schema_file_is_refused(tmp_path: Path):
    write_package(tmp_path, [{"name": "t", "path": "t.csv", "schema": "s.json"}], {"t.csv": "id\n1\n"})
    os.mkfifo(tmp_path / "s.json")
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 2 and "resource 't' schema 's.json' is a FIFO" in one_line(result)


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    """A package whose articles table names a file by path (with its sha256)."""
    fields = [{"name": "article_id"}, {"name": "path"}, {"name": "sha256"}]
    write_package(tmp_path, [table("articles", "articles.csv", fields, primaryKey=["article_id"])],
                  {"articles.csv": "article_id,path,sha256\na1,seeds/a1.txt,x\n"})
    (tmp_path / "seeds").mkdir()
    return tmp_path


def test_a_row_path_linked_to_dev_zero_is_refused_not_read(articles: Path):
    (articles / "seeds" / "a1.txt").symlink_to("/dev/zero")
    result = runner.invoke(app, ["validate", str(articles), "--format", "json"])
    assert result.exit_code == 1, result.output
    found = [(f["check"], f["file"], f["row"], f["field"]) for f in json.loads(result.stdout)["errors"]]
    assert ("unsafe-path", "articles.csv", 2, "path") in found
    with pytest.raises(UsageError, match="resolves outside the package"):
        regular_file(articles, "seeds/a1.txt", "path")


def test_a_row_path_that_is_a_fifo_is_refused(articles: Path):
    os.mkfifo(articles / "seeds" / "a1.txt")
    with pytest.raises(UsageError, match="'seeds/a1.txt' is a FIFO, not a regular file"):
        regular_file(articles, "seeds/a1.txt", "path")
    result = runner.invoke(app, ["validate", str(articles), "--format", "json"])
    assert result.exit_code == 1 and '"unsafe-path"' in result.stdout


def test_a_gzip_bomb_resource_is_refused_with_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write_package(tmp_path, [table("t", "t.csv.gz", [{"name": "id"}])], {"t.csv.gz": gzip.compress(b"id\n" + b"0" * (8 << 20))})
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 2
    assert one_line(result).startswith("dpkg: error: resource 't' path 't.csv.gz': over the limit of 100 for the "
                                       "compression ratio")
    assert "raise the limit with DPKG_MAX_RATIO" in result.stderr
    monkeypatch.setenv("DPKG_MAX_RATIO", "100000")
    monkeypatch.setenv("DPKG_MAX_UNZIPPED", "4M")
    again = runner.invoke(app, ["validate", str(tmp_path)])
    assert again.exit_code == 2 and "over the limit of 4194304 bytes for the uncompressed size" in one_line(again)
    assert "DPKG_MAX_UNZIPPED" in again.stderr


def test_a_csv_of_100000_columns_ends_at_once_naming_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    header = ",".join(f"c{i}" for i in range(100_000))
    write_package(tmp_path, [table("t", "t.csv", [{"name": "c0"}])], {"t.csv": header + "\n" + "1," * 99_999 + "1\n"})
    started = time.perf_counter()
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert time.perf_counter() - started < 20 and result.exit_code == 2
    assert one_line(result) == (f"dpkg: error: resource 't' path 't.csv': over the limit of {MAX_COLUMNS.default} for the "
                                "number of columns (100000 columns in the header); refused (if the input is genuine, "
                                "raise the limit with DPKG_MAX_COLUMNS)")
    monkeypatch.setenv("DPKG_MAX_HEADER", "1000")
    monkeypatch.setenv("DPKG_MAX_COLUMNS", "200000")
    longer = runner.invoke(app, ["validate", str(tmp_path)])
    assert "the first line: over the limit of 1000 bytes for the length of a CSV header line" in one_line(longer)
    monkeypatch.setenv("DPKG_MAX_COLUMNS", "many")
    assert one_line(runner.invoke(app, ["validate", str(tmp_path)])) == (
        "dpkg: error: DPKG_MAX_COLUMNS='many' is not a number; give a whole number, e.g. 50000")


def test_a_schema_of_too_many_fields_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DPKG_MAX_COLUMNS", "3")
    write_package(tmp_path, [table("t", "t.csv", [{"name": f"c{i}"} for i in range(5)])], {"t.csv": "c0\n1\n"})
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert "resource 't' schema: over the limit of 3 for the number of columns (5 fields)" in one_line(result)


def test_a_fifo_named_on_the_command_line_is_refused(tmp_path: Path):
    os.mkfifo(tmp_path / "package.zip")
    result = runner.invoke(app, ["validate", str(tmp_path / "package.zip")])
    assert result.exit_code == 2 and "is not a regular file or a folder" in one_line(result)

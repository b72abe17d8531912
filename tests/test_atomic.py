"""Atomic writes: a failed write leaves the previous file or folder exactly as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from datapkg.atomic import replace_dir, replace_file, write_text


def test_write_text_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    write_text(target, "one")
    write_text(target, "two")
    assert target.read_text() == "two" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_replace_file_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "db.duckdb"
    target.write_text("old")
    with pytest.raises(RuntimeError), replace_file(target, companions=(".wal",)) as tmp:
        tmp.write_text("half")
        Path(f"{tmp}.wal").write_text("log")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["db.duckdb"]


def test_replace_file_renames_into_place(tmp_path: Path) -> None:
    with replace_file(tmp_path / "x.zip") as tmp:
        assert not tmp.exists() and tmp.parent == tmp_path
        tmp.write_bytes(b"zip")
    assert (tmp_path / "x.zip").read_bytes() == b"zip" and len(list(tmp_path.iterdir())) == 1


def test_replace_dir_keeps_the_old_folder_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "dist"
    target.mkdir()
    (target / "old").write_text("kept")
    with pytest.raises(KeyboardInterrupt), replace_dir(target) as tmp:
        (tmp / "new").write_text("half")
        raise KeyboardInterrupt
    assert [p.name for p in target.iterdir()] == ["old"] and [p.name for p in tmp_path.iterdir()] == ["dist"]
    with replace_dir(target) as tmp:
        (tmp / "new").write_text("done")
    assert [p.name for p in target.iterdir()] == ["new"]

"""Issue 16 item 2: dpkg replaces only folders it wrote itself (``.dpkg-manifest.json``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datapkg.cli.main import app
from datapkg.atomic import TMP_MARKER, replace_dir, stale_temporaries
from datapkg.errors import UsageError
from datapkg.owned_dir import MANIFEST, check_owned, read_manifest, replace_owned_dir
from tests.buildpkg import plain_package

runner = CliRunner()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else b"<dir>" for p in sorted(folder.rglob("*"))}


def fill(tmp: Path, **files: str) -> None:
    for name, text in files.items():
        (tmp / name).write_text(text)


def test_a_folder_dpkg_wrote_is_replaced_and_the_users_files_are_carried_over(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    with replace_owned_dir(out, "build", "--out") as rep:
        fill(rep.tmp, a="1", b="2")
    assert set(read_manifest(out)["files"]) == {"a", "b"}
    (out / "mine.sql").write_text("select 1")
    (out / "notes").mkdir()
    (out / "notes" / "n.md").write_text("n")
    with replace_owned_dir(out, "build", "--out") as rep:
        fill(rep.tmp, a="3")
    assert rep.kept == ["mine.sql", "notes/n.md"]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        MANIFEST, "a", "mine.sql", "notes/n.md"]
    assert (out / "a").read_text() == "3" and set(read_manifest(out)["files"]) == {"a"}


@pytest.mark.parametrize("case", ["sums-folder", "other-kind", "garbage-manifest", "file", "changed", "clash"])
def test_anything_else_is_refused_in_one_line_touching_nothing(tmp_path: Path, case: str) -> None:
    out = tmp_path / "dist"
    if case == "file":
        out.write_text("x")
    elif case == "sums-folder":  # an ISO download folder happens to hold a SHA256SUMS
        out.mkdir()
        fill(out, SHA256SUMS="", **{"debian.iso": "iso"})
    else:
        with replace_owned_dir(out, "download" if case == "other-kind" else "build", "--out") as rep:
            fill(rep.tmp, a="1")
        if case == "garbage-manifest":
            (out / MANIFEST).write_text("{not json")
        elif case == "changed":
            (out / "a").write_text("edited by the user")
        elif case == "clash":
            (out / "b").write_text("the user's b")
    before = snapshot(tmp_path)
    with pytest.raises(UsageError) as info, replace_owned_dir(out, "build", "--out") as rep:
        fill(rep.tmp, a="2", b="2")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{out}: b is not dpkg's") if case == "clash" else message.startswith(f"--out {out}")
    assert snapshot(tmp_path) == before


def test_build_out_refuses_a_folder_with_sha256sums_that_dpkg_did_not_write(tmp_path: Path) -> None:
    package = plain_package(tmp_path / "pkg")
    iso = tmp_path / "isos"
    iso.mkdir()
    fill(iso, SHA256SUMS="abc  debian.iso\n", **{"debian.iso": "iso"})
    before = snapshot(tmp_path)
    result = runner.invoke(app, ["build", str(package), "--out", str(iso), "--force"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"dpkg: error: --out {iso} is not empty and was not written by dpkg build "
                                     f"(no {MANIFEST}); refusing to replace it: choose a new or empty folder")
    assert snapshot(tmp_path) == before


def test_build_keeps_the_users_file_in_dist_and_says_so(tmp_path: Path) -> None:
    package = plain_package(tmp_path / "pkg")
    out = tmp_path / "dist"
    assert runner.invoke(app, ["build", str(package), "--out", str(out), "--force"]).exit_code == 0
    (out / "my_analysis.sql").write_text("select 1")
    result = runner.invoke(app, ["build", str(package), "--out", str(out), "--force"])
    assert result.exit_code == 0, result.output
    assert f"dpkg: kept 1 file(s) in {out} that the build did not write: my_analysis.sql" in result.stderr
    assert (out / "my_analysis.sql").read_text() == "select 1"


def test_temporary_folders_of_a_killed_run_are_cleaned_up_next_time(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    dead = tmp_path / ".dist.k1ll3d.tmp"  # a killed build: dpkg's marker, a process that is gone
    dead.mkdir()
    (dead / TMP_MARKER).write_text("999999999")
    (dead / "half.duckdb").write_text("half")
    alive = tmp_path / ".dist.running.tmp"  # another build still running
    alive.mkdir()
    (alive / TMP_MARKER).write_text(str(os.getpid()))
    foreign = tmp_path / ".dist.user.tmp"  # same pattern, not dpkg's (no marker)
    foreign.mkdir()
    (foreign / "keep").write_text("k")
    assert stale_temporaries(out) == [dead]
    with replace_dir(out) as tmp:
        assert (tmp / TMP_MARKER).read_text() == str(os.getpid())
    assert not dead.exists() and alive.is_dir() and (foreign / "keep").is_file()
    assert not (out / TMP_MARKER).exists()


def test_replaced_folders_get_normal_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with replace_owned_dir(tmp_path / "out", "build", "--out") as rep:
            fill(rep.tmp, a="1")
    finally:
        os.umask(old)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "out" / MANIFEST).stat().st_mode & 0o777 == 0o644


def test_a_symlink_is_never_taken_for_a_folder_of_ours(tmp_path: Path) -> None:
    real = tmp_path / "real"
    with replace_owned_dir(real, "build", "--out") as rep:
        fill(rep.tmp, a="1")
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(UsageError, match="is not a folder"):
        check_owned(tmp_path / "link", "build", "--out")
    assert json.loads((real / MANIFEST).read_text())["kind"] == "build"


def test_data_docs_folder_that_is_not_dpkgs_is_refused_before_any_work(tmp_path: Path) -> None:
    """A sibling: ``dpkg validate --data-docs DIR`` replaced DIR whatever it held."""
    package = plain_package(tmp_path / "pkg")
    docs = tmp_path / "site"
    docs.mkdir()
    (docs / "index.html").write_text("my own site")
    before = snapshot(tmp_path)
    result = runner.invoke(app, ["validate", str(package), "--data-docs", str(docs)])
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(f"dpkg: error: --data-docs {docs} is not empty and was not written by dpkg")
    assert snapshot(tmp_path) == before

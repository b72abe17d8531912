"""dpkg verify on disk (release folder, SHA256SUMS, zip, downloaded package), SHA256SUMS parsing and safezip caps."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datapkg.cli.main import app
from datapkg import safezip
from datapkg.errors import UsageError
from datapkg.verify import parse_sums
from tests.releases import hostile_zip, package_files, release_files, sha256, write_release, zip_bytes

runner = CliRunner()
ZIP = "demo-package-1.0.0.zip"


def verify_json(path: Path) -> tuple[int, dict]:
    result = runner.invoke(app, ["verify", str(path), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def keys(report: dict) -> set[tuple]:
    return {(e["check"], e["file"], e["severity"]) for e in report["errors"]}


@pytest.mark.parametrize("which", ["folder", "sums", "zip"])
def test_good_release_verifies(tmp_path: Path, which: str) -> None:
    release = write_release(tmp_path / "dist")
    code, report = verify_json({"folder": release, "sums": release / "SHA256SUMS", "zip": release / ZIP}[which])
    assert (code, report["errors"]) == (0, [])


def test_text_output(tmp_path: Path) -> None:
    result = runner.invoke(app, ["verify", str(write_release(tmp_path / "dist"))])
    assert result.exit_code == 0
    assert result.stdout.startswith("valid: no errors, 0 warning(s)")


def test_changed_artefact_missing_artefact_and_unlisted_file(tmp_path: Path) -> None:
    release = write_release(tmp_path / "dist")
    expected = sha256((release / "parquet/items.parquet").read_bytes())
    (release / "parquet/items.parquet").write_bytes(b"PAR1 items PAR2")
    (release / "dictionary.md").unlink()
    (release / "notes.txt").write_text("added after the build")
    code, report = verify_json(release)
    assert code == 1
    assert keys(report) == {("checksum-mismatch", "parquet/items.parquet", "error"),
                            ("file-missing", "dictionary.md", "error"),
                            ("unlisted-file", "notes.txt", "warning")}
    mismatch = next(e for e in report["errors"] if e["check"] == "checksum-mismatch")
    assert mismatch["value"] == expected
    assert mismatch["message"] == (f"sha256 is {sha256(b'PAR1 items PAR2')} but SHA256SUMS records {expected}; "
                                   "the file is corrupt or was changed")


def test_resource_inside_zip_checked_against_descriptor(tmp_path: Path) -> None:
    files = release_files(zip_bytes(package_files(corrupt="resources/items.csv")))
    release = write_release(tmp_path / "dist", files)
    code, report = verify_json(release)
    assert code == 1
    assert keys(report) == {("hash-count", f"{ZIP}/resources/items.csv", "error")}
    code, report = verify_json(release / ZIP)
    assert keys(report) == {("hash-count", f"{ZIP}/resources/items.csv", "error")}


def test_byte_count_and_missing_resource(tmp_path: Path) -> None:
    files = package_files()
    files["resources/places.csv"] += b"CN,China\n"
    del files["resources/items.csv"]
    (tmp_path / "p.zip").write_bytes(zip_bytes(files))
    code, report = verify_json(tmp_path / "p.zip")
    assert code == 1
    assert keys(report) == {("byte-count", "p.zip/resources/places.csv", "error"),
                            ("hash-count", "p.zip/resources/places.csv", "error"),
                            ("file-missing", "p.zip/resources/items.csv", "error")}


def test_downloaded_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert runner.invoke(app, ["download", str(write_release(tmp_path / "dist")), "--to", str(out)]).exit_code == 0
    code, report = verify_json(out)
    assert (code, report["errors"]) == (0, [])
    assert report["stats"]["checked"] == ["release/SHA256SUMS", "descriptor"]
    (out / "resources/places.csv").write_bytes(b"code,label\nKP,North Korea\nRU,Rossia\n")
    (out / "release/dictionary.html").write_bytes(b"<h1>changed</h1>\n")
    code, report = verify_json(out)
    assert code == 1
    assert keys(report) == {("hash-count", "resources/places.csv", "error"),
                            ("checksum-mismatch", "release/dictionary.html", "error")}


def test_resource_without_hash_warns(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a\n1\n")
    (tmp_path / "more.csv").write_text("b\n2\n")
    hashed = {"name": "m", "path": "more.csv", "hash": "sha256:" + sha256(b"b\n2\n")}
    (tmp_path / "datapackage.json").write_text(json.dumps({"name": "x", "resources": [{"name": "d", "path": "data.csv"}, hashed]}))
    code, report = verify_json(tmp_path)
    assert code == 0
    assert keys(report) == {("hash-missing", "data.csv", "warning")}


@pytest.mark.parametrize("zipped", [False, True])
def test_package_without_any_hash_is_nothing_to_verify(tmp_path: Path, zipped: bool) -> None:
    """Not 'valid' with a warning per resource: exit 2 and one line, as the help says."""
    files = {"data.csv": b"a\n1\n", "datapackage.json": json.dumps({"name": "x", "resources": [{"name": "d", "path": "data.csv"}]}).encode()}
    if zipped:
        target = tmp_path / "x.zip"
        target.write_bytes(zip_bytes(files))
    else:
        target = tmp_path
        for name, body in files.items():
            (tmp_path / name).write_bytes(body)
    result = runner.invoke(app, ["verify", str(target)])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip() == (f"dpkg: error: {target}: nothing to verify (no SHA256SUMS, and the descriptor "
                                     "records no resource hash; 'dpkg build' writes a release that has both)")


def test_nothing_to_verify(tmp_path: Path) -> None:
    result = runner.invoke(app, ["verify", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"dpkg: error: {tmp_path}: nothing to verify "
                                     "(no SHA256SUMS, release/SHA256SUMS or datapackage.json)")


def test_not_a_release_file(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("hello")
    result = runner.invoke(app, ["verify", str(tmp_path / "x.txt")])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"dpkg: error: {tmp_path / 'x.txt'} is neither a folder, a SHA256SUMS file nor a zip archive"


@pytest.mark.parametrize("kind, message", [
    ("slip", "bad.zip: member '../../evil.txt' climbs out of its folder ('..'); refused"),
    ("symlink", "bad.zip: member 'resources/link.csv' is a symbolic link; refused"),
])
def test_hostile_zip_refused(tmp_path: Path, kind: str, message: str) -> None:
    (tmp_path / "bad.zip").write_bytes(hostile_zip(kind))
    result = runner.invoke(app, ["verify", str(tmp_path / "bad.zip")])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"dpkg: error: {message}"


# ---------------------------------------------------------------- SHA256SUMS parsing

def test_parse_sums_text_and_binary_mode() -> None:
    text = f"{'a' * 64}  dictionary.md\n{'B' * 64} *parquet/x.parquet\n\n"
    assert parse_sums(text) == {"dictionary.md": "a" * 64, "parquet/x.parquet": "b" * 64}


@pytest.mark.parametrize("text, message", [
    (f"{'a' * 63}  x\n", "SHA256SUMS line 1 is not '<64 hex digits>  <path>'"),
    (f"{'a' * 64}  /etc/passwd\n", "SHA256SUMS line 1 path '/etc/passwd' is an absolute path; refused"),
    (f"{'a' * 64}  x\n{'b' * 64}  ./x\n", "SHA256SUMS line 2 lists x a second time"),
    ("\n", "SHA256SUMS lists no files"),
])
def test_parse_sums_refuses(text: str, message: str) -> None:
    with pytest.raises(UsageError, match="^" + message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        parse_sums(text)


# ---------------------------------------------------------------- safezip caps

def _zip(members: dict[str, bytes]) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer


def test_total_size_cap(tmp_path: Path) -> None:
    path = tmp_path / "big.zip"
    path.write_bytes(_zip({"a.txt": b"x" * 600, "b.txt": b"y" * 600}).getvalue())
    with pytest.raises(UsageError, match=r"^big.zip: uncompressed size over the cap of 1000 bytes at member 'b.txt'"):
        safezip.extract(path, tmp_path / "out", safezip.Limits(max_total=1000))
    assert not (tmp_path / "out").exists()


def test_member_count_cap(tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    path.write_bytes(_zip({f"{i}.txt": b"" for i in range(5)}).getvalue())
    with pytest.raises(UsageError, match=r"^many.zip: 5 members, over the cap of 4; refused"):
        safezip.extract(path, tmp_path / "out", safezip.Limits(max_members=4))


def test_file_and_folder_of_the_same_name(tmp_path: Path) -> None:
    path = tmp_path / "clash.zip"
    path.write_bytes(_zip({"a": b"file", "a/b.txt": b"inside"}).getvalue())
    with pytest.raises(UsageError, match=r"^clash.zip: member 'a/b.txt' lies under the file 'a'; refused"):
        safezip.extract(path, tmp_path / "out")


def test_case_insensitive_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "case.zip"
    path.write_bytes(_zip({"Data.csv": b"1", "data.csv": b"2"}).getvalue())
    with pytest.raises(UsageError, match=r"^case.zip: duplicate member name 'data.csv' \(also 'Data.csv'\); refused"):
        safezip.extract(path, tmp_path / "out")


def test_lying_header_is_refused(tmp_path: Path) -> None:
    """A member whose local data expands beyond what its header declares (CRC fails or size check trips)."""
    data = bytearray(_zip({"a.txt": b"a" * 5000}).getvalue())
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("a.txt")
    central = data.rindex(b"PK\x01\x02")
    data[central + 24:central + 28] = (100).to_bytes(4, "little")  # declared uncompressed size: 100
    local = info.header_offset
    data[local + 22:local + 26] = (100).to_bytes(4, "little")
    path = tmp_path / "liar.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(UsageError, match=r"^liar.zip"):
        safezip.extract(path, tmp_path / "out")


def test_extract_writes_every_file(tmp_path: Path) -> None:
    path = tmp_path / "ok.zip"
    path.write_bytes(zip_bytes(package_files()))
    written = safezip.extract(path, tmp_path / "out")
    assert sorted(p.as_posix() for p in written) == sorted(package_files())
    assert (tmp_path / "out/resources/items.csv").read_bytes() == package_files()["resources/items.csv"]


def test_unknown_hash_algorithm_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a\n1\n")
    resource = {"name": "d", "path": "data.csv", "bytes": 4, "hash": "crc99:abcd"}
    (tmp_path / "datapackage.json").write_text(json.dumps({"name": "x", "resources": [resource]}))
    code, report = verify_json(tmp_path)
    assert code == 1
    assert keys(report) == {("hash-unsupported", "data.csv", "error")}


def test_overlapping_entries_refused(tmp_path: Path) -> None:
    """The 'non-recursive' zip bomb: two central-directory entries share one local file's data."""
    data = bytearray(_zip({"a.txt": b"a" * 100, "b.txt": b"a" * 100}).getvalue())
    second = data.rindex(b"PK\x01\x02")
    data[second + 42:second + 46] = (0).to_bytes(4, "little")  # b.txt's local header offset -> a.txt's
    path = tmp_path / "overlap.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(UsageError, match=r"^overlap.zip: members 'a.txt' and 'b.txt' overlap; refused \(zip bomb\?\)"):
        safezip.extract(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_non_ascii_member_names_do_not_look_overlapping(tmp_path: Path) -> None:
    path = tmp_path / "names.zip"
    path.write_bytes(_zip({"résumé.csv": b"1", "données/été.csv": b"2", "x.csv": b"3"}).getvalue())
    written = safezip.extract(path, tmp_path / "out")
    assert sorted(p.as_posix() for p in written) == ["données/été.csv", "résumé.csv", "x.csv"]

"""dpkg download against real HTTP servers on 127.0.0.1: good releases, cut-offs, corruption, hostile zips."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datapkg.cli.main import app
from tests.release_server import Behaviour, ReleaseServer
from tests.releases import hostile_zip, package_files, release_files, sha256, write_release, zip_bytes

runner = CliRunner()
ZIP = "demo-package-1.0.0.zip"
FAST = ["--connect-timeout", "1", "--read-timeout", "0.3", "--retries", "2", "--backoff", "0"]


def download(source: str, to: Path, *extra: str):
    return runner.invoke(app, ["download", source, "--to", str(to), *FAST, *extra])


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (and so every leftover temporary folder beside DIR)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else b"<dir>"
            for p in sorted(folder.rglob("*"))}


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture
def earlier(tmp_path: Path) -> Path:
    """A DIR holding an earlier successful download (it must survive every failure unchanged)."""
    out = tmp_path / "work" / "pkg"
    result = runner.invoke(app, ["download", str(write_release(tmp_path / "old")), "--to", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    (out / "marker.txt").write_text("from the earlier download")
    return out


def assert_unchanged(out: Path, before: dict[str, bytes]) -> None:
    assert snapshot(out.parent) == before


def test_release_folder_over_http_is_verified_extracted_and_validates(tmp_path: Path) -> None:
    files = release_files()
    out = tmp_path / "pkg"
    with ReleaseServer(Behaviour(files)) as server:
        result = download(server.url(), out)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"downloaded demo-package 1.0.0 into {out}: 2 resource(s)")
    assert sorted(path for path, _, _ in server.log) == sorted(files)
    assert (out / "resources/items.csv").read_bytes() == package_files()["resources/items.csv"]
    assert (out / "schemas/items.json").is_file()
    for rel, content in files.items():
        assert (out / "release" / rel).read_bytes() == content
    assert [p.name for p in tmp_path.iterdir()] == ["pkg"]  # no temporary folder left beside DIR
    validated = runner.invoke(app, ["validate", str(out), "--format", "json"])
    assert validated.exit_code == 0, validated.output
    assert json.loads(validated.stdout)["valid"] is True
    assert runner.invoke(app, ["verify", str(out)]).exit_code == 0


def test_sha256sums_url_and_zip_url(tmp_path: Path) -> None:
    with ReleaseServer(Behaviour(release_files())) as server:
        by_sums = download(server.url("SHA256SUMS"), tmp_path / "a")
        by_zip = download(server.url(ZIP), tmp_path / "b")
    assert by_sums.exit_code == 0 and by_zip.exit_code == 0, by_sums.output + by_zip.output
    assert (tmp_path / "a/release/dictionary.html").is_file()
    assert sorted(p.name for p in (tmp_path / "b/release").iterdir()) == [ZIP]
    assert (tmp_path / "b/datapackage.json").is_file()


@pytest.mark.parametrize("form", ["folder", "sums", "zip", "file-url"])
def test_local_sources(tmp_path: Path, form: str) -> None:
    release = write_release(tmp_path / "dist")
    source = {"folder": release, "sums": release / "SHA256SUMS", "zip": release / ZIP,
              "file-url": (release / ZIP).as_uri()}[form]
    result = download(str(source), tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out/resources/places.csv").is_file()


def test_default_dir_is_the_zip_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    release = write_release(tmp_path / "dist")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["download", str(release), "--quiet"])
    assert result.exit_code == 0 and result.stdout == "", result.output
    assert (tmp_path / "demo-package-1.0.0" / "datapackage.json").is_file()


@pytest.mark.parametrize("form", ["md5", "plain"])
def test_md5_and_plain_hex_hashes_accepted_and_checked(tmp_path: Path, form: str) -> None:
    good = zip_bytes(package_files(hash_form=form))
    bad = zip_bytes(package_files(corrupt="resources/places.csv", hash_form=form))
    with ReleaseServer(Behaviour({"good.zip": good, "bad.zip": bad})) as server:
        ok = download(server.url("good.zip"), tmp_path / "ok")
        broken = download(server.url("bad.zip"), tmp_path / "broken")
    assert ok.exit_code == 0, ok.output
    assert broken.exit_code == 1
    assert one_line(broken).startswith("dpkg: error: resources/places.csv: the file's hash is ")
    assert not (tmp_path / "broken").exists()


def test_dropped_connection_resumes_with_range(tmp_path: Path) -> None:
    files = release_files()
    with ReleaseServer(Behaviour(files, drop={ZIP: 1, "dictionary.html": 1})) as server:
        result = download(server.url(), tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["transfers"]["resumed"] == 2 and report["transfers"]["restarted"] == 0
    zip_requests = [(rng, status) for path, rng, status in server.log if path == ZIP]
    half = len(files[ZIP]) // 2
    assert zip_requests == [(None, 200), (f"bytes={half}-", 206)]
    resume = next(h for h in server.headers if h.get("Range") == f"bytes={half}-")
    assert resume["If-Range"] == '"' + sha256(files[ZIP])[:16] + '"'  # the ETag: a changed file restarts
    assert resume["Accept-Encoding"] == "identity"
    assert (tmp_path / "out/release" / ZIP).read_bytes() == files[ZIP]


def test_server_ignoring_range_restarts_cleanly(tmp_path: Path) -> None:
    files = release_files()
    with ReleaseServer(Behaviour(files, ranges=False, drop={ZIP: 1})) as server:
        result = download(server.url(), tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["transfers"]["restarted"] == 1
    half = len(files[ZIP]) // 2
    assert [(r, s) for p, r, s in server.log if p == ZIP] == [(None, 200), (f"bytes={half}-", 200)]
    assert (tmp_path / "out/release" / ZIP).read_bytes() == files[ZIP]  # not the half appended twice


def test_connection_dropped_every_time_gives_up(tmp_path: Path, earlier: Path) -> None:
    before = snapshot(earlier.parent)
    with ReleaseServer(Behaviour(release_files(), ranges=False, drop={ZIP: 99})) as server:
        result = download(server.url(), earlier)
    assert result.exit_code == 2
    line = one_line(result)
    assert line.startswith(f"dpkg: error: {server.url(ZIP)}: connection closed early")
    assert line.endswith("(gave up after 3 attempts)")
    assert_unchanged(earlier, before)


def test_corrupted_byte_in_transit_fails_and_leaves_dir(tmp_path: Path, earlier: Path) -> None:
    files = release_files()
    expected = sha256(files["dictionary.md"])
    files["dictionary.md"] = b"# Demo!\n"  # one byte changed after SHA256SUMS was written
    before = snapshot(earlier.parent)
    with ReleaseServer(Behaviour(files)) as server:
        result = download(server.url(), earlier)
    assert result.exit_code == 1
    assert one_line(result) == (f"dpkg: error: dictionary.md: sha256 is {sha256(files['dictionary.md'])} but SHA256SUMS "
                                f"records {expected}; the file is corrupt or was changed")
    assert_unchanged(earlier, before)


def test_corrupted_resource_inside_zip_fails_on_its_hash(tmp_path: Path) -> None:
    files = release_files(zip_bytes(package_files(corrupt="resources/items.csv")))  # SHA256SUMS agrees with the zip
    out = tmp_path / "out"
    with ReleaseServer(Behaviour(files)) as server:
        result = download(server.url(), out)
    assert result.exit_code == 1
    good, bad = package_files()["resources/items.csv"], package_files(corrupt="resources/items.csv")["resources/items.csv"]
    assert one_line(result) == (f"dpkg: error: resources/items.csv: the file's hash is {sha256(bad)} but the descriptor "
                                f"records {sha256(good)}; update the descriptor or restore the file")
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == []


HOSTILE = {
    "slip": "member '../../evil.txt' climbs out of its folder ('..'); refused",
    "absolute": "member '/tmp/evil.txt' is an absolute path; refused",
    "symlink": "member 'resources/link.csv' is a symbolic link; refused",
    "device": "member 'resources/null.csv' is a device file; refused",
    "duplicate": "duplicate member name 'resources/items.csv' (also 'resources/items.csv'); refused",
    "bomb": "member 'resources/zeros.bin' expands ",
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_zip_refused_by_name(tmp_path: Path, earlier: Path, kind: str) -> None:
    before = snapshot(earlier.parent)
    with ReleaseServer(Behaviour(release_files(hostile_zip(kind)))) as server:
        result = download(server.url(), earlier)
    assert result.exit_code == 2
    assert one_line(result).startswith(f"dpkg: error: {ZIP}: {HOSTILE[kind]}")
    assert_unchanged(earlier, before)
    assert not (tmp_path / "evil.txt").exists() and not Path("/tmp/evil.txt").exists()


def test_zip_bomb_message_gives_ratio(tmp_path: Path) -> None:
    with ReleaseServer(Behaviour({"bomb.zip": hostile_zip("bomb")})) as server:
        result = download(server.url("bomb.zip"), tmp_path / "out")
    assert result.exit_code == 2
    assert "-> 8388608 bytes), over the cap of 100; refused (zip bomb?)" in one_line(result)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://127.0.0.1/demo.zip"])
def test_redirect_to_other_scheme_refused(tmp_path: Path, earlier: Path, location: str) -> None:
    before = snapshot(earlier.parent)
    with ReleaseServer(Behaviour(release_files(), redirects={ZIP: location})) as server:
        result = download(server.url(), earlier)
    assert result.exit_code == 2
    assert one_line(result) == (f"dpkg: error: {server.url(ZIP)}: redirect to '{location}' refused: "
                                "only http and https are followed")
    assert_unchanged(earlier, before)


def test_redirect_to_http_followed(tmp_path: Path) -> None:
    files = release_files()
    with ReleaseServer(Behaviour({**files, "latest.zip": b""}, redirects={"latest.zip": f"/{ZIP}"})) as server:
        result = download(server.url("latest.zip"), tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert [(p, s) for p, _, s in server.log] == [("latest.zip", 302), (ZIP, 200)]


@pytest.mark.parametrize("where", ["headers", "body"])
def test_stalled_server_times_out(tmp_path: Path, earlier: Path, where: str) -> None:
    before = snapshot(earlier.parent)
    stall = {"headers": {"stall": {ZIP}}, "body": {"stall_body": {ZIP}}}[where]
    with ReleaseServer(Behaviour(release_files(), **stall)) as server:
        started = time.perf_counter()
        result = download(server.url(), earlier, "--retries", "1")
        elapsed = time.perf_counter() - started
    assert result.exit_code == 2
    assert one_line(result) == (f"dpkg: error: {server.url(ZIP)}: the server sent nothing for 0.3 s "
                                "(read timeout; stalled server?) (gave up after 2 attempts)")
    assert elapsed < 3
    assert_unchanged(earlier, before)


def test_connection_refused(tmp_path: Path) -> None:
    with ReleaseServer(Behaviour({})) as server:
        url = server.url(ZIP)
    result = download(url, tmp_path / "out", "--retries", "0")
    assert result.exit_code == 2
    assert one_line(result).startswith(f"dpkg: error: {url}: cannot connect (")
    assert not (tmp_path / "out").exists()


def test_http_404_is_not_retried(tmp_path: Path) -> None:
    with ReleaseServer(Behaviour({})) as server:
        result = download(server.url(ZIP), tmp_path / "out")
    assert result.exit_code == 2
    assert one_line(result) == f"dpkg: error: {server.url(ZIP)}: HTTP 404 Not Found"
    assert len(server.log) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("source", ["ftp://127.0.0.1/demo.zip", "s3://bucket/demo.zip", "gopher://x/y"])
def test_other_schemes_refused(tmp_path: Path, source: str) -> None:
    result = download(source, tmp_path / "out")
    assert result.exit_code == 2
    scheme = source.split(":")[0]
    assert one_line(result) == (f"dpkg: error: {source}: the scheme '{scheme}:' is not supported; "
                                "give an http(s) URL or a local path")
    assert list(tmp_path.iterdir()) == []


def test_non_empty_unrelated_dir_is_not_replaced(tmp_path: Path) -> None:
    out = tmp_path / "home"
    out.mkdir()
    (out / "thesis.txt").write_text("precious")
    release = write_release(tmp_path / "dist")
    before = snapshot(tmp_path)
    result = download(str(release), out)
    assert result.exit_code == 2
    assert one_line(result) == (f"dpkg: error: --to {out} is not empty and was not written by dpkg download "
                                "(no .dpkg-manifest.json); refusing to replace it: choose a new or empty folder")
    assert snapshot(tmp_path) == before


def test_earlier_download_is_replaced_and_the_users_files_are_kept(tmp_path: Path, earlier: Path) -> None:
    """Issue 13 item 2: a second download into the same folder keeps what the user added, and says so."""
    (earlier / "rnk").mkdir()
    (earlier / "rnk" / "my_analysis.sql").write_text("select 1")
    result = download(str(write_release(tmp_path / "new")), earlier)
    assert result.exit_code == 0, result.output
    assert (earlier / "marker.txt").read_text() == "from the earlier download"
    assert (earlier / "rnk" / "my_analysis.sql").read_text() == "select 1"
    assert result.stderr.strip() == (f"dpkg: kept 2 file(s) in {earlier} that the release did not write: "
                                     "marker.txt, rnk/my_analysis.sql")
    assert sorted(p.name for p in earlier.parent.iterdir()) == ["pkg"]
    again = download(str(write_release(tmp_path / "new")), earlier)  # still kept the third time
    assert again.exit_code == 0 and (earlier / "rnk" / "my_analysis.sql").is_file()


@pytest.mark.parametrize("case", ["source-package", "changed-file", "clash", "no-manifest-sums"])
def test_folders_that_are_not_dpkgs_are_refused_and_untouched(tmp_path: Path, earlier: Path, case: str) -> None:
    """Issue 16 item 2: a source package with a release/ subfolder, a folder holding SHA256SUMS,
    a download whose files the user changed, a user file the new release would overwrite."""
    target = earlier
    if case == "source-package":
        target = tmp_path / "src"
        (target / "release").mkdir(parents=True)
        (target / "datapackage.json").write_text("{}")
    elif case == "no-manifest-sums":
        target = tmp_path / "iso"
        target.mkdir()
        (target / "SHA256SUMS").write_text("")
        (target / "debian.iso").write_text("iso")
    elif case == "changed-file":
        (earlier / "datapackage.json").write_text("{}  ")
    else:
        (earlier / "marker.txt").rename(earlier / "NOTES.txt")
    release = write_release(tmp_path / "new")
    files = release_files()
    if case == "clash":
        import io
        import zipfile
        data = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(files[ZIP])) as old, zipfile.ZipFile(data, "w") as new:
            for item in old.infolist():
                new.writestr(item, old.read(item))
            new.writestr("NOTES.txt", "from the release")
        release = tmp_path / "clash.zip"
        release.write_bytes(data.getvalue())
    before = snapshot(tmp_path)
    result = download(str(release), target)
    assert result.exit_code == 2, result.output
    line = one_line(result)
    assert {"source-package": "was not written by dpkg download", "no-manifest-sums": "was not written by dpkg download",
            "changed-file": "datapackage.json was changed since dpkg download wrote it",
            "clash": "NOTES.txt is not dpkg's, and the new download would overwrite it"}[case] in line
    after = snapshot(tmp_path)
    assert after == before


def test_download_folder_gets_normal_permissions(tmp_path: Path) -> None:
    """Issue 13 item 5: the folder is 0755 under umask 022 (mkdtemp made it 0700), files 0644."""
    old = os.umask(0o022)
    try:
        result = download(str(write_release(tmp_path / "new")), tmp_path / "out")
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "out" / ".dpkg-manifest.json").stat().st_mode & 0o777 == 0o644


def test_malformed_sha256sums(tmp_path: Path) -> None:
    files = release_files()
    files["SHA256SUMS"] += b"not a checksum line\n"
    with ReleaseServer(Behaviour(files)) as server:
        result = download(server.url(), tmp_path / "out")
    assert result.exit_code == 2
    assert one_line(result) == "dpkg: error: SHA256SUMS line 7 is not '<64 hex digits>  <path>': 'not a checksum line'"
    assert not (tmp_path / "out").exists()


def test_sha256sums_climbing_out_refused(tmp_path: Path) -> None:
    files = {"SHA256SUMS": f"{'0' * 64}  ../secret.zip\n".encode()}
    with ReleaseServer(Behaviour(files)) as server:
        result = download(server.url(), tmp_path / "out")
    assert result.exit_code == 2
    assert one_line(result) == "dpkg: error: SHA256SUMS line 1 path '../secret.zip' climbs out of its folder ('..'); refused"
    assert list(tmp_path.iterdir()) == []


def test_zip_without_descriptor(tmp_path: Path) -> None:
    with ReleaseServer(Behaviour({"x.zip": zip_bytes({"data.csv": b"a\n1\n"})})) as server:
        result = download(server.url("x.zip"), tmp_path / "out")
    assert result.exit_code == 2
    assert one_line(result) == "dpkg: error: x.zip holds no datapackage.json at its root"
    assert list(tmp_path.iterdir()) == []


def test_not_a_zip(tmp_path: Path) -> None:
    with ReleaseServer(Behaviour({"page.zip": b"<html>login</html>"})) as server:
        result = download(server.url("page.zip"), tmp_path / "out")
    assert result.exit_code == 2
    assert one_line(result) == "dpkg: error: page.zip is not a readable zip archive: File is not a zip file"
    assert list(tmp_path.iterdir()) == []


def test_json_output_and_json_error(tmp_path: Path) -> None:
    files = release_files()
    with ReleaseServer(Behaviour(files)) as server:
        good = download(server.url(), tmp_path / "out", "--json")
        bad = download(server.url("missing.zip"), tmp_path / "out2", "--json")
    report = json.loads(good.stdout)
    assert report["ok"] is True and report["package"] == "demo-package" and report["zip"] == f"release/{ZIP}"
    assert {a["path"]: a["sha256"] for a in report["artefacts"]} == {
        f"release/{p}": sha256(c) for p, c in files.items() if p != "SHA256SUMS"}
    assert [r["name"] for r in report["resources"]] == ["items", "places"]
    assert good.stderr == ""
    assert bad.exit_code == 2
    assert json.loads(bad.stdout) == {"ok": False, "exit_code": 2,
                                      "error": f"{server.url('missing.zip')}: HTTP 404 Not Found"}


def test_downloaded_package_validates_with_full_validate(tmp_path: Path) -> None:
    """The lead's ``dpkg validate`` (every check it runs by default) accepts the download as is."""
    out = tmp_path / "out"
    assert download(str(write_release(tmp_path / "dist")), out).exit_code == 0
    result = runner.invoke(app, ["validate", str(out)])
    assert result.exit_code == 0, result.output


def test_zip_member_under_release_refused(tmp_path: Path) -> None:
    files = {**package_files(), "release/SHA256SUMS": b"forged\n"}
    with ReleaseServer(Behaviour({"x.zip": zip_bytes(files)})) as server:
        result = download(server.url("x.zip"), tmp_path / "out")
    assert result.exit_code == 2
    assert one_line(result) == ("dpkg: error: x.zip: member 'release/SHA256SUMS' lies under release/, where dpkg "
                                "download keeps the release artefacts; refused")
    assert not (tmp_path / "out").exists()


def test_interrupted_download_leaves_dir_as_it_was(tmp_path: Path, earlier: Path) -> None:
    """Ctrl-C in the middle of a transfer (here: raised from the progress callback) changes nothing."""
    from datapkg.download import NullProgress, Options
    from datapkg.download import download as run

    class Interrupt(NullProgress):
        name = ""

        def start(self, name: str, total: int | None, completed: int) -> None:
            self.name = name

        def advance(self, size: int) -> None:
            if self.name == ZIP:  # halfway through the release, inside the temporary folder
                assert [p.name for p in earlier.parent.iterdir() if p.name.startswith(".pkg.")]
                raise KeyboardInterrupt

    before = snapshot(earlier.parent)
    with ReleaseServer(Behaviour(release_files())) as server, pytest.raises(KeyboardInterrupt):
        run(server.url(), earlier, Options(retries=0), Interrupt())
    assert_unchanged(earlier, before)


def test_busy_server_is_retried_then_given_up(tmp_path: Path) -> None:
    files = release_files()
    with ReleaseServer(Behaviour(files, busy={ZIP: 2})) as server:
        ok = download(server.url(ZIP), tmp_path / "ok")
    assert ok.exit_code == 0, ok.output
    assert [s for p, _, s in server.log if p == ZIP] == [503, 503, 200]
    with ReleaseServer(Behaviour(files, busy={ZIP: 9})) as server:
        busy = download(server.url(ZIP), tmp_path / "busy")
    assert busy.exit_code == 2
    assert one_line(busy) == f"dpkg: error: {server.url(ZIP)}: HTTP 503 Service Unavailable (gave up after 3 attempts)"
    assert not (tmp_path / "busy").exists()


@pytest.mark.parametrize("to", [".", ".."])
def test_working_folder_is_never_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, to: str) -> None:
    release = write_release(tmp_path / "dist")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    result = download(str(release), Path(to))
    assert result.exit_code == 2
    assert one_line(result) == f"dpkg: error: {to} is the working folder or holds it; name a folder to create or replace"
    assert list(empty.iterdir()) == []


# --- resuming across runs ------------------------------------------------------------------------

def kept_files() -> list[str]:
    from datapkg.download import partial_dir

    return sorted(p.suffix for p in partial_dir().iterdir()) if partial_dir().is_dir() else []


def test_a_run_that_gives_up_keeps_its_bytes_and_the_next_run_resumes(tmp_path: Path, earlier: Path) -> None:
    files = release_files()
    half = len(files[ZIP]) // 2
    before = snapshot(earlier.parent)
    with ReleaseServer(Behaviour(files, drop={ZIP: 1})) as server:
        first = download(server.url(), earlier, "--retries", "0")
        assert first.exit_code == 2
        assert one_line(first) == (f"dpkg: error: {server.url(ZIP)}: connection closed early (peer closed connection "
                                   f"without sending complete message body (received {half} bytes, expected "
                                   f"{len(files[ZIP])})) (gave up after 1 attempt); {half} bytes kept: "
                                   "run the same command again to resume")
        assert_unchanged(earlier, before)  # nothing beside DIR: the bytes wait in the cache
        assert kept_files() == [".json", ".part"]
        second = download(server.url(), earlier, "--json")
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["transfers"]["resumed"] == 1
    zip_requests = [(rng, status) for path, rng, status in server.log if path == ZIP]
    assert zip_requests == [(None, 200), (f"bytes={half}-", 206)]
    assert (earlier / "release" / ZIP).read_bytes() == files[ZIP]
    assert kept_files() == []  # used up


def test_a_file_changed_between_runs_starts_over(tmp_path: Path) -> None:
    files = release_files()
    half = len(files[ZIP]) // 2
    with ReleaseServer(Behaviour(files, drop={ZIP: 1})) as server:
        assert download(server.url(), tmp_path / "out", "--retries", "0").exit_code == 2
        new = release_files(zip_bytes(package_files(hash_form="md5")))  # same names, other zip bytes
        assert new[ZIP] != files[ZIP]
        server.server.behaviour.files = new
        result = download(server.url(), tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["transfers"]["resumed"] == 0 and report["transfers"]["restarted"] == 1
    assert [(r, s) for p, r, s in server.log if p == ZIP][-1] == (f"bytes={half}-", 200)  # If-Range did not match
    assert (tmp_path / "out/release" / ZIP).read_bytes() == new[ZIP]


def test_no_resume_starts_over_and_a_server_without_ranges_keeps_nothing(tmp_path: Path) -> None:
    files = release_files()
    with ReleaseServer(Behaviour(files, drop={ZIP: 1})) as server:
        assert download(server.url(), tmp_path / "a", "--retries", "0").exit_code == 2
        assert kept_files() == [".json", ".part"]
        assert download(server.url(), tmp_path / "a", "--no-resume").exit_code == 0
    assert [(r, s) for p, r, s in server.log if p == ZIP][-1] == (None, 200)
    assert kept_files() == []
    with ReleaseServer(Behaviour(files, ranges=False, drop={ZIP: 1})) as server:
        result = download(server.url(), tmp_path / "b", "--retries", "0")
    assert result.exit_code == 2 and one_line(result).endswith("(gave up after 1 attempt)")
    assert kept_files() == []


def test_ctrl_c_keeps_the_bytes_for_the_next_run(tmp_path: Path, earlier: Path) -> None:
    from datapkg.download import NullProgress, Options
    from datapkg.download import download as run

    class Interrupt(NullProgress):
        name, seen = "", 0

        def start(self, name: str, total: int | None, completed: int) -> None:
            self.name = name

        def advance(self, size: int) -> None:
            self.seen += size
            if self.name == ZIP:
                raise KeyboardInterrupt

    files = release_files()
    before = snapshot(earlier.parent)
    with ReleaseServer(Behaviour(files)) as server:
        interrupt = Interrupt()
        with pytest.raises(KeyboardInterrupt):
            run(server.url(), earlier, Options(retries=0), interrupt)
        assert_unchanged(earlier, before)
        assert kept_files() == [".json", ".part"]
        kept = (Path(os.environ["DPKG_CACHE_DIR"]) / next(p.name for p in Path(os.environ["DPKG_CACHE_DIR"]).iterdir()
                                                          if p.suffix == ".part")).stat().st_size
        result = run(server.url(), earlier, Options(retries=0))
    assert 0 < kept <= len(files[ZIP])
    assert [r for p, r, s in server.log if p == ZIP][-1] == f"bytes={kept}-"  # resumed where Ctrl-C stopped it
    assert (earlier / "release" / ZIP).read_bytes() == files[ZIP]
    assert kept_files() == []


@pytest.mark.parametrize("cache", ["a-file", "garbage-record"])
def test_an_unusable_cache_changes_nothing_but_resuming(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: str) -> None:
    from datapkg.download import _Kept

    files = release_files()
    with ReleaseServer(Behaviour(files, drop={ZIP: 1})) as server:
        if cache == "a-file":  # the cache folder cannot be created: nothing is kept, the error is the network's
            (tmp_path / "cache").write_text("not a folder")
            monkeypatch.setenv("DPKG_CACHE_DIR", str(tmp_path / "cache"))
            first = download(server.url(), tmp_path / "out", "--retries", "0")
            assert first.exit_code == 2 and one_line(first).endswith("(gave up after 1 attempt)")
        else:  # a record that is not JSON: ignored and removed, the file is fetched whole
            kept = _Kept(server.url(ZIP))
            kept.data.parent.mkdir(parents=True, exist_ok=True)
            kept.data.write_bytes(b"junk")
            kept.meta.write_text("{not json")
        second = download(server.url(), tmp_path / "out")
    assert second.exit_code == 0, second.output
    assert (tmp_path / "out/release" / ZIP).read_bytes() == files[ZIP]
    if cache == "garbage-record":
        assert kept_files() == []


def test_the_unzipped_size_cap_comes_from_dpkg_max_unzipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = release_files()
    with ReleaseServer(Behaviour(files)) as server:
        monkeypatch.setenv("DPKG_MAX_UNZIPPED", "1K")
        small = download(server.url(), tmp_path / "small")
        assert small.exit_code == 2
        line = one_line(small)
        assert line.startswith(f"dpkg: error: {ZIP}: uncompressed size over the cap of 1024 bytes at member ")
        assert line.endswith("refused (zip bomb? if not, raise the cap with DPKG_MAX_UNZIPPED)")
        assert not (tmp_path / "small").exists()
        monkeypatch.setenv("DPKG_MAX_UNZIPPED", "lots")
        bad = download(server.url(), tmp_path / "bad")
        assert bad.exit_code == 2
        assert one_line(bad) == "dpkg: error: DPKG_MAX_UNZIPPED='lots' is not a size; give bytes or e.g. 500M, 8G"
        monkeypatch.setenv("DPKG_MAX_UNZIPPED", "8GiB")
        assert download(server.url(), tmp_path / "big").exit_code == 0
    # the bad value stopped 'bad' before any request: SHA256SUMS was asked for by 'small' and 'big' only
    assert sum(1 for path, _, _ in server.log if path == "SHA256SUMS") == 2


@pytest.mark.parametrize(("text", "size"), [("123", 123), ("2k", 2048), ("500M", 500 << 20), ("8 GiB", 8 << 30),
                                            ("1TB", 1 << 40)])
def test_sizes_dpkg_max_unzipped_accepts(monkeypatch: pytest.MonkeyPatch, text: str, size: int) -> None:
    from datapkg import safezip

    monkeypatch.setenv("DPKG_MAX_UNZIPPED", text)
    assert safezip.default_limits().max_total == size
    monkeypatch.delenv("DPKG_MAX_UNZIPPED")
    assert safezip.default_limits() == safezip.DEFAULT_LIMITS


@pytest.mark.parametrize("limit", ["timeout", "min-rate"])
def test_a_server_that_trickles_bytes_ends_in_one_line(tmp_path: Path, earlier: Path, limit: str) -> None:
    """Issue 16 item 6: one byte every 50 ms never trips the read timeout; the overall deadline
    (--timeout) and the minimum rate (--min-rate) end it."""
    before = snapshot(earlier.parent)
    extra = ["--timeout", "0.6", "--min-rate", "0"] if limit == "timeout" else ["--min-rate", "1000"]
    with ReleaseServer(Behaviour(release_files(), trickle={ZIP: 0.05})) as server:
        started = time.perf_counter()
        result = download(server.url(), earlier, *extra)
        elapsed = time.perf_counter() - started
    assert result.exit_code == 2
    line = one_line(result)
    if limit == "timeout":
        assert line.startswith(f"dpkg: error: {server.url(ZIP)}: the download did not finish within 0.6 s (--timeout; ")
        assert 0.55 < elapsed < 4  # twice the 0.3 s read timeout, which the trickle never trips
    else:
        assert f"{server.url(ZIP)}: " in line and "below the minimum of 1000 bytes/s (--min-rate;" in line
        assert elapsed < 3
    assert "bytes kept: run the same command again to resume" in line
    assert_unchanged(earlier, before)


def test_a_small_file_that_arrives_whole_is_not_refused_as_too_slow(tmp_path: Path) -> None:
    """Under load a tiny file can take longer than a --read-timeout period to arrive: once its last
    byte is in, --min-rate has nothing left to end (it refused it: '50 bytes/s over 0.3 s')."""
    artefacts = {ZIP: zip_bytes(package_files()), "note.txt": b"abc"}
    sums = "".join(f"{sha256(artefacts[p])}  {p}\n" for p in sorted(artefacts))
    with ReleaseServer(Behaviour({**artefacts, "SHA256SUMS": sums.encode()}, trickle={"note.txt": 0.6})) as server:
        result = download(server.url(), tmp_path / "out", "--read-timeout", "1", "--min-rate", "1000")
    assert result.exit_code == 0, result.output  # the last byte came 1.2 s after the headers: 2.5 bytes/s
    assert (tmp_path / "out" / "release" / "note.txt").read_bytes() == b"abc"

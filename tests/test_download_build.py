"""dpkg download of a release written by the real ``dpkg build``, served from 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datapkg.cli.main import app
from datapkg.renderers import get_renderer
from tests.release_server import Behaviour, ReleaseServer
from tests.releases import package_files

runner = CliRunner()


@pytest.fixture(scope="module")
def built_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``dpkg build`` of the small test package (hashes stripped: build fills them in)."""
    root = tmp_path_factory.mktemp("package")
    files = package_files()
    descriptor = json.loads(files.pop("datapackage.json"))
    for resource in descriptor["resources"]:
        del resource["bytes"], resource["hash"]
    (root / "datapackage.json").write_text(json.dumps(descriptor, indent=2))
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
    dist = root.parent / "dist"
    # --force: the package is valid and the test validates what it downloads; no need to validate it twice
    result = runner.invoke(app, ["build", str(root), "--out", str(dist), "--quiet", "--force"])
    assert result.exit_code == 0, result.output
    return dist


def test_download_of_a_built_release(built_release: Path, tmp_path: Path) -> None:
    files = {p.relative_to(built_release).as_posix(): p.read_bytes() for p in built_release.rglob("*")
             if p.is_file() and p.name != ".dpkg-manifest.json"}  # dpkg's own record of the folder, not published
    assert "SHA256SUMS" in files and "demo-package-1.0.0.zip" in files
    out = tmp_path / "out"
    with ReleaseServer(Behaviour(files, drop={"demo-package-1.0.0.zip": 1})) as server:
        result = runner.invoke(app, ["download", server.url(), "--to", str(out), "--json", "--backoff", "0"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["transfers"]["resumed"] == 1
    assert sorted(a["path"] for a in report["artefacts"]) == sorted(f"release/{p}" for p in files if p != "SHA256SUMS")
    for rel, content in files.items():
        assert (out / "release" / rel).read_bytes() == content
    assert (out / "resources/items.csv").read_bytes() == package_files()["resources/items.csv"]
    released = json.loads((out / "datapackage.json").read_text())
    assert all(r["hash"].startswith("sha256:") and isinstance(r["bytes"], int) for r in released["resources"])
    validated = runner.invoke(app, ["validate", str(out), "--format", "json"])
    assert validated.exit_code == 0, validated.output
    verified = runner.invoke(app, ["verify", str(out), "--format", "json"])
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["stats"]["checked"] == ["release/SHA256SUMS", "descriptor"]
    assert runner.invoke(app, ["verify", str(built_release)]).exit_code == 0


def _checks(report: dict) -> set[tuple]:
    return {(e["check"], e["file"], e["row"], e["field"]) for e in report["errors"]}


def _findings(path: Path) -> tuple[int, set[tuple]]:
    result = runner.invoke(app, ["validate", str(path), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, _checks(json.loads(result.stdout))


@pytest.mark.xdist_group("build-release")  # shares conftest's repo_release with tests/test_build.py
def test_this_repository_release_round_trip(repo_release, tmp_path: Path) -> None:
    """This repository's own package, built, served, downloaded: 'dpkg validate' says the same of both.

    The build (conftest's ``repo_release``) validated ``repo_root`` first; its report, rendered as
    ``dpkg validate --format json`` renders it, is what dpkg validate says of ``repo_root``."""
    dist = repo_release.out
    files = {p.relative_to(dist).as_posix(): p.read_bytes() for p in dist.rglob("*") if p.is_file()}
    out = tmp_path / "out"
    with ReleaseServer(Behaviour(files)) as server:
        result = runner.invoke(app, ["download", server.url(), "--to", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["verify", str(out)]).exit_code == 0
    of_repo = repo_release.report
    assert _findings(out) == (0 if of_repo.valid else 1, _checks(json.loads(get_renderer("json")(of_repo))))

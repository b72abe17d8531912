"""Issue 16 item 5: no network access of any kind without --allow-remote (a 127.0.0.1 server counts requests)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datapkg.cli.main import app
from datapkg.offline import REFUSED, no_network
from tests.release_server import Behaviour, ReleaseServer

runner = CliRunner()


@pytest.fixture
def server() -> Iterator[tuple[str, list[tuple[str, str | None, int]]]]:
    """A 127.0.0.1 server: its URL and its log of every request ((path, Range, status), a live list)."""
    body = b'{"type": "object"}'
    with ReleaseServer(Behaviour({"profile.json": body, "y": body})) as served:
        yield served.url().rstrip("/"), served.log


def _package(root: Path, url: str, case: str) -> Path:
    root.mkdir()
    (root / "t.csv").write_text("id\na\n")
    resource = {"name": "t", "path": "t.csv", "format": "csv", "schema": {"fields": [{"name": "id", "type": "string"}]}}
    descriptor: dict = {"name": "p", "resources": [resource]}
    if case == "package-profile":
        descriptor["profile"] = f"{url}/profile.json"
    elif case == "resource-profile":
        resource["profile"] = f"{url}/resource-profile.json"
    elif case == "foreign-package":
        resource["schema"]["foreignKeys"] = [
            {"fields": ["id"], "reference": {"package": f"{url}/other/datapackage.json", "resource": "x", "fields": ["id"]}}]
    elif case == "schema-keys":  # $schema at every level: frictionless must not fetch them either
        descriptor["$schema"] = f"{url}/package-schema.json"
        resource["$schema"] = f"{url}/resource-schema.json"
        resource["schema"]["$schema"] = f"{url}/table-schema.json"
        resource["dialect"] = {"$schema": f"{url}/dialect.json", "delimiter": ","}
    (root / "datapackage.json").write_text(json.dumps(descriptor))
    return root


@pytest.mark.parametrize("case", ["package-profile", "resource-profile", "foreign-package", "schema-keys"])
def test_validate_fetches_nothing_without_allow_remote(tmp_path, server, case):
    url, hits = server
    root = _package(tmp_path / "pkg", url, case)
    result = runner.invoke(app, ["validate", str(root), "--format", "json"])
    assert hits == [], hits
    assert result.exit_code == 0, result.output
    found = [(f["check"], f["severity"]) for f in json.loads(result.stdout)["errors"]]
    assert found == ([] if case == "schema-keys" else [("remote-not-fetched", "warning")])


def test_allow_remote_fetches_the_profile(tmp_path, server):
    url, hits = server
    root = _package(tmp_path / "pkg", url, "package-profile")
    result = runner.invoke(app, ["validate", str(root), "--allow-remote"])
    assert result.exit_code == 0, result.output
    assert ("profile.json", None, 200) in hits


def test_no_network_refuses_any_connection(server):
    url, hits = server
    with no_network(), pytest.raises(OSError, match="--allow-remote"):
        urllib.request.urlopen(url + "/x", timeout=2)
    assert hits == [] and REFUSED.endswith("--allow-remote to allow it")
    assert urllib.request.urlopen(url + "/y", timeout=2).status == 200  # restored afterwards

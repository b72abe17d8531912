"""What an open-data repository carries: LICENSE, the data licence, CITATION.cff, CHANGELOG.md (checked by build)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from datapkg.build import build
from datapkg.changelog import release_versions
from datapkg.cli.main import app
from tests.buildpkg import plain_package

ROOT = Path(__file__).resolve().parent.parent
DESCRIPTOR = json.loads((ROOT / "datapackage.json").read_text(encoding="utf-8"))
#: The CFF 1.2.0 JSON Schema (https://citation-file-format.github.io/1.2.0/schema.json), as shipped in
#: cffconvert 2.0.0 (cffconvert/schemas/1.2.0/schema.json).
CFF_SCHEMA = json.loads((ROOT / "tests" / "data" / "cff-1.2.0.schema.json").read_text(encoding="utf-8"))


def test_code_licence_is_the_mit_licence_pyproject_declares() -> None:
    assert 'license = { text = "MIT" }' in (ROOT / "pyproject.toml").read_text()
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")


def test_data_licence_matches_the_descriptor() -> None:
    text = (ROOT / "LICENSE-DATA.md").read_text(encoding="utf-8")
    assert [lic["name"] for lic in DESCRIPTOR["licenses"]] == ["CC-BY-4.0"]
    assert "CC-BY-4.0" in text and DESCRIPTOR["licenses"][0]["path"] in text
    articles = next(r for r in DESCRIPTOR["resources"] if r["name"] == "articles")
    assert "LicenseRef-publisher-copyright" in {lic["name"] for lic in articles["licenses"]}
    assert "LicenseRef-publisher-copyright" in text and "`seeds/` are **not** licensed under CC-BY-4.0" in text


def test_citation_cff_is_valid_and_matches_the_descriptor() -> None:
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(CFF_SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER).validate(citation)
    assert citation["cff-version"] == "1.2.0"
    assert (citation["title"], citation["version"]) == (DESCRIPTOR["title"], DESCRIPTOR["version"])
    assert citation["license"] == DESCRIPTOR["licenses"][0]["name"]
    assert citation["date-released"] == DESCRIPTOR["created"][:10]


def test_the_cff_schema_catches_a_broken_citation() -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"cff-version": "1.2.0", "message": "cite", "title": "x"}, CFF_SCHEMA)  # no authors


def test_changelog_has_an_entry_for_this_version() -> None:
    versions = release_versions((ROOT / "CHANGELOG.md").read_text(encoding="utf-8"))
    assert versions[0] == DESCRIPTOR["version"]


def test_release_versions() -> None:
    text = "# Changelog\n## [Unreleased]\n## [1.2.0] - 2026-01-01\n### Added\n## v1.1.0\n## 1.0.0-rc.1 (draft)\n"
    assert release_versions(text) == ["1.2.0", "1.1.0", "1.0.0-rc.1"]


def test_build_refuses_a_version_without_changelog_entry(tmp_path: Path) -> None:
    package = plain_package(tmp_path / "plain")
    descriptor = json.loads((package / "datapackage.json").read_text())
    (package / "datapackage.json").write_text(json.dumps(descriptor | {"version": "2.0.0"}))
    (package / "CHANGELOG.md").write_text("# Changelog\n\n## [Unreleased]\n\n## [1.0.0] - 2026-01-01\n")
    result = CliRunner().invoke(app, ["build", str(package), "--out", str(tmp_path / "dist")])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.strip() == ("dpkg: error: CHANGELOG.md has no entry for version 2.0.0 (its releases: 1.0.0); "
                                     "add '## [2.0.0] - YYYY-MM-DD' or fix the descriptor's version")
    assert not (tmp_path / "dist").exists()
    (package / "CHANGELOG.md").write_text("# Changelog\n\n## [2.0.0] - 2026-02-01\n\n## [1.0.0] - 2026-01-01\n")
    assert build(package, tmp_path / "dist").out == tmp_path / "dist"


def test_build_without_changelog_is_not_checked(tmp_path: Path) -> None:
    package = plain_package(tmp_path / "plain")
    assert not (package / "CHANGELOG.md").exists()
    assert (build(package, tmp_path / "dist").out / "SHA256SUMS").is_file()

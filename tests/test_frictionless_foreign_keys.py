"""frictionless' part of a validation and foreign keys: the keys the GX suites check are not looked up
by frictionless (it would read each referenced table whole for one row); a key to a resource the
package lacks is still frictionless' finding."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from datapkg.checks.frictionless_checks import _without_checked_foreign_keys
from datapkg.cli.main import app
from tests.packages import table, write_package

FIELDS = [{"name": "id", "type": "string"}, {"name": "ref", "type": "string"}]


def _fk(resource: str, field: str = "id") -> dict:
    return {"fields": ["ref"], "reference": {"resource": resource, "fields": [field]}}


def test_a_key_to_a_missing_resource_is_a_resource_error(tmp_path: Path) -> None:
    write_package(tmp_path, [table("t", "t.csv", FIELDS, foreignKeys=[_fk("nope", "x")])], {"t.csv": "id,ref\n1,a\n"})
    result = CliRunner().invoke(app, ["validate", str(tmp_path), "--format", "json"])
    assert result.exit_code == 1, result.output
    errors = json.loads(result.stdout)["errors"]
    assert [(e["check"], e["file"], e["row"], e["field"]) for e in errors] == [("resource-error", "t.csv", None, None)]
    assert 'resource "nope" does not exist' in errors[0]["message"]


def test_a_broken_key_to_a_present_resource_is_found_once_with_its_row(tmp_path: Path) -> None:
    """The key frictionless no longer looks up is GX's: one finding, at its row and field, in the
    first data row too (the one row frictionless reads of a loaded table)."""
    write_package(tmp_path, [table("p", "p.csv", FIELDS[:1], primaryKey=["id"]),
                             table("t", "t.csv", FIELDS, foreignKeys=[_fk("p"), _fk("", "id")])],
                  {"p.csv": "id\na\nb\n", "t.csv": "id,ref\n1,zz\n2,a\n"})
    result = CliRunner().invoke(app, ["validate", str(tmp_path), "--format", "json"])
    assert result.exit_code == 1, result.output
    keys = sorted((e["check"], e["file"], e["row"], e["field"]) for e in json.loads(result.stdout)["errors"])
    assert [k[1:] for k in keys] == [("t.csv", 2, "ref"), ("t.csv", 2, "ref"), ("t.csv", 3, "ref")]
    assert len({k[0] for k in keys}) == 1  # one check name for every broken key


def test_only_the_keys_to_present_resources_are_dropped(tmp_path: Path) -> None:
    from frictionless import Package

    write_package(tmp_path, [table("p", "p.csv", FIELDS[:1]),
                             table("t", "t.csv", FIELDS, foreignKeys=[_fk("p"), _fk(""), _fk("t"), _fk("nope")])],
                  {"p.csv": "id\na\n", "t.csv": "id,ref\n1,a\n"})
    package = Package(json.loads((tmp_path / "datapackage.json").read_text()), basepath=str(tmp_path))
    resource = package.get_resource("t")
    _without_checked_foreign_keys(resource, {r.name for r in package.resources})
    assert [fk["reference"]["resource"] for fk in resource.schema.foreign_keys] == ["nope"]

"""Issue 16: a descriptor (or schema, or suite) with repeated keys, NaN or Infinity is not JSON (RFC 8259)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datapkg.cli.main import app
from datapkg.errors import UsageError
from datapkg.strict_json import load_yaml, loads

runner = CliRunner()


@pytest.mark.parametrize("text, where, what", [
    ('{"name": "a",\n "name": "b"}', "line 2, column 2", "the key 'name' is repeated in one object"),
    ('{"r": [{"x": 1, "y": 2, "x": 3}]}', "line 1, column 25", "the key 'x' is repeated"),
    ('{"a": NaN}', "line 1, column 7", "NaN is not a JSON number"),
    ('{"a": [1,\n  Infinity]}', "line 2, column 3", "Infinity is not a JSON number"),
    ('{"a": -Infinity}', "line 1, column 7", "Infinity is not a JSON number"),
])
def test_strict_json_names_line_and_column(text, where, what):
    with pytest.raises(UsageError) as info:
        loads(text, "datapackage.json")
    message = str(info.value)
    assert message.startswith(f"datapackage.json is not valid JSON at {where}: ") and what in message


def test_a_syntax_error_is_reported_before_an_earlier_offence():
    with pytest.raises(UsageError) as info:
        loads('{"a": 1, "a": NaN,\n "b": [1, 2}', "datapackage.json")
    assert str(info.value).startswith("datapackage.json is not valid JSON at line 2, column 12: ")
    assert "repeated" not in str(info.value) and "NaN" not in str(info.value)


def test_strict_json_accepts_what_looks_like_offences_inside_strings():
    text = '{"a": "NaN, Infinity", "b": {"a": 1}, "c": [{"a": 2}, {"a": 3}], "d": "\\"x\\": 1, \\"x\\""}'
    assert loads(text, "x") == json.loads(text)


@pytest.mark.parametrize("text, where, what", [
    ("name: a\nname: b\n", "line 2, column 1", "the key 'name' is repeated in one mapping"),
    ("a: .nan\n", "line 1, column 4", ".nan is not a finite number"),
    ("a: [1, -.inf]\n", "line 1, column 8", "-.inf is not a finite number"),
])
def test_strict_yaml(text, where, what):
    with pytest.raises(UsageError) as info:
        load_yaml(text, "datapackage.yaml")
    assert str(info.value) == f"datapackage.yaml is not valid YAML at {where}: {what}"
    assert load_yaml("a: 1.5\nb: 2024-01-01\n", "x")["a"] == 1.5


@pytest.mark.parametrize("name, body", [
    ("datapackage.json", '{"name": "p", "name": "q", "resources": []}'),
    ("datapackage.json", '{"name": "p", "resources": [{"name": "t", "path": "t.csv", "bytes": NaN}]}'),
    ("datapackage.yaml", "name: p\nresources: []\nresources: []\n"),
])
def test_validate_refuses_the_descriptor_in_one_line(tmp_path: Path, name: str, body: str):
    (tmp_path / name).write_text(body)
    (tmp_path / "t.csv").write_text("a\n1\n")
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{name} is not valid" in lines[0] and " at line " in lines[0]


def test_a_schema_file_with_a_repeated_key_is_refused(tmp_path: Path):
    (tmp_path / "schema.json").write_text('{"fields": [{"name": "a"}], "fields": []}')
    (tmp_path / "t.csv").write_text("a\n1\n")
    (tmp_path / "datapackage.json").write_text(json.dumps(
        {"name": "p", "resources": [{"name": "t", "path": "t.csv", "schema": "schema.json"}]}))
    from datapkg.loader import resource_schema

    with pytest.raises(UsageError, match="schema.json is not valid JSON at line 1, column 29: the key 'fields'"):
        resource_schema(tmp_path, {"name": "t", "schema": "schema.json"})

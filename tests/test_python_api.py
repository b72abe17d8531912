"""The README's Python API examples run as written, on a small package, and say what they claim."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

from tests.buildpkg import cited_package

ROOT = Path(__file__).resolve().parent.parent
SECTION = (ROOT / "README.md").read_text(encoding="utf-8").split("## Python API", 1)[1].split("\n## ", 1)[0]
EXAMPLES = re.findall(r"```python\n(.*?)```", SECTION, flags=re.S)


def test_the_section_shows_validate_build_and_query() -> None:
    assert len(EXAMPLES) == 3
    assert "validate_package" in EXAMPLES[0] and "build(" in EXAMPLES[1] and "run_sql" in EXAMPLES[2]


def test_the_examples_run_on_a_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = cited_package(tmp_path / "pkg")
    monkeypatch.chdir(package)
    monkeypatch.setenv("DPKG_CACHE_DIR", str(tmp_path / "cache"))
    scope: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for example in EXAMPLES:
            exec(compile(example, "README.md", "exec"), scope)  # noqa: S102 - the README's own code
    lines = printed.getvalue().splitlines()
    assert scope["report"].valid and lines[0] == f"True 0 {len(scope['report'].warnings)}"
    assert json.loads(scope["as_json"])["valid"] is True
    assert (package / "dist" / "test-package.duckdb").is_file() and "SHA256SUMS" in scope["release"].artefacts
    assert scope["kind"] == "build" and scope["database"] == (package / "dist" / "test-package.duckdb").resolve()
    assert lines[-1] == "['n'] [(5,)]"  # one row per citation


def test_the_validate_example_lists_findings_of_a_broken_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = cited_package(tmp_path / "pkg")
    people = package / "resources" / "people.csv"
    people.write_text(people.read_text().replace("1984-01-08", "1984-13-08"))
    monkeypatch.chdir(package)
    scope: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(EXAMPLES[0], "README.md", "exec"), scope)  # noqa: S102
    assert scope["report"].valid is False
    assert any(line.startswith("error type-error resources/people.csv 2 born ") for line in printed.getvalue().splitlines())

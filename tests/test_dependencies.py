"""Dependency bounds in pyproject.toml stay consistent with requirements.lock."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def _locked(name: str) -> Version:
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.lower().startswith(f"{name}=="):
            return Version(line.split("==", 1)[1].strip())
    raise AssertionError(f"{name} is not in requirements.lock")


def test_duckdb_has_an_upper_bound_at_the_locked_minor() -> None:
    """duckdb_file.py patches DuckDB's on-disk format: an unbounded upgrade could break a release silently."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (duckdb,) = [Requirement(d) for d in deps if Requirement(d).name == "duckdb"]
    locked = _locked("duckdb")
    uppers = [s for s in duckdb.specifier if s.operator == "<"]
    assert len(uppers) == 1, f"duckdb needs an upper bound: {duckdb}"
    assert Version(uppers[0].version) == Version(f"{locked.major}.{locked.minor + 1}")
    assert locked in duckdb.specifier
    assert Version(f"{locked.major}.{locked.minor + 1}.0") not in duckdb.specifier

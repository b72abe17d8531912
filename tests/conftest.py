"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> Path:
    """The repository root (holds this project's own datapackage.json)."""
    return ROOT


@pytest.fixture(autouse=True)
def _private_download_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test keeps unfinished downloads in a folder of its own, never in the user's cache."""
    monkeypatch.setenv("DPKG_CACHE_DIR", str(tmp_path_factory.mktemp("partial")))

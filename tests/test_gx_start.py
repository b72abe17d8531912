"""gx_checks.start_gx: GX loads in a background thread while the package is read; the caller's
gx_context() gets that one context, or the error, never a second import."""

from __future__ import annotations

import threading
import time

import pytest

from datapkg.checks import gx_checks


def test_gx_is_made_once_in_the_background_and_the_caller_waits_for_it(monkeypatch):
    made = []

    def make():
        made.append(threading.current_thread().name)
        time.sleep(0.2)
        gx_checks._context = "the context"

    monkeypatch.setattr(gx_checks, "_context", None)
    monkeypatch.setattr(gx_checks, "_new_context", make)
    gx_checks.start_gx()
    gx_checks.start_gx()  # already under way
    assert gx_checks.gx_context() == "the context"
    assert made == ["dpkg-gx-import"]


def test_an_error_in_the_background_is_raised_to_the_caller(monkeypatch):
    tried = []

    def broken():
        tried.append(threading.current_thread().name)
        raise ImportError("no GX here")

    monkeypatch.setattr(gx_checks, "_context", None)
    monkeypatch.setattr(gx_checks, "_new_context", broken)
    gx_checks.start_gx()
    with pytest.raises(ImportError, match="no GX here"):
        gx_checks.gx_context()
    assert "MainThread" in tried


def test_validate_starts_gx_only_for_the_duckdb_engine_and_a_package_with_tables(monkeypatch, tmp_path):
    from datapkg import validate

    started = []
    monkeypatch.setattr(gx_checks, "start_gx", lambda: started.append(True))
    (tmp_path / "datapackage.json").write_text('{"name": "empty", "resources": []}')
    validate.validate_package(tmp_path)
    assert started == []
    (tmp_path / "t.csv").write_text("a\n1\n")
    (tmp_path / "datapackage.json").write_text(
        '{"name": "one", "resources": [{"name": "t", "path": "t.csv", "schema": {"fields": [{"name": "a", "type": "integer"}]}}]}')
    assert validate.validate_package(tmp_path).valid
    assert started == [True]

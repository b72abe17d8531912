"""Phases in processes of their own (datapkg.isolated): results and errors come back, GX finds the
same as in-process, the caller never imports the heavy libraries, nothing is left behind."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

import pytest

from datapkg import isolated
from datapkg.checks import gx_checks
from datapkg.checks.gx_checks import run_gx_checks, validate_with_gx
from datapkg.errors import DataError
from tests.test_gx_checks import CHILD_HEADER, _package, _rows

KL = {"type": "expect_column_kl_divergence_to_be_less_than",  # needs scipy.stats, which the worker loads lazily
      "kwargs": {"column": "amount", "partition_object": {"bins": [0, 50, 100], "weights": [0.9, 0.1]}, "threshold": 0.01},
      "meta": {}}


def _seeded(tmp_path):
    rows = _rows(8)
    for (row, column), value in {(3, "id"): "bad", (4, "day"): "2024-13-01", (5, "country"): "XX",
                                 (6, "amount"): "1000", (7, "n"): "seven", (8, "parent_id"): "P404"}.items():
        rows[row - 2][CHILD_HEADER.index(column)] = value
    root, descriptor = _package(tmp_path, rows)
    (root / "validations").mkdir()
    (root / "validations" / "extra.json").write_text(json.dumps({"name": "extra", "meta": {"resource": "child"}, "expectations": [
        KL, {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 10}, "meta": {}}]}))
    return root, descriptor


def test_worker_finds_exactly_what_gx_finds_in_process(tmp_path, monkeypatch):
    root, descriptor = _seeded(tmp_path)
    in_worker = run_gx_checks(root, descriptor)
    monkeypatch.setattr(gx_checks, "_validate", validate_with_gx)  # GX runs in this process
    in_process = run_gx_checks(root, descriptor)
    assert in_worker == in_process
    checks = {f.check for f in in_worker}
    assert {"expect_column_values_to_match_regex", "foreign-key", "expect_table_row_count_to_be_between",
            "expect_column_kl_divergence_to_be_less_than"} <= checks
    assert "gx-expectation-error" not in checks


def test_the_calling_process_imports_none_of_the_heavy_libraries(tmp_path):
    root, _ = _seeded(tmp_path)
    code = ("import sys; from datapkg.validate import validate_package; "
            f"report = validate_package({str(root)!r}, large_table_bytes=0); "
            "print(len(report.findings), *(m in sys.modules for m in HEAVY))")
    heavy = ("great_expectations", "pandas", "pyarrow", "scipy.stats", "frictionless", "duckdb")
    out = subprocess.run([sys.executable, "-c", f"HEAVY = {heavy!r}; {code}"], capture_output=True, text=True, check=True)
    count, *imported = out.stdout.split()
    assert int(count) >= 8 and imported == ["False"] * len(heavy)


def test_a_result_comes_back_from_the_child():
    assert isolated.call(divmod, 17, 5) == (3, 2)
    assert isolated.call(sorted, [3, 1, 2], reverse=True) == [3, 2, 1]


def test_an_error_in_the_child_is_raised_in_the_caller():
    with pytest.raises(AttributeError):
        isolated.call(validate_with_gx, [object()], None)
    with pytest.raises(DataError) as raised:  # a dpkg error keeps its exit code
        isolated.call(_raise_data_error)
    assert str(raised.value) == "bad data" and raised.value.exit_code == 1


def _raise_data_error():
    raise DataError("bad data")


def test_blocked_modules_count_as_not_installed_and_lazy_ones_load_on_use():
    assert isolated.call(_import_state, block=("pyarrow",), lazy=("colorsys",)) == (False, "lazy")
    assert isolated.call(_import_state) == (True, "loaded")


def _import_state() -> tuple[bool, str]:
    import sys

    try:
        import pyarrow  # noqa: F401
        arrow = True
    except ImportError:
        arrow = False
    import colorsys

    lazy = type(sys.modules["colorsys"]).__name__ == "_LazyModule"  # type() does not trigger the load
    assert colorsys.rgb_to_hsv(1, 0, 0) == (0, 1, 1)  # first use: it loads and works
    return arrow, "lazy" if lazy else "loaded"


def test_a_child_that_dies_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(sys, "executable", "/bin/false")
    with pytest.raises(RuntimeError, match=r"^the worker process for divmod stopped unexpectedly: exit code 1$"):
        isolated.call(divmod, 1, 1)


def test_gx_leaves_no_temporary_files(tmp_path, monkeypatch):
    root, descriptor = _seeded(tmp_path / "pkg")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    assert run_gx_checks(root, descriptor)
    plain_root, plain = _package(tmp_path / "plain", _rows())
    assert run_gx_checks(plain_root, plain, curation=False, schema_resources=set()) == []  # nothing to check
    assert list(scratch.iterdir()) == []


def _count_with_steps(n: int, step) -> int:
    import os

    for i in range(n):
        step(f"step {i}\nof {n}")
    return os.environ["DPKG_TEST_VALUE"]


def test_steps_stream_back_and_env_reaches_the_child():
    seen: list[str] = []
    result = isolated.call(_count_with_steps, 3, env={"DPKG_TEST_VALUE": "here"}, step=seen.append)
    assert result == "here"
    assert seen == ["step 0 of 3", "step 1 of 3", "step 2 of 3"]


def test_an_unexpected_error_carries_the_child_traceback():
    with pytest.raises(ZeroDivisionError) as raised:
        isolated.call(divmod, 1, 0)
    assert any("in a worker process" in note for note in getattr(raised.value, "__notes__", []))

"""Work in a process of its own (datapkg.isolated, used by the build): results and errors come back,
blocked and lazy modules, and a small package validates in one process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from datapkg import isolated
from datapkg.errors import DataError
from tests.test_gx_checks import _package, _rows


def test_a_small_package_validates_in_one_process(tmp_path, monkeypatch):
    """No worker process: a curator can set a breakpoint anywhere in a validation."""
    from datapkg.validate import validate_package

    rows = _rows()
    rows[0][3] = "US"
    root, _ = _package(tmp_path, rows)
    started: list[object] = []
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: started.append(a) or pytest.fail("a process was started"))
    report = validate_package(root)
    assert [(f.check, f.row, f.field) for f in report.errors] == [("constraint-error", 2, "country")]
    assert started == []


def test_a_result_comes_back_from_the_child():
    assert isolated.call(divmod, 17, 5) == (3, 2)
    assert isolated.call(sorted, [3, 1, 2], reverse=True) == [3, 2, 1]


def test_an_error_in_the_child_is_raised_in_the_caller():
    with pytest.raises(AttributeError):
        isolated.call(getattr, object(), "no_such_attribute")
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

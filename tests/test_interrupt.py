"""Issue 16 item 3: Ctrl-C ends any command at once with exit 130, no traceback, nothing half-written."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.packages import table, write_package

DPKG = str(Path(sys.executable).with_name("dpkg"))
ROOT = Path(__file__).resolve().parent.parent


def interrupt(args: list[str], after: float, cwd: Path) -> tuple[int, str, float]:
    """Run ``dpkg args``, send SIGINT to its process group (as a terminal's Ctrl-C does) after
    ``after`` seconds; return its exit code, stderr and how long it took to end."""
    proc = subprocess.Popen([DPKG, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, env={**os.environ, "DPKG_CACHE_DIR": str(cwd / "cache")})
    time.sleep(after)
    sent = time.perf_counter()
    os.killpg(proc.pid, signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"dpkg {args[0]} ignored Ctrl-C for 30 s")
    return proc.returncode, err.decode(), time.perf_counter() - sent


def test_query_stops_on_ctrl_c_during_a_long_query(tmp_path: Path):
    write_package(tmp_path / "pkg", [table("t", "t.csv", [{"name": "id"}])], {"t.csv": "id\n1\n"})
    warm = subprocess.run([DPKG, "query", "-p", "pkg", "select 1"], cwd=tmp_path, capture_output=True,
                          env={**os.environ, "DPKG_CACHE_DIR": str(tmp_path / "cache")})
    assert warm.returncode == 0, warm.stderr
    code, err, took = interrupt(["query", "-p", "pkg", "select count(*) from range(100000000000) a, range(10) b"],
                                3, tmp_path)
    assert code == 130 and took < 5, (code, err, took)
    assert "Traceback" not in err and "nanobind" not in err


@pytest.mark.parametrize("after", [1.5, 4.0])
def test_validate_ends_at_once_and_leaves_the_package_as_it_was(tmp_path: Path, after: float):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    for part in ("datapackage.json", "resources", "schemas", "seeds", "validations"):
        source = ROOT / part
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, pkg / part)
    before = sorted((p.relative_to(pkg).as_posix(), p.stat().st_size) for p in pkg.rglob("*"))
    code, err, took = interrupt(["validate", "pkg"], after, tmp_path)
    assert code == 130 and took < 5, (code, err, took)
    assert "Traceback" not in err
    assert sorted((p.relative_to(pkg).as_posix(), p.stat().st_size) for p in pkg.rglob("*")) == before

"""dpkg validate --watch: a run after every save, only what changed, survives half-written files, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from datapkg.validate import validate_package
from datapkg.watch import snapshot, watch
from tests.test_gx_checks import _package, _rows

CHILD = "data/child.csv"


def _edit(root: Path, old: str, new: str) -> None:
    path = root / CHILD
    path.write_text(path.read_text().replace(old, new, 1))
    stat = path.stat()  # a save within the same clock tick still counts: move the time on
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000))


def test_each_save_reports_only_what_changed_and_a_half_written_file_is_survived(tmp_path: Path):
    root, _ = _package(tmp_path, _rows())
    descriptor = root / "datapackage.json"
    good = descriptor.read_text()
    saves = iter([
        lambda: _edit(root, "RU", "US"),                       # a new error
        lambda: descriptor.write_text(good[: len(good) // 2]),  # a half-written descriptor
        lambda: descriptor.write_text(good),                   # written out
        lambda: _edit(root, "US", "RU"),                       # the error fixed
    ])
    pending = {"save": None}

    def sleep(_seconds: float) -> None:  # the first look after a run saves the next edit
        if pending["save"] is None:
            pending["save"] = next(saves)
            pending["save"]()

    changes = []
    for change in watch(root, lambda: validate_package(root), sleep=sleep, interval=0, settle=0):
        changes.append(change)
        pending["save"] = None
        if len(changes) == 5:
            break
    first, broke, half, whole, fixed = changes
    assert first.report.valid and first.added == [] and first.gone == []
    assert [(f.check, f.row, f.field) for f in broke.added] == [("constraint-error", 2, "country")] and broke.gone == []
    assert broke.changed == [CHILD]
    assert half.report is None and half.error and half.changed == ["datapackage.json"]
    assert whole.report is not None and whole.added == [] and whole.gone == []  # compared with the last good run
    assert fixed.added == [] and [(f.check, f.row) for f in fixed.gone] == [("constraint-error", 2)]


def test_snapshot_skips_what_is_not_package_input(tmp_path: Path):
    root, _ = _package(tmp_path, _rows())
    (root / ".git").mkdir()
    (root / ".git" / "x").write_text("x")
    (root / "dist").mkdir()
    (root / "dist" / "y").write_text("y")
    assert set(snapshot(root)) == {"datapackage.json", "data/parent.csv", CHILD}


def _read_until(stream, marker: str, deadline: float) -> str:
    seen = ""
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen += line
        if marker in line:
            return seen
    raise AssertionError(f"{marker!r} never came; got:\n{seen}")


def test_cli_watch_reports_a_save_and_stops_cleanly_on_ctrl_c(tmp_path: Path):
    root, _ = _package(tmp_path, _rows())
    process = subprocess.Popen([sys.executable, "-m", "datapkg.cli.main", "validate", "--watch", str(root)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 240
        first = _read_until(process.stdout, "watching for changes", deadline)
        assert "valid: no errors" in first
        _edit(root, "RU", "US")
        after = _read_until(process.stdout, "watching for changes", deadline)
        assert "+ data/child.csv row 2" in after and "constraint-error" in after and "1 new, 0 fixed" in after
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert "Traceback" not in err


def test_cli_watch_of_a_path_that_is_not_there_is_one_line(tmp_path: Path):
    """A mistyped path ends at once (exit 2, one line), as without --watch; it is not watched for ever."""
    from typer.testing import CliRunner

    from datapkg.cli.main import app

    missing = tmp_path / "no-such-package"
    result = CliRunner().invoke(app, ["validate", "--watch", str(missing)])
    assert result.exit_code == 2
    assert result.output.strip() == f"dpkg: error: {missing}: no such file or folder"

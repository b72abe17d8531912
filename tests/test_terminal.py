"""Terminal conventions: NO_COLOR / TERM=dumb / FORCE_COLOR (no-color.org), progress on a terminal only."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datapkg.cli.main import app
from tests.packages import table, write_package

#: One worker runs this file under ``--dist loadgroup`` (make test): its module fixtures are built once.
pytestmark = pytest.mark.xdist_group("terminal")

runner = CliRunner()
DPKG = str(Path(sys.executable).with_name("dpkg"))
RED = "\x1b[31m"
#: An SGR sequence that sets a foreground or background colour (bold, cursor moves are not colour).
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")


def run_in_terminal(args: list[str], **env: str) -> tuple[int, str]:
    """Run ``dpkg args`` with stdout and stderr on a pseudo-terminal; return its exit code and all it wrote."""
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")} | {"TERM": "xterm"} | env
    master, slave = pty.openpty()
    proc = subprocess.Popen([DPKG, *args], stdin=slave, stdout=slave, stderr=slave, env=environ, close_fds=True)
    os.close(slave)
    out = b""
    try:
        while select.select([master], [], [], 120)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
        proc.wait(timeout=120)
    return proc.returncode, out.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def invalid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package with one type error (the tests only read it)."""
    root = tmp_path_factory.mktemp("invalid")
    write_package(root, [table("t", "data/t.csv", [{"name": "id", "type": "integer"}])], {"data/t.csv": "id\n1\nx\n"})
    return root


@pytest.fixture(scope="module")
def on_a_terminal(invalid: Path) -> tuple[int, str]:
    """``dpkg validate`` of ``invalid`` on a terminal, default environment: run once for the tests that read it."""
    return run_in_terminal(["validate", str(invalid)])


def test_colour_on_a_terminal_unless_no_color_or_dumb(invalid: Path, on_a_terminal: tuple[int, str]) -> None:
    code, out = on_a_terminal
    assert code == 1 and f"{RED}type-error" in out and COLOUR.search(out)
    for env in ({"NO_COLOR": "1"}, {"TERM": "dumb"}, {"NO_COLOR": "1", "FORCE_COLOR": "1"}):
        code, out = run_in_terminal(["validate", str(invalid)], **env)
        assert code == 1 and "type-error" in out and not COLOUR.search(out), (env, out)


def test_force_color_colours_a_pipe(invalid: Path) -> None:
    plain = runner.invoke(app, ["validate", str(invalid)])
    assert plain.exit_code == 1 and "\x1b[" not in plain.stdout
    forced = runner.invoke(app, ["validate", str(invalid)], env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    assert forced.exit_code == 1 and f"{RED}type-error" in forced.stdout
    verify = runner.invoke(app, ["verify", str(invalid)], env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert "\x1b[" not in verify.output


def test_progress_on_a_terminal_for_a_long_validation_only(invalid: Path, on_a_terminal: tuple[int, str]) -> None:
    """A GX run takes more than a second: the terminal shows the phase; json output and pipes never do."""
    code, out = on_a_terminal
    assert code == 1 and "dpkg validate" in out and "curation rules and Great Expectations suites" in out
    code, out = run_in_terminal(["validate", str(invalid), "--format", "json"])
    assert code == 1 and "dpkg validate" not in out and out.lstrip().startswith("{")
    piped = subprocess.run([DPKG, "validate", str(invalid)], capture_output=True, text=True)
    assert piped.returncode == 1 and piped.stderr == ""


def test_quick_work_shows_no_progress(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from datapkg.cli import terminal

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with terminal.progress_steps("quick", delay=5.0) as step:
        step("working")
    assert capsys.readouterr().err == ""

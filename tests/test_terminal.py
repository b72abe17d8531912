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
from datapkg.cli.validate_cmd import PROGRESS_AFTER
from tests.packages import table, write_package
from tests.release_server import Behaviour, ReleaseServer

#: One worker runs this file under ``--dist loadgroup`` (make test): its module fixtures are built once.
pytestmark = pytest.mark.xdist_group("terminal")

runner = CliRunner()
DPKG = str(Path(sys.executable).with_name("dpkg"))
RED = "\x1b[31m"
#: An SGR sequence that sets a foreground or background colour (bold, cursor moves are not colour).
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")


def _environ(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")} | {"TERM": "xterm"} | env


def run_in_terminals(runs: dict[str, tuple[list[str], dict[str, str]]]) -> dict[str, tuple[int, str]]:
    """Run every ``name: (args, env)`` as ``dpkg args`` at the same time, each with stdout and stderr
    on a pseudo-terminal of its own; return ``name: (exit code, all it wrote)``."""
    started: dict[str, tuple[subprocess.Popen, int]] = {}
    out = {name: b"" for name in runs}
    try:
        for name, (args, env) in runs.items():
            master, slave = pty.openpty()
            started[name] = (subprocess.Popen([DPKG, *args], stdin=slave, stdout=slave, stderr=slave,
                                              env=_environ(env), close_fds=True), master)
            os.close(slave)
        reading = {master: name for name, (_, master) in started.items()}
        while reading and (ready := select.select(list(reading), [], [], 120)[0]):
            for master in ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if chunk:
                    out[reading[master]] += chunk
                else:
                    del reading[master]
    finally:
        for proc, master in started.values():
            os.close(master)
            proc.wait(timeout=120)
    return {name: (proc.returncode, out[name].decode("utf-8", "replace")) for name, (proc, _) in started.items()}


@pytest.fixture(scope="module")
def invalid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package with one type error (the tests only read it)."""
    root = tmp_path_factory.mktemp("invalid")
    write_package(root, [table("t", "data/t.csv", [{"name": "id", "type": "integer"}])], {"data/t.csv": "id\n1\nx\n"})
    return root


#: The environments in which a terminal gets no colour.
NO_COLOUR = {"no-color": {"NO_COLOR": "1"}, "dumb": {"TERM": "dumb"}, "no-color-wins": {"NO_COLOR": "1", "FORCE_COLOR": "1"}}


@pytest.fixture(scope="module")
def runs(invalid: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str]]:
    """Every ``dpkg validate`` process the tests read, run at the same time (the tests only read them).

    ``default``: ``invalid`` on a terminal, default environment: GX runs, longer than
    :data:`PROGRESS_AFTER`. The others validate the same type error in a table that a slow server
    on 127.0.0.1 holds back for longer than that, so that each is as long a validation as
    ``default`` without starting GX (2.5 CPU-s a process): one per :data:`NO_COLOUR` environment,
    ``json`` (``--format json`` on a terminal) and ``pipe`` (stdout and stderr piped: its stderr).
    """
    names = [*NO_COLOUR, "json", "pipe"]
    hold = {f"{name}.csv": PROGRESS_AFTER + 1.0 for name in names}
    with ReleaseServer(Behaviour({path: b"id\n1\nx\n" for path in hold}, hold=hold)) as server:
        slow = {}
        for name in names:
            root = tmp_path_factory.mktemp(name)
            write_package(root, [table("t", server.url(f"{name}.csv"), [{"name": "id", "type": "integer"}])], {})
            slow[name] = ["validate", str(root), "--allow-remote"]
        piped = subprocess.Popen([DPKG, *slow["pipe"]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        done = run_in_terminals({"default": (["validate", str(invalid)], {}),
                                 **{name: (slow[name], env) for name, env in NO_COLOUR.items()},
                                 "json": ([*slow["json"], "--format", "json"], {})})
        _, err = piped.communicate(timeout=120)
    return done | {"pipe": (piped.returncode, err)}


def test_colour_on_a_terminal_unless_no_color_or_dumb(runs: dict[str, tuple[int, str]]) -> None:
    code, out = runs["default"]
    assert code == 1 and f"{RED}type-error" in out and COLOUR.search(out)
    for name, env in NO_COLOUR.items():
        code, out = runs[name]
        assert code == 1 and "type-error" in out and not COLOUR.search(out), (env, out)


def test_force_color_colours_a_pipe(invalid: Path) -> None:
    plain = runner.invoke(app, ["validate", str(invalid)])
    assert plain.exit_code == 1 and "\x1b[" not in plain.stdout
    forced = runner.invoke(app, ["validate", str(invalid)], env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    assert forced.exit_code == 1 and f"{RED}type-error" in forced.stdout
    verify = runner.invoke(app, ["verify", str(invalid)], env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert "\x1b[" not in verify.output


def test_progress_on_a_terminal_for_a_long_validation_only(runs: dict[str, tuple[int, str]]) -> None:
    """A validation longer than PROGRESS_AFTER: the terminal shows the phase; json output and pipes never do."""
    code, out = runs["default"]
    assert code == 1 and "dpkg validate" in out and "curation rules and Great Expectations suites" in out
    code, out = runs["json"]
    assert code == 1 and "dpkg validate" not in out and out.lstrip().startswith("{")
    code, err = runs["pipe"]
    assert code == 1 and err == ""


def test_quick_work_shows_no_progress(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from datapkg.cli import terminal

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with terminal.progress_steps("quick", delay=5.0) as step:
        step("working")
    assert capsys.readouterr().err == ""

"""dpkg shell / dpkg query with no SQL: the interactive read-only prompt (on a real pseudo-terminal) and its script mode."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.buildpkg import cited_package

DPKG = Path(sys.executable).parent / "dpkg"


@pytest.fixture
def package(tmp_path: Path) -> Path:
    return cited_package(tmp_path / "pkg")


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "DPKG_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "100", "TERM": "dumb",
            "NO_COLOR": "1"}


class Terminal:
    """A command on a pseudo-terminal: type lines, read until a text shows."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"{text!r} never showed; the terminal shows:\n{self.seen}"
            if select.select([self.master], [], [], left)[0]:
                try:
                    self.seen += os.read(self.master, 65536).decode("utf-8", "replace")
                except OSError:  # the command ended
                    assert text in self.seen, f"{text!r} never showed; the terminal shows:\n{self.seen}"
        before, _, self.seen = self.seen.partition(text)
        return before + text

    def type(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def close(self) -> int:
        code = self.proc.wait(timeout=60)
        os.close(self.master)
        return code


@pytest.mark.parametrize("command", [["shell", "-p"], ["query", "-p"]])
def test_interactive_prompt_on_a_terminal(command: list[str], package: Path, tmp_path: Path) -> None:
    term = Terminal([str(DPKG), *command, str(package)], _env(tmp_path))
    banner = term.expect("dpkg> ")
    assert "read-only" in banner and ".help" in banner
    term.type("SELECT name, age")
    term.expect("..> ")
    term.type("FROM people WHERE age > 50;")
    out = term.expect("dpkg> ")
    assert "Vladimir Putin" in out and "(1 row)" in out
    term.type(".tables")
    assert "cited_facts" in term.expect("dpkg> ")
    term.type(".schema people")
    out = term.expect("dpkg> ")
    assert "people (table) — People: The people table." in out and "Age in years." in out
    target = tmp_path / "stolen.csv"
    term.type(f"COPY people TO '{target}';")
    assert "read-only" in term.expect("dpkg> ")
    term.type(f"SELECT * FROM read_csv('{package}/resources/people.csv');")
    assert "error" in term.expect("dpkg> ")
    term.type("SELECT * FROM nowhere;")
    assert "the database has: " in term.expect("dpkg> ")
    term.type(".quit")
    assert term.close() == 0 and not target.exists()


def test_script_mode_reads_statements_from_stdin(package: Path, tmp_path: Path) -> None:
    script = ".mode csv\nSELECT count(*) AS n\n  FROM people;\n.tables\nSELECT 1 AS last\n"
    done = subprocess.run([str(DPKG), "shell", "-p", str(package)], input=script, capture_output=True, text=True,
                          env=_env(tmp_path), timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("n\n3\n") and "people\n" in done.stdout and done.stdout.endswith("last\n1\n")
    bad = subprocess.run([str(DPKG), "shell", "-p", str(package)], input="CREATE TABLE t (a INT);\nSELECT 2 AS two;\n",
                         capture_output=True, text=True, env=_env(tmp_path), timeout=120)
    assert bad.returncode == 2 and "read-only" in bad.stderr and bad.stdout.startswith("two")

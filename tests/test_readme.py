"""The README stays true: every dpkg command and option it shows exists, and its set-up commands are real."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datapkg.cli.main import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SHOWN = sorted({line.strip() for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S)
                for line in block.splitlines() if line.strip().startswith(".venv/bin/dpkg ")})


def test_readme_starts_with_the_two_set_up_commands() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, flags=re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands == ["make", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^all: validate$", makefile, flags=re.M) and re.search(r"^test: ", makefile, flags=re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("line", SHOWN)
def test_every_command_and_option_shown_exists(line: str) -> None:
    words = shlex.split(line.split("#")[0])[1:]
    command = [w for w in words[:2] if not w.startswith("-") and w in ("validate", "query", "tables", "build",
                                                                          "download", "verify", "expectations",
                                                                          "generate", "diff")]
    assert command, f"no known command in {line!r}"
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    for option in re.findall(r"(--[a-z][a-z-]*)", line.split("#")[0]):
        assert option in result.stdout, f"{option} of {line!r} is not in 'dpkg {' '.join(command)} --help'"


def test_readme_shows_every_command() -> None:
    assert len(SHOWN) >= 5
    for command in ("validate", "build", "download", "verify"):
        assert any(line.startswith(f".venv/bin/dpkg {command}") for line in SHOWN), command

"""Shell completion: typer's own --install-completion / --show-completion, and the completion protocol."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datapkg.cli.main import app

DPKG = str(Path(sys.executable).with_name("dpkg"))


def test_help_offers_completion() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert "--install-completion" in result.stdout and "--show-completion" in result.stdout


def test_show_completion_for_bash(monkeypatch: pytest.MonkeyPatch) -> None:
    # typer's own switch: the shell is named on the command line instead of detected from the parent process
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    result = CliRunner().invoke(app, ["--show-completion", "bash"])
    assert result.exit_code == 0, result.output
    assert "_DPKG_COMPLETE=complete_bash" in result.stdout
    assert result.stdout.rstrip().endswith("complete -o default -F _dpkg_completion dpkg")


def _complete(words: str) -> list[str]:
    env = dict(os.environ, _DPKG_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=str(len(words.split()) - 1))
    out = subprocess.run([DPKG], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_bash_completes_commands_and_options() -> None:
    assert _complete("dpkg val") == ["validate"]
    assert "--max-errors" in _complete("dpkg validate --max")
    assert _complete("dpkg validate --format j") == ["json", "junit"]

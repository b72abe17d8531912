"""Conventions across commands: Debian's dpkg gets its own invocations; a short option means one thing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

import datapkg.cli.main as cli_main
from datapkg.cli.main import app

runner = CliRunner()


def _one_line_error(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("option", ["-i", "-l", "--configure", "--purge", "-L", "--force-depends"])
def test_debian_style_options_explain_what_dpkg_is(option: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """On a machine without Debian's dpkg: one line that says what this dpkg is, exit 2."""
    monkeypatch.setattr(cli_main, "DEBIAN_DPKG", str(tmp_path / "no-such-dpkg"))
    line = _one_line_error([option, "foo.deb"])
    assert "data-package tool" in line and "/usr/bin/dpkg" in line


FAKE_DEBIAN_DPKG = "#!/bin/sh\necho \"debian dpkg got: $*\"\nexit 3\n"


@pytest.mark.parametrize("args", [["-l"], ["--print-architecture"], ["-i", "some file.deb"], ["--force-depends", "-i"]])
def test_debian_style_invocations_are_handed_to_debian_dpkg(args: list[str], tmp_path: Path) -> None:
    """With Debian's dpkg present, its invocations run it unchanged: its output and its exit code."""
    fake = tmp_path / "dpkg"
    fake.write_text(FAKE_DEBIAN_DPKG)
    fake.chmod(0o755)
    code = (f"import sys; import datapkg.cli.main as m; m.DEBIAN_DPKG = {str(fake)!r}; "
            "sys.argv = ['dpkg', *sys.argv[1:]]; m.run()")
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (3, f"debian dpkg got: {' '.join(args)}\n", "")


def test_own_commands_are_never_handed_to_debian_dpkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "dpkg"
    fake.write_text(FAKE_DEBIAN_DPKG)
    fake.chmod(0o755)
    monkeypatch.setattr(cli_main, "DEBIAN_DPKG", str(fake))
    assert runner.invoke(app, ["--version"]).stdout.startswith("dpkg (data-package tool)")
    assert "--format" in runner.invoke(app, ["validate", "-h"]).stdout


def test_real_debian_dpkg_answers_print_architecture() -> None:
    if not os.access("/usr/bin/dpkg", os.X_OK):
        pytest.skip("no Debian dpkg on this machine")
    expected = subprocess.run(["/usr/bin/dpkg", "--print-architecture"], capture_output=True, text=True)
    ours = subprocess.run([str(Path(sys.executable).parent / "dpkg"), "--print-architecture"],
                          capture_output=True, text=True, timeout=60)
    assert (ours.returncode, ours.stdout) == (expected.returncode, expected.stdout) and ours.stdout.strip()


def _commands(group: click.Group, ctx: click.Context, prefix: str = "") -> dict[str, click.Command]:
    out: dict[str, click.Command] = {}
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        out[prefix + name] = command
        if isinstance(command, click.Group):
            out.update(_commands(command, ctx, prefix + name + " "))
    return out


def test_each_short_option_means_one_thing_in_every_command() -> None:
    group = typer.main.get_command(app)
    meanings: dict[str, set[str]] = {}
    for name, command in _commands(group, click.Context(group)).items():
        for param in command.params:
            longs = [o for o in param.opts if o.startswith("--")]
            for short in (o for o in param.opts if len(o) == 2):
                meanings.setdefault(short, set()).add(longs[0] if longs else f"{name}:{short}")
    clashes = {short: sorted(longs) for short, longs in meanings.items() if len(longs) > 1}
    assert clashes == {}
    assert meanings["-f"] == {"--format"}


@pytest.mark.parametrize("command", [["validate"], ["verify"], ["query", "select 1"], ["tables"]])
def test_dash_f_is_format(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "-f", "no-such-format"])
    assert result.exit_code == 2 and "'no-such-format' is not one of" in result.stderr


def test_readme_lists_the_short_options_as_the_commands_define_them() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    sentence = readme.split("A short option means the same in every command:", 1)[1].split(".", 1)[0]
    import re

    pairs = re.findall(r"`(-[a-z])` `(--[a-z-]+)`", " ".join(sentence.split()).replace("is `--", "`--"))
    group = typer.main.get_command(app)
    for short, long in pairs:
        for command in _commands(group, click.Context(group)).values():
            for param in command.params:
                if short in param.opts:
                    assert long in param.opts, (short, long, param.opts)
    assert ("-f", "--format") in pairs and len(pairs) == 5

"""The wheel installs the tool alone: ``dpkg`` works and no top-level ``cli`` module lands in the environment."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    source = out / "source"  # a copy: pip builds in the source tree (build/, *.egg-info), never in the repository
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info",
                                                                   "__pycache__", ".pytest_cache", "benchmarks"))
    done = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-w", out, source,
                cwd=out)
    assert done.returncode == 0, done.stderr[-2000:]
    (built,) = out.glob("*.whl")
    return built


@pytest.mark.slow
def test_wheel_holds_the_library_and_its_cli_under_datapkg_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert top == {"datapkg", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}
    for init in [*ROOT.glob("datapkg/**/__init__.py")]:
        assert init.relative_to(ROOT).as_posix() in names
    for module in ROOT.glob("cli/*.py"):
        assert f"datapkg/cli/{module.name}" in names
    entry = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "dpkg = datapkg.cli.entry:run" in entry


@pytest.mark.slow
def test_installed_wheel_runs_dpkg_and_has_no_top_level_cli(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    assert _run(sys.executable, "-m", "venv", venv, cwd=tmp_path).returncode == 0
    # the dependencies come from this test's own environment (a path entry, not its .pth files)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = _run(venv / "bin" / "python", "-m", "pip", "install", "--no-deps", "--disable-pip-version-check", wheel,
                cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    no_cli = _run(venv / "bin" / "python", "-c", "import cli", cwd=tmp_path)
    assert no_cli.returncode == 1 and "No module named 'cli'" in no_cli.stderr
    where = _run(venv / "bin" / "python", "-c", "import datapkg.cli.main as m; print(m.__file__)", cwd=tmp_path)
    assert where.stdout.strip().startswith(str(site)), where.stdout + where.stderr
    help_ = _run(venv / "bin" / "dpkg", "--help", cwd=tmp_path)
    assert help_.returncode == 0 and "validate" in help_.stdout, help_.stderr
    valid = _run(venv / "bin" / "dpkg", "validate", ROOT, "--format", "json", cwd=tmp_path)
    assert valid.returncode == 0, valid.stdout[-2000:] + valid.stderr


def test_readme_shows_how_to_install_the_tool_alone() -> None:
    section = README.split("## Installing the tool alone", 1)[1].split("\n## ", 1)[0]
    assert "pip wheel --no-deps" in section and re.search(r"pip install .*git\+", section)
    assert "datapkg.cli" in section

"""CI in one line for any package: the composite action, the pre-commit hook, this repository's workflow."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.packages import table, write_package

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "github_action.sh"
DPKG = str(Path(sys.executable).with_name("dpkg"))
ID = {"name": "id", "type": "integer"}


def load_yaml(rel: str) -> dict:
    return yaml.safe_load((ROOT / rel).read_text(encoding="utf-8"))


# --- the composite action ----------------------------------------------------------------------

def test_action_yml_is_a_composite_action_with_path_and_format() -> None:
    action = load_yaml("action.yml")
    assert {"name", "description", "inputs", "outputs", "runs"} <= set(action)
    assert action["inputs"]["path"]["default"] == "." and action["inputs"]["format"]["default"] == "github"
    assert all("description" in spec for spec in action["inputs"].values())
    runs = action["runs"]
    assert runs["using"] == "composite"
    for step in runs["steps"]:
        assert ("uses" in step) != ("run" in step), step
        assert "run" not in step or step["shell"] == "bash", step  # composite run steps must name a shell
    validate = next(s for s in runs["steps"] if s.get("id") == "validate")
    assert validate["env"] == {"DPKG": "${{ runner.temp }}/dpkg-venv/bin/dpkg", "INPUT_PATH": "${{ inputs.path }}",
                               "INPUT_FORMAT": "${{ inputs.format }}"}
    assert "$GITHUB_ACTION_PATH/scripts/github_action.sh" in validate["run"]
    install = next(s for s in runs["steps"] if "pip install" in s.get("run", ""))
    assert "requirements.lock" in install["run"] and "dpkg-venv" in install["run"]
    for name, output in action["outputs"].items():
        assert output["value"] == "${{ steps.validate.outputs.%s }}" % name
    assert os.access(SCRIPT, os.X_OK)


def run_action(workspace: Path, tmp_path: Path, **inputs: str) -> tuple[subprocess.CompletedProcess, str, str]:
    """Run the action's script with the environment GitHub sets for a step."""
    summary, output = tmp_path / "step_summary.md", tmp_path / "github_output"
    summary.write_text(""), output.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_"))} | {
        "GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output), "GITHUB_ACTION_PATH": str(ROOT),
        "RUNNER_TEMP": str(tmp_path), "DPKG": DPKG} | {f"INPUT_{k.upper()}": v for k, v in inputs.items()}
    result = subprocess.run([str(SCRIPT)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    return result, summary.read_text(), output.read_text()


def test_action_script_annotates_an_invalid_package(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    write_package(workspace / "pkg", [table("t", "data/t.csv", [ID])], {"data/t.csv": "id\n1\nx\n"})
    result, summary, output = run_action(workspace, tmp_path, path="pkg", format="github")
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[0].startswith("::error file=pkg/data/t.csv,line=3,title=type-error (id)::row 3: ")
    assert "| pkg/data/t.csv | 3 | id | type-error |" in summary
    assert output.splitlines() == ["valid=false", "exit-code=1"]


def test_action_script_on_a_valid_package_and_other_formats(tmp_path: Path) -> None:
    # a valid package without a table: the script's handling of "valid" does not depend on which
    # checks ran, and dpkg does not start GX for it (2.5 CPU-s less per run; the test above has one)
    write_package(tmp_path / "ws", [{"name": "notes", "path": "notes.txt"}], {"notes.txt": "a note\n"})
    result, summary, output = run_action(tmp_path / "ws", tmp_path)  # the defaults: path ".", format github
    assert result.returncode == 0 and result.stdout.strip() == "::notice title=dpkg validate::valid"
    assert summary.startswith("## dpkg validate: ✅ valid") and output.splitlines() == ["valid=true", "exit-code=0"]
    result, summary, output = run_action(tmp_path / "ws", tmp_path, format="junit")
    assert result.returncode == 0 and result.stdout.startswith('<?xml version="1.0"')
    assert summary == "## dpkg validate\n\n✅ `.` is a valid data package (exit 0)\n"


def test_action_script_on_unusable_input(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    result, summary, output = run_action(tmp_path / "ws", tmp_path, path="missing")
    assert result.returncode == 2
    assert result.stdout.strip() == "::error title=dpkg validate::dpkg: error: missing: no such file or folder"
    assert "could not be validated: dpkg: error: missing: no such file or folder (exit 2)" in summary
    assert output.splitlines() == ["valid=false", "exit-code=2"]
    result, _, _ = run_action(tmp_path / "ws", tmp_path, format="xml")
    assert result.returncode == 2 and "format must be text, json, github or junit" in result.stdout


# --- this repository's workflow --------------------------------------------------------------

def test_workflow_runs_the_readme_commands_and_releases_on_a_tag() -> None:
    workflow = load_yaml(".github/workflows/ci.yml")
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as true
    assert triggers["push"]["tags"] == ["v*"] and "pull_request" in triggers
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = re.search(r"```sh\n(.*?)```", readme, flags=re.S).group(1)
    readme_commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    test_runs = [step.get("run") for step in workflow["jobs"]["test"]["steps"] if "run" in step]
    assert test_runs[:2] == readme_commands == ["make", "make test"]
    release = workflow["jobs"]["release"]
    assert release["if"] == "startsWith(github.ref, 'refs/tags/v')" and release["needs"] == "test"
    assert release["permissions"] == {"contents": "write"}
    runs = "\n".join(step.get("run", "") for step in release["steps"])
    assert ".venv/bin/dpkg build . --out dist" in runs and ".venv/bin/dpkg verify dist" in runs
    assert "gh release create" in runs
    for job in workflow["jobs"].values():
        assert job["runs-on"] == "ubuntu-latest"
        assert all(("uses" in step) != ("run" in step) for step in job["steps"])


# --- the pre-commit hook ---------------------------------------------------------------------

HOOK_REPO_FILES = (".pre-commit-hooks.yaml", "pyproject.toml", "setup.py", "README.md", "LICENSE", "datapkg", "cli")


def git(cwd: Path, *args: str) -> str:
    env = os.environ | {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@example.org"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def test_pre_commit_hooks_file_structure() -> None:
    hooks = load_yaml(".pre-commit-hooks.yaml")
    assert [h["id"] for h in hooks] == ["dpkg-validate"]
    hook = hooks[0]
    assert hook["entry"] == "dpkg validate" and hook["args"] == ["."] and hook["language"] == "python"
    assert hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    assert all(files.search(p) for p in ("datapackage.json", "resources/a.csv", "pkg/schemas/a.json", "seeds/x.txt"))
    assert not any(files.search(p) for p in ("README.md", "datapkg/report.py"))


@pytest.mark.slow
def test_pre_commit_runs_the_hook_on_staged_changes(tmp_path: Path) -> None:
    """A scratch repository uses the hook from a clone of this one: a broken staged table fails the commit."""
    hook_repo = tmp_path / "hook-repo"
    hook_repo.mkdir()
    for name in HOOK_REPO_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, hook_repo / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, hook_repo / name)
    git(hook_repo, "init", "-q")
    git(hook_repo, "add", ".")
    git(hook_repo, "commit", "-q", "-m", "hook")
    rev = git(hook_repo, "rev-parse", "HEAD")

    data = tmp_path / "data"
    write_package(data, [table("t", "resources/t.csv", [ID])], {"resources/t.csv": "id\n1\n"})
    (data / ".pre-commit-config.yaml").write_text(yaml.safe_dump(
        {"repos": [{"repo": str(hook_repo), "rev": rev, "hooks": [{"id": "dpkg-validate"}]}]}))
    git(data, "init", "-q")
    git(data, "add", ".")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"} | {"PRE_COMMIT_HOME": str(tmp_path / "cache"),
                                                                         "PIP_CONSTRAINT": str(ROOT / "requirements.lock")}
    pre_commit = [sys.executable, "-m", "pre_commit", "run"]

    def run() -> subprocess.CompletedProcess:
        return subprocess.run(pre_commit, cwd=data, env=env, capture_output=True, text=True, timeout=1800)

    result = run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dpkg validate (fast, without Great Expectations)" in result.stdout and "Passed" in result.stdout
    (data / "resources" / "t.csv").write_text("id\n1\nx\n")
    git(data, "add", "resources/t.csv")
    result = run()
    assert result.returncode == 1 and "Failed" in result.stdout
    assert 'row 3, field "id": type-error: "x" is not a valid value for field "id"' in result.stdout
    # the staged content is what counts: a fixed table staged, a broken one left unstaged, passes
    (data / "resources" / "t.csv").write_text("id\n1\n2\n")
    git(data, "add", "resources/t.csv")
    (data / "resources" / "t.csv").write_text("id\n1\nbroken\n")
    result = run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert (data / "resources" / "t.csv").read_text() == "id\n1\nbroken\n"  # pre-commit restored the unstaged change

"""Issue 16 item 4: package strings never drive the curator's terminal (one escaping function)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datapkg.cli.main import app
from datapkg.safe_text import json_safe, markup_safe, visible
from tests.packages import table, write_package

runner = CliRunner()
HOSTILE = "a\x1b]0;owned\x07\x1b[2J\u202eevil\x9b31m[bold]b"
RAW = ("\x1b", "\x07", "\u202e", "\x9b")
FORGED = "valid: no errors, 0 warning(s)"


def test_visible_shows_every_control_and_bidi_character():
    assert visible(HOSTILE) == "a\\x1b]0;owned\\x07\\x1b[2J\\u202eevil\\x9b31m[bold]b"
    assert visible("line\nnext\r\t") == "line\\nnext\\r\\t"
    assert visible("\u2066\u2069\u200f\u2028\ufeff\x7f") == "\\u2066\\u2069\\u200f\\u2028\\ufeff\\x7f"
    assert visible("Пхеньян 평양 — ok") == "Пхеньян 평양 — ok"  # other text is left alone
    assert markup_safe("[bold]x[/]") == "\\[bold]x\\[/]"


def test_json_safe_is_the_same_data():
    text = json.dumps({"v": HOSTILE, "k": "평양"}, ensure_ascii=False, indent=2)
    safe = json_safe(text)
    assert json.loads(safe) == {"v": HOSTILE, "k": "평양"} and not any(c in safe for c in RAW)


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """An invalid package whose cell, field name and (missing) file name carry escapes and a forged line."""
    fields = [{"name": "id", "type": "integer"}, {"name": "n\u202eote", "type": "integer"}]
    forged_file = f"data/x\n{FORGED}\n.csv"
    write_package(tmp_path, [table("t", "data/t.csv", fields), table("u", forged_file, [{"name": "id"}])],
                  {"data/t.csv": f'id,n\u202eote\n1,"{HOSTILE}"\n'})
    return tmp_path


@pytest.mark.parametrize("fmt", ["text", "github", "junit", "json"])
def test_reports_escape_package_strings(hostile: Path, fmt: str):
    result = runner.invoke(app, ["validate", str(hostile), "--format", fmt])
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert not any(c in out for c in RAW), out
    assert FORGED not in out.splitlines()
    if fmt == "text":
        assert "\\x1b]0;owned\\x07" in out and "x\\nvalid: no errors" in out and 'field "n\\u202eote"' in out
    if fmt == "json":
        values = [f["value"] for f in json.loads(out)["errors"] if f["value"]]
        assert HOSTILE in values  # the same data, written with escapes


def test_error_messages_escape_package_strings(tmp_path: Path):
    write_package(tmp_path, [table("t", "/abs\x1b[2J/\u202ex.csv", [{"name": "id"}])], {})
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 2
    assert not any(c in result.stderr for c in RAW) and "\\x1b[2J/\\u202ex.csv" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_query_outputs_escape_cells_and_headers(tmp_path: Path):
    write_package(tmp_path, [table("t", "t.csv", [{"name": "id"}, {"name": "v"}])], {"t.csv": f'id,v\n1,"{HOSTILE}"\n'})
    for fmt in ("table", "markdown", "json", "jsonl"):
        result = runner.invoke(app, ["query", "-p", str(tmp_path), "--format", fmt, 'SELECT v AS "h\x1b[1m", v FROM t'])
        assert result.exit_code == 0, result.output
        assert not any(c in result.stdout for c in RAW), (fmt, result.stdout)
    csv = runner.invoke(app, ["query", "-p", str(tmp_path), "--format", "csv", "SELECT v FROM t"])
    assert HOSTILE in csv.stdout  # into a pipe, CSV is the exact data
    schema = runner.invoke(app, ["tables", "-p", str(tmp_path)])
    assert not any(c in schema.stdout for c in RAW)


def test_progress_steps_never_interpret_markup(monkeypatch: pytest.MonkeyPatch):
    from rich.progress import Progress

    from datapkg.cli.terminal import progress_steps

    seen: list[str] = []
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(Progress, "update", lambda self, task, description=None, **_: seen.append(description))
    monkeypatch.setattr(Progress, "start", lambda self: None)
    monkeypatch.setattr(Progress, "stop", lambda self: None)
    with progress_steps("dpkg validate", enabled=True) as step:
        step("loading [bold]t\x1b[2J")
    assert seen == ["loading \\[bold]t\\x1b[2J"]

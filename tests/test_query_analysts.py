"""The three example queries of the README's "For analysts" section run on this package and give sound answers."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datapkg.cli.main import app


def example_queries(repo_root: Path) -> list[str]:
    text = (repo_root / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## For analysts", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.S)


def run(repo_root: Path, sql: str) -> list[dict]:
    result = CliRunner().invoke(app, ["query", "-p", str(repo_root), "--dist", str(repo_root / "no-dist"),
                                      "-F", "json", "-q", sql])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DPKG_CACHE_DIR", str(tmp_path / "cache"))


def test_three_examples(repo_root: Path) -> None:
    assert len(example_queries(repo_root)) == 3


def test_meetings_with_participants(repo_root: Path) -> None:
    rows = run(repo_root, example_queries(repo_root)[0])
    with (repo_root / "resources" / "meetings.csv").open(encoding="utf-8") as handle:
        meetings = list(csv.DictReader(handle))
    with (repo_root / "resources" / "meeting_participants.csv").open(encoding="utf-8") as handle:
        with_participants = {r["meeting_id"] for r in csv.DictReader(handle)}
    assert {r["meeting_id"] for r in rows} == {m["meeting_id"] for m in meetings} & with_participants
    assert all(r["participants"] for r in rows)


def test_money_figures_with_quotes(repo_root: Path) -> None:
    rows = run(repo_root, example_queries(repo_root)[1])
    with (repo_root / "resources" / "figures.csv").open(encoding="utf-8") as handle:
        money = {r["figure_id"] for r in csv.DictReader(handle) if r["unit_kind"] == "currency"}
    assert rows and {r["figure_id"] for r in rows} == money
    assert all(r["quote_en"] and r["headline"] for r in rows)
    assert [r["value"] for r in rows] == sorted((r["value"] for r in rows), reverse=True)


def test_full_text_search(repo_root: Path) -> None:
    rows = run(repo_root, example_queries(repo_root)[2])
    with (repo_root / "resources" / "articles.csv").open(encoding="utf-8") as handle:
        articles = {r["article_id"]: r["path"] for r in csv.DictReader(handle)}
    assert {r["article_id"] for r in rows} == set(articles)
    for row in rows:
        text = (repo_root / articles[row["article_id"]]).read_text(encoding="utf-8").lower()
        assert row["nuklir_mentions"] == text.count("nuklir")
        assert row["facts"] >= 0

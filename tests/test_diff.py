"""``dpkg diff``: rows by primary key, schema and metadata changes, facts, formats, exit codes, --git."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datapkg.cli.main import app
from datapkg.diff import diff_packages
from datapkg.diff_render import md, to_markdown, to_text
from tests.curatedpkg import CITATIONS, EVENTS, PEOPLE, curated_package
from tests.packages import table, write_package

runner = CliRunner()


def _plain(root: Path, rows: str, *, pk: bool = True, types: dict[str, str] | None = None, **descriptor) -> Path:
    types = types or {}
    fields = [{"name": n, "type": types.get(n, "string")} for n in ("id", "name", "score")]
    schema = {"primaryKey": ["id"]} if pk else {}
    write_package(root, [table("items", "items.csv", fields, **schema)], {"items.csv": "id,name,score\n" + rows},
                  **descriptor)
    return root


def test_rows_matched_by_primary_key(tmp_path: Path) -> None:
    old = _plain(tmp_path / "old", "1,alpha,10\n2,beta,20\n3,gamma,30\n")
    new = _plain(tmp_path / "new", "1,alpha,10\n2,BETA,21\n4,delta,40\n")
    result = diff_packages(old, new)
    items = next(r for r in result.resources if r.name == "items")
    rows = items.rows
    assert rows.key == ["id"]
    assert (rows.added_count, rows.removed_count, rows.changed_count) == (1, 1, 1)
    assert rows.added == [{"id": "4", "name": "delta", "score": "40"}]
    assert rows.removed == [{"id": "3", "name": "gamma", "score": "30"}]
    assert rows.changed[0].key == {"id": "2"}
    assert [(c.field, c.old, c.new) for c in rows.changed[0].changes] == [("name", "beta", "BETA"), ("score", "20", "21")]
    assert result.differs


def test_typed_comparison_ignores_a_respelled_number(tmp_path: Path) -> None:
    old = _plain(tmp_path / "old", "1,alpha,10\n", types={"score": "number"})
    new = _plain(tmp_path / "new", "1,alpha,10.0\n", types={"score": "number"})
    assert not diff_packages(old, new).differs


def test_without_primary_key_rows_compared_whole(tmp_path: Path) -> None:
    old = _plain(tmp_path / "old", "1,alpha,10\n2,beta,20\n", pk=False)
    new = _plain(tmp_path / "new", "1,alpha,10\n2,beta,21\n", pk=False)
    rows = next(r for r in diff_packages(old, new).resources if r.name == "items").rows
    assert rows.key == [] and "no primary key" in rows.key_note
    assert rows.added == [{"id": "2", "name": "beta", "score": "21"}]
    assert rows.removed == [{"id": "2", "name": "beta", "score": "20"}]
    assert rows.changed_count == 0
    assert "no primary key: rows compared whole" in to_text(diff_packages(old, new))


def test_duplicate_key_falls_back_to_whole_rows(tmp_path: Path) -> None:
    old = _plain(tmp_path / "old", "1,alpha,10\n1,beta,20\n")
    new = _plain(tmp_path / "new", "1,alpha,10\n")
    rows = next(r for r in diff_packages(old, new).resources if r.name == "items").rows
    assert rows.key_note == "primary key id not unique in OLD: rows compared whole"
    assert rows.removed_count == 1


def test_fields_added_removed_retyped_and_metadata(tmp_path: Path) -> None:
    old = _plain(tmp_path / "old", "1,alpha,10\n", version="1.0.0",
                 licenses=[{"name": "CC0-1.0"}], sources=[{"title": "A"}])
    new = tmp_path / "new"
    fields = [{"name": "id", "type": "string"}, {"name": "score", "type": "integer"}, {"name": "extra", "type": "string"}]
    write_package(new, [table("items", "items.csv", fields, primaryKey=["id"])], {"items.csv": "id,score,extra\n1,10,x\n"},
                  version="1.1.0", licenses=[{"name": "CC-BY-4.0"}], sources=[{"title": "A"}, {"title": "B"}])
    result = diff_packages(old, new)
    items = next(r for r in result.resources if r.name == "items")
    assert items.fields_added == ["extra"] and items.fields_removed == ["name"]
    assert [(c.field, c.old, c.new) for c in items.fields_retyped] == [("score", "string", "integer")]
    assert items.rows.changed_count == 0  # 10 == 10 across the retyping; the new column is no row change
    meta = {c.field: (c.old, c.new) for c in result.metadata}
    assert meta["version"] == ("1.0.0", "1.1.0")
    assert meta["licenses[name=CC0-1.0]"] == ({"name": "CC0-1.0"}, None)
    assert meta["licenses[name=CC-BY-4.0]"] == (None, {"name": "CC-BY-4.0"})
    assert meta["sources[title=B]"] == (None, {"title": "B"})
    assert "sources[title=A]" not in meta


def test_resource_added_and_removed(tmp_path: Path) -> None:
    old = _plain(tmp_path / "old", "1,alpha,10\n")
    new = tmp_path / "new"
    write_package(new, [table("other", "o.csv", [{"name": "k", "type": "string"}], primaryKey=["k"])], {"o.csv": "k\na\nb\n"})
    result = diff_packages(old, new)
    status = {r.name: (r.status, r.rows.added_count, r.rows.removed_count) for r in result.resources}
    assert status == {"other": ("added", 2, 0), "items": ("removed", 0, 1)}


def test_same_package_is_no_difference(tmp_path: Path) -> None:
    old = curated_package(tmp_path / "old")
    new = curated_package(tmp_path / "new")
    result = diff_packages(old, new)
    assert not result.differs and result.facts.facts == []
    assert to_text(result).endswith("no difference")


# ------------------------------------------------------------------------------------- facts

def test_facts_added_changed_removed_with_quotes(tmp_path: Path) -> None:
    old = curated_package(tmp_path / "old")
    events = [dict(EVENTS[0], place="Vostochny cosmodrome"), {"event_id": "e-2025", "place": "Moscow", "summary_en": "A new summit"}]
    cites = [c for c in CITATIONS if c[0] not in ("cit-0005", "cit-0006")]
    cites[1] = cites[1][:4] + ("Vladimir Putin in Vostochny on 13 September 2023", "Putin in Vostochny, 13 Sep 2023")
    cites.append(("cit-0007", "events", "e-2025", "art-2", "Kim met him at the airport", "Kim met him at the airport"))
    new = curated_package(tmp_path / "new", events=events, citations=cites, corrections=[])
    facts = {(f.resource, f.record_id): f for f in diff_packages(old, new).facts.facts}
    added = facts[("events", "e-2025")]
    assert added.status == "added" and added.english == "A new summit"
    assert [(c.citation_id, c.status, c.quote) for c in added.citations] == [("cit-0007", "added", "Kim met him at the airport")]
    removed = facts[("events", "e-2024")]
    assert removed.status == "removed" and [c.citation_id for c in removed.citations] == ["cit-0005"]
    changed = facts[("events", "e-2023")]
    assert [(c.field, c.old, c.new) for c in changed.changes] == [("place", "Vostochny", "Vostochny cosmodrome")]
    quote = next(c for c in facts[("people", "p-putin")].citations if c.citation_id == "cit-0002")
    assert (quote.status, quote.old_quote, quote.quote) == ("changed", "Vladimir Putin in Vostochny",
                                                            "Vladimir Putin in Vostochny on 13 September 2023")
    assert quote.old_quote_en == "Vladimir Putin in Vostochny"
    gone = next(c for c in facts[("people", "p-putin")].citations if c.citation_id == "cit-0006")
    assert gone.status == "removed"
    assert facts[("people", "p-putin")].flag is None  # cit-0002 still cites it


def test_record_whose_citations_all_went_away_is_flagged(tmp_path: Path) -> None:
    old = curated_package(tmp_path / "old")
    new = curated_package(tmp_path / "new", citations=[c for c in CITATIONS if c[2] != "p-putin"])
    result = diff_packages(old, new)
    fact = next(f for f in result.facts.facts if f.record_id == "p-putin")
    assert fact.status == "changed" and fact.flag == "every citation of this record went away"
    assert {c.status for c in fact.citations} == {"removed"}
    assert result.facts.flagged == 1
    assert "! every citation of this record went away" in to_text(result)
    assert "⚠️ **every citation of this record went away**" in to_markdown(result)


def test_no_fact_summary_without_citation_model(tmp_path: Path) -> None:
    old = _plain(tmp_path / "old", "1,alpha,10\n")
    new = _plain(tmp_path / "new", "1,alpha,11\n")
    assert diff_packages(old, new).facts is None


# ----------------------------------------------------------------------------- escaping, CLI

def test_markdown_and_terminal_escape_package_strings(tmp_path: Path) -> None:
    old = _plain(tmp_path / "old", "1,alpha,10\n")
    new = _plain(tmp_path / "new", '1,"<script>x</script> | @octocat *b* \x1b[31m",10\n')
    result = diff_packages(old, new)
    markdown = to_markdown(result)
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown
    assert "@octocat" not in markdown and "&#64;octocat" in markdown
    assert "\\| " in markdown and "\\*b\\*" in markdown
    text = to_text(result)
    assert "\x1b[31m" not in text and "\\x1b[31m" in text
    assert md("a\nb") == "a b"


def test_cli_exit_codes_and_formats(tmp_path: Path) -> None:
    old = _plain(tmp_path / "old", "1,alpha,10\n")
    new = _plain(tmp_path / "new", "1,alpha,11\n")
    same = runner.invoke(app, ["diff", str(old), str(old)])
    assert same.exit_code == 0 and "no difference" in same.output
    differ = runner.invoke(app, ["diff", str(old), str(new)])
    assert differ.exit_code == 1 and 'score: "10" → "11"' in differ.output
    assert runner.invoke(app, ["diff", str(old), str(new), "--exit-zero"]).exit_code == 0
    body = json.loads(runner.invoke(app, ["diff", str(old), str(new), "--format", "json"]).output)
    assert body["differs"] is True and body["summary"]["rows_changed"] == 1
    assert body["resources"][0]["rows"]["changed"][0]["changes"] == [{"field": "score", "old": "10", "new": "11"}]
    markdown = runner.invoke(app, ["diff", str(old), str(new), "-f", "markdown"])
    assert "| ✏️ | 1 | score | 10 | 11 |" in markdown.output


def test_cli_bad_input_exits_2_in_one_line(tmp_path: Path) -> None:
    old = _plain(tmp_path / "old", "1,alpha,10\n")
    missing = runner.invoke(app, ["diff", str(old), str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "no such file or folder" in missing.output
    assert len(missing.output.strip().splitlines()) == 1
    assert runner.invoke(app, ["diff", str(old)]).exit_code == 2
    url = runner.invoke(app, ["diff", str(old), "https://example.org/x.zip"])
    assert url.exit_code == 2 and "--allow-remote" in url.output
    assert runner.invoke(app, ["diff", "--git", "HEAD", str(old), str(old)]).exit_code == 2


@pytest.mark.xdist_group("build-release")  # conftest's curated_release is built once on that worker
def test_zip_and_release_folder_inputs(tmp_path: Path, curated_release) -> None:
    release = curated_release[1].out  # dpkg build of curated_package() (the old version), only read
    new = curated_package(tmp_path / "new", events=[dict(EVENTS[0], place="Vostochny cosmodrome"), EVENTS[1]])
    zip_path = next(release.glob("*.zip"))
    assert zipfile.is_zipfile(zip_path)
    for version in (zip_path, release):
        result = diff_packages(version, new)
        changed = [r.name for r in result.resources if r.differs]
        assert changed == ["events"], (version, changed)


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(cwd), "PATH": "/usr/bin:/bin"})


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_revision_against_working_tree(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    package = curated_package(repo / "pkg")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "first")
    curated_package(package, people=[PEOPLE[0], {"person_id": "p-putin", "name_en": "V. V. Putin"}])
    out = runner.invoke(app, ["diff", "--git", "HEAD", str(package)])
    assert out.exit_code == 1, out.output
    assert 'name_en: "Vladimir Putin" → "V. V. Putin"' in out.output
    bad = runner.invoke(app, ["diff", "--git", "no-such-rev", str(package)])
    assert bad.exit_code == 2 and "no such revision" in bad.output
    assert runner.invoke(app, ["diff", "--git", "--upload-pack=x", str(package)]).exit_code == 2


@pytest.mark.xdist_group("build-release")  # conftest's curated_release is built once on that worker
def test_build_previous_writes_changes_md(tmp_path: Path, curated_release) -> None:
    from datapkg.build import build

    previous = curated_release[1].out  # dpkg build of curated_package() (version 1.0.0), only read
    new = curated_package(tmp_path / "new", events=[dict(EVENTS[0], place="Vostochny cosmodrome"), EVENTS[1]],
                          version="1.1.0")
    result = build(new, tmp_path / "dist-new", force=True, previous=str(previous))
    changes = (tmp_path / "dist-new" / "CHANGES.md").read_text(encoding="utf-8")
    assert "CHANGES.md" in result.artefacts
    assert "CHANGES.md" in (tmp_path / "dist-new" / "SHA256SUMS").read_text()
    assert "| version | 1\\.0\\.0 | 1\\.1\\.0 |" in changes
    assert "place: Vostochny → Vostochny cosmodrome" in changes
    plain = build(new, tmp_path / "dist-plain", force=True)
    assert "CHANGES.md" not in plain.artefacts


def test_workflow_posts_the_markdown_diff(repo_root: Path) -> None:
    import yaml

    workflow = yaml.safe_load((repo_root / ".github" / "workflows" / "diff.yml").read_text())
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as True
    steps = [s.get("run", "") for s in workflow["jobs"]["diff"]["steps"]]
    line = next(r for r in steps if "dpkg diff" in r).splitlines()[0]
    help_text = runner.invoke(app, ["diff", "--help"]).output
    for option in ("--git", "--format", "--exit-zero"):
        assert option in line and option in help_text
    assert "markdown" in line and "GITHUB_STEP_SUMMARY" in next(r for r in steps if "dpkg diff" in r)
    assert any("gh pr comment" in r for r in steps)


def test_long_text_change_shown_as_word_diff(tmp_path: Path) -> None:
    long_old = "The two leaders met in the far east of Russia at the cosmodrome and talked for several hours about rockets"
    long_new = long_old.replace("several hours", "five hours")
    old = _plain(tmp_path / "old", f'1,"{long_old}",10\n')
    new = _plain(tmp_path / "new", f'1,"{long_new}",10\n')
    text = to_text(diff_packages(old, new))
    assert 'name: "…at the cosmodrome and talked for [-several-]{+five+} hours about rockets"' in text


def test_json_output_has_no_raw_bidi_or_c1(tmp_path: Path) -> None:
    old = _plain(tmp_path / "old", "1,alpha,10\n")
    new = _plain(tmp_path / "new", "1,al\u202epha\u009b,10\n")
    out = runner.invoke(app, ["diff", str(old), str(new), "--format", "json"]).output
    assert "\u202e" not in out and "\u009b" not in out
    assert json.loads(out)["resources"][0]["rows"]["changed"][0]["changes"][0]["new"] == "al\u202epha\u009b"


@pytest.mark.xdist_group("build-release")  # conftest's curated_release is built once on that worker
def test_release_url_with_allow_remote(tmp_path: Path, curated_release) -> None:
    from tests.release_server import Behaviour, ReleaseServer

    release = curated_release[1].out  # dpkg build of curated_package() (the old version), only read
    new = curated_package(tmp_path / "new", people=[PEOPLE[0], {"person_id": "p-putin", "name_en": "V. Putin"}])
    files = {p.relative_to(release).as_posix(): p.read_bytes() for p in release.rglob("*") if p.is_file()}
    with ReleaseServer(Behaviour(files)) as server:
        out = runner.invoke(app, ["diff", server.url(), str(new), "--allow-remote"])
    assert out.exit_code == 1, out.output
    assert 'name_en: "Vladimir Putin" → "V. Putin"' in out.output


def test_markdown_fact_change_word_by_word(tmp_path: Path) -> None:
    summary = "Summit at the Vostochny cosmodrome in the Amur region, where the two leaders talked for several hours"
    old = curated_package(tmp_path / "old", events=[dict(EVENTS[0], summary_en=summary), EVENTS[1]])
    new = curated_package(tmp_path / "new", events=[dict(EVENTS[0], summary_en=summary.replace("several", "four")),
                                                    EVENTS[1]])
    markdown = to_markdown(diff_packages(old, new))
    assert "talked for <del>several</del><ins>four</ins> hours" in markdown


def test_markdown_cut_to_fit_a_comment(tmp_path: Path) -> None:
    old = _plain(tmp_path / "old", "".join(f"{i},name {i},{i}\n" for i in range(3000)))
    new = _plain(tmp_path / "new", "".join(f"{i},renamed {i},{i}\n" for i in range(3000)))
    markdown = to_markdown(diff_packages(old, new, limit=None), limit=20_000)
    assert len(markdown) <= 20_000
    assert "| ✏️ | 0 | name | name 0 | renamed 0 |" in markdown
    assert markdown.rstrip().endswith("run `dpkg diff --format json` for the whole diff.*")
    assert markdown.count("<details>") == markdown.count("</details>")

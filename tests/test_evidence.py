"""The evidence reader: quotes anchored at their offsets, overlaps, corrections, escaping; and in chromium."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pytest

from datapkg.build import build
from datapkg.evidence import Cite, collect
from datapkg.evidence_html import segments
from datapkg.package_source import open_package
from tests.curatedpkg import CITATIONS, TEXTS, curated_package


def _cite(cid: str, start: int, end: int) -> Cite:
    return Cite(cid, "t", cid, "a", "x" * (end - start), None, start, end, anchor=f"cite-{cid}")


def test_segments_split_overlapping_quotes() -> None:
    a, b, c = _cite("a", 2, 8), _cite("b", 5, 12), _cite("c", 5, 8)
    pieces = [(s, e, [x.cid for x in active]) for s, e, active in segments(15, [a, b, c])]
    assert pieces == [(0, 2, []), (2, 5, ["a"]), (5, 8, ["a", "b", "c"]), (8, 12, ["b"]), (12, 15, [])]


def test_collect_places_every_citation_at_its_offsets(tmp_path: Path) -> None:
    root = curated_package(tmp_path / "pkg")
    with open_package(root) as source:
        evidence = collect(source.root, source.descriptor)
    cites = {c.cid: c for a in evidence.articles for c in a.cites}
    assert len(cites) == len(CITATIONS) and not evidence.unplaced
    assert {c.placed_by for c in cites.values()} == {"offsets"}
    text = TEXTS["art-1"]
    assert text[cites["cit-0004"].start:cites["cit-0004"].end] == "They talked about rockets & <b>satellites</b> for   two hours."
    assert [c["correction_id"] for c in cites["cit-0005"].corrections] == ["cor-1"]
    assert [r.record_id for r in evidence.records["events"]] == ["e-2023", "e-2024"]
    assert evidence.records["events"][0].english == "Summit at the Vostochny cosmodrome"


def test_wrong_offsets_fall_back_to_the_quote_and_a_missing_quote_is_listed(tmp_path: Path) -> None:
    root = curated_package(tmp_path / "pkg")
    path = root / "data" / "citations.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    rows[0]["quote_start"], rows[0]["quote_end"] = "40", "60"  # points at other text
    rows[1]["quote"] = "Words that the article does not have"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    with open_package(root) as source:
        evidence = collect(source.root, source.descriptor)
    placed = {c.cid: c for a in evidence.articles for c in a.cites}
    assert placed["cit-0001"].placed_by == "quote" and placed["cit-0001"].start == 0
    assert [c.cid for c in evidence.unplaced] == ["cit-0002"]
    result = build(root, tmp_path / "dist", force=True)
    assert "evidence: 1 citation(s) not found in their article (listed in evidence/index.html)" in result.warnings
    assert "Citations not found in their article (1)" in (tmp_path / "dist/evidence/index.html").read_text()


@pytest.mark.xdist_group("build-release")  # conftest's curated_release is built once on that worker
def test_build_writes_escaped_self_contained_pages(curated_release) -> None:
    _, result = curated_release  # build(curated_package(), force=True), only read
    dist = result.out
    assert {"evidence/index.html", "evidence/art-1.html", "evidence/art-2.html"} <= set(result.artefacts)
    page = (dist / "evidence/art-1.html").read_text(encoding="utf-8")
    assert "<b>satellites" not in page and "&lt;b&gt;satellites&lt;/b&gt;" in page
    assert "rockets &amp; " in page
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=|@import|url\(", page)  # nothing fetched
    # c1 and c2 overlap: the shared words are one mark that knows both citations
    assert '<mark class="hl d3" tabindex="0" role="button"' in page
    assert re.search(r'data-cites="cite-cit-0003 cite-cit-0001 cite-cit-0002"[^>]*>Vladimir Putin</mark>', page)
    # the correction stands beside the quote it corrects
    art2 = (dist / "evidence/art-2.html").read_text(encoding="utf-8")
    assert re.search(r"19 June 2024</mark><span class=\"correction\" role=\"note\"><b>Correction \(summary_en\):</b> "
                     r"the article says “first visit in 24 years”", art2)
    index = (dist / "evidence/index.html").read_text(encoding="utf-8")
    assert '<li id="fact-events--e-2024"><b>e-2024</b> — Putin&#x27;s state visit to Pyongyang' in index
    assert '<a href="art-2.html#cite-cit-0005">art-2</a>' in index


def test_no_evidence_without_citation_model(tmp_path: Path) -> None:
    from tests.buildpkg import plain_package

    result = build(plain_package(tmp_path / "plain"), tmp_path / "dist", force=True)
    assert not any(a.startswith("evidence/") for a in result.artefacts)
    assert not (tmp_path / "dist" / "evidence").exists()


# ------------------------------------------------------------------------------------ browser

def _citations_by_article(root: Path) -> dict[str, set[str]]:
    with open_package(root) as source:
        resource = next(r for r in source.descriptor["resources"] if r["name"] == "citations")
        path = source.root / resource["path"]
        key = "citation_id"
        by_article: dict[str, set[str]] = {}
        for row in csv.DictReader(path.open(encoding="utf-8")):
            by_article.setdefault(row["article_id"], set()).add(f"cite-{row[key]}")
    return by_article


def _shots_dir(tmp_path: Path) -> Path:
    """Where the screenshots go: $DPKG_SCREENSHOTS when set (to look at them), else the test's folder."""
    folder = Path(os.environ.get("DPKG_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _look(browser, target: Path) -> None:
    """A screenshot that no assertion reads, for a person: taken only when $DPKG_SCREENSHOTS asks for them."""
    if os.environ.get("DPKG_SCREENSHOTS"):
        browser.screenshot(target)


def _check_release(browser, root: Path, release: Path, shots: Path, label: str) -> None:
    evidence = release / "evidence"
    expected = _citations_by_article(root)
    pages = sorted(p for p in evidence.glob("*.html") if p.name != "index.html")
    assert len(pages) == len(expected)
    for page in pages:
        browser.open(page.as_uri())
        cited = browser.js("Array.from(new Set([].concat.apply([], Array.from(document.querySelectorAll('mark.hl'))"
                           ".map(m => m.dataset.cites.split(' ')))))")
        anchors = browser.js("document.querySelectorAll('span.anchor').length")
        article = browser.js("document.querySelector('header p + h1 + p').textContent.split(' · ')[0]")
        assert sorted(cited) == sorted(expected[article]), page.name
        assert anchors == len(expected[article])
        assert browser.js("document.querySelectorAll('.card:not([hidden])').length") == 0
        browser.click("mark.hl")
        visible = browser.js("Array.from(document.querySelectorAll('.card:not([hidden])')).map(c => c.dataset.cite)")
        assert visible and sorted(visible) == sorted(browser.js("document.querySelector('mark.hl.active').dataset.cites.split(' ')"))
        link = browser.js("document.querySelector('.card:not([hidden]) a').href")
        assert "index.html#fact-" in link
        browser.open(link)
        target = link.split("#", 1)[1]
        assert browser.js(f"document.getElementById({target!r}) !== null && document.querySelector(':target').id") == target
        back = browser.js(f"document.getElementById({target!r}).querySelector('ul a').href")
        browser.open(back)  # the index's link to the passage opens the page with that citation shown
        fragment = back.split("#", 1)[1]
        assert browser.js(f"document.getElementById({fragment!r}) !== null")
        assert fragment in browser.js("document.querySelector('mark.hl.active').dataset.cites.split(' ')")
    # keyboard: Tab reaches a highlight, Enter and Space open it
    browser.open(pages[0].as_uri())
    browser.js("document.querySelectorAll('mark.hl')[1].focus()")
    browser.key("Enter")
    assert browser.js("document.activeElement === document.querySelector('mark.hl.active')")
    browser.js("document.querySelectorAll('mark.hl')[2].focus()")
    browser.key(" ")
    assert browser.js("document.querySelectorAll('mark.hl')[2].classList.contains('active')")
    for width, height in ((1280, 1000), (420, 900)):
        browser.open(pages[0].as_uri(), width, height)
        browser.click("mark.hl")
        assert browser.js("document.documentElement.scrollWidth") <= width
        assert browser.screenshot(shots / f"{label}-article-{width}.png").stat().st_size > 10_000
        browser.open((evidence / "index.html").as_uri(), width, height)
        assert browser.js("document.documentElement.scrollWidth") <= width
        _look(browser, shots / f"{label}-index-{width}.png")
        browser.open((release / "dictionary.html").as_uri(), width, height)
        assert browser.js("document.documentElement.scrollWidth") <= width, "the dictionary overflows sideways"
        _look(browser, shots / f"{label}-dictionary-{width}.png")


@pytest.mark.browser
@pytest.mark.xdist_group("build-release")  # shares conftest's repo_release with tests/test_build.py
def test_evidence_pages_in_chromium(tmp_path: Path, repo_root: Path, repo_release, curated_release) -> None:
    from tests.cdp import CHROMIUM, Browser

    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium); run scripts/ensure_chromium.sh")
    shots = _shots_dir(tmp_path)
    fixture, built = curated_release  # curated_package() and its build(force=True), only read
    assert len(list((repo_release.out / "evidence").glob("art-*.html"))) == 5  # this repository's release
    with Browser(tmp_path / "profile") as browser:
        _check_release(browser, fixture, built.out, shots, "fixture")
        _check_release(browser, repo_root, repo_release.out, shots, "repo")


def test_missing_article_text_lists_its_citations(tmp_path: Path) -> None:
    root = curated_package(tmp_path / "pkg")
    (root / "texts" / "art-2.txt").unlink()
    result = build(root, tmp_path / "dist", force=True)
    assert "evidence: 2 citation(s) not found in their article (listed in evidence/index.html)" in result.warnings
    assert sorted(p.name for p in (tmp_path / "dist/evidence").iterdir()) == ["art-1.html", "index.html"]

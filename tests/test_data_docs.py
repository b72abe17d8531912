"""--data-docs: GX's Data Docs show the real expectations and results, offline (no CDN)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from datapkg.checks.gx_checks import run_gx_checks
from datapkg.data_docs import ASSETS, VENDORED
from tests.test_gx_checks import CHILD_HEADER, _package, _rows

#: chromium flags: headless, and every request that leaves the machine fails (a dead proxy, no DNS)
OFFLINE = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--no-first-run", "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("docs")
    rows = _rows()
    rows[2][CHILD_HEADER.index("country")] = "US"
    root, descriptor = _package(tmp / "pkg", rows)
    findings = run_gx_checks(root, descriptor, data_docs=tmp / "site", curation=False)
    assert [(f.check, f.row, f.field) for f in findings] == [("constraint-error", 4, "country")]
    return tmp / "site"


def _validation_page(site: Path, suite: str) -> Path:
    return next(p for p in (site / "validations").rglob("*.html") if p.name.endswith(f"-{suite}.html"))


def test_no_page_loads_anything_from_the_network(site: Path):
    pages = list(site.rglob("*.html"))
    assert len(pages) >= 5  # the index, a page per suite, a page per validation
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert not re.search(r"<(script|link|img)\b[^>]*\b(src|href)=[\"']https?://", html, re.IGNORECASE), page
        for local in re.findall(r"(?:src|href)=\"([^\"]*dpkg-vendor/[^\"]+)\"", html):
            assert (page.parent / local).is_file(), (page, local)
    assert sorted(p.name for p in (site / "static" / "dpkg-vendor").iterdir()) == sorted(set(VENDORED.values()))
    assert all((ASSETS / name).is_file() for name in VENDORED.values())


def test_the_pages_show_the_real_expectations_and_results(site: Path):
    page = _validation_page(site, "child").read_text(encoding="utf-8")
    assert "country" in page and "US" in page  # the failing expectation, with its unexpected value
    cells = (site / "expectations" / "child" / "cells.html").read_text(encoding="utf-8")
    # the cells' suite reads as what it checks (the descriptions of its SQL expectations)
    assert "day parses as date" in cells and "every row has a cell for every field" in cells


@pytest.mark.browser
def test_the_validation_page_renders_in_chromium_with_the_network_off(site: Path, tmp_path: Path):
    from tests.cdp import CHROMIUM, FLAGS, Browser

    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium); run scripts/ensure_chromium.sh")
    offline = tuple(flag for flag in OFFLINE if flag not in FLAGS)
    with Browser(tmp_path / "profile", flags=offline) as browser:
        browser.open(_validation_page(site, "child").as_uri(), 1280, 1400)
        browser.wait_for("document.querySelector('.fixed-table-container') !== null")  # bootstrap-table's JS ran, offline
        dom = browser.js("document.documentElement.outerHTML")
        assert "bootstrap-table" in dom and "fixed-table-container" in dom
        assert "country" in dom and "US" in dom
        shot = browser.screenshot(tmp_path / "validation.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000

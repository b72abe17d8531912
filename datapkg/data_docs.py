"""Data Docs that work offline: GX's pages load their CSS and JavaScript from CDNs.

:func:`make_offline` copies the vendored files (``datapkg/data_docs_assets/``, see its README)
into the site and points every page at them; the tags of the CDN files that are not vendored
(icons, charts, a dark theme) are removed, so that a page never reaches for the network.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

ASSETS = Path(__file__).with_name("data_docs_assets")
VENDOR = Path("static") / "dpkg-vendor"
#: CDN address -> vendored file name.
VENDORED = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "bootstrap-table-filter-control.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        "bootstrap-table-filter-control.min.css",
}
#: A ``<script src=…>``, ``<link href=…>`` or ``<img src=…>`` tag that loads anything from the network.
REMOTE_TAG = re.compile(r"""<script\b[^>]*\bsrc=["']https?://[^>]*>\s*</script>|<(?:link|img)\b[^>]*\b(?:href|src)=["']https?://[^>]*>""",
                        re.IGNORECASE)


def make_offline(site: Path) -> None:
    """Rewrite every HTML page under ``site`` to load only files inside ``site``."""
    target = site / VENDOR
    target.mkdir(parents=True, exist_ok=True)
    for name in sorted(set(VENDORED.values())):
        shutil.copyfile(ASSETS / name, target / name)
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        prefix = os.path.relpath(target, page.parent).replace(os.sep, "/")
        for url, name in VENDORED.items():
            html = html.replace(f'"{url}"', f'"{prefix}/{name}"')
        page.write_text(REMOTE_TAG.sub("", html), encoding="utf-8")

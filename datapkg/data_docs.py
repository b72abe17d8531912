"""GX Data Docs for ``dpkg validate --data-docs DIR``, and pages that work offline.

:func:`validate_with_docs` validates the suites through a GX Checkpoint whose action writes Data
Docs. GX's pages load their CSS and JavaScript from CDNs:
:func:`make_offline` copies the vendored files (``datapkg/data_docs_assets/``, see its README)
into the site and points every page at them; the tags of the CDN files that are not vendored
(icons, charts, a dark theme) are removed, so that a page never reaches for the network.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datapkg.loader import LoadedTable
    from datapkg.report import Finding

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


def share_compiled_templates() -> None:
    """Make GX's Data Docs views compile each of GX's page templates once per process.

    Each view (``great_expectations.render.view.view.DefaultJinjaView``) makes its own jinja2
    ``Environment``, so every page part parsed and compiled its templates again: half the time of
    ``--data-docs``. Their environments now share one in-memory bytecode cache (jinja2's own
    mechanism, keyed by template name and source). Raises AttributeError if GX stops building its
    environments there (tests/test_data_docs_templates.py)."""
    import jinja2
    from great_expectations.render.view import view

    if not (isinstance(view.Environment, type) and issubclass(view.Environment, jinja2.Environment)):
        raise AttributeError("great_expectations.render.view.view.Environment is no longer jinja2's Environment")
    view.Environment = _shared_environment()


@functools.cache
def _shared_environment() -> type:
    """jinja2's Environment with one in-memory bytecode cache for all its instances."""
    import jinja2

    class MemoryBytecodeCache(jinja2.BytecodeCache):
        def __init__(self) -> None:
            self.compiled: dict[str, bytes] = {}

        def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            if bucket.key in self.compiled:
                bucket.bytecode_from_string(self.compiled[bucket.key])

        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            self.compiled[bucket.key] = bucket.bytecode_to_string()

    cache = MemoryBytecodeCache()

    class SharedCacheEnvironment(jinja2.Environment):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("bytecode_cache", cache)
            super().__init__(*args, **kwargs)

    return SharedCacheEnvironment


def validate_with_docs(context: Any, run: str, suites: list[tuple[dict[str, Any], LoadedTable]], batches: list[Any],
                       data_docs: Path) -> list[Finding]:
    """Validate through a GX Checkpoint whose action writes Data Docs, then publish them (offline) in ``data_docs``."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    share_compiled_templates()
    from datapkg.checks.gx_checks import gx_suite, result_format, suite_findings
    from datapkg.owned_dir import DATA_DOCS, replace_owned_dir

    site = f"{run}-docs"
    data_docs.parent.mkdir(parents=True, exist_ok=True)
    docs_tmp = Path(tempfile.mkdtemp(prefix=f".{data_docs.name}.", dir=data_docs.parent))
    context.add_data_docs_site(site_name=site, site_config={
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_tmp)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"}})
    definitions, by_name = [], {}
    try:
        for (plain, table), batch_definition in zip(suites, batches, strict=True):
            name = f"{run}-{plain['name']}"
            suite = context.suites.add(gx_suite(plain, plain["name"] if plain["name"] not in context.suites.all() else name))
            definitions.append(context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)))
            by_name[suite.name] = (plain, table)
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=run, validation_definitions=definitions, result_format=result_format(),
            actions=[UpdateDataDocsAction(name="docs", site_names=[site])]))
        findings: list[Finding] = []
        if definitions:
            for run_result in checkpoint.run().run_results.values():
                plain, table = by_name[run_result.suite_name]
                findings += suite_findings(plain, table, run_result.results)
        else:
            context.build_data_docs(site_names=[site])  # an index that says nothing ran
        make_offline(docs_tmp)
        with replace_owned_dir(data_docs, DATA_DOCS, "--data-docs") as target:
            shutil.copytree(docs_tmp, target.tmp, dirs_exist_ok=True)
        return findings
    finally:
        forget_docs_run(context, run, definitions, site)
        shutil.rmtree(docs_tmp, ignore_errors=True)


def forget_docs_run(context: Any, run: str, definitions: list[Any], site: str) -> None:
    """Remove what a Data Docs run added to the long-lived context."""
    if any(c.name == run for c in context.checkpoints.all()):
        context.checkpoints.delete(run)
    for definition in definitions:
        context.validation_definitions.delete(definition.name)
        context.suites.delete(definition.suite.name)
    context.variables.data_docs_sites.pop(site, None)

"""``validate_package``: run every check on a package and gather the findings in one Report."""

from __future__ import annotations

import time
from pathlib import Path

from datapkg.checks.curation import run_curation_checks
from datapkg.checks.files import run_file_checks
from datapkg.checks.frictionless_checks import run_frictionless_checks
from datapkg.package_source import open_package
from datapkg.report import Report


def validate_package(path: str | Path = ".", *, gx: bool = True, max_errors: int | None = None,
                     allow_remote: bool = False, data_docs: Path | None = None) -> Report:
    """Validate the package at ``path`` (folder, descriptor or zip) with every check.

    Raises :class:`datapkg.errors.UsageError` when the input cannot be checked at all.
    Content rules (curation, Great Expectations) run only on a descriptor frictionless accepts.
    """
    started = time.perf_counter()
    report = Report()
    with open_package(path, allow_remote=allow_remote) as source:
        findings, stats = run_frictionless_checks(source, max_errors=max_errors)
        report.extend(findings)
        report.extend(run_file_checks(source))
        descriptor_ok = not any(f.resource is None and f.severity == "error" for f in findings)
        if descriptor_ok:
            report.extend(run_curation_checks(source.root, source.descriptor))
        report.stats.update(stats)
        report.stats["package"] = source.descriptor.get("name")
        report.stats["descriptor"] = source.descriptor_name
        report.stats["root"] = None if source._tmpdir else str(source.root)
    report.sort()
    report.limit(max_errors)
    report.stats["seconds"] = round(time.perf_counter() - started, 3)
    return report

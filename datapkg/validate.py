"""``validate_package``: run every check on a package and gather the findings in one Report.

Who checks what:

- frictionless: the descriptor, schemas, headers, and the rows of every table that is not large;
- :mod:`datapkg.checks.files`: article files and their hashes, stray files, byte-order marks, and
  ``bytes``/``hash`` of the large tables (which frictionless reads only up to their header);
- Great Expectations on DuckDB (:mod:`datapkg.checks.gx_checks`): the curation rules and the
  hand-written suites on every table, and the Table Schema expectations (types, constraints,
  keys) of the large tables, so that no large table is read row by row in Python;
- with ``gx=False`` the curation rules run straight on DuckDB (same SQL, no GX) and frictionless
  reads every table in full.

With GX, the phases (frictionless and the file checks, then DuckDB, then GX) run one after the
other, each in a process of its own (:mod:`datapkg.isolated`), so that the peak memory of a run is
that of its largest phase rather than the sum of the libraries it imports.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from datapkg.checks.files import run_file_checks
from datapkg.checks.frictionless_checks import run_frictionless_checks
from datapkg.locate import locate
from datapkg.package_source import PackageSource, open_package, resource_paths
from datapkg.report import Finding, Report

#: A table whose file is larger than this has its row-level checks made on DuckDB, not by frictionless.
LARGE_TABLE_BYTES = 5_000_000


def large_tables(source: PackageSource, covered: set[str], threshold: int) -> set[str]:
    """Resources among ``covered`` (those the GX path can check) whose file is over ``threshold`` bytes."""
    from datapkg.loader import package_resources

    names = set()
    for resource in package_resources(source.descriptor):
        paths = resource_paths(resource)
        if resource.get("name") in covered and paths:
            path = source.root / paths[0]
            if path.is_file() and path.stat().st_size > threshold:
                names.add(resource["name"])
    return names


def structure_checks(source: PackageSource, header_only: set[str]) -> tuple[list[Finding], dict[str, Any], bool]:
    """frictionless' checks and the file checks; ``header_only`` names the tables whose rows it skips.

    Also returns whether frictionless accepted the descriptor (no package-level error), without
    which the content checks cannot run.
    """
    findings, stats = run_frictionless_checks(source, header_only=header_only)
    accepted = not any(f.resource is None and f.severity == "error" for f in findings)
    return findings + run_file_checks(source, header_only=header_only), stats, accepted


def _content_checks(source: PackageSource, gx: bool, large: set[str], data_docs: Path | None,
                    spark_master: str | None = None) -> list[Finding]:
    """Curation rules and GX suites (only on a descriptor frictionless accepts); on Spark when
    ``spark_master`` is given (``--engine spark``)."""
    if spark_master is not None:
        from datapkg.checks.gx_spark import run_spark_checks

        return run_spark_checks(source.root, source.descriptor, master=spark_master,
                                allow_remote=source.allow_remote, schema_resources=large)
    if gx:
        from datapkg.checks.gx_checks import run_gx_checks

        return run_gx_checks(source.root, source.descriptor, data_docs=data_docs, schema_resources=large)
    from datapkg.checks.curation import run_curation_checks

    return run_curation_checks(source.root, source.descriptor)


def validate_package(path: str | Path = ".", *, gx: bool = True, max_errors: int | None = None,
                     allow_remote: bool = False, data_docs: Path | None = None,
                     large_table_bytes: int = LARGE_TABLE_BYTES,
                     step: Callable[[str], None] | None = None, engine: str = "duckdb",
                     spark_master: str = "local[*]") -> Report:
    """Validate the package at ``path`` (folder, descriptor or zip) with every check.

    ``engine="spark"`` runs the GX suites with GX's Spark engine (master ``spark_master``) on
    DataFrames Spark reads itself; the descriptor and structure checks stay on this machine.

    ``step(message)`` is told which phase runs (a progress display shows it).

    Raises :class:`datapkg.errors.UsageError` when the input cannot be checked at all.
    """
    started = time.perf_counter()
    step = step or (lambda _msg: None)
    report = Report()
    if data_docs is not None:  # refused before any work: dpkg replaces only a folder it wrote
        from datapkg.owned_dir import DATA_DOCS, check_owned

        check_owned(data_docs, DATA_DOCS, "--data-docs")
    with open_package(path, allow_remote=allow_remote) as source:
        large: set[str] = set()
        step("frictionless and file checks")
        if gx:
            from datapkg import isolated
            from datapkg.checks.gx_checks import gx_resources

            large = large_tables(source, gx_resources(source.root, source.descriptor), large_table_bytes)
            # in a process of its own: frictionless' memory is returned before DuckDB and GX start
            findings, stats, accepted = isolated.call(structure_checks, dataclasses.replace(source, _tmpdir=None),
                                                      large)
        else:
            findings, stats, accepted = structure_checks(source, set())
        report.extend(findings)
        if accepted:
            step("curation rules and Great Expectations suites" if gx else "curation rules")
            report.extend(_content_checks(source, gx, large, data_docs,
                                          spark_master if engine == "spark" else None))
        if any(f.check == "quote-not-found" for f in report.findings):
            from datapkg.checks.quote_hints import explain_quotes

            report.findings = explain_quotes(report.findings, source.root, source.descriptor)
        report.findings = locate(report.findings, source.root, source.descriptor)
        report.stats.update(stats)
        report.stats.update(package=source.descriptor.get("name"), descriptor=source.descriptor_name,
                            root=None if source._tmpdir else str(source.root),
                            checked_by_gx=sorted(large), great_expectations=gx)
    report.count_by_resource()
    report.sort()
    report.limit(max_errors)
    report.stats["seconds"] = round(time.perf_counter() - started, 3)
    return report

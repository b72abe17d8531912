"""``validate_package``: run every check on a package and gather the findings in one Report.

Who checks what, the same way at every size:

- frictionless: the descriptor, the schemas and each table's header (labels); it reads every row
  only of the tables the loader cannot put into DuckDB (remote, multi-file, spreadsheets);
- :mod:`datapkg.checks.files`: article files and their hashes, stray files, byte-order marks, and
  ``bytes``/``hash`` of the tables;
- Great Expectations in DuckDB (:mod:`datapkg.checks.gx_checks`): every row-level rule (types,
  constraints, keys, row structure, curation rules, hand-written suites) on every loaded table.

Everything runs in this one process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from datapkg.checks.files import run_file_checks
from datapkg.checks.frictionless_checks import run_frictionless_checks
from datapkg.locate import locate
from datapkg.package_source import PackageSource, open_package
from datapkg.report import Finding, Report


def structure_checks(source: PackageSource, header_only: set[str]) -> tuple[list[Finding], dict[str, Any], bool]:
    """frictionless' checks and the file checks; ``header_only`` names the tables whose rows it skips.

    Also returns whether frictionless accepted the descriptor (no package-level error), without
    which the content checks cannot run.
    """
    findings, stats = run_frictionless_checks(source, header_only=header_only)
    accepted = not any(f.resource is None and f.severity == "error" for f in findings)
    return findings + run_file_checks(source, header_only=header_only), stats, accepted


def _spark_remote(source: PackageSource) -> dict[str, str]:
    from datapkg.spark_frames import remote_resources

    return remote_resources(source.descriptor, source.allow_remote)


def spark_only(findings: list[Finding], remote: dict[str, str]) -> list[Finding]:
    """``findings`` for the Spark engine, whose ``remote`` resources (name -> ``s3a://`` URL)
    frictionless cannot open: its ``scheme-error`` on them becomes one warning saying what is not
    checked on this machine (their rows are checked on Spark)."""
    kept = [f for f in findings if not (f.check == "scheme-error" and f.resource in remote)]
    return kept + [Finding(check="read-by-spark-only", severity="warning", resource=name, file=url,
                           message=f"{url} is read by Spark only: frictionless cannot open it here, so its header, "
                                   "encoding, bytes and hash are not checked; its rows are checked on Spark")
                   for name, url in remote.items()]


def validate_package(path: str | Path = ".", *, max_errors: int | None = None,
                     allow_remote: bool = False, data_docs: Path | None = None,
                     step: Callable[[str], None] | None = None, engine: str = "duckdb",
                     spark_master: str = "local[*]", spark_conf: dict[str, str] | None = None,
                     only: Callable[[dict[str, Any], dict[str, Any]], bool] | None = None) -> Report:
    """Validate the package at ``path`` (folder, descriptor or zip) with every check.

    ``engine="spark"`` runs the GX suites with GX's Spark engine (master ``spark_master``, settings
    ``spark_conf``) on DataFrames Spark reads itself; the descriptor and structure checks stay on
    this machine.

    ``step(message)`` is told which phase runs (a progress display shows it). ``only(suite,
    expectation)`` keeps the GX expectations it is true for (DuckDB engine; as
    :func:`datapkg.checks.gx_checks.run_gx_checks`); the structure checks all run.

    Raises :class:`datapkg.errors.UsageError` when the input cannot be checked at all.
    """
    from datapkg.checks.gx_checks import gx_resources, run_gx_checks

    started = time.perf_counter()
    step = step or (lambda _msg: None)
    if engine == "spark":  # a bad master URL is refused before any work
        from datapkg.spark_frames import check_master

        check_master(spark_master)
    if data_docs is not None:  # refused before any work: dpkg replaces only a folder it wrote
        from datapkg.owned_dir import DATA_DOCS, check_owned

        check_owned(data_docs, DATA_DOCS, "--data-docs")
    with open_package(path, allow_remote=allow_remote) as source:
        step("frictionless and file checks")
        loaded = gx_resources(source.root, source.descriptor)
        remote = _spark_remote(source) if engine == "spark" else {}
        findings, stats, accepted = structure_checks(source, loaded)
        findings = spark_only(findings, remote)
        content = None
        if accepted:
            step("curation rules and Great Expectations suites")
            if engine == "spark":
                from datapkg.checks.gx_spark import run_spark_checks

                content = run_spark_checks(source.root, source.descriptor, master=spark_master,
                                           allow_remote=source.allow_remote, conf=spark_conf)
            else:
                content = run_gx_checks(source.root, source.descriptor, data_docs=data_docs, resources=loaded, only=only)
        return assemble(source, findings, stats, content, loaded, max_errors=max_errors, started=started)


def assemble(source: PackageSource, structure: list[Finding], stats: dict[str, Any], content: list[Finding] | None,
             loaded: set[str], *, max_errors: int | None, started: float) -> Report:
    """The report of a validation: the ``structure`` findings (:func:`structure_checks`) and the
    ``content`` ones (GX; None when the descriptor was refused), located, sorted and limited."""
    report = Report()
    report.extend(structure)
    if content is not None:
        # a file that neither can read (missing, undecodable) is one finding, frictionless' own
        said = {(f.check, f.file) for f in structure if f.row is None}
        report.extend([f for f in content if f.row is not None or (f.check, f.file) not in said])
    if any(f.check == "quote-not-found" for f in report.findings):
        from datapkg.checks.quote_hints import explain_quotes

        report.findings = explain_quotes(report.findings, source.root, source.descriptor)
    report.findings = locate(report.findings, source.root, source.descriptor)
    report.stats.update(stats)
    report.stats.update(package=source.descriptor.get("name"), descriptor=source.descriptor_name,
                        root=None if source._tmpdir else str(source.root), checked_by_gx=sorted(loaded))
    report.count_by_resource()
    report.sort()
    report.limit(max_errors)
    report.stats["seconds"] = round(time.perf_counter() - started, 3)
    return report

"""``dpkg build``: the release of a package — DuckDB database, Parquet, zip, dictionary, SHA256SUMS.

Everything is written into a temporary folder beside the output folder, which replaces the
output folder only when every artefact is complete (:func:`datapkg.atomic.replace_dir`): an
interrupted or failed build leaves the previous release as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datapkg.atomic import replace_dir, write_text
from datapkg.errors import DataError, UsageError
from datapkg.package_source import open_package, resource_paths
from datapkg.release import SUMS, finish_folder, named_files, write_sums, zip_package
from datapkg.report import Report

Step = Callable[[str], None]
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class InvalidPackage(DataError):
    """The package does not validate; ``report`` holds the findings (exit 1)."""

    def __init__(self, report: Report) -> None:
        super().__init__(f"the package is invalid ({len(report.errors)} error(s)); fix it or build with --force")
        self.report = report


@dataclass
class BuildResult:
    """Where the release went and what it holds."""

    out: Path
    artefacts: list[str]
    tables: dict[str, int]
    views: list[str]
    warnings: list[str] = field(default_factory=list)
    report: Report | None = None


def artefact_names(descriptor: dict[str, Any]) -> tuple[str, str]:
    """(database file name, zip file name) of a package: ``<name>.duckdb`` and ``<name>-<version>.zip``."""
    name = SAFE_NAME.sub("-", str(descriptor.get("name") or "package")).strip("-.") or "package"
    version = SAFE_NAME.sub("-", str(descriptor.get("version") or "")).strip("-.")
    return f"{name}.duckdb", f"{name}-{version}.zip" if version else f"{name}.zip"


def _check_out(out: Path, root: Path) -> None:
    """Refuse an output folder that is the package itself, holds it, or is not a previous release."""
    target, package = out.resolve(), root.resolve()
    if target == package or package.is_relative_to(target):
        raise UsageError(f"--out {out} would replace the package itself; choose another folder (default: dist/)")
    if target.exists() and not target.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")
    if target.is_dir() and any(target.iterdir()) and not (target / SUMS).is_file():
        raise UsageError(f"--out {out} is not empty and holds no {SUMS} (not a dpkg release); "
                         "refusing to replace it — choose an empty or new folder")


def build(path: str | Path = ".", out: str | Path = "dist", *, force: bool = False,
          step: Step | None = None) -> BuildResult:
    """Build the release of the package at ``path`` into the folder ``out``.

    Raises :class:`InvalidPackage` (exit 1) when the package does not validate and ``force``
    is false; :class:`UsageError` for unusable input or output.
    """
    step = step or (lambda _msg: None)
    report = None
    if not force:
        from datapkg.validate import validate_package

        step("validating")
        report = validate_package(path)
        if not report.valid:
            raise InvalidPackage(report)
    with open_package(path) as source:
        out = Path(out)
        _check_out(out, source.root)
        with replace_dir(out) as tmp:
            result = build_into(tmp, source.root, source.descriptor_name, source.descriptor, step=step)
        result.out = out
        result.report = report
        return result


def build_into(folder: Path, root: Path, descriptor_name: str, descriptor: dict[str, Any], *,
               step: Step | None = None) -> BuildResult:
    """Write every artefact of the release into the empty ``folder``."""
    import duckdb

    from datapkg.dictionary import collect, to_html, to_markdown
    from datapkg.duckdb_file import write_database
    from datapkg.loader import resource_schema

    step = step or (lambda _msg: None)
    db_name, zip_name = artefact_names(descriptor)
    db_path = folder / db_name
    info = write_database(db_path, root, descriptor_name, descriptor, step=step)  # byte-reproducible
    step("writing Parquet")
    (folder / "parquet").mkdir()
    con = duckdb.connect(str(db_path), read_only=True, config={"threads": 1})
    try:
        for name in sorted(info.tables):
            if "/" in name or "\\" in name or name.startswith(".") or "\0" in name:
                raise UsageError(f"resource name {name!r} cannot be a Parquet file name (no '/', '\\' or leading '.')")
            target = folder / "parquet" / f"{name}.parquet"
            con.execute(f'COPY (SELECT * FROM "{name.replace(chr(34), chr(34) * 2)}") TO '
                        f"'{str(target).replace(chr(39), chr(39) * 2)}' (FORMAT parquet, COMPRESSION zstd)")
    finally:
        con.close()
    step("writing the release zip")
    files = named_files(root, descriptor, info.text_files)
    zip_package(root, descriptor, files, folder / zip_name)
    step("writing the data dictionary")
    resources = [r for r in descriptor.get("resources") or [] if isinstance(r, dict) and isinstance(r.get("name"), str)]
    schemas = {}
    for resource in resources:
        try:
            schemas[resource["name"]] = resource_schema(root, resource)
        except UsageError:
            schemas[resource["name"]] = {}
    paths = {r["name"]: ", ".join(resource_paths(r)) for r in resources}
    model = collect(db_path, descriptor, schemas, info, paths)
    write_text(folder / "dictionary.md", to_markdown(model))
    write_text(folder / "dictionary.html", to_html(model))
    step("writing SHA256SUMS")
    sums = write_sums(folder)
    artefacts = [line.split("  ", 1)[1] for line in sums.splitlines()] + [SUMS]
    finish_folder(folder, descriptor)
    return BuildResult(out=folder, artefacts=artefacts, tables=dict(info.tables),
                       views=[v.name for v in info.views], warnings=list(info.warnings))

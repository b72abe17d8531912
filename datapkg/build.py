"""``dpkg build``: the release of a package — DuckDB database, Parquet, zip, dictionary, SHA256SUMS.

Everything is written into a temporary folder beside the output folder, which replaces the
output folder only when every artefact is complete (:func:`datapkg.atomic.replace_dir`): an
interrupted or failed build leaves the previous release as it was.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datapkg.atomic import write_text
from datapkg.changelog import check_changelog
from datapkg.errors import DataError, UsageError
from datapkg.package_source import artefact_names, open_package, resource_paths
from datapkg.release import SUMS, finish_folder, named_files, write_sums, zip_package
from datapkg.owned_dir import BUILD, check_owned, replace_owned_dir
from datapkg.report import Report
from datapkg.sandbox import lock_down

Step = Callable[[str], None]
#: DuckDB's memory cap while the database and Parquet files are written (``--memory-limit``).
DEFAULT_MEMORY_LIMIT = "1GB"
MEMORY_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", re.IGNORECASE)
UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
         "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}
#: DuckDB threads that write Parquet and the dictionary (the same bytes with 1 or 2 threads). The
#: database writer does everything with one thread, the CSV stage included: with more, DuckDB lays
#: the file out differently each time, and which buffer it reuses after an eviction depends on the
#: threads' timing (seen: a 1M-row build with a 2-thread stage under 512MB gave another .duckdb
#: once in five builds, 300 bytes of one block).
THREADS = 2


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
    kept: list[str] = field(default_factory=list)  #: files in --out that dpkg did not write, kept


def _check_out(out: Path, root: Path) -> None:
    """Refuse an output folder that is the package itself, holds it, or was not written by dpkg build."""
    target, package = out.resolve(), root.resolve()
    if target == package or package.is_relative_to(target):
        raise UsageError(f"--out {out} would replace the package itself; choose another folder (default: dist/)")
    check_owned(out, BUILD, "--out")


def build(path: str | Path = ".", out: str | Path = "dist", *, force: bool = False,
          step: Step | None = None, memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
          previous: str | Path | None = None) -> BuildResult:
    """Build the release of the package at ``path`` into the folder ``out``.

    ``previous`` (a package, zip, release folder or URL of the previous release) adds
    ``CHANGES.md``: the Markdown of ``dpkg diff previous path``.
    ``memory_limit`` caps DuckDB's memory while the database and Parquet files are written
    (DuckDB's syntax: ``"512MB"``, ``"2GB"``; ``None``: DuckDB's default, 80 % of RAM).
    Raises :class:`InvalidPackage` (exit 1) when the package does not validate and ``force``
    is false; :class:`UsageError` for unusable input or output.
    """
    step = step or (lambda _msg: None)
    if memory_limit is not None:
        size_bytes(memory_limit)  # a usage error before any work
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
        check_changelog(source.root, source.descriptor.get("version"))
        changes = _changes(previous, source, step) if previous is not None else None
        with replace_owned_dir(out, BUILD, "--out") as replacement, _out_of_memory(memory_limit):
            result = build_into(replacement.tmp, source.root, source.descriptor_name, source.descriptor, step=step,
                                memory_limit=memory_limit, changes=changes)
        result.out = out
        result.kept = replacement.kept
        result.report = report
        return result


def size_bytes(text: str) -> int:
    """Bytes in a DuckDB size (``"512MB"``, ``"1.5GiB"``)."""
    match = MEMORY_SIZE.fullmatch(text)
    if not match:
        raise UsageError(f"--memory-limit {text!r}: give a size such as 512MB or 4GB")
    return int(float(match.group(1)) * UNITS[match.group(2).lower()])


def _changes(previous: str | Path, source: Any, step: Step) -> str:
    """CHANGES.md: ``dpkg diff`` of the previous release against this package, in Markdown."""
    from datapkg.diff import diff_sources
    from datapkg.diff_render import to_markdown
    from datapkg.package_source import is_remote
    from datapkg.version_source import open_version

    step("comparing with the previous release")
    # a URL given as --previous is fetched (the user named it); nothing else in it is
    with open_version(str(previous), allow_remote=is_remote(str(previous))) as old:
        return to_markdown(diff_sources(old, source, old_label=str(previous),
                                        new_label=str(source.descriptor.get("version") or source.origin)))


@contextlib.contextmanager
def _out_of_memory(limit: str | None) -> Iterator[None]:
    """DuckDB's out-of-memory error as a one-line usage error that names the cap."""
    try:
        yield
    except Exception as exc:
        if type(exc).__name__ != "OutOfMemoryException":
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise UsageError(f"DuckDB ran out of memory under --memory-limit {limit}: {first}; "
                         "give it more (e.g. --memory-limit 4GB) or free space in TMPDIR") from None


def build_into(folder: Path, root: Path, descriptor_name: str, descriptor: dict[str, Any], *,
               step: Step | None = None, memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
               changes: str | None = None) -> BuildResult:
    """Write every artefact of the release into the empty ``folder`` (``changes``: CHANGES.md's text).

    Every input file is hashed once (:func:`datapkg.db_inputs.manifest`): the database records
    those digests and the zip's descriptor carries them. The zip (deflate, one core) is written in
    a thread while the database is written in its own process (one DuckDB thread), when the
    descriptor alone fixes the zip's members (no table names files, :func:`rows_may_name_files`),
    else while DuckDB writes the Parquet files and the dictionary. Either way its bytes are the
    same. The database file is hashed for SHA256SUMS while Parquet is written.
    """
    from concurrent.futures import ThreadPoolExecutor

    from datapkg.database import rows_may_name_files
    from datapkg.db_inputs import input_files, manifest
    from datapkg.duckdb_file import write_database
    from datapkg.file_hash import sha256_of

    step = step or (lambda _msg: None)
    db_name, zip_name = artefact_names(descriptor)
    db_path = folder / db_name
    step("hashing the input files")
    known = manifest(root, [f for f in input_files(root, descriptor_name, descriptor, []) if f != descriptor_name])
    cancel = threading.Event()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="dpkg-build") as pool:
        def start_zip(row_files: list[str]) -> Future[None]:
            return pool.submit(zip_package, root, descriptor, named_files(root, descriptor, row_files),
                               folder / zip_name, known=known, cancel=cancel)

        try:
            zipped = None if rows_may_name_files(root, descriptor) else start_zip([])
            info = write_database(db_path, root, descriptor_name, descriptor, step=step, memory_limit=memory_limit,
                                  threads=1, known=known)
            zipped = zipped or start_zip(info.text_files)
            db_digest = pool.submit(sha256_of, db_path)
            config = {"threads": THREADS, **({"memory_limit": memory_limit} if memory_limit else {})}
            step("writing Parquet, the release zip and the data dictionary")
            _write_parquet(db_path, folder / "parquet", sorted(info.tables), config)
            _write_dictionary(folder, db_path, root, descriptor, info, config)
            zipped.result()
            written = {db_name: db_digest.result()}
        except BaseException:
            cancel.set()  # the zip thread stops at its next chunk; the folder is thrown away
            raise
    warnings = list(info.warnings) + _write_extras(folder, root, descriptor, changes, step)
    step("writing SHA256SUMS")
    sums = write_sums(folder, known=written)
    artefacts = [line.split("  ", 1)[1] for line in sums.splitlines()] + [SUMS]
    finish_folder(folder, descriptor)
    return BuildResult(out=folder, artefacts=artefacts, tables=dict(info.tables),
                       views=[v.name for v in info.views], warnings=warnings)


def _write_extras(folder: Path, root: Path, descriptor: dict[str, Any], changes: str | None, step: Step) -> list[str]:
    """CHANGES.md (when given) and the evidence reader (packages with a citation model); warnings."""
    from datapkg.evidence_html import write_evidence

    if changes is not None:
        write_text(folder / "CHANGES.md", changes)
    step("writing the evidence reader")
    evidence = write_evidence(folder, root, descriptor)
    if evidence is not None and evidence.unplaced:
        return [f"evidence: {len(evidence.unplaced)} citation(s) not found in their article "
                "(listed in evidence/index.html)"]
    return []


def _write_parquet(db_path: Path, folder: Path, tables: list[str], config: dict[str, Any]) -> None:
    """One zstd Parquet file per table of the database ``db_path``, in ``folder``."""
    import duckdb

    folder.mkdir()
    con = lock_down(duckdb.connect(str(db_path), read_only=True, config=config), directories=[folder])
    try:
        for name in tables:
            if "/" in name or "\\" in name or name.startswith(".") or "\0" in name:
                raise UsageError(f"resource name {name!r} cannot be a Parquet file name (no '/', '\\' or leading '.')")
            target = folder / f"{name}.parquet"
            con.execute(f'COPY (SELECT * FROM "{name.replace(chr(34), chr(34) * 2)}") TO '
                        f"'{str(target).replace(chr(39), chr(39) * 2)}' (FORMAT parquet, COMPRESSION zstd)")
    finally:
        con.close()


def _write_dictionary(folder: Path, db_path: Path, root: Path, descriptor: dict[str, Any], info: Any,
                      config: dict[str, Any]) -> None:
    """dictionary.md and dictionary.html of the release."""
    from datapkg.dictionary import collect, to_html, to_markdown
    from datapkg.loader import resource_schema

    resources = [r for r in descriptor.get("resources") or [] if isinstance(r, dict) and isinstance(r.get("name"), str)]
    schemas = {}
    for resource in resources:
        try:
            schemas[resource["name"]] = resource_schema(root, resource)
        except UsageError:
            schemas[resource["name"]] = {}
    paths = {r["name"]: ", ".join(resource_paths(r)) for r in resources}
    model = collect(db_path, descriptor, schemas, info, paths, config)
    write_text(folder / "dictionary.md", to_markdown(model))
    write_text(folder / "dictionary.html", to_html(model))

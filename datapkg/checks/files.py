"""File-level checks frictionless does not make: stray files, article files and their hashes, BOMs.

A resource "names files" when its table has both a ``path`` and a ``sha256`` column (as the
``articles`` resource does): every row's file must exist inside the package and still have
the recorded sha256. Files under the watched folders (``resources/``, ``seeds/``) that neither
a resource nor such a row names are reported as stray.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any

from datapkg.errors import UsageError
from datapkg.file_hash import digest_of, sha256_of  # noqa: F401 - imported from here by other modules
from datapkg.limits import regular_file
from datapkg.package_source import PackageSource, check_relative_path, is_remote, resource_paths
from datapkg.report import Finding

WATCHED_FOLDERS = ("resources", "seeds")
BOM = b"\xef\xbb\xbf"


def parse_hash(value: str) -> tuple[str, str]:
    """Split a descriptor ``hash`` into (algorithm, hex): ``sha256:…``, ``md5:…`` or bare md5 (v1)."""
    algorithm, _, hexdigest = value.rpartition(":")
    return (algorithm or "md5").lower(), hexdigest.lower()


def _resources(source: PackageSource) -> list[dict[str, Any]]:
    resources = source.descriptor.get("resources")
    return [r for r in resources if isinstance(r, dict)] if isinstance(resources, list) else []


def _file_rows(source: PackageSource, resource: dict[str, Any]) -> list[tuple[int, dict[str, str]]]:
    """Rows (frictionless row number, cells) of a CSV resource with ``path`` and ``sha256`` columns."""
    paths = resource_paths(resource)
    if len(paths) != 1 or is_remote(paths[0]) or not paths[0].lower().endswith(".csv"):
        return []
    file = source.root / paths[0]
    if not file.is_file():
        return []
    try:
        with file.open(newline="", encoding=resource.get("encoding", "utf-8-sig")) as handle:
            reader = csv.DictReader(handle)
            if not {"path", "sha256"} <= set(reader.fieldnames or []):
                return []
            return [(index + 2, row) for index, row in enumerate(reader)]
    except (UnicodeDecodeError, csv.Error, LookupError):
        return []  # frictionless reports the unreadable file


def check_named_files(source: PackageSource) -> tuple[list[Finding], set[str]]:
    """Check files named by rows of path+sha256 tables; return findings and the names seen."""
    findings: list[Finding] = []
    named: set[str] = set()
    for resource in _resources(source):
        rows = _file_rows(source, resource)
        if not rows:
            continue
        name, file = resource.get("name"), resource_paths(resource)[0]
        for row_number, row in rows:
            rel = (row.get("path") or "").strip()
            where = dict(resource=name, file=file, row=row_number)
            if not rel:
                continue  # a missing path is a 'required' matter for the Table Schema
            try:
                check_relative_path(rel, "path")
            except UsageError as exc:
                findings.append(Finding(check="unsafe-path", field="path", value=rel, message=str(exc), **where))
                continue
            named.add(Path(rel).as_posix())
            try:
                target = regular_file(source.root, rel, "path")
            except UsageError as exc:  # a FIFO, a device, a link leaving the package
                findings.append(Finding(check="unsafe-path", field="path", value=rel, message=str(exc), **where))
                continue
            except OSError:
                findings.append(Finding(check="file-missing", field="path", value=rel, **where,
                                        message=f"the file {rel} named in this row does not exist in the package"))
                continue
            recorded = (row.get("sha256") or "").strip().lower()
            actual = sha256_of(target)
            if recorded != actual:
                findings.append(Finding(check="hash-mismatch", field="sha256", value=recorded, **where,
                                        message=f"{rel} has sha256 {actual} but this row records {recorded or '(nothing)'}; "
                                                "update the row or restore the file"))
    return findings, named


def check_stray_files(source: PackageSource, named_by_rows: set[str]) -> list[Finding]:
    """Report files under the watched folders that no resource and no file row names."""
    named = set(named_by_rows)
    for resource in _resources(source):
        named.update(Path(p).as_posix() for p in resource_paths(resource))
        for key in ("schema", "dialect"):
            if isinstance(resource.get(key), str):
                named.add(Path(resource[key]).as_posix())
    findings = []
    for folder in WATCHED_FOLDERS:
        base = source.root / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(source.root).as_posix()
            if path.is_dir() or any(part.startswith(".") for part in Path(rel).parts) or rel in named:
                continue
            findings.append(Finding(check="stray-file", file=rel, message=(
                f"{rel} is not named by any resource or by a row's path; add it to the package or remove it")))
    return findings


def check_byte_order_marks(source: PackageSource) -> list[Finding]:
    """Report tabular files that start with a UTF-8 byte-order mark (frictionless strips it silently)."""
    findings = []
    for resource in _resources(source):
        for rel in resource_paths(resource):
            path = source.root / rel
            tabular = rel.lower().endswith((".csv", ".tsv")) or resource.get("format") in ("csv", "tsv")
            if is_remote(rel) or not tabular or not path.is_file():
                continue
            with path.open("rb") as handle:
                if handle.read(3) == BOM:
                    findings.append(Finding(check="byte-order-mark", resource=resource.get("name"), file=rel, row=1,
                                            message="the file starts with a UTF-8 byte-order mark (BOM); save it as UTF-8 without BOM"))
    return findings


def check_resource_hashes(source: PackageSource, names: set[str]) -> list[Finding]:
    """``bytes`` and ``hash`` of the named resources, for those frictionless reads only in part.

    Same checks and names as frictionless' own (``byte-count``, ``hash-count``).
    """
    findings = []
    for resource in _resources(source):
        paths = resource_paths(resource)
        if resource.get("name") not in names or len(paths) != 1 or is_remote(paths[0]):
            continue
        path, where = source.root / paths[0], dict(resource=resource.get("name"), file=paths[0])
        if not path.is_file():
            continue
        if isinstance(resource.get("bytes"), int) and resource["bytes"] != path.stat().st_size:
            findings.append(Finding(check="byte-count", value=str(resource["bytes"]), **where, message=(
                f"the file's size in bytes is {path.stat().st_size} but the descriptor records {resource['bytes']}; "
                "update the descriptor or restore the file")))
        if isinstance(resource.get("hash"), str):
            algorithm, expected = parse_hash(resource["hash"])
            if algorithm not in hashlib.algorithms_available:
                continue  # frictionless reports the descriptor error
            actual = digest_of(path, algorithm)
            if actual != expected:
                findings.append(Finding(check="hash-count", value=resource["hash"], **where, message=(
                    f"the file's hash is {actual} but the descriptor records {expected}; "
                    "update the descriptor or restore the file")))
    return findings


def run_file_checks(source: PackageSource, header_only: set[str] | None = None) -> list[Finding]:
    """All file-level checks of this module (plus bytes/hash of resources read only in part)."""
    findings, named = check_named_files(source)
    findings += check_stray_files(source, named) + check_byte_order_marks(source)
    return findings + check_resource_hashes(source, set(header_only or ()))

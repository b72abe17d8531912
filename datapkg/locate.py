"""Where a finding's row sits in its file: the record's physical first line and its primary key value.

A finding's ``row`` counts records as frictionless does (header 1, first data row 2). A quoted
cell may span lines, so the record of row 10 can start on line 11: GitHub annotations need the
line, and a curator wants the record's id. Both come from reading the CSV with Python's csv
module and the resource's own dialect (the one the loader uses), once per file that has a
row-level finding, and only as far as the last such row.

Only a quoted (or escaped) cell can span lines. In a file with no quote or escape character and
no carriage return at all, record ``n`` is line ``n``: the lines are then counted as bytes and
only the wanted ones are parsed (a million-row file: about 0.1 s instead of 0.55 s).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from datapkg.errors import DpkgError
from datapkg.loader import _csv_options, _csv_reader, is_tabular, package_resources, resource_dialect, resource_schema
from datapkg.package_source import check_relative_path, is_remote, resource_paths
from datapkg.report import Finding

#: A file is read no further than this many records to place its findings.
MAX_RECORDS = 5_000_000
#: Bytes read at a time when looking for characters that let a record span lines.
CHUNK = 1 << 24
#: Encodings in which an ASCII quote, escape or line break is always that one byte.
ASCII_SAFE = {"utf-8", "utf8", "ascii", "us-ascii", "latin-1", "latin1", "iso-8859-1", "cp1252", "windows-1252"}


@dataclasses.dataclass(frozen=True)
class Place:
    """Where record ``row`` of a file starts (``line``) and its primary key value (``record``)."""

    line: int
    record: str | None


def _key_fields(root: Path, resource: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The primary key's fields and the schema's field names."""
    schema = resource_schema(root, resource)
    primary = schema.get("primaryKey") or []
    keys = [primary] if isinstance(primary, str) else [k for k in primary if isinstance(k, str)]
    names = [f.get("name") for f in schema.get("fields") or [] if isinstance(f, dict)]
    return keys, names


def _positions(keys: list[str], names: list[Any]) -> list[int]:
    return [names.index(k) for k in keys] if keys and all(k in names for k in keys) else []


def records(path: Path, resource: dict[str, Any], root: Path, last: int,
            only: set[int] | None = None) -> Iterator[tuple[int, int, list[str]]]:
    """(row number, physical first line, cells) of every record of the CSV at ``path`` up to row
    ``last``, or of the rows in ``only`` (the others are read, not yielded: a million-row file is
    scanned at the speed of the csv module)."""
    opts = _csv_options(resource, resource_dialect(root, resource), path.name)
    encoding = "utf-8-sig" if opts.encoding in ("utf-8", "utf8") else opts.encoding
    stop = min(last, MAX_RECORDS)
    if only is not None and _one_line_each(path, opts, stop):
        yield from _records_by_line(path, opts, encoding, stop, only)
        return
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        reader = _csv_reader(handle, opts)
        line = 0
        for number, cells in enumerate(reader, start=1):
            if only is None or number in only:
                yield number, line + 1, cells
            line = reader.line_num
            if number >= stop:
                return


def _one_line_each(path: Path, opts: Any, lines: int) -> bool:
    """True when none of the file's first ``lines`` records can span lines: no quote or escape
    character and no carriage return in them, in an encoding where each of those is one byte of
    its own. Read no further than the chunk that holds line ``lines``, as the csv reader would."""
    specials = {"\r", opts.quote or "", opts.escape or ""} - {""}
    if opts.encoding not in ASCII_SAFE or not all(c.isascii() and len(c) == 1 for c in specials):
        return False
    marks = [c.encode("ascii") for c in specials]
    seen = 0
    with path.open("rb") as handle:
        while seen < lines and (chunk := handle.read(CHUNK)):
            if any(mark in chunk for mark in marks):
                return False
            seen += chunk.count(b"\n")
    return True


def _records_by_line(path: Path, opts: Any, encoding: str, stop: int,
                     only: set[int]) -> Iterator[tuple[int, int, list[str]]]:
    """:func:`records` of a file whose records are its lines (:func:`_one_line_each`): lines are
    split as bytes and only those in ``only`` are decoded and parsed."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number in only:
                text = raw.decode(encoding if number == 1 else encoding.removesuffix("-sig"), errors="replace")
                yield number, number, next(_csv_reader(io.StringIO(text, newline=""), opts), [])
            if number >= stop:
                return


def _has_header(root: Path, resource: dict[str, Any], path: Path) -> bool:
    return bool(_csv_options(resource, resource_dialect(root, resource), path.name).header_rows)


def scan_places(path: Path, resource: dict[str, Any], root: Path, rows: set[int]) -> dict[int, Place]:
    """:class:`Place` of every row in ``rows`` (frictionless numbering) of the CSV at ``path``."""
    keys, names = _key_fields(root, resource)
    header = _has_header(root, resource, path)
    places, key_at = {}, [] if header else _positions(keys, names)
    for number, line, cells in records(path, resource, root, max(rows), rows | {1}):
        if number == 1 and header:
            key_at = _positions(keys, cells)
        if number in rows:
            values = [cells[i] for i in key_at if i < len(cells)]
            data = number > 1 or not header
            record = ",".join(values) if data and key_at and len(values) == len(key_at) else None
            places[number] = Place(line, record)
    return places


def read_rows(path: Path, resource: dict[str, Any], root: Path, rows: set[int] | None = None) -> dict[int, dict[str, str]]:
    """The cells of each row in ``rows`` (all data rows when None) by field name: the header's, or the schema's."""
    _, names = _key_fields(root, resource)
    header = _has_header(root, resource, path)
    found: dict[int, dict[str, str]] = {}
    for number, _line, cells in records(path, resource, root, max(rows) if rows else MAX_RECORDS, None if rows is None else rows | {1}):
        if number == 1 and header:
            names = cells
        elif rows is None or number in rows:
            found[number] = dict(zip(names, cells))
    return found


def _tabular_files(root: Path, descriptor: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Package-relative path -> resource, for local single-file tabular resources."""
    files = {}
    for resource in package_resources(descriptor):
        paths = resource_paths(resource)
        if is_tabular(resource) and len(paths) == 1 and not is_remote(paths[0]):
            files[paths[0]] = resource
    return files


def locate(findings: list[Finding], root: Path, descriptor: dict[str, Any]) -> list[Finding]:
    """``findings`` with ``line`` and ``record`` filled in wherever the row can be placed in its file."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for finding in findings:
        if finding.file and finding.row:
            wanted[finding.file].add(finding.row)
    files = _tabular_files(root, descriptor)
    places: dict[str, dict[int, Place]] = {}
    for rel, rows in wanted.items():
        if rel not in files:
            continue
        try:
            check_relative_path(rel, "path")
            places[rel] = scan_places(root / rel, files[rel], root, rows)
        except (DpkgError, OSError, LookupError, csv.Error, ValueError):
            continue  # an unreadable or unsafe file: the checks report it; its findings keep the row alone
    located = []
    for finding in findings:
        place = places.get(finding.file or "", {}).get(finding.row or 0)
        located.append(dataclasses.replace(finding, line=place.line, record=place.record) if place else finding)
    return located

"""The shape bounds of a package's tables, checked before any reader opens them.

Run by :func:`datapkg.package_source.open_package` on every local tabular resource: a compressed
file (``.gz``, ``.bz2``, ``.xz``) is decompressed once as a stream and refused past the size or
ratio cap (as a zip member is); a CSV header longer than :data:`~datapkg.limits.MAX_HEADER` or with
more than :data:`~datapkg.limits.MAX_COLUMNS` columns, and a Table Schema with more fields than that,
are refused. Each refusal is one line naming the limit and its environment variable.
"""

from __future__ import annotations

import csv
import importlib
import io
import lzma  # loaded by shutil anyway; gzip (not otherwise loaded on dpkg query's path) is imported when met
from pathlib import Path
from typing import IO, Any

from datapkg.limits import MAX_COLUMNS, MAX_HEADER, MAX_RATIO, MAX_UNZIPPED

#: The module whose ``open`` reads each compressed suffix (imported only when such a file is met).
OPENERS = {".gz": "gzip", ".bz2": "bz2", ".xz": "lzma"}
CHUNK = 1 << 20
RATIO_FLOOR = 1 << 20  #: the ratio is checked once the output is larger than this (as for zip members)


def _opener(path: Path, resource: dict[str, Any]) -> Any:
    compression = str(resource.get("compression") or "").lower()
    module = OPENERS.get(path.suffix.lower()) or OPENERS.get(f".{compression}")
    return importlib.import_module(module).open if module else None


def check_decompression(path: Path, what: str, opener: Any) -> None:
    """Decompress ``path`` as a stream; refuse it past :data:`MAX_UNZIPPED` or :data:`MAX_RATIO`."""
    compressed, total = path.stat().st_size or 1, 0
    cap, ratio = MAX_UNZIPPED.value(), MAX_RATIO.value()
    try:
        with opener(path, "rb") as stream:
            while chunk := stream.read(CHUNK):
                total += len(chunk)
                if total > cap:
                    raise MAX_UNZIPPED.refuse(what, f"more than {cap} bytes from {compressed}")
                if total > RATIO_FLOOR and total / compressed > ratio:
                    raise MAX_RATIO.refuse(what, f"{total} bytes from {compressed} so far")
    except (OSError, EOFError, lzma.LZMAError) as exc:
        from datapkg.errors import UsageError

        raise UsageError(f"{what} cannot be decompressed: {exc}") from None


def check_header(stream: IO[bytes], what: str, delimiter: str) -> None:
    """Refuse a first line over :data:`MAX_HEADER` bytes or with over :data:`MAX_COLUMNS` columns."""
    limit = MAX_HEADER.value()
    line = stream.readline(limit + 1)
    if len(line) > limit and not line.endswith(b"\n"):
        raise MAX_HEADER.refuse(f"{what}: the first line", f"more than {limit} bytes")
    text = line.decode("utf-8", errors="replace")
    columns = len(next(csv.reader(io.StringIO(text), delimiter=delimiter), []))
    if columns > MAX_COLUMNS.value():
        raise MAX_COLUMNS.refuse(what, f"{columns} columns in the header")


def check_resource(root: Path, resource: dict[str, Any], rel: str, schema: Any) -> None:
    """All bounds of one local tabular resource file ``rel`` (already known to be a regular file)."""
    what = f"resource '{resource.get('name')}' path {rel!r}"
    fields = schema.get("fields") if isinstance(schema, dict) else None
    if isinstance(fields, list) and len(fields) > MAX_COLUMNS.value():
        raise MAX_COLUMNS.refuse(f"resource '{resource.get('name')}' schema", f"{len(fields)} fields")
    path = root / rel
    opener = _opener(path, resource)
    if opener is not None:
        check_decompression(path, what, opener)
    dialect = resource.get("dialect") if isinstance(resource.get("dialect"), dict) else {}
    delimiter = dialect.get("delimiter") or ("\t" if rel.lower().endswith((".tsv", ".tsv.gz")) else ",")
    with (opener or open)(path, "rb") as stream:
        check_header(stream, what, delimiter if isinstance(delimiter, str) and len(delimiter) == 1 else ",")

"""The release zip and SHA256SUMS of ``dpkg build``, written reproducibly.

The zip holds the data package itself: ``datapackage.json`` at its root (every local resource
with ``bytes`` and ``hash`` = ``"sha256:<hex>"``) and every file the package names at its
package-relative path. Members are sorted, stamped with one fixed time and fixed permissions,
so that the same inputs give the same bytes.
"""

from __future__ import annotations

import calendar
import copy
import json
import os
import threading
import zipfile
from collections.abc import Iterable
from datetime import date, datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from datapkg.atomic import replace_file, write_bytes
from datapkg.checks.files import sha256_of
from datapkg.errors import UsageError
from datapkg.package_source import check_relative_path, is_local, json_value, resource_paths

DESCRIPTOR = "datapackage.json"
SUMS = "SHA256SUMS"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
MEMBER_MODE = 0o644 << 16
#: zlib level 1: 4.6x faster than level 6 on a 54 MB CSV, 22 % larger (benchmarks/build_benchmark.py).
COMPRESSLEVEL = 1
CHUNK = 1 << 20


def release_time(descriptor: dict[str, Any]) -> tuple[int, int, int, int, int, int]:
    """The fixed time stamped on every zip member.

    ``SOURCE_DATE_EPOCH`` when set (the reproducible-builds convention), else the package's
    ``created`` date, else 1980-01-01: never the clock.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment: datetime | None = None
    if epoch and epoch.strip().isdigit():
        moment = datetime.fromtimestamp(int(epoch), tz=timezone.utc)
    else:
        created = descriptor.get("created")
        if isinstance(created, date) and not isinstance(created, datetime):
            created = datetime(created.year, created.month, created.day)
        if isinstance(created, str):
            try:
                created = datetime.fromisoformat(created.replace("Z", "+00:00"))
            except ValueError:
                created = None
        moment = created if isinstance(created, datetime) else None
    if moment is None or moment.year < 1980 or moment.year > 2107:
        return ZIP_EPOCH
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second - moment.second % 2)


def named_files(root: Path, descriptor: dict[str, Any], row_files: Iterable[str] = ()) -> list[str]:
    """Every package-relative file the release must carry (descriptor excluded), sorted.

    Resource data paths, schema and dialect paths, ``row_files`` (files that rows of the
    package name, e.g. article texts) and local ``path`` values of licences, sources and
    contributors that exist as files inside the package.
    """
    names: set[str] = set()
    for resource in descriptor.get("resources") or []:
        if not isinstance(resource, dict):
            continue
        for rel in resource_paths(resource):
            if is_local(rel):
                names.add(rel)
        for key in ("schema", "dialect"):
            if is_local(resource.get(key)):
                names.add(resource[key])
        for item in resource.get("licenses") or resource.get("sources") or []:
            if isinstance(item, dict) and is_local(item.get("path")) and (root / item["path"]).is_file():
                names.add(item["path"])
    for key in ("licenses", "sources", "contributors"):
        for item in descriptor.get(key) or []:
            if isinstance(item, dict) and is_local(item.get("path")):
                try:
                    check_relative_path(item["path"], f"{key} path")
                except UsageError:
                    continue
                if (root / item["path"]).is_file():
                    names.add(item["path"])
    names.update(row_files)
    out = []
    for rel in sorted(names):
        check_relative_path(rel, "release file")
        posix = PurePosixPath(rel.replace("\\", "/")).as_posix()
        if posix == DESCRIPTOR:
            continue
        if not (root / posix).is_file():
            raise UsageError(f"{posix}: the package names this file but it does not exist")
        out.append(posix)
    return sorted(set(out))


def released_descriptor(root: Path, descriptor: dict[str, Any], known: dict[str, str] | None = None) -> dict[str, Any]:
    """A copy of ``descriptor`` with ``bytes`` and ``hash`` (``sha256:<hex>``) set on every local single-file
    resource (``known``: digests by package-relative path already computed, used instead of reading the file)."""
    known = known or {}
    released = copy.deepcopy(descriptor)
    for resource in released.get("resources") or []:
        if not isinstance(resource, dict):
            continue
        paths = resource_paths(resource)
        if len(paths) != 1 or not is_local(paths[0]):
            continue
        file = root / paths[0]
        resource["bytes"] = file.stat().st_size
        resource["hash"] = f"sha256:{known.get(paths[0]) or sha256_of(file)}"
    return released


def descriptor_bytes(descriptor: dict[str, Any]) -> bytes:
    """The released descriptor as stable JSON (2-space indent, keys in their order, final newline)."""
    return (json.dumps(descriptor, indent=2, ensure_ascii=False, default=json_value) + "\n").encode("utf-8")


class Cancelled(Exception):
    """The zip was abandoned because the build it belongs to failed."""


def zip_package(root: Path, descriptor: dict[str, Any], files: list[str], target: Path, *,
                known: dict[str, str] | None = None, cancel: threading.Event | None = None) -> None:
    """Write the reproducible release zip of the package at ``root`` to ``target`` (atomically, streamed).

    ``known``: SHA-256 digests of package files already computed (:func:`released_descriptor`).
    ``cancel``: when set (by another thread), the zip stops between two chunks, raises
    :class:`Cancelled` and leaves no file behind.
    """
    stamp = release_time(descriptor)
    members: dict[str, bytes | Path] = {DESCRIPTOR: descriptor_bytes(released_descriptor(root, descriptor, known))}
    for rel in files:
        members[rel] = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    with replace_file(target) as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESSLEVEL) as archive:
            for name in sorted(members):
                info = zipfile.ZipInfo(name, date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                # ZipFile.open(ZipInfo) takes the level from the member, not from the archive (its
                # default is zlib's 6); Python 3.13 names it compress_level, 3.11 and 3.12 only so
                info._compresslevel = COMPRESSLEVEL  # noqa: SLF001
                info.external_attr = MEMBER_MODE
                info.create_system = 3  # Unix, whatever the machine
                content = members[name]
                info.file_size = len(content) if isinstance(content, bytes) else content.stat().st_size
                with archive.open(info, "w") as dst:
                    if isinstance(content, bytes):
                        dst.write(content)
                    else:
                        with content.open("rb") as src:
                            while chunk := src.read(CHUNK):
                                if cancel is not None and cancel.is_set():
                                    raise Cancelled(f"{target.name}: abandoned")
                                dst.write(chunk)


def write_sums(folder: Path, exclude: Iterable[str] = (SUMS,), known: dict[str, str] | None = None) -> str:
    """Write ``SHA256SUMS`` over every file under ``folder`` (sorted by path); return its text.
    ``known``: digests by relative path already computed, used instead of reading those files again."""
    skip = set(exclude)
    known = known or {}
    lines = []
    for rel in sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()):
        path = folder / rel
        if rel in skip or any(part.startswith(".") for part in PurePosixPath(rel).parts):
            continue
        lines.append(f"{known.get(rel) or sha256_of(path)}  {rel}\n")
    text = "".join(lines)
    write_bytes(folder / SUMS, text.encode("ascii"))
    return text


def finish_folder(folder: Path, descriptor: dict[str, Any]) -> None:
    """Readable permissions (0644 files, 0755 folders) and the release time as every file's mtime."""
    stamp = calendar.timegm((*release_time(descriptor), 0, 0, 0))
    for path in [folder, *folder.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
        os.utime(path, (stamp, stamp))

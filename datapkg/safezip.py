"""Safe extraction of zip archives that may be hostile (zip-slip, symlinks, devices, bombs).

Every member is inspected before anything is written: a member whose name is absolute or climbs
out (``..``), a symbolic link or device/FIFO/socket, a duplicate name, overlapping entries, an
encrypted member, too many members, a total uncompressed size over the cap or a member with an
implausible compression ratio is refused with a one-line :class:`UsageError` naming the member.
While writing, the bytes actually produced are counted against the same caps (headers can lie).

The total cap (2 GiB) can be raised for a larger release with the environment variable
``DPKG_MAX_UNZIPPED`` (bytes, or with a K, M, G or T suffix, binary: ``8G``), which every command
that opens a zip honours (:func:`default_limits`).
"""

from __future__ import annotations

import stat
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from datapkg.errors import UsageError
from datapkg.limits import MAX_RATIO, MAX_UNZIPPED
from datapkg.package_source import path_escape

CHUNK = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Caps applied to an archive before and during extraction."""

    max_total: int = MAX_UNZIPPED.default  #: total uncompressed bytes (2 GiB)
    max_ratio: float = float(MAX_RATIO.default)  #: uncompressed / compressed, per member ...
    ratio_floor: int = 1 << 20        #: ... checked for members larger than this (1 MiB)
    max_members: int = 10_000         #: number of entries


DEFAULT_LIMITS = Limits()
#: The environment variable that sets :attr:`Limits.max_total` (:data:`datapkg.limits.MAX_UNZIPPED`).
MAX_UNZIPPED_VAR = MAX_UNZIPPED.var


def default_limits() -> Limits:
    """:data:`DEFAULT_LIMITS`, with ``max_total`` and ``max_ratio`` from the environment when set
    (:data:`datapkg.limits.MAX_UNZIPPED`, :data:`datapkg.limits.MAX_RATIO`)."""
    return replace(DEFAULT_LIMITS, max_total=MAX_UNZIPPED.value(), max_ratio=float(MAX_RATIO.value()))


def relative_path(name: str, what: str) -> PurePosixPath:
    """The safe relative path ``name`` (no absolute path, no ``..``, no NUL), or a UsageError.

    ``what`` says where the name comes from in the message (``"x.zip: member 'a'"``).
    """
    if "\x00" in name:
        raise UsageError(f"{what} has a NUL byte in its name; refused")
    escape = path_escape(name)
    if escape == "absolute":
        raise UsageError(f"{what} is an absolute path; refused")
    if escape == "climbs":
        raise UsageError(f"{what} climbs out of its folder ('..'); refused")
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".")]
    if not parts:
        raise UsageError(f"{what} is an empty path; refused")
    return PurePosixPath(*parts)


def member_path(name: str, archive: str) -> PurePosixPath:
    """The safe relative path of zip member ``name`` of ``archive``, or a UsageError naming it."""
    return relative_path(name, f"{archive}: member {name!r}")


def _file_type(info: zipfile.ZipInfo) -> str | None:
    """'symbolic link', 'device file'... for a non-regular member made on Unix, else None."""
    mode = info.external_attr >> 16
    if info.create_system != 3 or not stat.S_IFMT(mode):  # 3: Unix; others store no file type here
        return None
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return "not a regular file"


def inspect(archive: zipfile.ZipFile, name: str, limits: Limits | None = None) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """Check every member of an open archive; return (member, safe path) for the files to extract.

    ``name`` is how the archive is named in messages; ``limits`` default to :func:`default_limits`.
    Raises UsageError on the first problem.
    """
    limits = limits or default_limits()
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        raise UsageError(f"{name}: {len(infos)} members, over the cap of {limits.max_members}; refused")
    seen: dict[str, str] = {}
    dirs: set[str] = set()
    files: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
    total = 0
    for info in infos:
        path = member_path(info.filename, name)
        kind = _file_type(info)
        if kind:
            raise UsageError(f"{name}: member {info.filename!r} is {kind}; refused")
        if info.flag_bits & 0x1:
            raise UsageError(f"{name}: member {info.filename!r} is encrypted; refused")
        key = path.as_posix().casefold()
        if key in seen:
            raise UsageError(f"{name}: duplicate member name {info.filename!r} (also {seen[key]!r}); refused")
        seen[key] = info.filename
        if info.is_dir():
            dirs.add(key)
            continue
        total += info.file_size
        if total > limits.max_total:
            raise UsageError(f"{name}: uncompressed size over the cap of {limits.max_total} bytes at member "
                             f"{info.filename!r}; refused (zip bomb? if not, raise the cap with {MAX_UNZIPPED_VAR})")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_floor and ratio > limits.max_ratio:
            raise UsageError(f"{name}: member {info.filename!r} expands {ratio:.0f}-fold ({info.compress_size} -> "
                             f"{info.file_size} bytes), over the cap of {limits.max_ratio:.0f}; refused (zip bomb?)")
        files.append((info, path))
    for info, path in files:  # a file may not also be a folder ('a' and 'a/b')
        for parent in path.parents:
            if parent.as_posix().casefold() in seen and parent.as_posix().casefold() not in dirs:
                raise UsageError(f"{name}: member {info.filename!r} lies under the file {seen[parent.as_posix().casefold()]!r}; refused")
    _check_overlaps(infos, name)
    return files


def _raw_name(info: zipfile.ZipInfo) -> bytes:
    """The member name as stored: UTF-8 when flagged so, else code page 437."""
    try:
        return info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
    except UnicodeEncodeError:
        return info.orig_filename.encode("utf-8")


def _check_overlaps(infos: list[zipfile.ZipInfo], name: str) -> None:
    """Refuse entries whose data overlap (the 'non-recursive' zip bomb reuses one compressed kernel)."""
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for current, following in zip(ordered, ordered[1:]):
        end = current.header_offset + 30 + len(_raw_name(current)) + current.compress_size
        if following.header_offset < end:
            raise UsageError(f"{name}: members {current.filename!r} and {following.filename!r} overlap; "
                             "refused (zip bomb?)")


def _copy(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int, name: str) -> int:
    """Write one member to ``target`` (which must not exist); return the bytes written."""
    written = 0
    with archive.open(info) as source, target.open("xb") as sink:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            if written > info.file_size or written > budget:
                raise UsageError(f"{name}: member {info.filename!r} expands beyond its declared size; refused (zip bomb?)")
            sink.write(chunk)
    return written


def extract(path: Path, dest: Path, limits: Limits | None = None) -> list[PurePosixPath]:
    """Extract the zip at ``path`` into the folder ``dest`` safely; return the files written.

    ``dest`` is created if needed; a member that would overwrite an existing file is refused.
    The caller owns ``dest`` and removes it on failure (extract into a temporary folder).
    """
    path, dest = Path(path), Path(dest)
    limits = limits or default_limits()
    label = path.name
    try:
        with zipfile.ZipFile(path) as archive:
            files = inspect(archive, label, limits)
            dest.mkdir(parents=True, exist_ok=True)
            base = dest.resolve()
            budget = limits.max_total
            for info, rel in files:
                target = dest.joinpath(*rel.parts)
                if not target.parent.resolve().is_relative_to(base):
                    raise UsageError(f"{label}: member {info.filename!r} would be written outside the folder; refused")
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.exists() or target.is_symlink():
                    raise UsageError(f"{label}: member {info.filename!r} would overwrite {rel.as_posix()}; refused")
                budget -= _copy(archive, info, target, budget, label)
    except zipfile.BadZipFile as exc:
        raise UsageError(f"{label} is not a readable zip archive: {exc}") from None
    except (NotImplementedError, RuntimeError) as exc:  # unsupported compression, encryption
        raise UsageError(f"{label}: cannot extract: {exc}") from None
    except OSError as exc:
        raise UsageError(f"{label}: cannot extract: {exc.strerror or exc}") from None
    return [rel for _, rel in files]

"""Every bound dpkg puts on what a package holds, in one place; each one settable by an environment variable.

A package may be hostile: a 100,000-column CSV, a symbolic link to ``/dev/zero``, a FIFO that
never answers, a 3 MB gzip that expands to 1 GiB. Every input is held to a limit, and going
over one ends in a one-line :class:`UsageError` that names the limit and the variable that
raises it (``DPKG_MAX_UNZIPPED=8G``). Sizes take bytes or a K, M, G or T suffix (binary).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import NamedTuple

from datapkg.errors import UsageError

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class Limit(NamedTuple):
    """A bound: its environment variable, default, what it bounds and whether it is a size.

    (A named tuple, not a frozen dataclass: this module is on ``dpkg query``'s start-up path.)
    """

    var: str
    default: int
    what: str
    size: bool = True

    def value(self) -> int:
        """The limit in force: ``$var`` when set (refused in one line when it is not a number), else the default."""
        text = os.environ.get(self.var, "").strip()
        if not text:
            return self.default
        match = re.fullmatch(r"([0-9]+)\s*([KMGT]?)(?:I?B)?", text.upper()) if self.size else re.fullmatch(r"([0-9]+)()", text)
        if not match or int(match[1]) == 0:
            example = "bytes or e.g. 500M, 8G" if self.size else "a whole number, e.g. 50000"
            raise UsageError(f"{self.var}={text!r} is not a {'size' if self.size else 'number'}; give {example}")
        return int(match[1]) * _UNITS[match[2]]

    def refuse(self, subject: str, found: str | int | None = None) -> UsageError:
        """The one-line error for ``subject`` going over this limit (``found``: how far, when known)."""
        limit = self.value()
        shown = f"{limit} bytes" if self.size else str(limit)
        over = f" ({found})" if found is not None else ""
        return UsageError(f"{subject}: over the limit of {shown} for {self.what}{over}; refused "
                          f"(if the input is genuine, raise the limit with {self.var})")


#: Total bytes an archive or a compressed file may expand to (zip members, .gz/.bz2/.xz resources).
MAX_UNZIPPED = Limit("DPKG_MAX_UNZIPPED", 2 << 30, "the uncompressed size")
#: Uncompressed / compressed size of a compressed member or file larger than 1 MiB.
MAX_RATIO = Limit("DPKG_MAX_RATIO", 100, "the compression ratio", size=False)
#: A file that a table row names (an article text), read whole into memory.
MAX_NAMED_FILE = Limit("DPKG_MAX_NAMED_FILE", 256 << 20, "a file that a row names")
#: Columns of a CSV header.
MAX_COLUMNS = Limit("DPKG_MAX_COLUMNS", 4096, "the number of columns", size=False)
#: The first line (header) of a CSV; DuckDB's own line limit bounds the others.
MAX_HEADER = Limit("DPKG_MAX_HEADER", 1 << 20, "the length of a CSV header line")

_KINDS = {stat.S_IFIFO: "FIFO", stat.S_IFCHR: "character device", stat.S_IFBLK: "block device",
          stat.S_IFSOCK: "socket", stat.S_IFDIR: "folder"}


def real_path(path: str, known: dict[str, str] | None = None) -> str:
    """``os.path.realpath(path)``. With ``known`` (real paths found before, filled in here), each
    folder is resolved once: a name that is not a symbolic link lies in its folder's real path,
    so checking the many files of one package costs one ``lstat`` per file, not one per part."""
    if known is None:
        return os.path.realpath(path)
    if path not in known:
        folder, name = os.path.split(path)
        if not folder or name in ("", ".", "..") or os.path.islink(path):
            known[path] = os.path.realpath(path)
        else:
            known[path] = os.path.join(real_path(folder, known), name)
    return known[path]


def is_within(base: str, real: str) -> bool:
    """True when the real path ``real`` is the real folder ``base`` or lies inside it."""
    return real == base or real.startswith(base if base.endswith(os.sep) else base + os.sep)


def regular_file(root: Path, rel: str, what: str, limit: Limit | None = None, *,
                 known: dict[str, str] | None = None) -> Path:
    """``root / rel`` when it is a regular file inside ``root`` (symbolic links followed) and
    within ``limit``; a one-line UsageError otherwise. Checked with ``os.stat`` before any open,
    so that a FIFO or a device is never opened. A missing file raises ``FileNotFoundError``.
    ``known``: real paths already resolved (see :func:`real_path`), shared by the calls that
    check one package."""
    path = Path(root) / rel
    info = os.stat(path)
    if not is_within(real_path(str(root), known), real_path(str(path), known)):
        raise UsageError(f"{what} {rel!r} resolves outside the package (symbolic link); refused")
    if not stat.S_ISREG(info.st_mode):
        kind = _KINDS.get(stat.S_IFMT(info.st_mode), "special file")
        raise UsageError(f"{what} {rel!r} is a {kind}, not a regular file; refused")
    if limit is not None and info.st_size > limit.value():
        raise limit.refuse(f"{what} {rel!r}", f"{info.st_size} bytes")
    return path

"""Atomic file and folder writes: write beside the target, then rename into place.

What is renamed into place gets the permissions a new file would get (``0666``/``0777`` less the
umask: ``0644``/``0755`` under umask 022), or keeps those of the file it replaces. A temporary
folder (``.<name>.<random>.tmp``) holds :data:`TMP_MARKER` until it is renamed; a later
:func:`replace_dir` of the same target removes those a killed run left behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

#: The file inside a temporary folder of :func:`replace_dir` that marks it as dpkg's (its text:
#: the writer's process id), removed before the folder is renamed into place.
TMP_MARKER = ".dpkg-tmp"


def umask() -> int:
    """The process umask (read without changing it for good)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _new_mode(path: Path, default: int) -> int:
    """The mode of ``path`` if it exists, else ``default`` less the umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return default & ~umask()


@contextlib.contextmanager
def replace_file(path: Path, *, companions: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a writer that needs a file name (a zip, a
    database); on success it is renamed onto ``path``, on any exception it is removed and
    ``path`` is left as it was. ``companions`` are suffixes of side files the writer may leave
    (``.wal``), removed in every case."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # the writer creates it (DuckDB refuses an existing empty file)
    try:
        yield tmp
        os.chmod(tmp, _new_mode(path, 0o666))  # mkstemp made it 0600
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, *(Path(f"{tmp}{suffix}") for suffix in companions)):
            leftover.unlink(missing_ok=True)


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a temporary file in the same folder, then rename)."""
    with replace_file(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically."""
    write_bytes(path, text.encode(encoding))


@contextlib.contextmanager
def replace_dir(target: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``target``; on success it replaces ``target``.

    On any exception the temporary folder is removed and ``target`` is left as it was. The
    temporary folders of earlier runs that were killed are removed first (:func:`stale_temporaries`).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in stale_temporaries(target):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        (tmp / TMP_MARKER).write_text(str(os.getpid()), encoding="ascii")
        yield tmp
        (tmp / TMP_MARKER).unlink(missing_ok=True)
        os.chmod(tmp, _new_mode(target, 0o777))  # mkdtemp made it 0700
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        if old is not None:
            os.replace(old, target)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def stale_temporaries(target: Path) -> list[Path]:
    """Temporary folders of :func:`replace_dir` for ``target`` left by a run that was killed:
    named ``.<name>.<random>.tmp`` beside it, holding :data:`TMP_MARKER` with the id of a process
    that no longer runs. Anything else of that name is not dpkg's and is left alone."""
    found = []
    for path in Path(target).parent.glob(f".{glob_escape(Path(target).name)}.*.tmp"):
        try:
            pid = int((path / TMP_MARKER).read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            continue
        if path.is_dir() and not path.is_symlink() and not _running(pid):
            found.append(path)
    return found


def glob_escape(name: str) -> str:
    """``name`` with the glob wildcards ``*?[`` escaped."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def _running(pid: int) -> bool:
    """True while process ``pid`` exists (ours or another user's)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

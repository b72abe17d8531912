"""Folders dpkg owns: it replaces a folder only if dpkg itself wrote it.

``dpkg build --out DIR``, ``dpkg download --to DIR`` and ``dpkg validate --data-docs DIR`` write
a whole folder. When it is done, :data:`MANIFEST` (``.dpkg-manifest.json``) inside it records
what dpkg wrote: every file with its size and sha256. A later run replaces DIR only when DIR is
missing, empty, or has that manifest (written by the same command); anything else is refused in
one line and left untouched. Files in DIR that the manifest does not list (a user's own notes,
``my_analysis.sql``) are carried over into the new folder and named; a file dpkg wrote that was
changed since, or a file of the user's that the new release would overwrite, is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from datapkg.atomic import TMP_MARKER, replace_dir, write_text
from datapkg.checks.files import sha256_of
from datapkg.errors import UsageError

MANIFEST = ".dpkg-manifest.json"
FORMAT = "dpkg-manifest/1"
#: The kind of folder each command writes (``kind`` in the manifest).
BUILD, DOWNLOAD, DATA_DOCS = "build", "download", "validate --data-docs"


@dataclass
class Replacement:
    """The temporary folder to fill, and (after the swap) the user's files carried over into it."""

    tmp: Path
    kept: list[str] = field(default_factory=list)


def read_manifest(folder: Path) -> dict | None:
    """The manifest of ``folder`` (``{"format", "kind", "files": {rel: {"bytes", "sha256"}}}``) or None."""
    path = Path(folder) / MANIFEST
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > 64 << 20:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (isinstance(data, dict) and data.get("format") == FORMAT and isinstance(data.get("files"), dict)):
        return None
    return data


def _files(folder: Path) -> list[str]:
    """Every file (and symlink) under ``folder``, relative, in POSIX form, sorted; the manifest left out."""
    out = []
    for base, dirs, names in os.walk(folder):
        for name in names + [d for d in dirs if os.path.islink(os.path.join(base, d))]:
            rel = Path(base, name).relative_to(folder).as_posix()
            if rel not in (MANIFEST, TMP_MARKER):
                out.append(rel)
    return sorted(out)


def write_manifest(folder: Path, kind: str) -> dict[str, dict]:
    """Record every file now in ``folder`` as written by dpkg ``kind``; return the entries."""
    files = {rel: {"bytes": (folder / rel).stat().st_size, "sha256": sha256_of(folder / rel)}
             for rel in _files(folder) if (folder / rel).is_file() and not (folder / rel).is_symlink()}
    body = {"format": FORMAT, "kind": kind, "files": files}
    write_text(folder / MANIFEST, json.dumps(body, indent=1, sort_keys=True) + "\n")
    return files


def check_owned(target: Path, kind: str, option: str) -> dict | None:
    """The manifest of ``target`` when dpkg ``kind`` may replace it (None: missing or empty).

    Refuses (UsageError, nothing touched) a file, a folder without a manifest of ``kind``, and a
    folder where a file dpkg wrote was changed or removed since. ``option`` names the option
    in the message (``--out``).
    """
    target = Path(target)
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise UsageError(f"{option} {target} is not a folder; refusing to replace it")
    if not target.exists() or not any(target.iterdir()):
        return None
    manifest = read_manifest(target)
    if manifest is None or manifest.get("kind") != kind:
        raise UsageError(f"{option} {target} is not empty and was not written by dpkg {kind} (no {MANIFEST}); "
                         "refusing to replace it: choose a new or empty folder")
    for rel, entry in sorted(manifest["files"].items()):
        path = target / rel
        if not path.is_file() or path.is_symlink():
            continue  # removed by the user: nothing of theirs to lose
        if path.stat().st_size != entry.get("bytes") or sha256_of(path) != entry.get("sha256"):
            raise UsageError(f"{option} {target}: {rel} was changed since dpkg {kind} wrote it; "
                             "refusing to replace it: move the file away first")
    return manifest


def _carry_over(target: Path, tmp: Path, manifest: dict, written: dict[str, dict]) -> list[str]:
    """Link (or copy) into ``tmp`` every file of ``target`` that dpkg did not write; return their paths."""
    theirs = [rel for rel in _files(target) if rel not in manifest["files"]]
    clash = [rel for rel in theirs if rel in written or (tmp / rel).exists()]
    if clash:
        raise UsageError(f"{target}: {clash[0]} is not dpkg's, and the new {manifest['kind']} would overwrite it; "
                         "move it away first")
    for rel in theirs:
        source, copy = target / rel, tmp / rel
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            os.symlink(os.readlink(source), copy)
            continue
        try:
            os.link(source, copy)
        except OSError:
            shutil.copy2(source, copy)
    return theirs


@contextlib.contextmanager
def replace_owned_dir(target: Path, kind: str, option: str) -> Iterator[Replacement]:
    """Like :func:`datapkg.atomic.replace_dir` for a folder dpkg owns (see the module doc).

    Checks ``target`` first (:func:`check_owned`); after the body filled ``.tmp``, writes the
    manifest and carries the user's files over; then swaps the folders. ``.kept`` lists them.
    """
    manifest = check_owned(target, kind, option)
    with replace_dir(target) as tmp:
        replacement = Replacement(tmp)
        yield replacement
        written = write_manifest(tmp, kind)
        if manifest is not None:
            replacement.kept = _carry_over(Path(target), tmp, manifest, written)

"""What a package database is made from, and whether a database is still up to date.

A database records the SHA-256 of every input file in ``_dpkg.inputs`` and the digest of
the descriptor (as data, without the ``bytes``/``hash`` a release fills in) in ``_dpkg.info``.
The same digests key ``dpkg query``'s cache, so a cache belongs to a package's content, never
to where the package lies.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from datapkg.file_hash import sha256_of
from datapkg.package_source import is_local, json_value, resource_paths

META_SCHEMA = "_dpkg"


def input_files(root: Path, descriptor_name: str, descriptor: dict[str, Any], row_files: list[str]) -> list[str]:
    """Package-relative files the database is made from: descriptor, data, schemas, dialects, row files."""
    names = {descriptor_name, *row_files}
    for resource in descriptor.get("resources") or []:
        if not isinstance(resource, dict):
            continue
        names.update(p for p in resource_paths(resource) if is_local(p))
        for key in ("schema", "dialect"):
            if is_local(resource.get(key)):
                names.add(resource[key])
    return sorted(n for n in names if (root / n).is_file())


def manifest(root: Path, files: list[str]) -> dict[str, str]:
    """``{relative path: sha256}`` of ``files``."""
    return {rel: sha256_of(root / rel) for rel in sorted(files)}


def descriptor_digest(descriptor: dict[str, Any]) -> str:
    """SHA-256 of the descriptor as data, without the ``bytes``/``hash`` of its resources.

    A release's descriptor is the source's with those two filled in (JSON where the source may
    be YAML); the data files they describe are hashed on their own, so a database built from
    the source counts as up to date for the downloaded release.
    """
    plain = dict(descriptor)
    plain["resources"] = [{k: v for k, v in r.items() if k not in ("bytes", "hash")} if isinstance(r, dict) else r
                          for r in descriptor.get("resources") or []]
    text = json.dumps(plain, sort_keys=True, ensure_ascii=False, default=json_value)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_key(entries: dict[str, str], descriptor: dict[str, Any], digest: str | None = None) -> str:
    """One hash over a manifest and the descriptor (``digest``: its :func:`descriptor_digest`, when known)."""
    both = {"descriptor": digest or descriptor_digest(descriptor), "files": entries}
    return hashlib.sha256(json.dumps(both, sort_keys=True).encode()).hexdigest()


def cache_key(root: Path, descriptor_name: str, descriptor: dict[str, Any]) -> tuple[str, dict[str, str], str]:
    """The key of a package's query cache (its descriptor and the files it names, before any row is
    read), the manifest of those files and the descriptor's digest (for :func:`is_up_to_date`, so
    that nothing is hashed twice)."""
    files = [f for f in input_files(root, descriptor_name, descriptor, []) if f != descriptor_name]
    entries = manifest(root, files)
    digest = descriptor_digest(descriptor)
    return content_key(entries, descriptor, digest), entries, digest


def is_up_to_date(con: Any, root: Path, descriptor: dict[str, Any], known: dict[str, str] | None = None,
                  digest: str | None = None) -> bool:
    """True when the database of ``con`` was made from this descriptor and exactly the files now at ``root``.

    ``known``: digests of some of those files just computed (a :func:`manifest`), used instead of
    reading them again; ``digest``: the descriptor's :func:`descriptor_digest`, when computed.
    """
    try:
        rows = con.execute(f"SELECT 'file', path, sha256 FROM {META_SCHEMA}.inputs "
                           f"UNION ALL SELECT 'info', key, value FROM {META_SCHEMA}.info").fetchall()
    except Exception:  # noqa: BLE001 - not a dpkg database, or an older layout
        return False
    recorded = {path: digest for kind, path, digest in rows if kind == "file"}
    info = {key: value for kind, key, value in rows if kind == "info"}
    if info.get("descriptor") != (digest or descriptor_digest(descriptor)):
        return False
    for rel, digest in recorded.items():
        path = root / rel
        if (known or {}).get(rel) == digest:
            continue
        if not path.is_file() or sha256_of(path) != digest:
            return False
    return True

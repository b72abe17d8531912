"""Write releases in the layout of ``dpkg build`` (zip + artefacts + SHA256SUMS), and hostile zips, for tests."""

from __future__ import annotations

import hashlib
import io
import json
import stat
import warnings
import zipfile
from pathlib import Path

ITEMS_CSV = b"id,name,place\n1,Pyongyang meeting,KP\n2,Moscow visit,RU\n3,Vladivostok summit,RU\n"
PLACES_CSV = b"code,label\nKP,North Korea\nRU,Russia\n"
ITEMS_SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "description": "Row id.", "constraints": {"required": True}},
        {"name": "name", "type": "string", "description": "What happened."},
        {"name": "place", "type": "string", "description": "ISO 3166 alpha-2 code."},
    ],
    "primaryKey": ["id"],
    "foreignKeys": [{"fields": ["place"], "reference": {"resource": "places", "fields": ["code"]}}],
}
PLACES_SCHEMA = {
    "fields": [{"name": "code", "type": "string", "description": "Code."},
               {"name": "label", "type": "string", "description": "Name."}],
    "primaryKey": ["code"],
}
FIXED = (2026, 1, 1, 0, 0, 0)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def package_files(corrupt: str | None = None, hash_form: str = "sha256") -> dict[str, bytes]:
    """The files of a small valid package; ``bytes``/``hash`` filled in (over the uncorrupted data).

    ``corrupt`` names a resource file whose first data byte is changed after hashing.
    ``hash_form``: ``sha256`` (``sha256:<hex>``), ``md5`` (``md5:<hex>``) or ``plain`` (bare md5 hex, v1).
    """
    data = {"resources/items.csv": ITEMS_CSV, "resources/places.csv": PLACES_CSV}

    def digest(content: bytes) -> str:
        if hash_form == "sha256":
            return f"sha256:{sha256(content)}"
        md5 = hashlib.md5(content).hexdigest()
        return md5 if hash_form == "plain" else f"md5:{md5}"

    descriptor = {
        "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
        "name": "demo-package", "title": "Demo", "version": "1.0.0",
        "licenses": [{"name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/"}],
        "resources": [
            {"name": "items", "type": "table", "path": "resources/items.csv", "format": "csv", "mediatype": "text/csv",
             "encoding": "utf-8", "schema": "schemas/items.json",
             "bytes": len(ITEMS_CSV), "hash": digest(ITEMS_CSV)},
            {"name": "places", "type": "table", "path": "resources/places.csv", "format": "csv", "mediatype": "text/csv",
             "encoding": "utf-8", "schema": PLACES_SCHEMA,
             "bytes": len(PLACES_CSV), "hash": digest(PLACES_CSV)},
        ],
    }
    files = {
        "datapackage.json": json.dumps(descriptor, indent=2).encode(),
        "schemas/items.json": json.dumps(ITEMS_SCHEMA, indent=2).encode(),
        **data,
    }
    if corrupt:
        content = bytearray(files[corrupt])
        index = content.index(b"\n") + 1
        content[index] = ord("9") if content[index] != ord("9") else ord("8")
        files[corrupt] = bytes(content)
    return files


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """A deterministic deflated zip of ``files`` (sorted, fixed timestamps)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, FIXED)
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return buffer.getvalue()


def release_files(zip_data: bytes | None = None, name: str = "demo-package", version: str = "1.0.0") -> dict[str, bytes]:
    """Every file of a release folder: the zip, the other artefacts and SHA256SUMS over them."""
    artefacts = {
        f"{name}-{version}.zip": zip_data if zip_data is not None else zip_bytes(package_files()),
        f"{name}.duckdb": b"not a real database, only bytes to checksum\n",
        "parquet/items.parquet": b"PAR1 items PAR1",
        "parquet/places.parquet": b"PAR1 places PAR1",
        "dictionary.md": b"# Demo\n",
        "dictionary.html": b"<h1>Demo</h1>\n",
    }
    sums = "".join(f"{sha256(artefacts[p])}  {p}\n" for p in sorted(artefacts))
    return {**artefacts, "SHA256SUMS": sums.encode()}


def write_release(folder: Path, files: dict[str, bytes] | None = None) -> Path:
    """Write a release folder (default: a good one) and return it."""
    for rel, content in (files or release_files()).items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return folder


def hostile_zip(kind: str) -> bytes:
    """A zip holding a valid package plus one hostile member: slip, absolute, symlink, device, duplicate, bomb."""
    files = package_files()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:

            def put(name: str, data: bytes, mode: int = stat.S_IFREG | 0o644) -> None:
                info = zipfile.ZipInfo(name, FIXED)
                info.create_system, info.external_attr = 3, mode << 16
                archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)

            for name in sorted(files):
                put(name, files[name])
            if kind == "slip":
                put("../../evil.txt", b"owned\n")
            elif kind == "absolute":
                put("/tmp/evil.txt", b"owned\n")
            elif kind == "symlink":
                put("resources/link.csv", b"/etc/passwd", stat.S_IFLNK | 0o777)
            elif kind == "device":
                put("resources/null.csv", b"", stat.S_IFCHR | 0o600)
            elif kind == "duplicate":
                put("resources/items.csv", b"id,name,place\n")
            elif kind == "bomb":
                put("resources/zeros.bin", b"\0" * (8 << 20))
            else:
                raise ValueError(kind)
    return buffer.getvalue()

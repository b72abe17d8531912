"""Write the release's DuckDB file so that the same inputs give the same bytes.

``dpkg build`` must be reproducible, but DuckDB (2.0) does not write a database file
deterministically, for two reasons, both read from its source (``github.com/duckdb/duckdb``):

1. **Uninitialised memory in column segments.** Some compression paths write bytes they never
   initialised. Seen here: the padding byte of ``dict_fsst_compression_header_t`` (after the two
   width bytes, before ``symbol_table_size``) and the alignment gaps after the dictionary and the
   symbol table (``storage/compression/dict_fsst/compression.cpp``,
   ``DictFSSTCompressionState::Finalize``), in every build of this repository's package; and the
   gap between data and metadata of an ALP segment too full to be compacted
   (``include/duckdb/storage/compression/alp/alp_compress.hpp``, ``FlushSegment``) in a table of a
   million rows. (An uncompressed string segment that is "full enough" leaves the same kind of gap,
   ``string_uncompressed.cpp``, ``FinalizeAppend``.) The buffers come from DuckDB's allocator and
   hold what an earlier allocation left there: strings, pointers that move with ASLR. Upstream:
   duckdb/duckdb#23382 (open). No setting avoids them all: ``SET disabled_compression_methods =
   'dict_fsst'`` removes the DICT_FSST bytes (and compression: +7 % here) but not the ALP gap;
   ``debug_initialize``, which would zero every buffer, exists only in DuckDB's test runner.
   Fix: the database is written in a fresh Python process whose DuckDB allocator zero-fills every
   allocation (``DUCKDB_JE_MALLOC_CONF=zero:true``, jemalloc's documented ``opt.zero``; DuckDB
   bundles jemalloc with the ``DUCKDB_JE_`` prefix). The system allocator is given a fixed fill
   byte too (``MALLOC_PERTURB_`` for glibc, ``MallocPreScribble`` for macOS; these two are only
   insurance, nothing written to the file was seen to come from there) and ``PYTHONHASHSEED`` is
   fixed. jemalloc reads its options once, when the process starts, so this cannot be done in a
   process that has already used DuckDB (the caller's, or pytest's).
   Limits: DuckDB uses its jemalloc on Linux only; on macOS the fill byte of the system allocator
   stands in for it (untested), on Windows nothing does. DuckDB reuses the buffer of an evicted
   block without clearing it (``StandardBufferManager::ConstructManagedBuffer``), which happens
   only when a build needs more memory than DuckDB's ``memory_limit``.

2. **A random database identifier.** For storage version 1.4.0 and later DuckDB writes 16 random
   bytes (``GenerateDBIdentifier``, ``single_file_block_manager.cpp``) into the main header at
   offset 124 (``MainHeader::Write``: 8 checksum, 4 magic, 8 version, 4×8 flags, 2×32 version
   strings, 8 encryption metadata, then the identifier), and the buffer it then reuses for the
   first database headers still holds it at offset 124 of the header at 8192 (4096 too, until
   a checkpoint rewrites that one). It is the salt of an encrypted database and what a WAL file
   is matched against (``wal_replay.cpp``); there is no setting for it other than an older
   storage version (``STORAGE_VERSION 'v1.3.0'`` and older write zeros). The release is written in storage format v1.1.0 (``datapkg.database.STORAGE_VERSION``,
   version number 64) so that DuckDB 1.1 and later can open it: there the identifier is 16 zero
   bytes, and the main header ends after the two version strings (DuckDB's library version and
   git hash, fixed for one DuckDB release) with zeros. :func:`normalise_identifier` then changes
   nothing; for a database in a newer format it replaces the identifier by the first 16 bytes
   of a SHA-256 over the rest of the file (so different databases keep different identifiers) and recomputes the
   header checksums with DuckDB's own algorithm (``common/checksum.cpp``, :func:`checksum`). It
   checks the layout first (magic bytes, the stored checksums, not encrypted, no WAL) and fails
   rather than guess; the patched file is reopened with DuckDB, which verifies every header
   checksum, before it replaces the original (atomically).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from datapkg.atomic import replace_file
from datapkg.sandbox import SANDBOX_CONFIG

HEADER_SIZE = 4096                 # Storage::FILE_HEADER_SIZE: main header, then database headers 1 and 2
HEADERS = (0, HEADER_SIZE, 2 * HEADER_SIZE)
CHECKSUM_SIZE = 8                  # Storage::DEFAULT_BLOCK_HEADER_SIZE: a block starts with its checksum
MAGIC = b"DUCK"                    # MainHeader::MAGIC_BYTES, after the checksum
IDENTIFIER_OFFSET = 124            # 8 + 4 + 8 + 4*8 + 2*32 + 8
IDENTIFIER_LEN = 16                # MainHeader::DB_IDENTIFIER_LEN
VERSION_OFFSET = 12                # 8 checksum + 4 magic: MainHeader::version_number
FLAGS_OFFSET = 20                  # 8 checksum + 4 magic + 8 version number
ENCRYPTED_FLAG = 1                 # MainHeader::ENCRYPTED_DATABASE_FLAG in flags[0]
IDENTIFIER_DOMAIN = b"dpkg: DuckDB database identifier, v1\0"
CHUNK = 1 << 20
MASK = (1 << 64) - 1

#: The environment of the writer process: every allocation DuckDB makes starts as zeros.
WRITER_ENV = {"DUCKDB_JE_MALLOC_CONF": "zero:true", "MALLOC_PERTURB_": "165", "MallocPreScribble": "1",
              "PYTHONHASHSEED": "0"}


class LayoutError(RuntimeError):
    """The file does not look as this module expects a DuckDB file to look; nothing was changed."""


# --- DuckDB's checksum (src/common/checksum.cpp) ----------------------------------------------

def checksum(data: bytes) -> int:
    """DuckDB's block checksum (``Checksum(const uint8_t *, size_t)``) of whole 8-byte words:
    5381 XOR, for every little-endian word, the word times 0xbf58476d1ce4e5b9 (mod 2**64). (DuckDB
    hashes a remainder of 1-7 bytes differently; a header, 4096 - 8 bytes, has none.)"""
    if len(data) % 8:
        raise ValueError("only whole 8-byte words are supported")
    result = 5381
    for (word,) in struct.iter_unpack("<Q", data):
        result ^= (word * 0xBF58476D1CE4E5B9) & MASK
    return result


def storage_version_number(path: Path) -> int:
    """The storage version number in the main header of the DuckDB file ``path`` (64 for the
    formats of DuckDB 1.0 and 1.1, which every DuckDB since reads; 67 and up for 1.4 and later)."""
    with Path(path).open("rb") as handle:
        head = handle.read(VERSION_OFFSET + 8)
    if len(head) < VERSION_OFFSET + 8 or head[CHECKSUM_SIZE:CHECKSUM_SIZE + len(MAGIC)] != MAGIC:
        raise LayoutError(f"{path}: not a DuckDB database file")
    return struct.unpack_from("<Q", head, VERSION_OFFSET)[0]


def _stored(headers: bytearray, start: int) -> int:
    return struct.unpack_from("<Q", headers, start)[0]


def _computed(headers: bytearray, start: int) -> int:
    return checksum(bytes(headers[start + CHECKSUM_SIZE:start + HEADER_SIZE]))


# --- the identifier ---------------------------------------------------------------------------

def normalise_identifier(path: Path) -> bytes:
    """Replace the random database identifier of the DuckDB file ``path`` by one derived from
    the file's content; return the identifier now in the file (16 zero bytes: there was none).

    Raises :class:`LayoutError` (leaving the file as it was) when the file is not a plain,
    unencrypted, checkpointed DuckDB file laid out as described in the module docstring.
    """
    path = Path(path)
    if Path(f"{path}.wal").exists():
        raise LayoutError(f"{path}: has a WAL file; checkpoint and close the database first")
    with path.open("rb") as handle:
        headers = bytearray(handle.read(len(HEADERS) * HEADER_SIZE))
    if len(headers) < len(HEADERS) * HEADER_SIZE or headers[CHECKSUM_SIZE:CHECKSUM_SIZE + len(MAGIC)] != MAGIC:
        raise LayoutError(f"{path}: not a DuckDB database file")
    if _stored(headers, FLAGS_OFFSET) & ENCRYPTED_FLAG:
        raise LayoutError(f"{path}: encrypted; its identifier is the key's salt and must not change")
    for start in HEADERS:
        if _stored(headers, start) != _computed(headers, start):
            raise LayoutError(f"{path}: the checksum of the header at {start} is not DuckDB's checksum of its bytes")
    old = bytes(headers[IDENTIFIER_OFFSET:IDENTIFIER_OFFSET + IDENTIFIER_LEN])
    if old == bytes(IDENTIFIER_LEN):
        return old  # storage versions before 1.4.0 write no identifier
    places = [start + IDENTIFIER_OFFSET for start in HEADERS
              if headers[start + IDENTIFIER_OFFSET:start + IDENTIFIER_OFFSET + IDENTIFIER_LEN] == old]
    for place in places:
        headers[place:place + IDENTIFIER_LEN] = bytes(IDENTIFIER_LEN)
    if old in headers:
        raise LayoutError(f"{path}: the database identifier occurs in the headers where it is not expected")
    digest = hashlib.sha256(IDENTIFIER_DOMAIN)
    for start in HEADERS:  # the headers without their checksums (which depend on the identifier)
        digest.update(headers[start + CHECKSUM_SIZE:start + HEADER_SIZE])
    with path.open("rb") as handle:
        handle.seek(len(headers))
        tail = b""
        while chunk := handle.read(CHUNK):
            if old in tail + chunk:
                raise LayoutError(f"{path}: the database identifier is stored outside the headers too")
            digest.update(chunk)
            tail = chunk[-(IDENTIFIER_LEN - 1):]
    new = digest.digest()[:IDENTIFIER_LEN]
    for place in places:
        headers[place:place + IDENTIFIER_LEN] = new
    for start in HEADERS:
        struct.pack_into("<Q", headers, start, _computed(headers, start))
    with replace_file(path) as tmp:
        shutil.copyfile(path, tmp)
        with tmp.open("r+b") as handle:
            handle.write(headers)
            handle.flush()
            os.fsync(handle.fileno())
        _verify(tmp)
    return new


def _verify(path: Path) -> None:
    """Open ``path`` with DuckDB (which checks every header checksum) and read its catalog."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True, config=SANDBOX_CONFIG)
    try:
        con.execute("SELECT count(*) FROM duckdb_tables()").fetchall()
    finally:
        con.close()


# --- the writer process -----------------------------------------------------------------------

def writer_env() -> dict[str, str]:
    """:data:`WRITER_ENV`, keeping any jemalloc options the environment already sets."""
    env = dict(WRITER_ENV)
    if os.environ.get("DUCKDB_JE_MALLOC_CONF"):
        env["DUCKDB_JE_MALLOC_CONF"] = f"{os.environ['DUCKDB_JE_MALLOC_CONF']},{env['DUCKDB_JE_MALLOC_CONF']}"
    return env


def write_database(target: Path, root: Path, descriptor_name: str, descriptor: dict[str, Any], *,
                   step: Callable[[str], None] | None = None, memory_limit: str | None = None,
                   threads: int = 1, known: dict[str, str] | None = None) -> Any:
    """:func:`datapkg.database.create_database`, reproducibly: in a fresh process whose DuckDB
    allocations start as zeros (:mod:`datapkg.isolated`), then :func:`normalise_identifier`.
    Returns its ``DatabaseInfo``; an exception of the writer is raised here again."""
    from datapkg import isolated
    from datapkg.database import create_database

    info = isolated.call(create_database, Path(target), Path(root), descriptor_name, descriptor,
                         memory_limit=memory_limit, threads=threads, known=known,
                         env=writer_env(), step=step or (lambda _message: None))
    normalise_identifier(Path(target))
    return info

"""Content hashes of files (the one place that reads a file to hash it)."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def digest_of(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks (unbuffered: no buffer to allocate and clear per file)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb", buffering=0) as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    return digest_of(path, "sha256")

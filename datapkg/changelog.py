"""The release entries of a package's ``CHANGELOG.md`` (Keep a Changelog), checked against its version.

A release entry is a level-2 heading whose first word is a version, bracketed or not, optionally
with a leading ``v``: ``## [0.2.0] - 2026-12-01``, ``## v0.2.0``. ``## [Unreleased]`` is not a release.
"""

from __future__ import annotations

import re
from pathlib import Path

from datapkg.errors import DataError, UsageError

CHANGELOG = "CHANGELOG.md"
#: A changelog larger than this is refused (it is read whole).
MAX_BYTES = 2_000_000
_HEADING = re.compile(r"^##[ \t]+\[?v?([0-9][^\]\s]*)\]?", re.M)


def release_versions(text: str) -> list[str]:
    """The versions of the release entries in ``text``, in the order they appear."""
    return _HEADING.findall(text)


def check_changelog(root: Path, version: object) -> None:
    """Raise DataError when ``root`` has a CHANGELOG.md without an entry for ``version``; no file: no check."""
    path = root / CHANGELOG
    if not path.is_file():
        return
    if path.stat().st_size > MAX_BYTES:
        raise UsageError(f"{CHANGELOG} is over {MAX_BYTES} bytes; it is not read")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {CHANGELOG}: {getattr(exc, 'strerror', None) or exc}") from None
    versions = release_versions(text)
    if not isinstance(version, str) or not version:
        raise DataError(f"the descriptor has no version, so {CHANGELOG} cannot be checked; set \"version\"")
    if version.removeprefix("v") not in versions:
        listed = ", ".join(versions) if versions else "none"
        raise DataError(f"{CHANGELOG} has no entry for version {version} (its releases: {listed}); "
                        f"add '## [{version}] - YYYY-MM-DD' or fix the descriptor's version")

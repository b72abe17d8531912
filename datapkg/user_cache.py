"""dpkg's folders in the user's cache directory (never inside a package)."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir(kind: str) -> Path:
    """Where dpkg keeps ``kind`` (``"partial"`` downloads, ``"query"`` databases).

    ``$DPKG_CACHE_DIR`` when set (every kind in that one folder, under distinct file names),
    else ``$XDG_CACHE_HOME/dpkg/<kind>``, else ``~/.cache/dpkg/<kind>``.
    """
    if os.environ.get("DPKG_CACHE_DIR"):
        return Path(os.environ["DPKG_CACHE_DIR"])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "dpkg" / kind

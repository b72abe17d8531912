"""Views a package declares itself: ``"sqlViews"`` in the descriptor, each a name, a description and one SELECT.

    "sqlViews": [{"name": "facts_as_reported", "description": "...", "sql": "SELECT ... FROM citations ..."}]

They are created in the built database (``dpkg build``, ``dpkg query``) beside the views dpkg derives
from the schemas, on the connection that :func:`datapkg.sandbox.lock_down` has locked: the SQL comes
from the package. A declaration that is not an object with an identifier ``name`` and one SELECT in
``sql`` is skipped with a warning, never run.
"""

from __future__ import annotations

import re
from typing import Any

from datapkg.errors import UsageError

NAME_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
KEY = "sqlViews"


def declared_views(con: Any, descriptor: dict[str, Any]) -> tuple[list[tuple[str, str, str]], list[str]]:
    """``(name, description, sql)`` of each well-formed declared view, and a warning for each other one."""
    from datapkg.sandbox import single_select

    entries = descriptor.get(KEY) if isinstance(descriptor, dict) else None
    if entries is None:
        return [], []
    if not isinstance(entries, list):
        return [], [f"{KEY} is not a list: no package views created"]
    views, warnings = [], []
    for i, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, dict) else None
        sql = entry.get("sql") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not NAME_RE.fullmatch(name) or not isinstance(sql, str):
            warnings.append(f"{KEY}[{i}] needs a lower-case identifier 'name' and an 'sql' string: skipped")
            continue
        try:
            single_select(con, sql, f"view {name}")
        except UsageError as exc:
            warnings.append(f"{exc}: skipped")
            continue
        description = entry.get("description") if isinstance(entry.get("description"), str) else ""
        views.append((name, description or f"View {name}, declared by the package.", sql))
    return views, warnings

"""Build small data packages in a temporary folder for tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_package(root: Path, resources: list[dict[str, Any]], files: dict[str, str | bytes],
                  **descriptor: Any) -> Path:
    """Write ``datapackage.json`` (with ``resources``) and ``files`` under ``root``; return the descriptor path."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    body = {"name": "test-package", "resources": resources, **descriptor}
    target = root / "datapackage.json"
    target.write_text(json.dumps(body, indent=2), encoding="utf-8")
    return target


def table(name: str, path: str, fields: list[dict[str, Any]], **schema: Any) -> dict[str, Any]:
    """A tabular resource descriptor with an inline Table Schema."""
    return {"name": name, "path": path, "format": "csv", "schema": {"fields": fields, **schema}}

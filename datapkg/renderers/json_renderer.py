"""JSON report: ``{"valid": bool, "errors": [finding...], "stats": {...}}``."""

from __future__ import annotations

import json

from datapkg.report import Report
from datapkg.safe_text import json_safe


def render(report: Report, **_: object) -> str:
    """Render ``report`` as a JSON document."""
    return json_safe(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))

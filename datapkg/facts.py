"""What the fact-aware tools (``dpkg diff``, the evidence reader) share about the citation model.

A *fact* is a row of a curated resource, named by its resource and its one-field primary key.
The citation model itself (which resource holds the citations, which the article texts, which
resources are curated) is recognised by :func:`datapkg.checks.curation.find_citation_model`
from the Table Schemas; this module adds how a fact is rendered in English.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datapkg.checks.curation import CitationModel, discover_tables, find_citation_model

#: Fields that hold a row's English rendering, best first; any other ``*_en`` field comes after.
ENGLISH_FIELDS = ("summary_en", "about_en", "title_en", "name_en", "target_en")


def english_field(field_names: list[str]) -> str | None:
    """The field of a curated table that renders its row in English (``None`` when there is none)."""
    for name in ENGLISH_FIELDS:
        if name in field_names:
            return name
    return next((n for n in field_names if n.endswith("_en")), None)


def citation_model(root: Path, descriptor: dict[str, Any]) -> CitationModel | None:
    """The package's citation model, or ``None`` when it does not follow one."""
    return find_citation_model(discover_tables(root, descriptor))


def curated_resources(model: CitationModel, con: Any = None, table: str | None = None) -> list[str]:
    """The curated resources: the ``enum`` of ``citations.resource``, else the values it holds."""
    if model.curated or con is None:
        return list(model.curated)
    rows = con.execute(f"SELECT DISTINCT resource FROM {table or model.citations.name} "
                       "WHERE resource IS NOT NULL ORDER BY 1").fetchall()
    return [r[0] for r in rows]

"""``dpkg diff``: what changed between two versions of a data package.

:func:`diff_packages` opens both versions (anything ``dpkg validate`` accepts), loads every
tabular resource of each with THE loader into one DuckDB connection (databases ``old`` and
``new``) and compares them:

- descriptor metadata (version, licences, sources, ...), item by item for lists of objects;
- per resource: added or removed resources, fields added, removed or retyped, other schema and
  resource-property changes, and the rows (:mod:`datapkg.diff_rows`, matched by primary key);
- for packages that follow the citation model, the facts (:mod:`datapkg.diff_facts`).

The result is a :class:`PackageDiff`; :mod:`datapkg.diff_render` renders it as text, JSON or
Markdown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datapkg.diff_rows import FieldChange, Row, RowDiff, all_rows, compare_rows, table_ref
from datapkg.loader import UnsupportedResource, is_tabular, load_resource, package_resources, resource_schema
from datapkg.package_source import PackageSource, open_package

#: Resource properties that follow from the data (or are compared separately) rather than describe it.
DERIVED_PROPERTIES = {"schema", "bytes", "hash", "data", "name"}
#: Keys that identify an item of a list of objects (licences, sources, contributors).
ITEM_KEYS = ("name", "title", "path")


@dataclass
class ResourceDiff:
    """How one resource differs; ``status`` is added, removed, changed or unchanged."""

    name: str
    status: str
    rows_old: int = 0
    rows_new: int = 0
    fields_added: list[str] = field(default_factory=list)
    fields_removed: list[str] = field(default_factory=list)
    fields_retyped: list[FieldChange] = field(default_factory=list)
    schema_changes: list[FieldChange] = field(default_factory=list)
    properties: list[FieldChange] = field(default_factory=list)
    rows: RowDiff | None = None
    note: str | None = None

    @property
    def differs(self) -> bool:
        rows = self.rows
        return bool(self.status in ("added", "removed") or self.fields_added or self.fields_removed
                    or self.fields_retyped or self.schema_changes or self.properties
                    or (rows and (rows.added_count or rows.removed_count or rows.changed_count)))


@dataclass
class PackageDiff:
    """Everything that differs between OLD and NEW."""

    old: str
    new: str
    metadata: list[FieldChange] = field(default_factory=list)
    resources: list[ResourceDiff] = field(default_factory=list)
    facts: Any = None  # datapkg.diff_facts.FactDiff when both versions follow the citation model
    limit: int | None = None

    @property
    def differs(self) -> bool:
        return bool(self.metadata or any(r.differs for r in self.resources))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _item_id(item: Any) -> str | None:
    if isinstance(item, dict):
        for key in ITEM_KEYS:
            if isinstance(item.get(key), str):
                return f"{key}={item[key]}"
    return None


def compare_values(path: str, old: Any, new: Any) -> list[FieldChange]:
    """Changes between two descriptor values; lists of objects compared item by item."""
    if _json(old) == _json(new):
        return []
    if isinstance(old, list) and isinstance(new, list) and all(_item_id(i) for i in old + new):
        olds, news = {_item_id(i): i for i in old}, {_item_id(i): i for i in new}
        changes = [FieldChange(f"{path}[{k}]", olds.get(k), news.get(k)) for k in [*olds, *(k for k in news if k not in olds)]
                   if _json(olds.get(k)) != _json(news.get(k))]
        if changes:
            return changes
    return [FieldChange(path, old, new)]


def compare_properties(old: dict[str, Any], new: dict[str, Any], skip: set[str], prefix: str = "") -> list[FieldChange]:
    """Changes of every key of two descriptor objects except ``skip``, in NEW's key order."""
    keys = [k for k in new if k not in skip] + [k for k in old if k not in new and k not in skip]
    changes: list[FieldChange] = []
    for key in keys:
        changes.extend(compare_values(prefix + key, old.get(key), new.get(key)))
    return changes


def _fields(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in schema.get("fields") or [] if isinstance(f, dict) and isinstance(f.get("name"), str)}


def primary_key(schema: dict[str, Any]) -> list[str]:
    """The schema's primary key as a list of field names (``[]`` without one)."""
    pk = schema.get("primaryKey")
    pk = [pk] if isinstance(pk, str) else pk
    return [k for k in pk if isinstance(k, str)] if isinstance(pk, list) else []


def compare_schemas(diff: ResourceDiff, old: dict[str, Any], new: dict[str, Any]) -> None:
    """Fields added, removed, retyped, and the other schema changes, into ``diff``."""
    old_fields, new_fields = _fields(old), _fields(new)
    diff.fields_added = [n for n in new_fields if n not in old_fields]
    diff.fields_removed = [n for n in old_fields if n not in new_fields]
    for name in (n for n in new_fields if n in old_fields):
        before, after = old_fields[name], new_fields[name]
        old_type, new_type = before.get("type", "string"), after.get("type", "string")
        if old_type != new_type:
            diff.fields_retyped.append(FieldChange(name, old_type, new_type))
        diff.schema_changes.extend(compare_properties(before, after, {"name", "type"}, f"fields.{name}."))
    diff.schema_changes.extend(compare_properties(old, new, {"fields"}))


def _load(con: Any, source: PackageSource, side: str) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Load every tabular resource of ``source`` into database ``side``; return the resources by
    name and the notes of those the loader cannot read (compared by their descriptor only)."""
    con.execute(f"USE {side}")
    resources, notes = {}, {}
    for resource in package_resources(source.descriptor):
        name = resource.get("name")
        if not isinstance(name, str):
            continue
        resources[name] = resource
        if is_tabular(resource):
            try:
                load_resource(con, source.root, resource)
            except UnsupportedResource as exc:
                notes[name] = f"rows not compared: {exc}"
    con.execute("USE memory")
    return resources, notes


def _schema(source: PackageSource, resource: dict[str, Any] | None) -> dict[str, Any]:
    return resource_schema(source.root, resource) if resource and is_tabular(resource) else {}


def _resource_diff(con: Any, name: str, sources: tuple[PackageSource, PackageSource],
                   resources: tuple[dict, dict], notes: dict[str, str], limit: int | None) -> ResourceDiff:
    old_res, new_res = resources[0].get(name), resources[1].get(name)
    loaded = [name in r and is_tabular(r[name]) and name not in notes for r in resources]
    if old_res is None or new_res is None:
        index = 1 if old_res is None else 0
        side = ("old", "new")[index]
        diff = ResourceDiff(name, "added" if old_res is None else "removed", note=notes.get(name))
        if loaded[index]:
            count, rows = all_rows(con, side, name, limit)
            setattr(diff, f"rows_{side}", count)
            diff.rows = RowDiff(key=primary_key(_schema(sources[index], new_res or old_res)))
            if side == "new":
                diff.rows.added, diff.rows.added_count = rows, count
            else:
                diff.rows.removed, diff.rows.removed_count = rows, count
        return diff
    diff = ResourceDiff(name, "changed", note=notes.get(name))
    old_schema, new_schema = _schema(sources[0], old_res), _schema(sources[1], new_res)
    compare_schemas(diff, old_schema, new_schema)
    diff.properties = compare_properties(old_res, new_res, DERIVED_PROPERTIES)
    if all(loaded):
        for side in ("old", "new"):
            count = con.execute(f"SELECT count(*) FROM {table_ref(side, name)}").fetchone()[0]
            setattr(diff, f"rows_{side}", count)
        diff.rows = compare_rows(con, name, primary_key(old_schema), primary_key(new_schema), limit)
    if not diff.differs:
        diff.status = "unchanged"
    return diff


def diff_sources(old: PackageSource, new: PackageSource, *, limit: int | None = 200,
                 old_label: str | None = None, new_label: str | None = None) -> PackageDiff:
    """Compare two opened packages (see the module docstring)."""
    import duckdb

    con = duckdb.connect(config={"threads": 2})
    con.execute("SET enable_progress_bar = false")
    try:
        con.execute("ATTACH ':memory:' AS old")
        con.execute("ATTACH ':memory:' AS new")
        old_resources, old_notes = _load(con, old, "old")
        new_resources, new_notes = _load(con, new, "new")
        from datapkg.sandbox import lock_down

        lock_down(con)  # nothing below reads a file; the comparison itself runs no package SQL either
        notes = {**old_notes, **new_notes}
        result = PackageDiff(old_label or old.origin, new_label or new.origin, limit=limit)
        result.metadata = compare_properties(old.descriptor, new.descriptor, {"resources"})
        names = list(new_resources) + [n for n in old_resources if n not in new_resources]
        for name in names:
            result.resources.append(_resource_diff(con, name, (old, new), (old_resources, new_resources),
                                                   notes, limit))
        from datapkg.diff_facts import diff_facts

        result.facts = diff_facts(con, (old, new), result, limit)
        return result
    finally:
        con.close()


def diff_packages(old: str | Path, new: str | Path, *, allow_remote: bool = False,
                  limit: int | None = 200) -> PackageDiff:
    """Compare the packages at ``old`` and ``new`` (folders, descriptors, zips, release folders, URLs)."""
    from datapkg.version_source import open_version

    with open_version(str(old), allow_remote=allow_remote) as old_source:
        with open_version(str(new), allow_remote=allow_remote) as new_source:
            return diff_sources(old_source, new_source, limit=limit, old_label=str(old), new_label=str(new))


def diff_git(rev: str, path: str | Path = ".", *, limit: int | None = 200) -> PackageDiff:
    """Compare the package at ``path`` as committed in ``rev`` with the working tree."""
    from datapkg.version_source import git_version

    with git_version(rev, path) as old_source:
        with open_package(path) as new_source:
            return diff_sources(old_source, new_source, limit=limit, old_label=old_source.origin,
                                new_label=f"{path} (working tree)")


__all__ = ["FieldChange", "PackageDiff", "ResourceDiff", "Row", "diff_git", "diff_packages", "diff_sources"]

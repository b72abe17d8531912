"""Row-level comparison of one resource between two versions, as SQL joins in DuckDB.

Both versions are loaded by THE loader (:mod:`datapkg.loader`) into two attached in-memory
databases of one connection (``old`` and ``new``), so a resource is ``old.main."t"`` against
``new.main."t"``. With a primary key the rows are matched by a join on the key: rows only in NEW
are added, rows only in OLD removed, matched rows whose other fields differ are changed (each
changed field with its old and new value). Without a usable key the rows are compared whole
(``EXCEPT ALL`` over the fields both versions have): a changed row is then one removed and one
added row. Counts are exact; the listed rows stop at ``limit`` per kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from datapkg.loader import ROW, quote_ident, quote_literal

Row = dict[str, "str | None"]


@dataclass
class FieldChange:
    """One value that differs: a cell (``field`` old -> new), a type, or a descriptor property."""

    field: str
    old: Any
    new: Any


@dataclass
class RowChange:
    """A row present in both versions (same key) with the fields that differ."""

    key: Row
    changes: list[FieldChange]


@dataclass
class RowDiff:
    """Rows added, removed and changed in one resource; ``*_count`` exact, lists cut at the limit."""

    key: list[str]
    key_note: str | None = None
    added: list[Row] = field(default_factory=list)
    removed: list[Row] = field(default_factory=list)
    changed: list[RowChange] = field(default_factory=list)
    added_count: int = 0
    removed_count: int = 0
    changed_count: int = 0

    @property
    def truncated(self) -> bool:
        return (len(self.added) < self.added_count or len(self.removed) < self.removed_count
                or len(self.changed) < self.changed_count)


def table_ref(side: str, name: str) -> str:
    """The loaded table of resource ``name`` in the ``old`` or ``new`` database."""
    return f"{side}.main.{quote_ident(name)}"


def _text(alias: str, column: str) -> str:
    return f"CAST({alias}.{quote_ident(column)} AS VARCHAR)"


def _column_types(con: Any, side: str, name: str) -> dict[str, str]:
    rows = con.execute(f"DESCRIBE {table_ref(side, name)}").fetchall()
    return {r[0]: r[1] for r in rows if r[0] != ROW}


def _duplicate_keys(con: Any, side: str, name: str, key: list[str]) -> int:
    cols = ", ".join(quote_ident(k) for k in key)
    return con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM {table_ref(side, name)} "
                       f"GROUP BY ALL HAVING count(*) > 1)").fetchone()[0]


def usable_key(con: Any, name: str, old_key: list[str], new_key: list[str]) -> tuple[list[str], str | None]:
    """The key to match rows by, or ``([], why not)`` when the rows must be compared whole."""
    if not new_key and not old_key:
        return [], "no primary key: rows compared whole (a changed row shows as removed + added)"
    key = new_key or old_key
    old_cols, new_cols = _column_types(con, "old", name), _column_types(con, "new", name)
    missing = [k for k in key if k not in old_cols or k not in new_cols]
    if missing:
        return [], (f"primary key field(s) {', '.join(missing)} not in both versions: rows compared whole")
    for side in ("old", "new"):
        if _duplicate_keys(con, side, name, key):
            return [], f"primary key {', '.join(key)} not unique in {side.upper()}: rows compared whole"
    return key, None


def _join_condition(key: list[str], types_old: dict[str, str], types_new: dict[str, str]) -> str:
    parts = []
    for k in key:
        if types_old[k] == types_new[k]:
            parts.append(f"o.{quote_ident(k)} = n.{quote_ident(k)}")
        else:
            parts.append(f"{_text('o', k)} = {_text('n', k)}")
    return " AND ".join(parts)


def _rows(con: Any, sql: str) -> list[Row]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values)) for values in cursor.fetchall()]


def _select_text(alias: str, columns: list[str]) -> str:
    return ", ".join(f"{_text(alias, c)} AS {quote_ident(c)}" for c in columns)


def _struct(alias: str, columns: list[str]) -> str:
    """A STRUCT of ``columns`` of ``alias`` as text (one value a Python dict)."""
    return "{" + ", ".join(f"{quote_literal(c)}: {_text(alias, c)}" for c in columns) + "}"


def _keyed(con: Any, name: str, key: list[str], limit: int | None) -> RowDiff:
    """One FULL JOIN on the key keeps only the rows that differ (added, removed, changed), with
    what is shown of each; counts and the listed rows come from that small table."""
    types_old, types_new = _column_types(con, "old", name), _column_types(con, "new", name)
    common = [c for c in types_new if c in types_old and c not in key]
    on = _join_condition(key, types_old, types_new)

    def differs(c: str) -> str:
        if types_old[c] == types_new[c]:
            return f"o.{quote_ident(c)} IS DISTINCT FROM n.{quote_ident(c)}"
        return f"{_text('o', c)} IS DISTINCT FROM {_text('n', c)}"

    changed = " OR ".join(f"({differs(c)})" for c in common) or "FALSE"
    structs = ", ".join(f"{{'f': {quote_literal(c)}, 'o': {_text('o', c)}, 'n': {_text('n', c)}, 'd': {differs(c)}}}"
                        for c in common)
    changes = f"list_filter([{structs}], lambda x: x.d)" if common else "NULL"
    keys = ", ".join(f"coalesce({_text('n', k)}, {_text('o', k)}) AS {quote_ident(k)}" for k in key)
    present_old, present_new = f"o.{ROW} IS NOT NULL", f"n.{ROW} IS NOT NULL"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE __dpkg_diff AS
        SELECT CASE WHEN NOT ({present_old}) THEN 'added' WHEN NOT ({present_new}) THEN 'removed' ELSE 'changed' END
                 AS __status, {keys},
               CASE WHEN NOT ({present_old}) THEN {_struct('n', list(types_new))} END AS __added,
               CASE WHEN NOT ({present_new}) THEN {_struct('o', list(types_old))} END AS __removed,
               CASE WHEN {present_old} AND {present_new} THEN {changes} END AS __changes
        FROM {table_ref('old', name)} o FULL JOIN {table_ref('new', name)} n ON {on}
        WHERE NOT ({present_old}) OR NOT ({present_new}) OR ({changed})""")
    try:
        counts = dict(con.execute("SELECT __status, count(*) FROM __dpkg_diff GROUP BY 1").fetchall())
        diff = RowDiff(key=key, added_count=counts.get("added", 0), removed_count=counts.get("removed", 0),
                       changed_count=counts.get("changed", 0))
        order = ", ".join(quote_ident(k) for k in key)
        cut = f" LIMIT {int(limit)}" if limit else ""

        def listed(status: str, columns: str) -> list[tuple]:
            return con.execute(f"SELECT {columns} FROM __dpkg_diff WHERE __status = '{status}' "
                               f"ORDER BY {order}{cut}").fetchall()

        diff.added = [r[0] for r in listed("added", "__added")]
        diff.removed = [r[0] for r in listed("removed", "__removed")]
        key_struct = "{" + ", ".join(f"{quote_literal(k)}: {quote_ident(k)}" for k in key) + "}"
        for row_key, row_changes in listed("changed", f"{key_struct}, __changes"):
            diff.changed.append(RowChange(key=row_key, changes=[FieldChange(c["f"], c["o"], c["n"]) for c in row_changes]))
    finally:
        con.execute("DROP TABLE IF EXISTS __dpkg_diff")
    return diff


def _whole(con: Any, name: str, note: str, limit: int | None) -> RowDiff:
    types_old, types_new = _column_types(con, "old", name), _column_types(con, "new", name)
    common = [c for c in types_new if c in types_old]
    diff = RowDiff(key=[], key_note=note)
    if not common:
        return diff
    cols = ", ".join(quote_ident(c) for c in common)
    cut = f" LIMIT {int(limit)}" if limit else ""
    old_t, new_t = table_ref("old", name), table_ref("new", name)
    old_sel = f"SELECT {_select_text('o', common)} FROM {old_t} o"
    new_sel = f"SELECT {_select_text('n', common)} FROM {new_t} n"
    added, removed = f"({new_sel} EXCEPT ALL {old_sel})", f"({old_sel} EXCEPT ALL {new_sel})"
    diff.added_count = con.execute(f"SELECT count(*) FROM {added}").fetchone()[0]
    diff.removed_count = con.execute(f"SELECT count(*) FROM {removed}").fetchone()[0]
    diff.added = _rows(con, f"SELECT * FROM {added} ORDER BY {cols}{cut}")
    diff.removed = _rows(con, f"SELECT * FROM {removed} ORDER BY {cols}{cut}")
    return diff


def compare_rows(con: Any, name: str, old_key: list[str], new_key: list[str], limit: int | None) -> RowDiff:
    """Rows added, removed and changed in resource ``name`` (loaded as ``old``/``new``)."""
    key, note = usable_key(con, name, old_key, new_key)
    return _keyed(con, name, key, limit) if key else _whole(con, name, note or "", limit)


def all_rows(con: Any, side: str, name: str, limit: int | None) -> tuple[int, list[Row]]:
    """(row count, rows as text) of a resource present in one version only."""
    types = _column_types(con, side, name)
    cut = f" LIMIT {int(limit)}" if limit else ""
    count = con.execute(f"SELECT count(*) FROM {table_ref(side, name)}").fetchone()[0]
    rows = _rows(con, f"SELECT {_select_text('t', list(types))} FROM {table_ref(side, name)} t ORDER BY {ROW}{cut}")
    return count, rows

"""Turn a data package into a typed, commented, constrained DuckDB database (for build and query).

The rows come from THE loader (:mod:`datapkg.loader`); this module adds what an analyst's
database needs on top: PRIMARY KEY / UNIQUE / FOREIGN KEY / NOT NULL / enum CHECK constraints
from the Table Schemas, ``COMMENT ON`` every table, view and column, the texts of the files
that rows name (``path`` + ``sha256`` tables, e.g. articles), a few analyst views where the
package has the tables they need, and a hidden ``_dpkg`` schema that records the content hash
of every input file (so ``dpkg query`` knows whether a database is up to date).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datapkg.errors import UsageError
from datapkg.limits import MAX_NAMED_FILE, regular_file
from datapkg.db_inputs import META_SCHEMA, content_key, descriptor_digest, input_files, manifest
from datapkg.package_source import check_relative_path, is_local, resource_paths
from datapkg.sandbox import lock_down

TEXTS = "texts"
#: 16 KiB blocks (DuckDB's default: 256 KiB) keep a small package's database small and quick to
#: open; packages with more than SMALL_PACKAGE bytes of data keep DuckDB's default.
SMALL_BLOCK_SIZE = 16384
SMALL_PACKAGE = 32 << 20
#: The storage format of the database file: the oldest that every DuckDB since 1.1 reads (DuckDB
#: writes its newest by default, which older clients cannot open). No database identifier is
#: written in this format (see :mod:`datapkg.duckdb_file`).
STORAGE_VERSION = "v1.1.0"
#: FSST (storage formats before 1.3) samples the strings it analyses at random, so two builds
#: of the same table choose FSST or dictionary compression for different segments: off (about
#: +4 % file size at 1M rows; formats from 1.3 on have DICT_FSST instead, which older clients lack).
DISABLED_COMPRESSION = "fsst"
#: :func:`batch_rows`: one row per this many bytes of the memory cap (512MB: 1,048,576 rows), at least
#: MIN_BATCH_ROWS. Measured: 5M rows of the build benchmark's child table (string key, foreign key)
#: commit under 512MB in batches of 1M rows, not in one.
BATCH_BYTES_PER_ROW = 512
#: What DuckDB says when a commit needs more memory than the cap (a TransactionException).
OUT_OF_MEMORY = "failed to pin block"
MIN_BATCH_ROWS = 100_000


@dataclass
class ViewInfo:
    """An analyst view: its name, what it shows (also its COMMENT) and its SQL."""

    name: str
    description: str
    sql: str
    columns: dict[str, str] = field(default_factory=dict)


@dataclass
class DatabaseInfo:
    """What :func:`create_database` made: tables (resource name -> row count), views, warnings."""

    tables: dict[str, int] = field(default_factory=dict)
    texts_table: str | None = None
    text_files: list[str] = field(default_factory=list)
    views: list[ViewInfo] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    constraints: dict[str, list[str]] = field(default_factory=dict)
    citations: dict[str, Any] | None = None


def q(name: str) -> str:
    """A DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    """A DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


def file_rows_resources(schemas: dict[str, dict[str, Any]]) -> list[str]:
    """Resources whose table names files: a ``path`` and a ``sha256`` field (as ``articles`` has)."""
    out = []
    for name, schema in schemas.items():
        names = {f.get("name") for f in schema.get("fields", []) if isinstance(f, dict)}
        if {"path", "sha256"} <= names:
            out.append(name)
    return out


def rows_may_name_files(root: Path, descriptor: dict[str, Any]) -> bool:
    """True unless the descriptor alone shows that no table names files (:func:`file_rows_resources`),
    i.e. the database's ``texts`` table, and the files the release carries for it, may not be empty."""
    from datapkg.loader import is_tabular, resource_schema

    schemas = {}
    for resource in descriptor.get("resources") or []:
        if isinstance(resource, dict) and is_tabular(resource):
            try:
                schemas[str(resource.get("name"))] = resource_schema(root, resource)
            except UsageError:  # unreadable: the writer says why; meanwhile assume it may name files
                return True
    return bool(file_rows_resources(schemas))


# --- schema to DDL ---------------------------------------------------------------------------

def _topological(names: list[str], deps: dict[str, set[str]]) -> list[str]:
    """``names`` ordered so that referenced tables come first (stable; cycles keep input order)."""
    done: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in done or name in visiting:
            return
        visiting.add(name)
        for dep in sorted(deps.get(name, ())):
            if dep != name and dep in names:
                visit(dep)
        visiting.discard(name)
        done.append(name)

    for name in names:
        visit(name)
    return done


def foreign_keys(name: str, schema: dict[str, Any]) -> list[tuple[list[str], str, list[str]]]:
    """(fields, referenced resource, referenced fields) of each foreign key of ``schema``."""
    out = []
    for fk in schema.get("foreignKeys") or []:
        if not isinstance(fk, dict) or not isinstance(fk.get("reference"), dict):
            continue
        fields = fk.get("fields")
        ref = fk["reference"]
        ref_fields = ref.get("fields")
        fields = [fields] if isinstance(fields, str) else fields
        ref_fields = [ref_fields] if isinstance(ref_fields, str) else ref_fields
        if not isinstance(fields, list) or not isinstance(ref_fields, list) or len(fields) != len(ref_fields):
            continue
        out.append((fields, ref.get("resource") or name, ref_fields))  # '' = the resource itself (v1)
    return out


def key_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _check_enum(fld: dict[str, Any]) -> str | None:
    enum = (fld.get("constraints") or {}).get("enum")
    if fld.get("type", "string") != "string" or not isinstance(enum, list) or not enum:
        return None
    if not all(isinstance(v, str) for v in enum):
        return None
    return f"CHECK ({q(fld['name'])} IN ({', '.join(lit(v) for v in enum)}))"


def table_ddl(name: str, schema: dict[str, Any], fields: list[dict[str, Any]], enforced: dict[str, list[tuple[str, ...]]],
              level: int) -> tuple[str, list[str], list[tuple[list[str], str, list[str]]]]:
    """CREATE TABLE for a resource; ``level`` 0 = every constraint, 1 = no CHECK, 2 = no FK, 3 = none.

    Returns (sql, constraint descriptions, foreign keys used). A foreign key is declared only
    when the referenced columns are a key DuckDB enforces on the referenced table.
    """
    from datapkg.loader import duckdb_type

    pk = key_list(schema.get("primaryKey"))
    described: list[str] = []
    lines = []
    for fld in fields:
        cons = fld.get("constraints") or {}
        col = f"{q(fld['name'])} {duckdb_type(fld)}"
        if level < 3 and cons.get("required") and fld["name"] not in pk:
            col += " NOT NULL"
            described.append(f"NOT NULL {fld['name']}")
        if level < 3 and cons.get("unique") and [fld["name"]] != pk:
            col += " UNIQUE"
            described.append(f"UNIQUE {fld['name']}")
        check = _check_enum(fld) if level < 1 else None
        if check:
            col += f" {check}"
            described.append(f"CHECK {fld['name']} IN enum")
        lines.append(col)
    keys: list[tuple[str, ...]] = []
    if level < 3 and pk:
        lines.append(f"PRIMARY KEY ({', '.join(q(c) for c in pk)})")
        described.append(f"PRIMARY KEY ({', '.join(pk)})")
        keys.append(tuple(pk))
    if level < 3:
        keys += [(f["name"],) for f in fields if (f.get("constraints") or {}).get("unique")]
        for unique in schema.get("uniqueKeys") or []:
            cols = key_list(unique)
            if cols and tuple(cols) not in keys:
                lines.append(f"UNIQUE ({', '.join(q(c) for c in cols)})")
                described.append(f"UNIQUE ({', '.join(cols)})")
                keys.append(tuple(cols))
    used = []
    if level < 2:
        for cols, ref, ref_cols in foreign_keys(name, schema):
            ref_keys = keys if ref == name else enforced.get(ref, [])
            if tuple(ref_cols) not in ref_keys:
                continue
            lines.append(f"FOREIGN KEY ({', '.join(q(c) for c in cols)}) REFERENCES {q(ref)} ({', '.join(q(c) for c in ref_cols)})")
            described.append(f"FOREIGN KEY ({', '.join(cols)}) -> {ref} ({', '.join(ref_cols)})")
            used.append((cols, ref, ref_cols))
    enforced[name] = keys
    return f"CREATE TABLE out.main.{q(name)} (\n  " + ",\n  ".join(lines) + "\n)", described, used


def batch_rows(memory_limit: str | None) -> int | None:
    """Rows the writer inserts into a table per transaction under ``memory_limit`` (``None``: all in one).

    A transaction's keys (its PRIMARY KEY, UNIQUE and FOREIGN KEY indexes) stay in memory until it
    commits, and DuckDB cannot evict them: a table of 5M rows with a string key and a foreign key
    does not commit under 512MB in one INSERT (DuckDB: "failed to pin block"). The writer inserts
    such a table in batches of this many rows, each committed and checkpointed (its indexes then
    live in the file, loaded as needed). A function of the cap only, so the file's layout is one
    for the same inputs and cap.
    """
    from datapkg.build import size_bytes

    return max(MIN_BATCH_ROWS, size_bytes(memory_limit) // BATCH_BYTES_PER_ROW) if memory_limit else None


def _insert(con: Any, name: str, columns: list[str], self_fks: list[tuple[list[str], str, list[str]]],
            batch: int | None = None, rows: int = 0) -> None:
    """Copy the loaded ``rows`` rows into the output table, parents before children for self
    references; ``batch``: at most this many rows per transaction (:func:`batch_rows`)."""
    from datapkg.loader import ROW, row_numbers_table

    cols = ", ".join(q(c) for c in columns)
    row = q(ROW)
    source = f"memory.main.{q(name)}"
    if not self_fks:
        # a scan of the stage keeps the file's order (preserve_insertion_order): no sort to spill
        order = f" ORDER BY {row}" if _exists(con, row_numbers_table(name)) else ""
        if not batch or rows <= batch:
            con.execute(f"INSERT INTO out.main.{q(name)} SELECT {cols} FROM {source}{order}")
            return
        first, last = con.execute(f"SELECT min({row}), max({row}) FROM {source}").fetchone()
        for low in range(first - 1, last, batch):  # row numbers (low, low + batch], in the file's order
            con.execute(f"INSERT INTO out.main.{q(name)} SELECT {cols} FROM {source} "
                        f"WHERE {row} > {low} AND {row} <= {low + batch}{order}")
            con.execute("CHECKPOINT out")
        return
    # DuckDB checks a foreign key against rows already in the table: insert in waves, parents first.
    con.execute("CREATE OR REPLACE TEMP TABLE __done (r BIGINT)")
    ready = []
    for cols_fk, _, ref_cols in self_fks:
        nulls = " OR ".join(f"s.{q(c)} IS NULL" for c in cols_fk)
        match = " AND ".join(f"t.{q(r)} = s.{q(c)}" for c, r in zip(cols_fk, ref_cols))
        ready.append(f"({nulls} OR EXISTS (SELECT 1 FROM out.main.{q(name)} t WHERE {match}))")
    while True:
        con.execute(f"CREATE OR REPLACE TEMP TABLE __wave AS SELECT s.* FROM {source} s "
                    f"WHERE s.{row} NOT IN (SELECT r FROM __done) AND {' AND '.join(ready)}")
        if con.execute("SELECT count(*) FROM __wave").fetchone()[0] == 0:
            break
        con.execute(f"INSERT INTO out.main.{q(name)} SELECT {cols} FROM __wave ORDER BY {row}")
        con.execute(f"INSERT INTO __done SELECT {row} FROM __wave")
    left = con.execute(f"SELECT count(*) FROM {source} WHERE {row} NOT IN (SELECT r FROM __done)").fetchone()[0]
    con.execute("DROP TABLE __wave")
    if left:
        con.execute("DROP TABLE __done")
        raise _ConstraintFailure(f"{name}: {left} row(s) refer to themselves in a cycle or to keys that do not exist")
    con.execute("DROP TABLE __done")


def _exists(con: Any, qualified: str) -> bool:
    """True when the table ``schema."name"`` (as the loader names them) exists."""
    schema, _, quoted = qualified.partition(".")
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
                            [schema, quoted[1:-1].replace('""', '"')]).fetchone()[0])


class _ConstraintFailure(Exception):
    pass


# --- comments ---------------------------------------------------------------------------------

def _describe(item: dict[str, Any]) -> str:
    title, description = item.get("title"), item.get("description")
    parts = [p.strip() for p in (title, description) if isinstance(p, str) and p.strip()]
    if len(parts) == 2 and parts[1].startswith(parts[0]):
        parts = parts[1:]
    return ": ".join(parts)


def comment(con: Any, what: str, target: str, text: str) -> None:
    """``COMMENT ON what target IS text``, unless ``text`` is empty."""
    if text:
        con.execute(f"COMMENT ON {what} {target} IS {lit(text)}")


@contextmanager
def one_transaction(con: Any) -> Iterator[None]:
    """The block's statements in one transaction: DuckDB commits each statement on its own
    otherwise, and a commit to the file costs about 3 ms (this package's 417 ``COMMENT ON``: 1.5 s).
    Only for statements that fail only when something is wrong with dpkg: an error ends the
    transaction (rolled back) and is raised."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


# --- the database -----------------------------------------------------------------------------

def create_database(target: Path, root: Path, descriptor_name: str, descriptor: dict[str, Any], *,
                    step: Callable[[str], None] | None = None, memory_limit: str | None = None,
                    threads: int = 1, known: dict[str, str] | None = None) -> DatabaseInfo:
    """Build the DuckDB database of the package at ``root`` into the new file ``target``.

    Each table is read once into an all-VARCHAR stage and written, typed and keyed, straight into
    ``target`` (no typed copy in memory). ``memory_limit`` (DuckDB's syntax, e.g. ``"512MB"``)
    caps DuckDB's buffers; the stage then spills to a temporary folder (``TMPDIR``), so memory
    stays flat in the number of rows. The file is in storage format :data:`STORAGE_VERSION`.
    ``known``: SHA-256 digests of input files the caller has just computed (a
    :func:`datapkg.db_inputs.manifest`), recorded as they are instead of reading the files again.
    """
    import tempfile

    import duckdb

    step = step or (lambda _msg: None)
    with tempfile.TemporaryDirectory(prefix="dpkg-build-spill-") as spill:
        config: dict[str, Any] = {"threads": threads, "temp_directory": spill, "preserve_insertion_order": True}
        if memory_limit:
            config["memory_limit"] = memory_limit
        con = duckdb.connect(config=config)
        try:
            con.execute(f"SET disabled_compression_methods = {lit(DISABLED_COMPRESSION)}")
            return _create(con, target, root, descriptor_name, descriptor, step, known or {}, batch_rows(memory_limit))
        finally:
            con.close()


def _create(con: Any, target: Path, root: Path, descriptor_name: str, descriptor: dict[str, Any],
            step: Callable[[str], None], known: dict[str, str], batch: int | None) -> DatabaseInfo:
    from datapkg.loader import UnsupportedResource, is_tabular, load_resource, resource_schema

    info = DatabaseInfo()
    size = sum((root / p).stat().st_size for r in descriptor.get("resources") or [] if isinstance(r, dict)
               for p in resource_paths(r) if is_local(p) and (root / p).is_file())
    options = f"STORAGE_VERSION {lit(STORAGE_VERSION)}" + (f", BLOCK_SIZE {SMALL_BLOCK_SIZE}" if size < SMALL_PACKAGE else "")
    con.execute(f"ATTACH {lit(str(target))} AS out ({options})")
    loaded: dict[str, Any] = {}
    resources = {r["name"]: r for r in descriptor.get("resources") or []
                 if isinstance(r, dict) and isinstance(r.get("name"), str) and is_tabular(r)}
    for name, resource in resources.items():
        step(f"loading {name}")
        try:
            loaded[name] = load_resource(con, root, resource, lazy=True)
        except UnsupportedResource as exc:
            info.skipped[name] = str(exc)
            info.warnings.append(f"resource '{name}' is not in the database: {exc}")
    schemas = {name: resource_schema(root, resources[name]) for name in loaded}
    texts_name = f"{TEXTS}_files" if TEXTS in loaded else TEXTS
    con.execute("SET threads = 1")  # the writes: with more threads DuckDB lays the file out differently each time
    lock_down(con)  # the package's files are read: the SQL built from its strings runs sandboxed
    _write_tables(con, loaded, schemas, resources, info, step, batch)
    step("loading texts")
    _load_texts(con, root, schemas, texts_name, info)
    step("creating views")
    from datapkg.database_views import create_views

    create_views(con, schemas, info, descriptor)
    step("recording inputs")
    files = input_files(root, descriptor_name, descriptor, info.text_files)
    files = [f for f in files if f != descriptor_name]  # the descriptor: by its digest
    entries = dict(sorted({**manifest(root, [f for f in files if f not in known]),
                           **{f: known[f] for f in files if f in known}}.items()))
    con.execute(f"CREATE SCHEMA out.{META_SCHEMA}")
    con.execute(f"CREATE TABLE out.{META_SCHEMA}.inputs (path VARCHAR PRIMARY KEY, sha256 VARCHAR NOT NULL)")
    con.executemany(f"INSERT INTO out.{META_SCHEMA}.inputs VALUES (?, ?)", sorted(entries.items()))
    con.execute(f"CREATE TABLE out.{META_SCHEMA}.info (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.executemany(f"INSERT INTO out.{META_SCHEMA}.info VALUES (?, ?)",
                    [("content_key", content_key(entries, descriptor)), ("descriptor", descriptor_digest(descriptor)),
                     ("package", str(descriptor.get("name") or "")),
                     ("version", str(descriptor.get("version") or ""))])
    con.execute("CHECKPOINT out")
    con.execute("DETACH out")
    return info


def _write_tables(con: Any, loaded: dict[str, Any], schemas: dict[str, dict[str, Any]], resources: dict[str, Any],
                  info: DatabaseInfo, step: Callable[[str], None], batch: int | None = None) -> None:
    """Each loaded table into ``out``, referenced tables first, with every constraint its data keeps
    (``batch``: rows per transaction, :func:`batch_rows`). Running out of memory is not the data
    breaking a constraint: it is raised as DuckDB's out-of-memory error."""
    import duckdb

    names = list(loaded)
    deps = {n: {ref for _, ref, _ in foreign_keys(n, schemas[n])} for n in names}
    enforced: dict[str, list[tuple[str, ...]]] = {}
    for name in _topological(names, deps):
        step(f"writing table {name}")
        table = loaded[name]
        columns = [f["name"] for f in table.fields]
        for level in range(4):
            sql, described, used = table_ddl(name, schemas[name], table.fields, enforced, level)
            try:
                con.execute(sql)
                _insert(con, name, columns, [fk for fk in used if fk[1] == name], batch, table.rows)
                break
            except (duckdb.Error, _ConstraintFailure) as exc:
                message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                if isinstance(exc, duckdb.OutOfMemoryException) or OUT_OF_MEMORY in message:
                    raise duckdb.OutOfMemoryException(f"table {name}: {message}") from None
                con.execute(f"DROP TABLE IF EXISTS out.main.{q(name)}")
                if level == 3:
                    raise
                info.warnings.append(f"table {name}: constraints relaxed ({['CHECK', 'FOREIGN KEY', 'all keys'][level]} "
                                     f"dropped) because the data breaks them: {message}")
        info.constraints[name] = described
        info.tables[name] = table.rows
        with one_transaction(con):
            comment(con, "TABLE", f"out.main.{q(name)}", _describe(resources[name]))
            for fld in table.fields:
                comment(con, "COLUMN", f"out.main.{q(name)}.{q(fld['name'])}",
                         _describe(fld) or f"{fld['name']} ({fld.get('type', 'string')}; no description in the schema)")


def _load_texts(con: Any, root: Path, schemas: dict[str, dict[str, Any]], name: str, info: DatabaseInfo) -> None:
    """Table ``texts`` (path, text, bytes, sha256) with every file a ``path`` + ``sha256`` row names."""
    sources = file_rows_resources({n: s for n, s in schemas.items() if n in info.tables})
    if not sources:
        return
    paths: set[str] = set()
    for resource in sources:
        for (rel,) in con.execute(f"SELECT DISTINCT path FROM out.main.{q(resource)} WHERE path IS NOT NULL").fetchall():
            paths.add(str(rel))
    rows = []
    for rel in sorted(paths):
        try:
            check_relative_path(rel, "path")
        except UsageError as exc:
            info.warnings.append(f"text not loaded: {exc}")
            continue
        try:
            data = regular_file(root, rel, "path", MAX_NAMED_FILE).read_bytes()
        except UsageError as exc:
            info.warnings.append(f"text not loaded: {exc}")
            continue
        except OSError:
            info.warnings.append(f"text not loaded: {rel} does not exist inside the package")
            continue
        text = data.decode("utf-8", errors="replace")
        if "\ufffd" in text and b"\xef\xbf\xbd" not in data:
            info.warnings.append(f"{rel} is not valid UTF-8; undecodable bytes became U+FFFD")
        rows.append((rel, text, len(data), hashlib.sha256(data).hexdigest()))
    con.execute(f"CREATE TABLE out.main.{q(name)} (path VARCHAR PRIMARY KEY, text VARCHAR NOT NULL, "
                f"bytes BIGINT NOT NULL, sha256 VARCHAR NOT NULL)")
    con.executemany(f"INSERT INTO out.main.{q(name)} VALUES (?, ?, ?, ?)", rows)
    with one_transaction(con):
        comment(con, "TABLE", f"out.main.{q(name)}",
                 f"Full text of every file named by a row of {', '.join(sources)} (column path); search it with "
                 "contains(text, ...) or text ILIKE '%...%'.")
        for col, text in (("path", f"Package-relative path of the file, as in {', '.join(sources)}.path."),
                          ("text", "The file's full text (UTF-8)."), ("bytes", "Size of the file in bytes."),
                          ("sha256", "SHA-256 of the file's bytes (hex).")):
            comment(con, "COLUMN", f"out.main.{q(name)}.{q(col)}", text)
    info.texts_table = name
    info.text_files = [r[0] for r in rows]

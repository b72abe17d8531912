"""The one loader that puts a Frictionless data package into DuckDB (validate, build, query).

Every tabular resource becomes one table named after the resource, typed from its Table Schema,
plus a column ``__row`` that holds the source row number counted as frictionless counts it
(header row 1, first data row 2; blank rows and comment rows count, a quoted multi-line cell
does not start a new row). DuckDB's ``read_csv`` does the reading; no Python loop touches the
rows except when the file has blank or comment lines, where a ``csv`` pass maps DuckDB's
records to frictionless' row numbers.

Loading always goes through an all-VARCHAR *raw* table; the typed table derives from it with
``TRY_CAST``-like expressions that follow frictionless' own parsing rules (``missingValues``,
``trueValues``, ``bareNumber``, date formats...). So a cell that does not cast never aborts the
load: :func:`cast_failures` lists it with its row and field, and ``on_cast_error="raise"``
turns the first ones into a one-line :class:`DataError`.

Typical use::

    con = duckdb.connect()
    tables = load_package(con, root, descriptor)                 # typed tables, raw dropped
    tables = load_package(con, root, descriptor, keep_raw=True)  # + raw."<name>" (VARCHAR)
    tables = load_package(con, root, descriptor, raw=True)       # only all-VARCHAR tables
    tables = load_package(con, root, descriptor, lazy=True)      # one copy of the cells; views on top

A row with more cells than the header keeps only the header's cells; in lazy mode
``raw."<name>#extra"`` lists those rows. Limits: multi-file resources and
spreadsheets raise :class:`UnsupportedResource`; encodings other than UTF-8 and Latin-1 are
transcoded to a temporary UTF-8 copy first.
"""

from __future__ import annotations

import codecs
import csv
import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datapkg import strict_json
from datapkg.errors import DataError, UsageError
from datapkg.package_source import check_relative_path, resource_paths

ROW = "__row"
RAW_SCHEMA = "raw"
#: The longest CSV line DuckDB reads at first (its read buffer is twice this), and the limit of
#: the second try when a line is longer (frictionless itself has no limit).
LINE_SIZE = 2 * 1024 * 1024
LONG_LINE_SIZE = 256 * 1024 * 1024
#: A string that never occurs in a CSV cell: empty cells stay '' and padded (missing) cells NULL.
NULL_SENTINEL = "\x01\x02dpkg-missing-cell\x02\x01"
TABULAR_FORMATS = {"csv", "tsv"}
DUCKDB_ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "utf-8-sig": "utf-8", "utf-16": "utf-16",
                    "latin-1": "latin-1", "latin1": "latin-1", "iso-8859-1": "latin-1"}
WHITESPACE = " \t\n\r\x0b\x0c"
DEFAULT_TRUE = ["true", "True", "TRUE", "1"]
DEFAULT_FALSE = ["false", "False", "FALSE", "0"]

#: Table Schema type -> DuckDB column type (list types are built from ``itemType``).
DUCKDB_TYPES = {
    "string": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN",
    "date": "DATE", "datetime": "TIMESTAMP", "time": "TIME", "year": "INTEGER",
    "yearmonth": "VARCHAR", "duration": "VARCHAR", "geopoint": "VARCHAR", "geojson": "JSON",
    "object": "JSON", "array": "JSON", "any": "VARCHAR",
}


class LoadError(DataError):
    """A resource's data cannot be read at all (undecodable bytes, malformed CSV).

    ``check`` names it as frictionless would: ``encoding-error`` or ``source-error``.
    """

    def __init__(self, message: str, check: str = "source-error") -> None:
        super().__init__(message)
        self.check = check


class UnsupportedResource(UsageError):
    """A tabular resource this loader cannot read (e.g. a spreadsheet); frictionless still can."""


@dataclass(frozen=True)
class LoadedTable:
    """A resource loaded into DuckDB.

    ``table`` is the typed table (or the VARCHAR one in raw mode), ``raw`` the kept all-VARCHAR
    table (``None`` when dropped); both have ``__row`` and one column per schema field.
    """

    name: str
    file: str | None
    fields: list[dict[str, Any]]
    rows: int
    table: str
    raw: str | None = None
    schema: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CastFailure:
    """A cell whose text does not parse as its field's type (or a value list it breaks)."""

    row: int
    field: str
    value: str
    type: str


def quote_ident(name: str) -> str:
    """``name`` as a DuckDB identifier (double quotes, inner quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """``text`` as a DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


def _sql_list(values: Iterable[str]) -> str:
    return ", ".join(quote_literal(v) for v in values)


def _read_json_ref(root: Path, value: Any, what: str) -> dict[str, Any]:
    """A schema/dialect given inline (dict) or as a package-relative path to a JSON file."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        check_relative_path(value, what)
        try:
            data = strict_json.loads((root / value).read_text(encoding="utf-8"), value)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read {what} {value!r}: {exc}") from None
        if isinstance(data, dict):
            return data
    raise UsageError(f"{what} must be an object or a path to a JSON file")


def resource_schema(root: Path, resource: dict[str, Any]) -> dict[str, Any]:
    """The resource's Table Schema as a dict (inline or read from its package path)."""
    return _read_json_ref(root, resource.get("schema"), f"resource '{resource.get('name')}' schema")


def resource_dialect(root: Path, resource: dict[str, Any]) -> dict[str, Any]:
    """The resource's CSV dialect, flattened (frictionless v5 also nests it under ``csv``)."""
    dialect = dict(_read_json_ref(root, resource.get("dialect"), f"resource '{resource.get('name')}' dialect"))
    dialect.update(dialect.pop("csv", {}) or {})
    return dialect


def package_resources(descriptor: dict[str, Any]) -> list[dict[str, Any]]:
    """The descriptor's resources that are objects (a malformed list is frictionless' to report)."""
    resources = descriptor.get("resources")
    return [r for r in resources if isinstance(r, dict)] if isinstance(resources, list) else []


def is_tabular(resource: dict[str, Any]) -> bool:
    """True for a resource frictionless reads as a table (schema, ``type: table``, CSV/TSV, inline rows)."""
    if resource.get("type") == "table" or "schema" in resource:
        return True
    fmt = str(resource.get("format") or "").lower()
    paths = resource_paths(resource)
    ext = paths[0].rsplit(".", 1)[-1].lower() if paths and "." in paths[0] else ""
    return fmt in TABULAR_FORMATS or ext in TABULAR_FORMATS


def duckdb_type(fld: dict[str, Any]) -> str:
    """The DuckDB column type for a Table Schema field."""
    kind = fld.get("type", "string")
    if kind == "list":
        return DUCKDB_TYPES.get(fld.get("itemType", "string"), "VARCHAR") + "[]"
    return DUCKDB_TYPES.get(kind, "VARCHAR")


def _strptime(col: str, fmt: str) -> str:
    return f"TRY_STRPTIME({col}, {quote_literal(fmt)})"


def parse_expression(fld: dict[str, Any], col: str) -> str:
    """SQL that parses the VARCHAR ``col`` as frictionless parses ``fld`` (NULL when it cannot)."""
    kind = fld.get("type", "string")
    fmt = fld.get("format", "default") or "default"
    trimmed = f"trim({col}, {quote_literal(WHITESPACE)})"
    if kind == "integer":
        text = trimmed
        if fld.get("bareNumber") is False:  # frictionless strips leading/trailing non-digits
            text = f"regexp_replace(regexp_replace({text}, '^[^-0-9]*', ''), '[^0-9]*$', '')"
        return f"CASE WHEN regexp_full_match({text}, '[+-]?[0-9](_?[0-9])*') THEN TRY_CAST({text} AS BIGINT) END"
    if kind == "number":
        text = trimmed
        if fld.get("bareNumber") is False:
            text = f"regexp_replace(regexp_replace({text}, '^[^-0-9]*', ''), '[^0-9]*$', '')"
        group, decimal = fld.get("groupChar"), fld.get("decimalChar", ".")
        if group:
            text = f"replace({text}, {quote_literal(group)}, '')"
        if decimal != ".":
            text = f"CASE WHEN contains({text}, '.') THEN NULL ELSE replace({text}, {quote_literal(decimal)}, '.') END"
        return f"TRY_CAST({text} AS DOUBLE)"
    if kind == "boolean":
        true_values = fld.get("trueValues", DEFAULT_TRUE)
        false_values = fld.get("falseValues", DEFAULT_FALSE)
        return (f"CASE WHEN {col} IN ({_sql_list(true_values)}) THEN TRUE "
                f"WHEN {col} IN ({_sql_list(false_values)}) THEN FALSE END")
    if kind == "date":
        if fmt == "default":
            return f"CAST({_strptime(col, '%Y-%m-%d')} AS DATE)"
        if fmt == "any":
            return f"TRY_CAST({col} AS DATE)"
        return f"CAST({_strptime(col, fmt)} AS DATE)"
    if kind == "datetime":
        if fmt == "default":
            return f"CASE WHEN length({col}) >= 19 AND substr({col}, 17, 1) = ':' THEN TRY_CAST({col} AS TIMESTAMP) END"
        if fmt == "any":
            return f"TRY_CAST({col} AS TIMESTAMP)"
        return _strptime(col, fmt)
    if kind == "time":
        if fmt == "default":
            return f"CASE WHEN length({col}) >= 8 AND substr({col}, 6, 1) = ':' THEN TRY_CAST({col} AS TIME) END"
        if fmt == "any":
            return f"TRY_CAST({col} AS TIME)"
        return f"CAST({_strptime(col, fmt)} AS TIME)"
    if kind == "year":
        return f"CASE WHEN regexp_full_match({col}, '[0-9]{{4}}') THEN TRY_CAST({col} AS INTEGER) END"
    if kind == "yearmonth":
        return f"CASE WHEN regexp_full_match({col}, '[0-9]{{4}}-(0[1-9]|1[0-2])') THEN {col} END"
    if kind in ("object", "array", "geojson"):
        check = "'OBJECT'" if kind != "array" else "'ARRAY'"
        if kind == "geojson":
            return f"CASE WHEN json_valid({col}) THEN CAST({col} AS JSON) END"
        return f"CASE WHEN json_valid({col}) AND json_type(CAST({col} AS JSON)) = {check} THEN CAST({col} AS JSON) END"
    if kind == "list":
        item = {"name": fld.get("name"), "type": fld.get("itemType", "string")}
        delimiter = fld.get("delimiter", ",")
        inner = parse_expression(item, "x")
        items = f"string_split({col}, {quote_literal(delimiter)})"
        if item["type"] == "string":
            return items
        return (f"CASE WHEN list_bool_and(list_transform({items}, lambda x: ({inner}) IS NOT NULL)) "
                f"THEN list_transform({items}, lambda x: {inner}) END")
    return col  # string, any, duration, geopoint: kept as text


def missing_values(schema: dict[str, Any], fld: dict[str, Any]) -> list[str]:
    """The cell texts that mean "no value" for ``fld`` (its own ``missingValues`` or the schema's; default ``[""]``)."""
    values = fld.get("missingValues", schema.get("missingValues", [""]))
    return [v if isinstance(v, str) else str(v) for v in values]


def typed_expression(schema: dict[str, Any], fld: dict[str, Any], col: str) -> str:
    """SQL for the typed value of VARCHAR ``col``: NULL for missing values, else the parsed value."""
    missing = missing_values(schema, fld)
    is_missing = f"{col} IS NULL" + (f" OR {col} IN ({_sql_list(missing)})" if missing else "")
    return f"CASE WHEN {is_missing} THEN NULL ELSE {parse_expression(fld, col)} END"


def failure_condition(schema: dict[str, Any], fld: dict[str, Any], col: str) -> str:
    """SQL true where the VARCHAR ``col`` holds a non-missing value that does not parse."""
    missing = missing_values(schema, fld)
    present = f"{col} IS NOT NULL" + (f" AND {col} NOT IN ({_sql_list(missing)})" if missing else "")
    return f"({present} AND ({parse_expression(fld, col)}) IS NULL)"


# --- reading CSV --------------------------------------------------------------------------

@dataclass(frozen=True)
class _Csv:
    delimiter: str
    quote: str
    escape: str
    header_rows: list[int]
    comment: str | None
    encoding: str


def _csv_options(resource: dict[str, Any], dialect: dict[str, Any], path: str) -> _Csv:
    default_delim = "\t" if path.lower().endswith(".tsv") or resource.get("format") == "tsv" else ","
    quote = dialect.get("quoteChar", '"')
    double_quote = dialect.get("doubleQuote", True)
    escape = dialect.get("escapeChar") or (quote if double_quote else "")
    header = dialect.get("header", True)
    header_rows = list(dialect.get("headerRows", [1])) if header else []
    comment = dialect.get("commentChar")
    encoding = str(resource.get("encoding") or "utf-8").lower()
    return _Csv(dialect.get("delimiter", default_delim), quote, escape, header_rows, comment, encoding)


def csv_dialect(root: Path, resource: dict[str, Any], rel: str) -> _Csv:
    """The CSV dialect the loader reads ``rel`` of ``resource`` with (delimiter, quote, escape,
    header rows, comment, encoding): the Spark reader (:mod:`datapkg.spark_frames`) reads alike."""
    return _csv_options(resource, resource_dialect(root, resource), rel)


def has_skipped_lines(path: Path, comment: str | None) -> bool:
    """True when the file has blank lines (or comment lines), which DuckDB skips but frictionless counts."""
    tail = b"\n"  # a blank first line counts too
    marker = comment.encode() if comment else None
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            data = tail + chunk
            if b"\n\n" in data or b"\n\r\n" in data or b"\r\r" in data:
                return True
            if marker and (b"\n" + marker in data or b"\r" + marker in data):
                return True
            tail = data[-2:]
    return False


def _row_numbers(path: Path, opts: _Csv) -> tuple[list[int], list[int]]:
    """Frictionless row numbers of the records DuckDB emits (it skips blank and comment lines),
    and the row numbers of the blank lines."""
    numbers: list[int] = []
    blanks: list[int] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = _csv_reader(handle, opts)
        for number, record in enumerate(reader, start=1):
            if not record:
                blanks.append(number)
                continue
            if opts.comment and record[0].startswith(opts.comment):
                continue
            numbers.append(number)
    return numbers, blanks


def _utf8_copy(path: Path, encoding: str, tmpdir: str) -> Path:
    """Transcode ``path`` to a UTF-8 temporary file (DuckDB reads only a few encodings itself)."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise UsageError(f"unknown encoding {encoding!r} for {path.name}") from None
    target = Path(tmpdir) / (path.name + ".utf8")
    try:
        with path.open(encoding=encoding, newline="") as src, target.open("w", encoding="utf-8", newline="") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
    except UnicodeDecodeError as exc:
        raise LoadError(f"{path.name} cannot be decoded as {encoding}: {exc.reason} at byte {exc.start}",
                        "encoding-error") from None
    return target


def _duckdb_error(exc: Exception, rel: str) -> LoadError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return LoadError(f"{rel}: DuckDB cannot read the file: {first}")


def _drop(con: Any, schema: str, name: str) -> None:
    """Drop table or view ``schema.name`` whichever it is (so either can take its place); nothing
    when there is neither. (Two statements at most: a lookup in ``information_schema`` cost more.)"""
    import duckdb

    qualified = f"{quote_ident(schema)}.{quote_ident(name)}"
    try:
        con.execute(f"DROP TABLE IF EXISTS {qualified}")
    except duckdb.CatalogException:  # DuckDB: "Existing object ... is of type View"
        con.execute(f"DROP VIEW {qualified}")


def _split(qualified: str) -> tuple[str, str]:
    """(schema, name) of ``"name"`` or ``raw."name"`` as this module writes them."""
    schema, name = (RAW_SCHEMA, qualified[len(RAW_SCHEMA) + 1:]) if qualified.startswith(RAW_SCHEMA + '."') else ("main", qualified)
    return schema, name[1:-1].replace('""', '"')


def raw_table(name: str) -> str:
    """``raw."<name>"``: the resource's cells as text, as the CSV reader gave them (``__row`` first)."""
    return f"{RAW_SCHEMA}.{quote_ident(name)}"


def row_numbers_table(name: str) -> str:
    """``raw."<name>#rows"``: (stage record, frictionless row number), only when the file has blank
    or comment lines; without it a lazy table's rows come out in row order by themselves."""
    return f"{RAW_SCHEMA}.{quote_ident(name + '#rows')}"


def blank_lines_table(name: str) -> str:
    """``raw."<name>#blank"``: the row numbers of the file's blank lines (lazy loads keep it when
    the file has any); DuckDB skips those lines, frictionless counts them as blank rows."""
    return f"{RAW_SCHEMA}.{quote_ident(name + '#blank')}"


def extra_cells_table(name: str) -> str:
    """``raw."<name>#extra"``: (``__row``, ``value``) of rows longer than the header, with their
    first extra cell (lazy loads keep it when there are any; the tables hold only the header's cells)."""
    return f"{RAW_SCHEMA}.{quote_ident(name + '#extra')}"


def _stage_name(target: str) -> str:
    """The table that holds a resource's cells as DuckDB read them (``raw."<name>#cells"``)."""
    return f"{RAW_SCHEMA}.{quote_ident(target + '#cells')}"


def _load_csv(con: Any, root: Path, resource: dict[str, Any], rel: str, columns: list[str], target: str,
              name: str, *, lazy: bool, keep_stage: bool = False) -> int:
    """Read one CSV file into ``target`` (all VARCHAR, ``__row`` first); return the data row count.

    DuckDB reads the file once into ``raw."<name>#cells"``; ``target`` is a view over it when
    ``lazy``, or when ``keep_stage`` and the view is a plain projection of that table (no second
    copy of the cells), else a table.
    """
    import duckdb

    dialect = resource_dialect(root, resource)
    opts = _csv_options(resource, dialect, rel)
    path = root / rel
    if not path.is_file():
        raise LoadError(f"{rel}: the file does not exist", "scheme-error")
    stage = _stage_name(name)
    numbers_table = row_numbers_table(name)
    blank_table = blank_lines_table(name)
    extra_table = extra_cells_table(name)
    with tempfile.TemporaryDirectory(prefix="dpkg-load-") as tmpdir:
        encoding = DUCKDB_ENCODINGS.get(opts.encoding)
        if encoding is None or encoding == "utf-16":
            path, encoding = _utf8_copy(path, opts.encoding, tmpdir), "utf-8"
        params = {
            "all_varchar": True, "header": False, "delim": opts.delimiter, "quote": opts.quote,
            "escape": opts.escape, "null_padding": True,
            "nullstr": NULL_SENTINEL, "encoding": encoding, "auto_detect": True,
            # DuckDB's read buffer is min(file size, buffer_size) (default 16 x max_line_size): set it,
            # or a 64 MiB line limit asks for one block as large as the file (OOM under a memory cap)
            "max_line_size": LINE_SIZE, "buffer_size": 2 * LINE_SIZE,
        }
        if opts.comment:
            params["comment"] = opts.comment
        too_long = False
        if path.stat().st_size == 0:
            con.execute(f"CREATE OR REPLACE TABLE {stage} AS SELECT NULL::VARCHAR AS column0 WHERE FALSE")
        else:
            # strict first: it stops at a row longer than the sniffed width (whose extra cells the
            # lenient mode would drop without a word), so that those rows can be found afterwards
            try:
                _read_stage(con, stage, path, params, strict=True)
            except duckdb.Error as exc:
                too_long = "Expected Number of Columns" in str(exc)
                if isinstance(exc, duckdb.OutOfMemoryException):
                    raise
                try:
                    _read_stage(con, stage, path, params, strict=False)
                except duckdb.OutOfMemoryException:
                    raise
                except duckdb.Error as exc2:
                    if encoding == "utf-8":
                        _check_utf8(path, rel)  # a better message, with the byte offset
                    raise _duckdb_error(exc2, rel) from None
        cols = [f"s.{quote_ident(d[0])}" for d in con.execute(f"SELECT * FROM {stage} LIMIT 0").description]
        width = len(cols)
        con.execute(f"DROP TABLE IF EXISTS {numbers_table}")
        con.execute(f"DROP TABLE IF EXISTS {blank_table}")
        con.execute(f"DROP TABLE IF EXISTS {extra_table}")
        if has_skipped_lines(path, opts.comment):
            import pyarrow as pa

            numbers, blanks = _row_numbers(path, opts)
            mapping = pa.table({"i": pa.array(range(len(numbers)), pa.int64()), "n": pa.array(numbers, pa.int64())})
            con.register("__dpkg_rownumbers", mapping)
            con.execute(f"CREATE TABLE {numbers_table} AS SELECT * FROM __dpkg_rownumbers")
            con.unregister("__dpkg_rownumbers")
            first = (max(opts.header_rows) + 1) if opts.header_rows else 1
            con.register("__dpkg_blanks", pa.table({ROW: pa.array([b for b in blanks if b >= first], pa.int64())}))
            con.execute(f"CREATE TABLE {blank_table} AS SELECT * FROM __dpkg_blanks")
            con.unregister("__dpkg_blanks")
            number_sql = "m.n"
            source = f"(SELECT s.rowid AS __i, s.* FROM {stage} s) s JOIN {numbers_table} m ON s.__i = m.i"
        else:
            number_sql = "s.rowid + 1"
            source = f"{stage} s"
        first_data = (max(opts.header_rows) + 1) if opts.header_rows else 1
        if too_long:
            import pyarrow as pa

            extra = _extra_cells(path, opts, len(columns), first_data)
            con.register("__dpkg_extra", pa.table({ROW: pa.array([r for r, _ in extra], pa.int64()),
                                                    "value": pa.array([v for _, v in extra], pa.string())}))
            con.execute(f"CREATE TABLE {extra_table} AS SELECT * FROM __dpkg_extra")
            con.unregister("__dpkg_extra")
        elif width > len(columns):  # the sniffer saw the long rows: their extra cells are columns
            beyond = cols[len(columns):]
            con.execute(f"CREATE TABLE {extra_table} AS SELECT CAST({number_sql} AS BIGINT) AS {ROW}, "
                        f"coalesce({', '.join(beyond)}) AS value FROM {source} WHERE {number_sql} >= {first_data} "
                        f"AND ({' OR '.join(c + ' IS NOT NULL' for c in beyond)})")
    select = [f"CAST({number_sql} AS BIGINT) AS {ROW}"]
    for i, column in enumerate(columns):
        select.append(f"{cols[i]} AS {quote_ident(column)}" if i < width else f"NULL::VARCHAR AS {quote_ident(column)}")
    query = f"SELECT {', '.join(select)} FROM {source} WHERE {number_sql} >= {first_data}"
    _drop(con, *_split(target))
    if lazy or (keep_stage and number_sql != "m.n"):
        con.execute(f"CREATE VIEW {target} AS {query}")
    else:
        # a scan keeps the file's order (DuckDB preserves insertion order); a join needs the sort
        con.execute(f"CREATE TABLE {target} AS {query}" + (" ORDER BY 1" if number_sql == "m.n" else ""))
        con.execute(f"DROP TABLE IF EXISTS {stage}")
        con.execute(f"DROP TABLE IF EXISTS {numbers_table}")
    return con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]


def _read_stage(con: Any, stage: str, path: Path, params: dict[str, Any], *, strict: bool) -> None:
    """``CREATE TABLE stage AS`` DuckDB's ``read_csv`` of ``path`` with ``params``; single-threaded
    when DuckDB needs it (quoted line breaks in a ragged file); with :data:`LONG_LINE_SIZE` when a
    line is longer than :data:`LINE_SIZE`."""
    import duckdb

    def create(**extra: Any) -> None:
        args = ", ".join(f"{k} := {_param(v)}" for k, v in {**params, "strict_mode": strict, **extra}.items())
        con.execute(f"CREATE OR REPLACE TABLE {stage} AS SELECT * FROM read_csv({quote_literal(str(path))}, {args})")

    try:
        create()
    except duckdb.OutOfMemoryException:
        raise
    except duckdb.Error as exc:
        if "maximum line size" in str(exc).lower() and params.get("max_line_size") != LONG_LINE_SIZE:
            longer = {**params, "max_line_size": LONG_LINE_SIZE, "buffer_size": 2 * LONG_LINE_SIZE}
            return _read_stage(con, stage, path, longer, strict=strict)
        if "parallel=false" not in str(exc):
            raise
        create(parallel=False)


def _extra_cells(path: Path, opts: _Csv, width: int, first_data: int) -> list[tuple[int, str]]:
    """(row number, first extra cell) of every data row with more cells than ``width``."""
    out = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for number, record in enumerate(_csv_reader(handle, opts), start=1):
            if number >= first_data and len(record) > width:
                out.append((number, record[width]))
    return out


def _csv_reader(handle: Any, opts: _Csv) -> Any:
    """Python's csv reader with the dialect DuckDB was given."""
    return csv.reader(handle, delimiter=opts.delimiter, quotechar=opts.quote or None,
                      doublequote=bool(opts.quote) and opts.escape == opts.quote,
                      escapechar=(opts.escape if opts.escape and opts.escape != opts.quote else None),
                      quoting=csv.QUOTE_MINIMAL if opts.quote else csv.QUOTE_NONE, strict=False)


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return quote_literal(str(value))


def _check_utf8(path: Path, rel: str) -> None:
    """Raise :class:`LoadError` at the first byte that is not UTF-8 (DuckDB's own error has no position)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise LoadError(f"{rel} is not valid UTF-8 (byte {offset + exc.start}); "
                                f"declare its encoding or re-save it as UTF-8", "encoding-error") from None
            offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise LoadError(f"{rel} is not valid UTF-8 (it ends inside a character)", "encoding-error") from None


def _load_inline(con: Any, data: Any, columns: list[str], target: str) -> int:
    """Inline ``data`` (a list of row lists with a header row, or of objects) as a VARCHAR table."""
    import pyarrow as pa

    if not isinstance(data, list):
        raise UnsupportedResource("inline data must be a list of rows")
    if data and isinstance(data[0], dict):
        rows = [[r.get(c) if isinstance(r, dict) else None for c in columns] for r in data]
        numbers = list(range(2, len(rows) + 2))
    else:
        rows = [r if isinstance(r, list) else [] for r in data[1:]]
        numbers = list(range(2, len(rows) + 2))

    def text(v: Any) -> str | None:
        if v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        return v if isinstance(v, str) else json.dumps(v) if isinstance(v, dict | list) else str(v)

    arrays = {ROW: pa.array(numbers, pa.int64())}
    for i, name in enumerate(columns):
        arrays[name] = pa.array([text(r[i]) if i < len(r) else None for r in rows], pa.string())
    con.register("__dpkg_inline", pa.table(arrays))
    _drop(con, *_split(target))
    con.execute(f"CREATE TABLE {target} AS SELECT * FROM __dpkg_inline")
    con.unregister("__dpkg_inline")
    return len(rows)


# --- public API ---------------------------------------------------------------------------

def load_resource(con: Any, root: Path, resource: dict[str, Any], *, raw: bool = False,
                  keep_raw: bool = False, on_cast_error: str = "null", lazy: bool = False) -> LoadedTable:
    """Load one tabular resource into table ``"<name>"`` of ``con``; see :func:`load_package`.

    ``lazy``: keep one copy of the cells only; ``"<name>"`` and ``raw."<name>"`` are then views
    that parse on every read (what a one-off check of a large table wants).
    """
    name = resource.get("name")
    if not isinstance(name, str) or not name:
        raise UsageError("every tabular resource needs a name to be loaded into DuckDB")
    schema = resource_schema(root, resource)
    fields = [f for f in schema.get("fields", []) if isinstance(f, dict) and isinstance(f.get("name"), str)]
    columns = [f["name"] for f in fields]
    if not columns:
        raise UnsupportedResource(f"resource '{name}' has no Table Schema fields to load")
    paths = resource_paths(resource)
    fmt = str(resource.get("format") or "").lower()
    table = quote_ident(name)
    raw_name = raw_table(name)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
    target = table if raw else raw_name
    if "data" in resource and not paths:
        rows = _load_inline(con, resource["data"], columns, target)
        rel = None
    elif len(paths) == 1 and (fmt in TABULAR_FORMATS | {""}) and not paths[0].lower().endswith((".xlsx", ".xls", ".ods", ".json", ".parquet")):
        rel = paths[0]
        check_relative_path(rel, f"resource '{name}' path")
        rows = _load_csv(con, root, resource, rel, columns, target, name, lazy=lazy and not raw,
                         keep_stage=keep_raw and not raw)
    else:
        raise UnsupportedResource(f"resource '{name}': only single-file CSV/TSV and inline data load into DuckDB")
    if raw:
        _drop(con, RAW_SCHEMA, name + "#blank")
        _drop(con, RAW_SCHEMA, name + "#extra")
        return LoadedTable(name, rel, fields, rows, table, None, schema)
    select = [ROW] + [f"{typed_expression(schema, f, quote_ident(f['name']))} AS {quote_ident(f['name'])}"
                      for f in fields]
    _drop(con, *_split(table))
    if lazy:
        con.execute(f"CREATE VIEW {table} AS SELECT {', '.join(select)} FROM {raw_name}")
    else:
        con.execute(f"CREATE TABLE {table} AS SELECT {', '.join(select)} FROM {raw_name}")  # in the cells' order
    loaded = LoadedTable(name, rel, fields, rows, table, raw_name, schema)
    if on_cast_error == "raise":
        failures = cast_failures(con, loaded, limit=3)
        if failures:
            where = "; ".join(f"row {f.row} field {f.field!r}: {f.value!r} is not a {f.type}" for f in failures)
            raise DataError(f"{rel or name}: cells that do not match the schema ({where})")
    if not keep_raw and not lazy:
        _drop(con, RAW_SCHEMA, name)
        _drop(con, RAW_SCHEMA, name + "#blank")
        _drop(con, RAW_SCHEMA, name + "#extra")
        return LoadedTable(name, rel, fields, rows, table, None, schema)
    # the row structure tables exist (empty when the file has no blank lines or long rows)
    con.execute(f"CREATE TABLE IF NOT EXISTS {blank_lines_table(name)} ({ROW} BIGINT)")
    con.execute(f"CREATE TABLE IF NOT EXISTS {extra_cells_table(name)} ({ROW} BIGINT, value VARCHAR)")
    return loaded


def load_package(con: Any, root: str | Path, descriptor: Any, *, resources: Iterable[str] | None = None,
                 raw: bool = False, keep_raw: bool = False, on_cast_error: str = "null",
                 lazy: bool = False) -> dict[str, LoadedTable]:
    """Load every tabular resource of the package at ``root`` into the DuckDB connection ``con``.

    ``descriptor`` is the parsed descriptor (dict) or a frictionless ``Package``. Each resource
    becomes table ``"<name>"`` with ``__row`` and one column per schema field: typed from the
    Table Schema, or all VARCHAR when ``raw``. ``keep_raw`` also keeps the VARCHAR copy as
    ``raw."<name>"`` (for :func:`cast_failures`). ``on_cast_error``: ``"null"`` (cells that do not
    parse become NULL) or ``"raise"`` (a one-line :class:`DataError`). ``resources`` limits the
    load to those names. ``lazy`` keeps a single copy of the cells and makes ``"<name>"`` and
    ``raw."<name>"`` views (less memory, parsing on every read). Raises :class:`LoadError` for a file DuckDB cannot read and
    :class:`UnsupportedResource` for a tabular resource it cannot load.
    """
    if on_cast_error not in ("null", "raise"):
        raise ValueError("on_cast_error must be 'null' or 'raise'")
    if not isinstance(descriptor, dict):
        descriptor = descriptor.to_descriptor()
    wanted = set(resources) if resources is not None else None
    loaded: dict[str, LoadedTable] = {}
    for resource in package_resources(descriptor):
        if not is_tabular(resource):
            continue
        if wanted is not None and resource.get("name") not in wanted:
            continue
        table = load_resource(con, Path(root), resource, raw=raw, keep_raw=keep_raw, on_cast_error=on_cast_error,
                              lazy=lazy)
        loaded[table.name] = table
    return loaded


def cast_failures(con: Any, table: LoadedTable, *, limit: int | None = None) -> list[CastFailure]:
    """Cells of ``table`` whose raw text does not parse as the field's type, ordered by row.

    Needs the raw copy (``keep_raw=True`` or ``raw=True``; in raw mode the VARCHAR table itself).
    """
    source = table.raw or table.table
    parts = []
    for fld in table.fields:
        col = quote_ident(fld["name"])
        if fld.get("type", "string") in ("string", "any"):
            continue
        parts.append(f"SELECT {ROW}, {quote_literal(fld['name'])} AS field, {col} AS value, "
                     f"{quote_literal(fld.get('type', 'string'))} AS type FROM {source} "
                     f"WHERE {failure_condition(table.schema, fld, col)}")
    if not parts:
        return []
    sql = " UNION ALL ".join(parts) + " ORDER BY 1, 2" + (f" LIMIT {int(limit)}" if limit else "")
    return [CastFailure(*row) for row in con.execute(sql).fetchall()]

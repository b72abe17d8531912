"""A package's resources as Spark DataFrames, typed from their Table Schemas (``--engine spark``).

Each tabular resource becomes a DataFrame with ``__row`` (the row number frictionless counts:
header 1, first data row 2) and one column per schema field, registered as a temporary view
named after the resource, so that SQL rules that span tables (foreign keys, quotes, citations)
run as Spark SQL. Spark reads the files itself: a local path, or with ``allow_remote`` an
``s3a://``, ``https://`` or ``http://`` URL (Spark's Hadoop file systems; nothing is downloaded
first).

CSV is read with the resource's dialect (delimiter, quote, escape, header, encoding), every cell
as text, then typed with the loader's own parsing rules (:func:`datapkg.loader.typed_expression`,
DuckDB SQL transpiled by :mod:`datapkg.spark_sql`): one definition of how a cell parses, whichever
engine runs. A cell that does not parse becomes NULL, as in DuckDB. Parquet is read as it is.

Limits (named by :func:`limits`, never silent): a file with blank or comment lines (Spark skips
them, so row numbers after them would shift) and multi-file resources are refused; a field type
whose parsing Spark SQL cannot express stays text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datapkg.errors import UsageError
from datapkg.package_source import check_relative_path, resource_paths

ROW = "__row"
REMOTE_SCHEMES = ("s3a://", "https://", "http://")
DEFAULT_MASTER = "local[*]"


@dataclass
class SparkTable:
    """A resource read into Spark: its typed DataFrame (also a temp view named ``name``)."""

    name: str
    location: str
    frame: Any
    fields: list[dict[str, Any]]
    schema: dict[str, Any]
    untyped: list[str] = field(default_factory=list)  # fields kept as text: Spark cannot parse them as typed
    cells: Any = None  # the cells as text ('' an empty cell, NULL a cell missing from a short row): view raw__<name>
    file: str | None = None  # the package-relative path (or URL), as findings name it


def spark_session(master: str = DEFAULT_MASTER) -> Any:
    """The Spark session for ``master`` (``local[*]``, ``spark://host:7077``, ``yarn``...): UTC, no UI,
    no ANSI mode (a value that does not cast is NULL, as with DuckDB's TRY_CAST)."""
    try:
        import sqlglot  # noqa: F401 - the rules' SQL is transpiled with it
        from pyspark.sql import SparkSession
    except ImportError:
        raise UsageError("--engine spark needs pyspark and a Java runtime: pip install 'dpkg-datapackage[spark]' "
                         "and apt-get install default-jre-headless") from None
    active = SparkSession.getActiveSession()
    if active is not None and active.sparkContext.master != master:
        active.stop()  # getOrCreate would hand back this process's session on its other master
    session = (SparkSession.builder.master(master).appName("dpkg validate")
               .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.ansi.enabled", "false").config("spark.sql.shuffle.partitions", "8")
               .config("spark.ui.showConsoleProgress", "false")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    return session


def location(root: Path, rel: str, allow_remote: bool) -> str:
    """Where Spark reads ``rel`` from: an absolute local path inside the package, or a remote URL."""
    if rel.lower().startswith(REMOTE_SCHEMES):
        if not allow_remote:
            raise UsageError(f"{rel}: a remote resource; give --allow-remote to let Spark read it")
        return rel
    check_relative_path(rel, "resource path")
    path = (root / rel).resolve()
    if not path.is_file():
        raise UsageError(f"{rel}: the file does not exist")
    return str(path)


def read_resource(spark: Any, root: Path, resource: dict[str, Any], *, allow_remote: bool = False) -> SparkTable:
    """The typed DataFrame of one tabular resource, registered as a temp view named after it."""
    from datapkg.loader import RAW_SCHEMA, resource_schema
    from datapkg.spark_sql import view_name

    name = resource.get("name")
    paths = resource_paths(resource)
    if not isinstance(name, str) or len(paths) != 1:
        raise UsageError(f"resource {name!r}: the Spark engine reads single-file resources only")
    schema = resource_schema(root, resource)
    fields = [f for f in schema.get("fields", []) if isinstance(f, dict) and isinstance(f.get("name"), str)]
    where = location(root, paths[0], allow_remote)
    if paths[0].lower().endswith(".parquet") or str(resource.get("format") or "").lower() == "parquet":
        frame = _with_row_numbers(spark.read.parquet(where), 1)
        table = SparkTable(name, where, frame, fields, schema, file=paths[0])
    else:
        raw = _read_csv(spark, root, resource, paths[0], where, fields).cache()
        frame, untyped = _typed(raw, schema, fields)
        table = SparkTable(name, where, frame, fields, schema, untyped, cells=raw, file=paths[0])
        raw.createOrReplaceTempView(_view(view_name(RAW_SCHEMA, name)))
    table.frame.createOrReplaceTempView(_view(name))
    return table


def _view(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _read_csv(spark: Any, root: Path, resource: dict[str, Any], rel: str, where: str,
              fields: list[dict[str, Any]]) -> Any:
    """Every cell as text, with ``__row``; the file is one partition (``multiLine``: quoted line
    breaks stay inside their cell), whose records come out in file order."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    from datapkg.loader import NULL_SENTINEL, csv_dialect, has_skipped_lines

    opts = csv_dialect(root, resource, rel)
    if not where.lower().startswith(REMOTE_SCHEMES) and has_skipped_lines(Path(where), opts.comment):
        raise UsageError(f"{rel}: has blank or comment lines, which Spark skips (its row numbers would shift); "
                         "validate it with the DuckDB engine")
    if len(opts.header_rows) > 1:
        raise UsageError(f"{rel}: more than one header row; the Spark engine reads one")
    reader = spark.read.options(
        header=bool(opts.header_rows), sep=opts.delimiter, quote=opts.quote or "\0", escape=opts.escape or "\\",
        encoding=opts.encoding, multiLine=True, mode="PERMISSIVE", nullValue=NULL_SENTINEL, emptyValue="",
        ignoreLeadingWhiteSpace=False, ignoreTrailingWhiteSpace=False, enforceSchema=True)
    if opts.comment:
        reader = reader.option("comment", opts.comment)
    text = StructType([StructField(f["name"], StringType()) for f in fields])
    first = (max(opts.header_rows) + 1) if opts.header_rows else 1
    frame = _with_row_numbers(reader.schema(text).csv(where), first)
    # Spark reads an empty unquoted cell as NULL, like a cell missing from a short row: both are ''
    # here (the missing-cell rule is named as one Spark cannot run, see datapkg.checks.gx_spark)
    return frame.select(ROW, *[F.coalesce(F.col(f"`{c}`"), F.lit("")).alias(c) for c in frame.columns if c != ROW])


def _with_row_numbers(frame: Any, first: int) -> Any:
    """``__row`` first: ``first`` + the record's position. Exact for a frame of one partition (one
    file read with ``multiLine``), where ``monotonically_increasing_id`` counts 0, 1, 2..."""
    from pyspark.sql import functions as F

    if frame.rdd.getNumPartitions() != 1:
        frame = frame.coalesce(1)
    numbered = frame.withColumn(ROW, (F.monotonically_increasing_id() + F.lit(first)).cast("bigint"))
    return numbered.select(ROW, *[c for c in frame.columns])


def _typed(raw: Any, schema: dict[str, Any], fields: list[dict[str, Any]]) -> tuple[Any, list[str]]:
    """Typed columns from the text ones, with the loader's parsing rules transpiled to Spark SQL."""
    from pyspark.sql import functions as F

    from datapkg.loader import quote_ident, typed_expression
    from datapkg.spark_sql import NotOnSpark, to_spark_expression

    columns = [F.col(ROW)]
    untyped = []
    for fld in fields:
        name = fld["name"]
        try:
            expression = to_spark_expression(typed_expression(schema, fld, quote_ident(name)))
        except NotOnSpark:
            untyped.append(name)
            expression = f"`{name.replace('`', '``')}`"
        columns.append(F.expr(expression).alias(name))
    return raw.select(*columns), untyped


def read_package(spark: Any, root: Path, descriptor: dict[str, Any], *, allow_remote: bool = False) -> dict[str, SparkTable]:
    """Every tabular resource of the package as a :class:`SparkTable` (and a temp view)."""
    from datapkg.loader import is_tabular

    tables = {}
    for resource in descriptor.get("resources") or []:
        if isinstance(resource, dict) and (is_tabular(resource) or str(resource.get("format") or "") == "parquet"):
            table = read_resource(spark, Path(root), resource, allow_remote=allow_remote)
            tables[table.name] = table
    return tables


def limits(tables: dict[str, SparkTable]) -> list[str]:
    """One line per thing the Spark engine does differently from the DuckDB engine on these tables."""
    return [f"{t.name}.{name}: kept as text on Spark (Spark SQL cannot parse a {fld.get('type')} the way the loader does)"
            for t in tables.values() for fld in t.fields for name in [fld["name"]] if name in t.untyped]

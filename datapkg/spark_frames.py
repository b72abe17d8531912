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

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datapkg.errors import UsageError
from datapkg.package_source import check_relative_path, resource_paths

ROW = "__row"
REMOTE_SCHEMES = ("s3a://", "https://", "http://")
HTTP_SCHEMES = ("https://", "http://")  # refused: see location()
DEFAULT_MASTER = "local[*]"
MASTER_URL = re.compile(r"local(\[(\*|[1-9][0-9]*)(,[1-9][0-9]*)?\])?|spark://[\w.-]+:[0-9]+(,[\w.-]+:[0-9]+)*|yarn|k8s://\S+")


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


def check_master(master: str) -> str:
    """``master`` when Spark accepts it as a master URL (``local``, ``local[N]``, ``local[*]``,
    ``spark://HOST:PORT[,HOST:PORT]``, ``yarn``, ``k8s://URL``); a one-line UsageError otherwise,
    before any JVM starts."""
    if not MASTER_URL.fullmatch(master):
        raise UsageError(f"--spark-master {master!r}: not a Spark master URL (local[*], local[N], "
                         "spark://HOST:PORT, yarn or k8s://URL)")
    return master


def spark_conf(pairs: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` settings (``--spark-conf``) as a dict; keys must be Spark's (``spark.``...)."""
    conf = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip().startswith("spark."):
            raise UsageError(f"--spark-conf {pair!r}: give KEY=VALUE with a Spark key (spark.…)")
        conf[key.strip()] = value
    return conf


def spark_session(master: str = DEFAULT_MASTER, conf: dict[str, str] | None = None) -> Any:
    """The Spark session for ``master`` (``local[*]``, ``spark://host:7077``, ``yarn``...): UTC, no UI,
    no ANSI mode (a value that does not cast is NULL, as with DuckDB's TRY_CAST); ``conf``: the
    user's settings (``--spark-conf``: a truststore, ``spark.jars.packages`` for s3a, credentials),
    applied when this process starts its Spark driver."""
    check_master(master)
    try:
        import sqlglot  # noqa: F401 - the rules' SQL is transpiled with it
        from pyspark.sql import SparkSession
    except ImportError:
        raise UsageError("--engine spark needs pyspark and a Java runtime: pip install 'dpkg-datapackage[spark]' "
                         "and apt-get install default-jre-headless") from None
    active = SparkSession.getActiveSession()
    if active is not None and active.sparkContext.master != master:
        active.stop()  # getOrCreate would hand back this process's session on its other master
    builder = (SparkSession.builder.master(master).appName("dpkg validate")
               .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.ansi.enabled", "false").config("spark.sql.shuffle.partitions", "8")
               .config("spark.ui.showConsoleProgress", "false").config("spark.log.level", "ERROR"))
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - the JVM did not start, or the master did not take the application
        raise UsageError(f"--spark-master {master}: Spark did not start ({one_line(exc)})") from None
    session.sparkContext.setLogLevel("ERROR")
    return session


def location(root: Path, rel: str, allow_remote: bool) -> str:
    """Where Spark reads ``rel`` from: an absolute local path inside the package, or an ``s3a://``
    URL. An ``http(s)://`` URL is refused in one line: Spark's file sources list a file before they
    read it, and Hadoop's HTTP file system cannot list (Spark 4 says UNSUPPORTED_FILE_SYSTEM)."""
    if rel.lower().startswith(REMOTE_SCHEMES):
        if not allow_remote:
            raise UsageError(f"{rel}: a remote resource; give --allow-remote to let Spark read it")
        if rel.lower().startswith(HTTP_SCHEMES):
            raise UsageError(f"{rel}: Spark cannot read http(s) URLs (Hadoop's HTTP file system cannot list a file, "
                             "which Spark's CSV and Parquet readers need); validate it with the DuckDB engine, "
                             "or put the file on s3a://")
        return rel
    check_relative_path(rel, "resource path")
    path = (root / rel).resolve()
    if not path.is_file():
        raise UsageError(f"{rel}: the file does not exist")
    return str(path)


def remote_resources(descriptor: dict[str, Any], allow_remote: bool) -> dict[str, str]:
    """Resource name -> URL of each resource Spark reads from a remote store (``s3a://``); the
    checks of :func:`location` (``--allow-remote``, no ``http(s)``) are made here, before any work."""
    found = {}
    for resource in descriptor.get("resources") or []:
        paths = resource_paths(resource) if isinstance(resource, dict) else []
        for rel in paths:
            if isinstance(rel, str) and rel.lower().startswith(REMOTE_SCHEMES):
                found[str(resource.get("name"))] = location(Path("."), rel, allow_remote)
    return found


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
        frame = _with_row_numbers(_remote_read(spark, where, lambda: spark.read.parquet(where)), 1)
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
    frame = _with_row_numbers(_remote_read(spark, where, lambda: reader.schema(text).csv(where)), first)
    # Spark reads an empty unquoted cell as NULL, like a cell missing from a short row: both are ''
    # here (the missing-cell rule is named as one Spark cannot run, see datapkg.checks.gx_spark)
    return frame.select(ROW, *[F.coalesce(F.col(f"`{c}`"), F.lit("")).alias(c) for c in frame.columns if c != ROW])


def _remote_read(spark: Any, where: str, read: Any) -> Any:
    """``read()``; for a remote ``where`` a failure (no s3a file system, no bucket, no access) is
    one UsageError naming the URL, Spark's reason and what Spark needs for s3a."""
    if not where.lower().startswith(REMOTE_SCHEMES):
        return read()
    try:
        return read()
    except Exception as exc:  # noqa: BLE001 - py4j and pyspark errors, whose first line says why
        hadoop = spark.sparkContext._jvm.org.apache.hadoop.util.VersionInfo.getVersion()
        raise UsageError(f"{where}: Spark cannot read it ({one_line(exc)}); s3a:// needs hadoop-aws {hadoop} on Spark's "
                         f"class path (--spark-conf spark.jars.packages=org.apache.hadoop:hadoop-aws:{hadoop}) and "
                         "the bucket's spark.hadoop.fs.s3a.* settings") from None


def one_line(exc: BaseException) -> str:
    """The first line of a Spark/py4j error's message (its Java reason, not py4j's call site), cut at 200 characters."""
    java = getattr(exc, "java_exception", None)
    text = str(java.getMessage() if java is not None else exc) or type(exc).__name__
    return text.strip().splitlines()[0][:200] if text.strip() else type(exc).__name__


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

"""The Spark engine: resources read by Spark with the loader's parsing rules, and GX suites run on
GX's Spark execution engine, give what the DuckDB engine gives (local mode, 2 cores).

Needs pyspark and a Java runtime (``scripts/ensure_spark.sh``, run by ``make test``); without them
the Spark tests are skipped with that reason. The SQL translation tests need only sqlglot.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from datapkg.errors import UsageError
from datapkg.loader import load_package
from datapkg.spark_frames import location
from datapkg.spark_sql import NotOnSpark, to_spark, to_spark_expression

PARENT = "id,name\nP1,one\nP2,two\nP3,three\n"
CHILD = ("id,parent,day,amount,flag,note\n"
         "C1,P1,2024-01-31,10.5,true,\"a quoted,\ncell\"\n"
         "C2,P9,2024-02-30,-3,maybe,plain\n"       # row 3: unknown parent, impossible date, below minimum, not a boolean
         "C2,P2,2024-03-01,1e3,false,\n"           # row 4: duplicate id
         "X4,P3,,abc,1,last\n")                    # row 5: pattern, missing date, not a number
SEEDED = {(3, "parent"), (3, "day"), (3, "amount"), (3, "flag"), (4, "id"), (5, "id"), (5, "amount")}  # (row, field)


def seeded_package(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data" / "parent.csv").write_text(PARENT)
    (root / "data" / "child.csv").write_text(CHILD)
    descriptor = {"name": "seeded", "resources": [
        {"name": "parent", "path": "data/parent.csv", "format": "csv", "schema": {
            "fields": [{"name": "id", "type": "string"}, {"name": "name", "type": "string"}], "primaryKey": ["id"]}},
        {"name": "child", "path": "data/child.csv", "format": "csv", "schema": {
            "fields": [{"name": "id", "type": "string", "constraints": {"pattern": "C[0-9]+"}},
                       {"name": "parent", "type": "string"},
                       {"name": "day", "type": "date"},
                       {"name": "amount", "type": "number", "constraints": {"minimum": 0}},
                       {"name": "flag", "type": "boolean"},
                       {"name": "note", "type": "string"}],
            "primaryKey": ["id"],
            "foreignKeys": [{"fields": ["parent"], "reference": {"resource": "parent", "fields": ["id"]}}]}}]}
    (root / "datapackage.json").write_text(json.dumps(descriptor))
    return root


SUITE = {"name": "child-rules", "meta": {"resource": "child"}, "expectations": [
    {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "id", "regex": "^C[0-9]+$"}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "amount", "min_value": 0}},
    {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
    {"type": "unexpected_rows_expectation", "kwargs": {"unexpected_rows_query":
        "SELECT c.__row, c.parent AS value FROM {batch} c WHERE c.parent IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM parent p WHERE p.id = c.parent)"}},
    {"type": "unexpected_rows_expectation", "kwargs": {"unexpected_rows_query":
        "SELECT __row FROM {batch} WHERE json_valid(note)"}},
    {"type": "expect_column_values_to_be_null", "kwargs": {"column": "row:extra-cell"}},
]}


# --- no Spark needed -----------------------------------------------------------------------------

def test_duckdb_sql_as_spark_sql() -> None:
    pytest.importorskip("sqlglot", reason="sqlglot (the [spark] extra) is not installed; scripts/ensure_spark.sh installs it")
    assert to_spark_expression("regexp_full_match(x, 'C[0-9]+')") == "x RLIKE '^(?:C[0-9]+)$'"
    assert to_spark_expression("TRY_STRPTIME(d, '%Y-%m-%d')") == "TRY_TO_TIMESTAMP(d, 'yyyy-MM-dd')"
    assert to_spark("SELECT * FROM t WHERE contains(a, 'x')") == "SELECT * FROM t WHERE CONTAINS(a, 'x')"
    with pytest.raises(NotOnSpark, match="Spark SQL has no JSON_VALID"):
        to_spark("SELECT json_valid(a) FROM t")
    with pytest.raises(NotOnSpark, match="not parsed"):
        to_spark("SELECT FROM WHERE (")
    # a generator nested in an expression (Spark refuses it) goes on top, the expression into TRANSFORM
    assert to_spark("SELECT trim(unnest(string_split(x, ','))) AS v FROM t") == (
        "SELECT EXPLODE(TRANSFORM(SPLIT(x, CONCAT('\\\\Q', ',', '\\\\E')), __dpkg_x -> TRIM(__dpkg_x))) AS v FROM t")
    assert to_spark("SELECT unnest(a) AS v FROM t") == "SELECT EXPLODE(a) AS v FROM t"


def test_remote_resources_need_allow_remote(tmp_path: Path) -> None:
    assert location(tmp_path, "s3a://bucket/data.csv", True) == "s3a://bucket/data.csv"
    with pytest.raises(UsageError, match="--allow-remote"):
        location(tmp_path, "https://example.org/data.csv", False)
    with pytest.raises(UsageError, match="Spark cannot read http"):  # see test_spark_engine_matches_duckdb
        location(tmp_path, "https://example.org/data.csv", True)
    with pytest.raises(UsageError, match="does not exist"):
        location(tmp_path, "data/missing.csv", False)
    with pytest.raises(UsageError):
        location(tmp_path, "../outside.csv", False)


def remote_package(root: Path, url: str) -> Path:
    """The seeded package with its ``child`` resource at ``url``."""
    seeded_package(root)
    descriptor = json.loads((root / "datapackage.json").read_text())
    descriptor["resources"][1]["path"] = url
    (root / "datapackage.json").write_text(json.dumps(descriptor))
    return root


@pytest.mark.parametrize("args, message", [
    (["--spark-master", "bogus://x"], "--spark-master 'bogus://x': not a Spark master URL"),
    (["--spark-conf", "no-equals"], "--spark-conf 'no-equals': give KEY=VALUE with a Spark key"),
    (["--spark-conf", "hadoop.x=1"], "--spark-conf 'hadoop.x=1': give KEY=VALUE with a Spark key"),
    (["--allow-remote"], "http://127.0.0.1:9/child.csv: Spark cannot read http(s) URLs"),
    ([], "http://127.0.0.1:9/child.csv' is remote; it is not fetched unless you pass --allow-remote"),
])
def test_spark_usage_errors_before_spark_starts(tmp_path: Path, args: list[str], message: str) -> None:
    """Refused in one line, exit 2, before any JVM or download: nothing listens on port 9."""
    from datapkg.cli.main import app
    from typer.testing import CliRunner

    root = remote_package(tmp_path / "pkg", "http://127.0.0.1:9/child.csv")
    done = CliRunner().invoke(app, ["validate", str(root), "--engine", "spark", *args])
    assert done.exit_code == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr


def test_s3a_resources_are_spark_only() -> None:
    """frictionless cannot open s3a://: on the Spark engine its scheme-error on such a resource is one
    warning naming what this machine does not check; other findings stay."""
    from datapkg.report import Finding
    from datapkg.spark_frames import remote_resources
    from datapkg.validate import spark_only

    descriptor = {"resources": [{"name": "a", "path": "s3a://b/a.csv"}, {"name": "c", "path": "c.csv"}]}
    assert remote_resources(descriptor, True) == {"a": "s3a://b/a.csv"}
    with pytest.raises(UsageError, match="--allow-remote"):
        remote_resources(descriptor, False)
    scheme = Finding(check="scheme-error", message='scheme "s3a" is not supported', resource="a", file="s3a://b/a.csv")
    other = Finding(check="scheme-error", message="x", resource="c", file="c.csv")
    kept = spark_only([scheme, other], {"a": "s3a://b/a.csv"})
    assert kept[0] is other and [(f.check, f.severity, f.resource) for f in kept[1:]] == [("read-by-spark-only", "warning", "a")]
    assert "header, encoding, bytes and hash are not checked" in kept[1].message


# --- with Spark ----------------------------------------------------------------------------------

#: The test JVM compiles with C1 only and collects with one thread: it lives for seconds, and half
#: its CPU time went to C2 compiler and GC threads (34 -> 17 CPU-s for this file on 2 cores). It
#: does not verify the bytecode of the classes it loads from Spark's jars (17 -> 15 CPU-s).
TEST_JVM = ("-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:CICompilerCount=1 "
            "-XX:+UnlockDiagnosticVMOptions -XX:-BytecodeVerificationRemote")


def _spark_or_skip_reason() -> str:
    """Why the Spark tests cannot run here ('' when they can)."""
    import importlib.util

    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (scripts/ensure_spark.sh installs it)"
    if importlib.util.find_spec("sqlglot") is None:
        return "sqlglot (the [spark] extra) is not installed"
    if shutil.which("java") is None:
        return "no Java runtime (apt-get install default-jre-headless; scripts/ensure_spark.sh)"
    return ""


def _spark_or_skip() -> Any:
    reason = _spark_or_skip_reason()
    if reason:
        pytest.skip(reason)
    from datapkg.spark_frames import spark_session

    return spark_session("local[2]", conf={"spark.driver.extraJavaOptions": TEST_JVM})


@pytest.mark.slow  # a JVM: 15 CPU-s of start-up; `make test-slow` (and so CI) runs it
def test_spark_engine_matches_duckdb(tmp_path: Path) -> None:
    """One Spark session for everything (it takes seconds to start): the typed frames equal the
    DuckDB loader's typed tables cell by cell, and the suite finds every seeded break at its row."""
    spark = _spark_or_skip()
    from datapkg.checks.gx_spark import run_suites
    from datapkg.spark_frames import read_package

    root = seeded_package(tmp_path / "pkg")
    descriptor = json.loads((root / "datapackage.json").read_text())
    con = duckdb.connect()
    load_package(con, root, descriptor)
    tables = read_package(spark, root, descriptor)
    for name in ("parent", "child"):
        ours = [tuple(r) for r in tables[name].frame.orderBy("__row").collect()]
        assert ours == con.execute(f'SELECT * FROM "{name}" ORDER BY __row').fetchall(), name
    assert [r[0] for r in spark.sql("SELECT __row FROM child WHERE day IS NULL ORDER BY 1").collect()] == [3, 5]
    # the curation rules' list splitting (trim(unnest(string_split(...)))) gives DuckDB's rows on Spark
    split = "SELECT __row, trim(unnest(string_split(note, 'a'))) AS part FROM child WHERE note IS NOT NULL"
    assert sorted(tuple(r) for r in spark.sql(to_spark(split)).collect()) == sorted(con.execute(split).fetchall())

    run = run_suites(spark, tables, [SUITE])
    rows: dict[str, Any] = {}
    for _suite, exp, result in run.results:
        found = result.result.get("unexpected_index_list") or (result.result.get("details") or {}).get("unexpected_rows")
        rows[exp["type"] + str(len(rows))] = sorted(r["__row"] for r in found or [])
    assert list(rows.values()) == [[5], [3], [3, 4], [3]]
    assert [(s, t) for s, t, _ in run.not_on_spark] == [("child-rules", "unexpected_rows_expectation"),
                                                         ("child-rules", "expect_column_values_to_be_null")]
    assert "JSON_VALID" in run.not_on_spark[0][2] and "row:extra-cell" in run.not_on_spark[1][2]
    # the whole command: the same findings on both engines; what Spark cannot run is named
    assert_same_findings(root, ["--engine", "spark", "--spark-master", "local[2]"])
    # why http(s) resources are refused on Spark: its file sources cannot list a file on Hadoop's HTTP file system
    from release_server import Behaviour, ReleaseServer

    with ReleaseServer(Behaviour(files={"child.csv": CHILD.encode()})) as server:
        with pytest.raises(Exception, match="UNSUPPORTED_FILE_SYSTEM"):
            spark.read.csv(server.url("child.csv"))
    # s3a:// without hadoop-aws on the class path: one line naming what Spark needs
    s3a = remote_package(tmp_path / "s3a", "s3a://bucket/child.csv")
    descriptor = json.loads((s3a / "datapackage.json").read_text())
    with pytest.raises(UsageError, match=r"s3a://bucket/child.csv: Spark cannot read it \(.*s3a.*\); s3a:// needs "
                                         r"hadoop-aws 3\.\d+\.\d+ on Spark's class path"):
        read_package(spark, s3a, descriptor, allow_remote=True)


def engine_findings(root: Path, args: list[str]) -> tuple[int, list[dict], list[dict]]:
    """``dpkg validate ROOT --format json ARGS``: exit code, findings, and the ``not-on-spark`` lines."""
    from datapkg.cli.main import app
    from typer.testing import CliRunner

    done = CliRunner().invoke(app, ["validate", str(root), "--format", "json", *args])
    found = json.loads(done.stdout)["errors"]
    return (done.exit_code, [f for f in found if f["check"] != "not-on-spark"],
            [f for f in found if f["check"] == "not-on-spark"])


def assert_same_findings(root: Path, spark_args: list[str]) -> list[dict]:
    """The seeded package gives the same findings (check, file, row, field, message...) and exit
    code on the DuckDB engine and with ``spark_args``; returns Spark's ``not-on-spark`` lines."""
    duck_code, duck, duck_skipped = engine_findings(root, [])
    spark_code, on_spark, skipped = engine_findings(root, spark_args)
    assert duck_code == spark_code == 1 and not duck_skipped
    assert on_spark == duck and {(f["row"], f["field"]) for f in duck if f["severity"] == "error"} == SEEDED
    assert skipped and all(f["severity"] == "warning" for f in skipped)
    return skipped

"""``--spark-master spark://...``: the Spark engine on a real standalone cluster (a master and a
worker started on 127.0.0.1 from the pyspark installation, stopped by pid afterwards) gives the
DuckDB engine's findings on the seeded broken package. Slow (a JVM each for master, worker,
driver and executor: 1-3 min); ``make test-slow`` runs it, as CI does. ``yarn`` is not tested
(no YARN cluster here)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from spark_cluster import standalone_cluster
from test_spark import _spark_or_skip_reason, assert_same_findings, seeded_package


@pytest.mark.slow
def test_cluster_master_gives_duckdb_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reason = _spark_or_skip_reason()
    if reason:
        pytest.skip(reason)
    root = seeded_package(tmp_path / "pkg")
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")  # the driver, reached back by the executor
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)  # the executor's Python workers: this venv's
    (tmp_path / "cluster").mkdir()
    with standalone_cluster(tmp_path / "cluster") as url:
        assert url.startswith("spark://127.0.0.1:")
        skipped = assert_same_findings(root, ["--engine", "spark", "--spark-master", url])
    assert {f["message"].split(":")[0] for f in skipped} == {"suite child.cells", "suite parent.cells"}
    # the work ran on the cluster's worker, in an executor of its own
    log = (tmp_path / "cluster" / "worker.log").read_text()
    assert "Asked to launch executor app-" in log and "for dpkg validate" in log


@pytest.mark.slow
def test_unreachable_master_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A master nobody answers at: Spark gives up after its registration retries (about a minute);
    dpkg says so in one line, exit 2, no verdict."""
    import socket

    from datapkg.cli.main import app
    from typer.testing import CliRunner

    reason = _spark_or_skip_reason()
    if reason:
        pytest.skip(reason)
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = seeded_package(tmp_path / "pkg")
    done = CliRunner().invoke(app, ["validate", str(root), "--engine", "spark", "--spark-master", f"spark://127.0.0.1:{port}"])
    assert done.exit_code == 2 and done.stdout == "", done.stdout
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"dpkg: error: --spark-master spark://127.0.0.1:{port}: Spark did not start ("), last
    assert "Traceback" not in done.stderr

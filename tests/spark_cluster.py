"""A real Spark standalone cluster on 127.0.0.1 for tests: one master and one worker started from
the pyspark installation (``bin/spark-class``), stopped by their process ids when the test ends.

The master picks a free port itself (``--port 0``) and the URL is read from its log; the worker
keeps its work folder (executor logs, application files) in the test's temporary folder, never in
the pyspark installation.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MASTER = re.compile(r"Starting Spark master at (spark://127\.0\.0\.1:\d+)")
REGISTERED = "Successfully registered with master"


def _wait_for(log: Path, process: subprocess.Popen, pattern: re.Pattern[str] | str, timeout: float) -> str:
    """The first match of ``pattern`` in ``log``; RuntimeError (with the log's end) if the process
    exits or ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        found = re.search(pattern, text)
        if found:
            return found.group(found.lastindex or 0)
        if process.poll() is not None:
            break
        time.sleep(0.5)
    raise RuntimeError(f"{log.name}: not ready after {timeout:.0f} s:\n{text[-2000:]}")


def _stop(process: subprocess.Popen) -> None:
    """Stop one process this module started (by its pid): SIGTERM, then SIGKILL after 20 s."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)


@contextmanager
def standalone_cluster(folder: Path, *, cores: int = 2, memory: str = "1g", timeout: float = 180) -> Iterator[str]:
    """Start a Spark master and one worker (``cores``, ``memory``) on 127.0.0.1; yield the master's
    ``spark://`` URL; stop both on exit."""
    import pyspark

    home = Path(pyspark.__file__).parent
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1",
           "SPARK_LOCAL_DIRS": str(folder / "local")}
    spark_class = [str(home / "bin" / "spark-class")]
    started: list[subprocess.Popen] = []
    try:
        master_log = folder / "master.log"
        with master_log.open("wb") as out:  # spark-class execs java: the pid is the JVM's
            started.append(subprocess.Popen([*spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                                             "--port", "0", "--webui-port", "0"], env=env, stdout=out, stderr=out))
        url = _wait_for(master_log, started[0], MASTER, timeout)
        worker_log = folder / "worker.log"
        with worker_log.open("wb") as out:
            started.append(subprocess.Popen([*spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                                             "--cores", str(cores), "--memory", memory, "--webui-port", "0",
                                             "--work-dir", str(folder / "work"), url],
                                            env=env, stdout=out, stderr=out))
        _wait_for(worker_log, started[1], re.escape(REGISTERED), timeout)
        yield url
    finally:
        for process in reversed(started):
            _stop(process)

"""Great Expectations in a forked worker process, so that its import overlaps the DuckDB work.

Importing GX takes 2-3 s of pure Python, and tearing the interpreter down afterwards another
0.7 s. In a background *thread* the import competes with frictionless and DuckDB for one GIL; in a
forked *process* it runs on its own core (``benchmarks/GX.md`` has the figures). So:

1. :func:`start` forks a worker (before the frictionless pass and DuckDB) that imports GX, then
   waits on a pipe;
2. the parent does frictionless, loads DuckDB and selects the candidate rows, then
   :meth:`GxWorker.run` sends the prepared suites (small pandas frames) down the pipe;
3. the worker runs :func:`datapkg.checks.gx_checks.validate_with_gx` on them, exactly as the
   parent would, sends back the findings (or the exception it raised) and leaves with
   ``os._exit`` (no interpreter teardown).

The parent never imports GX. A worker that is not used is killed (:func:`cancel`, and at exit).
Without ``os.fork`` (Windows) :func:`start` returns None and GX runs in the calling process.
"""

from __future__ import annotations

import atexit
import importlib.abc
import importlib.machinery
import importlib.util
import os
import pickle
import signal
import sys
from pathlib import Path
from typing import Any


class GxWorker:
    """A forked process that has imported (or is importing) GX and runs one validation."""

    def __init__(self) -> None:
        job_read, job_write = os.pipe()
        result_read, result_write = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the caller's code
            code = 0
            try:
                os.close(job_write)
                os.close(result_read)
                _serve(job_read, result_write)
            except BaseException:  # noqa: BLE001 - the parent sees a closed pipe and says so
                code = 1
            finally:
                os._exit(code)
        os.close(job_read)
        os.close(result_write)
        self.pid = pid
        self._job = os.fdopen(job_write, "wb")
        self._result = os.fdopen(result_read, "rb")

    def run(self, prepared: list[Any], data_docs: Path | None) -> list[Any]:
        """Validate ``prepared`` in the worker; return its findings or raise what GX raised."""
        try:
            try:
                pickle.dump((prepared, data_docs), self._job, protocol=pickle.HIGHEST_PROTOCOL)
                self._job.close()
                status, value = pickle.load(self._result)
            except (OSError, EOFError, pickle.UnpicklingError):
                raise RuntimeError("the Great Expectations worker process stopped unexpectedly") from None
        finally:
            self._close(kill=False)
        if status == "error":
            raise value
        return value

    def cancel(self) -> None:
        """Stop the worker without using it."""
        self._close(kill=True)

    def _close(self, *, kill: bool) -> None:
        for handle in (self._job, self._result):
            try:
                handle.close()
            except OSError:
                pass
        if self.pid:
            if kill:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.pid = 0


#: Modules GX imports at start-up for one expectation (KL divergence) that only its body uses:
#: loaded on first use instead (about 0.9 s of GX's 2.4 s import).
LAZY_MODULES = ("scipy.stats", "altair")


class _LazyFinder(importlib.abc.MetaPathFinder):
    """Imports the first import of each of ``names`` lazily (:class:`importlib.util.LazyLoader`):
    the module runs on its first attribute access, so nothing changes but when it loads."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = set(names)

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name not in self.names:
            return None
        self.names.discard(name)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def _serve(job_fd: int, result_fd: int) -> None:
    """(In the worker.) Import GX, wait for one job, run it, send the outcome back."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    sys.meta_path.insert(0, _LazyFinder(tuple(n for n in LAZY_MODULES if n not in sys.modules)))
    try:
        import great_expectations  # noqa: F401
        from great_expectations.checkpoint import UpdateDataDocsAction  # noqa: F401
    except Exception:  # noqa: BLE001 - validate_with_gx's own import raises it again, and it is sent back
        pass
    with os.fdopen(job_fd, "rb") as handle:
        try:
            prepared, data_docs = pickle.load(handle)
        except EOFError:  # cancelled
            return
    from datapkg.checks.gx_checks import validate_with_gx

    try:
        outcome: tuple[str, Any] = ("ok", validate_with_gx(prepared, data_docs))
    except BaseException as exc:  # noqa: BLE001 - raised again in the parent
        outcome = ("error", exc)
    try:
        data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - an exception that does not pickle: keep its text
        data = pickle.dumps(("error", RuntimeError(str(outcome[1]))), protocol=pickle.HIGHEST_PROTOCOL)
    with os.fdopen(result_fd, "wb") as handle:
        handle.write(data)


_PENDING: GxWorker | None = None


def start() -> GxWorker | None:
    """Fork the worker now (once until it is taken or cancelled); None where there is no fork."""
    global _PENDING
    if _PENDING is None and hasattr(os, "fork"):
        _PENDING = GxWorker()
    return _PENDING


def take() -> GxWorker | None:
    """The pending worker, now owned by the caller (None if none was started)."""
    global _PENDING
    worker, _PENDING = _PENDING, None
    return worker


def cancel() -> None:
    """Kill the pending worker, if any (e.g. GX turned out to have nothing to check)."""
    worker = take()
    if worker is not None:
        worker.cancel()


atexit.register(cancel)

"""Run one function in a fresh Python process and hand back its result (or raise its exception).

``dpkg validate`` uses it to run its heavy phases one after the other, each in a process of its
own: frictionless, then DuckDB, then Great Expectations. A process gives back all its memory when
it ends, so the command's peak is that of its largest phase, not the sum of every library it has
imported (GX alone is about 120 MB, DuckDB's work up to its cap). ``benchmarks/GX.md`` has the
figures.

The child is a new interpreter (``python -m datapkg.isolated``), not a fork: no page of the
caller is counted twice, and it works on every platform. Before it imports anything else it can
block modules (``block``: they then count as not installed, e.g. pyarrow, which pandas imports
when present but GX's pandas engine does not use) and load others on first use only (``lazy``).
It leaves with ``os._exit`` once its answer is written, skipping the interpreter teardown (0.7 s
for GX's 1,500 modules).

Protocol: stdin gets ``pickle((sys.path, block, lazy, pickle((function, args, kwargs))))``; stdout returns
``pickle(("ok", result))`` or ``pickle(("error", exception))``. Whatever the function prints goes
to stderr, whose last line explains a child that died.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def call(function: Callable[..., Any], *args: Any, block: tuple[str, ...] = (), lazy: tuple[str, ...] = (),
         **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` in a fresh Python process; its result, or its exception raised here.

    ``function`` must be importable by name (a module-level function); arguments and result must
    pickle. A child that dies without answering raises ``RuntimeError`` with its last words.
    """
    job = pickle.dumps((list(sys.path), tuple(block), tuple(lazy),
                        pickle.dumps((function, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)),
                       protocol=pickle.HIGHEST_PROTOCOL)
    package_parent = str(Path(__file__).resolve().parents[1])  # so that the child imports this datapkg
    path = os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH")) if p)
    proc = subprocess.run([sys.executable, "-m", "datapkg.isolated"], input=job, capture_output=True,
                          env={**os.environ, "PYTHONPATH": path})
    try:
        status, value = pickle.loads(proc.stdout)
    except Exception:  # noqa: BLE001 - no answer: say how the child ended
        last = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        name = getattr(function, "__qualname__", str(function))
        raise RuntimeError(f"the worker process for {name} stopped unexpectedly: {last[0]}") from None
    if status == "error":
        raise value
    return value


class LazyFinder(importlib.abc.MetaPathFinder):
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


def serve() -> None:
    """(In the child.) Read one job from stdin, run it, write the outcome to stdout, and leave."""
    answer = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever the function prints goes to stderr, not into the answer
    code = 0
    try:
        caller_path, block, lazy, job = pickle.load(sys.stdin.buffer)
        sys.path[:0] = [p for p in caller_path if p not in sys.path]  # import what the caller can
        for name in block:
            sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # "not installed"
        sys.meta_path.insert(0, LazyFinder(tuple(n for n in lazy if n not in sys.modules)))
        function, args, kwargs = pickle.loads(job)
        try:
            outcome: tuple[str, Any] = ("ok", function(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller
            outcome = ("error", exc)
        try:
            data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - an exception that does not pickle: keep its text
            data = pickle.dumps(("error", RuntimeError(str(outcome[1]))), protocol=pickle.HIGHEST_PROTOCOL)
        answer.write(data)
        answer.flush()
    except BaseException as exc:  # noqa: BLE001 - the caller reports the last line of stderr
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    serve()

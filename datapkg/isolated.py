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

Protocol: stdin gets ``pickle((sys.path, block, lazy, answer file, steps?, pickle((function, args,
kwargs))))``; the child writes ``pickle(("ok", result))`` or ``pickle(("error", exception))`` to the
answer file, and, when the caller asked for progress, one line per step to its stdout. Whatever
else the function prints goes to stderr, whose last line explains a child that died.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import pickle
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any


def call(function: Callable[..., Any], *args: Any, block: tuple[str, ...] = (), lazy: tuple[str, ...] = (),
         env: dict[str, str] | None = None, step: Callable[[str], None] | None = None, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` in a fresh Python process; its result, or its exception raised here.

    ``function`` must be importable by name (a module-level function); arguments and result must
    pickle. ``env`` adds to the child's environment. With ``step``, the function is also given a
    ``step`` keyword, and each message it passes to it reaches ``step`` here as it happens. A child
    that dies without answering raises ``RuntimeError`` with its last words.
    """
    package_parent = str(Path(__file__).resolve().parents[1])  # so that the child imports this datapkg
    path = os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory(prefix="dpkg-call-") as scratch, tempfile.TemporaryFile() as errors:
        answer = Path(scratch) / "answer.pickle"
        job = pickle.dumps((list(sys.path), tuple(block), tuple(lazy), str(answer), step is not None,
                            pickle.dumps((function, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)),
                           protocol=pickle.HIGHEST_PROTOCOL)
        with subprocess.Popen([sys.executable, "-m", "datapkg.isolated"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=errors,
                              env={**os.environ, **(env or {}), "PYTHONPATH": path}) as proc:
            try:
                assert proc.stdin is not None and proc.stdout is not None
                try:
                    proc.stdin.write(job)  # the child reads all of it before it writes anything
                    proc.stdin.close()
                except BrokenPipeError:  # it died first: its answer is missing, and that is said below
                    pass
                for line in proc.stdout:
                    if step is not None:
                        step(line.decode("utf-8", "replace").rstrip("\n"))
                code = proc.wait()
            finally:
                if proc.poll() is None:  # interrupted (Ctrl-C): the child goes too
                    proc.kill()
                    proc.wait()
        try:
            status, value = pickle.loads(answer.read_bytes())
        except Exception:  # noqa: BLE001 - no answer: say how the child ended
            errors.seek(0)
            last = errors.read().decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit code {code}"]
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
    """(In the child.) Read one job from stdin, run it, write the outcome to the answer file, and leave."""
    steps = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # whatever the function (or a C library) prints goes to stderr
    sys.stdout = sys.stderr
    code = 0
    try:
        caller_path, block, lazy, answer, want_steps, job = pickle.load(sys.stdin.buffer)
        sys.path[:0] = [p for p in caller_path if p not in sys.path]  # import what the caller can
        for name in block:
            sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # "not installed"
        sys.meta_path.insert(0, LazyFinder(tuple(n for n in lazy if n not in sys.modules)))
        function, args, kwargs = pickle.loads(job)
        if want_steps:
            def step(message: str) -> None:
                steps.write(str(message).replace("\n", " ") + "\n")
                steps.flush()

            kwargs = {**kwargs, "step": step}
        try:
            outcome: tuple[str, Any] = ("ok", function(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller
            exc.add_note("in a worker process:\n" + "".join(traceback.format_exception(exc)))
            outcome = ("error", exc)
        try:
            data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - an exception that does not pickle: keep its text
            data = pickle.dumps(("error", RuntimeError(str(outcome[1]))), protocol=pickle.HIGHEST_PROTOCOL)
        Path(answer).write_bytes(data)
    except BaseException as exc:  # noqa: BLE001 - the caller reports the last line of stderr
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        for handle in (steps, sys.stderr):
            try:
                handle.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


if __name__ == "__main__":
    serve()

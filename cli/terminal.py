"""What the commands print to a terminal: colour by the no-color.org conventions, progress on stderr.

Colour follows https://no-color.org and https://force-color.org: ``NO_COLOR`` (any non-empty
value) or ``TERM=dumb`` turn it off, ``FORCE_COLOR`` (non-empty) turns it on, and otherwise a
terminal gets colour and a pipe does not. rich, which draws the progress display, reads the same
variables itself.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator

import typer

#: A progress callback: ``step("loading tables")``.
Step = Callable[[str], None]


def colour() -> bool | None:
    """True: always colour; False: never; None: only on a terminal (click's own rule)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    return None


def echo(text: str, *, err: bool = False, nl: bool = True) -> None:
    """``typer.echo`` with the colour decision of :func:`colour` (styles are kept or stripped)."""
    typer.echo(text, err=err, nl=nl, color=colour())


@contextlib.contextmanager
def progress_steps(label: str, *, delay: float = 0.0, enabled: bool = True) -> Iterator[Step]:
    """A ``step(message)`` callback: a rich spinner with the current step on stderr.

    Shown only when ``enabled`` and stderr is a terminal (never in a pipe, a log or CI output),
    and only once the work has taken ``delay`` seconds, so that quick runs print nothing extra.
    The spinner is transient: it leaves nothing behind on the screen.
    """
    if not enabled or not sys.stderr.isatty() or os.environ.get("TERM") == "dumb":
        yield lambda _msg: None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from datapkg.safe_text import markup_safe

    progress = Progress(SpinnerColumn(), TextColumn("[bold]{task.fields[label]}[/] {task.description}"),
                        TimeElapsedColumn(), console=Console(stderr=True), transient=True)
    task = progress.add_task("starting", label=label, total=None)
    lock, state = threading.Lock(), {"started": False, "done": False}

    def start() -> None:
        with lock:
            if not state["done"]:
                progress.start()
                state["started"] = True

    timer = threading.Timer(delay, start)
    timer.daemon = True
    if delay > 0:
        timer.start()
    else:
        start()
    try:
        yield lambda msg: progress.update(task, description=markup_safe(msg))  # package names: no markup, no escapes
    finally:
        timer.cancel()
        with lock:
            state["done"] = True
            if state["started"]:
                progress.stop()

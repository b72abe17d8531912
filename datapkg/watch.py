"""``dpkg validate --watch``: validate again after every save, and say only what changed.

GX, DuckDB and frictionless stay loaded between runs (the GX context lives for the process,
:func:`datapkg.checks.gx_checks.gx_context`), and the CLI's ``run`` is
:class:`datapkg.incremental.IncrementalValidation`: a run after a save reloads the changed tables
and re-runs only the checks that read them. A change is a file of the package folder whose size or modification time moved; the run
waits until the files have stopped changing (an editor's save, a script still writing), and a
file that is still half-written when it runs is a finding or a one-line note, never the end of
the watch.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from datapkg.report import Finding, Report

#: Folders of a package folder that are never package input.
SKIPPED = {".git", ".venv", "venv", "node_modules", "__pycache__", "dist", ".pytest_cache"}
INTERVAL = 0.05  # seconds between two looks at the files (a look costs about a millisecond)
SETTLE = 0.05    # the files must stay unchanged this long before a run (a half-written file is survived anyway)


def snapshot(path: Path) -> dict[str, tuple[int, int]]:
    """``{relative path: (mtime_ns, size)}`` of the files a validation of ``path`` reads."""
    path = Path(path)
    if path.is_file():  # a descriptor or a zip: its folder (descriptor) or itself (zip)
        if path.suffix.lower() == ".zip":
            stat = path.stat()
            return {path.name: (stat.st_mtime_ns, stat.st_size)}
        path = path.parent
    found: dict[str, tuple[int, int]] = {}
    stack = [path]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in SKIPPED and not entry.name.startswith("."):
                    stack.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False):
                stat = entry.stat(follow_symlinks=False)
                found[os.path.relpath(entry.path, path)] = (stat.st_mtime_ns, stat.st_size)
    return found


def _key(finding: Finding) -> tuple:
    return (finding.check, finding.file, finding.row, finding.field, finding.value, finding.message)


@dataclass
class Change:
    """What one run found compared with the run before it."""

    report: Report | None
    added: list[Finding]
    gone: list[Finding]
    seconds: float
    error: str | None = None      # the run could not happen (e.g. a half-written descriptor)
    changed: list[str] | None = None


def compare(before: list[Finding], after: list[Finding]) -> tuple[list[Finding], list[Finding]]:
    """(findings new in ``after``, findings of ``before`` that are gone)."""
    old, new = {_key(f) for f in before}, {_key(f) for f in after}
    return [f for f in after if _key(f) not in old], [f for f in before if _key(f) not in new]


def watch(path: Path, run: Callable[[], Report], *, interval: float = INTERVAL, settle: float = SETTLE,
          sleep: Callable[[float], None] = time.sleep) -> Iterator[Change]:
    """Validate with ``run()`` now and after every change under ``path``; yield each outcome.

    The first :class:`Change` lists every finding as added. An exception of a run becomes
    ``Change.error`` (one line) and the watch goes on; the findings compared next time are those
    of the last run that succeeded. Runs until the caller stops iterating (or Ctrl-C).
    """
    previous: list[Finding] = []
    files = snapshot(path)
    changed: list[str] | None = None
    while True:
        started = time.perf_counter()
        try:
            report = run()
        except Exception as exc:  # noqa: BLE001 - any failure of one run is reported, the watch goes on
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            yield Change(None, [], [], time.perf_counter() - started, error=text, changed=changed)
        else:
            added, gone = compare(previous, report.findings)
            previous = report.findings
            yield Change(report, added, gone, time.perf_counter() - started, changed=changed)
        files, changed = _wait_for_change(path, files, interval, settle, sleep)


def _wait_for_change(path: Path, files: dict[str, tuple[int, int]], interval: float, settle: float,
                     sleep: Callable[[float], None]) -> tuple[dict[str, tuple[int, int]], list[str]]:
    """Block until the files under ``path`` differ from ``files`` and then stay still for ``settle`` s."""
    while True:
        sleep(interval)
        now = snapshot(path)
        if now != files:
            break
    while True:  # wait until the writer is done
        sleep(settle)
        later = snapshot(path)
        if later == now:
            break
        now = later
    changed = sorted(k for k in set(now) | set(files) if now.get(k) != files.get(k))
    return now, changed

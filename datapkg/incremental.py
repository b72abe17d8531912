"""``validate_package`` again after a save, redoing only what the change can affect (``--watch``).

:class:`IncrementalValidation` gives, on every call, the report a cold
:func:`datapkg.validate.validate_package` would give on the files as they are now. Between calls it
keeps:

- the sha256 of every file of the package folder (a file is read again only when its size or
  modification time moved; it counts as changed only when its content did);
- frictionless' findings per resource: after a save only the resources whose data file changed
  (and those whose foreign keys point at them, and those frictionless reads in full) are validated
  again;
- the DuckDB tables, the GX data source and the findings of every expectation
  (:class:`datapkg.checks.gx_incremental.IncrementalChecks`).

The file checks (articles, hashes, stray files; a few milliseconds) run every time. A change of the
descriptor, of a schema or dialect file, a package that frictionless refused, a zipped package or a
run that failed start afresh: a full run, with GX still loaded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datapkg.checks.files import run_file_checks
from datapkg.checks.frictionless_checks import run_frictionless_checks
from datapkg.errors import DpkgError
from datapkg.file_hash import sha256_of
from datapkg.loader import package_resources, resource_schema
from datapkg.package_source import PackageSource, is_remote, open_package, resource_paths
from datapkg.report import Finding, Report


@dataclass
class RunInfo:
    """What the last call did (for the watch's status line and the benchmark)."""

    full: str | None = None                              # why it started afresh (None: incremental)
    changed: list[str] = field(default_factory=list)     # files whose content changed
    reloaded: list[str] = field(default_factory=list)    # resources loaded again
    ran: int = 0                                         # expectations GX evaluated
    kept: int = 0                                        # expectations whose findings were kept


def _sha256(path: Path) -> str | None:
    """The file's sha256 (:func:`datapkg.file_hash.sha256_of`), or None when it cannot be read (gone mid-save)."""
    try:
        return sha256_of(path)
    except OSError:
        return None


class IncrementalValidation:
    """``validation()`` returns the package's report; see the module doc. ``close()`` at the end."""

    def __init__(self, path: str | Path, *, max_errors: int | None = None, allow_remote: bool = False) -> None:
        from datapkg.checks.gx_incremental import IncrementalChecks

        self.path, self.max_errors, self.allow_remote = Path(path), max_errors, allow_remote
        self.gx = IncrementalChecks()
        self.last = RunInfo()
        self._files: dict[str, tuple[tuple[int, int], str | None]] = {}
        self._frictionless: dict[str | None, list[Finding]] = {}
        self._stats: dict[str, Any] = {}
        self._ready = False   # the kept state matches the files of the last run
        self._root: Path | None = None

    def close(self) -> None:
        self.gx.close()
        self._ready = False

    def __call__(self) -> Report:
        from datapkg.checks.gx_checks import gx_resources
        from datapkg.validate import assemble

        started = time.perf_counter()
        ready, self._ready = self._ready, False   # until this run has succeeded
        with open_package(self.path, allow_remote=self.allow_remote) as source:
            changed = self._changed_files(source.root)
            loaded = gx_resources(source.root, source.descriptor)
            full = self._why_full(source, changed, loaded, ready)
            self.last = RunInfo(full=full, changed=sorted(changed))
            self._structure(source, loaded, None if full else self._affected(source, changed, loaded))
            structure = [f for group in self._frictionless.values() for f in group]
            accepted = not any(f.resource is None and f.severity == "error" for f in structure)
            structure += run_file_checks(source, header_only=loaded)
            content = None
            if accepted:
                reload = None if full else {n for n in loaded if self._data_file(source, n) & changed}
                self.last.reloaded = sorted(loaded if reload is None else reload)
                content = self.gx.run(source.root, source.descriptor, loaded, reload)
                self.last.ran, self.last.kept = self.gx.ran, self.gx.kept
            stats = {"resources": {name: dict(entry) for name, entry in self._stats.items()}}
            report = assemble(source, structure, stats, content, loaded,
                              max_errors=self.max_errors, started=started)
            self._ready = accepted and source._tmpdir is None
            self._root = source.root
        return report

    # --- what changed ------------------------------------------------------------------------

    def _changed_files(self, root: Path) -> set[str]:
        """Files (relative to ``root``) added, removed or with new content since the last call."""
        from datapkg.watch import snapshot

        if root != self._root:
            self._files = {}
        before, now = self._files, {}
        for rel, stat in snapshot(root).items():
            kept = before.get(rel)
            now[rel] = kept if kept is not None and kept[0] == stat else (stat, _sha256(root / rel))
        self._files = now
        return {rel for rel in set(before) | set(now)
                if (rel in before) != (rel in now) or before[rel][1] != now[rel][1]}

    def _why_full(self, source: PackageSource, changed: set[str], loaded: set[str], ready: bool) -> str | None:
        """Why this run must start afresh, or None."""
        if not ready or source.root != self._root:
            return "first run" if self._root is None else "the run before did not finish"
        if not loaded:
            return "no table is loaded into DuckDB"
        if source.descriptor_name in changed:
            return f"{source.descriptor_name} changed"
        for resource in _resources(source):
            for key in ("schema", "dialect"):
                if isinstance(resource.get(key), str) and Path(resource[key]).as_posix() in changed:
                    return f"{resource[key]} changed"
        return None

    @staticmethod
    def _data_file(source: PackageSource, name: str) -> set[str]:
        resource = next((r for r in _resources(source) if r.get("name") == name), {})
        return {Path(p).as_posix() for p in resource_paths(resource) if not is_remote(p)}

    def _affected(self, source: PackageSource, changed: set[str], loaded: set[str]) -> set[str]:
        """Resources frictionless validates again: those whose file changed, those whose foreign
        keys point at them, and those it reads in full (not loaded into DuckDB)."""
        names = {r["name"] for r in _resources(source) if r["name"] not in loaded or self._data_file(source, r["name"]) & changed}
        for resource in _resources(source):
            try:
                keys = resource_schema(source.root, resource).get("foreignKeys")
            except DpkgError:
                continue
            keys = keys if isinstance(keys, list) else []
            targets = {(k.get("reference") or {}).get("resource") for k in keys if isinstance(k, dict)}
            if targets & names:
                names.add(resource["name"])
        return names

    # --- frictionless ------------------------------------------------------------------------

    def _structure(self, source: PackageSource, loaded: set[str], only: set[str] | None) -> None:
        """frictionless' findings and statistics, for ``only`` these resources (None: all)."""
        if only is not None and not only:
            return
        findings, stats = run_frictionless_checks(source, header_only=loaded, only=only)
        if only is None:
            self._frictionless, self._stats = {}, {}
        groups: dict[str | None, list[Finding]] = {name: [] for name in (only or ())}
        for finding in findings:
            groups.setdefault(finding.resource, []).append(finding)
        self._frictionless.update(groups)
        self._stats.update(stats["resources"])



def _resources(source: PackageSource) -> list[dict[str, Any]]:
    return [r for r in package_resources(source.descriptor) if isinstance(r.get("name"), str)]

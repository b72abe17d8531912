"""Resolve what the user named (a folder, a descriptor file, a zipped package) into a package root.

Everything that can make the input unusable is turned into a one-line :class:`UsageError`
here, before any check runs: a missing path, a descriptor that is not JSON/YAML or not an
object, an unreadable encoding, a resource path that is absolute or climbs out of the package,
or a remote resource when remote access was not allowed.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from datapkg import strict_json
from datapkg.errors import UsageError

DESCRIPTOR_NAMES = ("datapackage.json", "datapackage.yaml", "datapackage.yml")
REMOTE_SCHEMES = ("http", "https", "ftp", "ftps", "s3", "s3a", "gs")
#: What a package name or version may keep in a release file name (the rest becomes '-').
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class PackageSource:
    """A package ready to check: its root folder, descriptor file and parsed descriptor.

    ``origin`` is what the user named; ``_tmpdir`` a temporary folder this source owns (removed
    on :meth:`close`); ``allow_remote``: network access allowed (--allow-remote). (A plain class,
    not a dataclass: this module is on ``dpkg query``'s start-up path.)
    """

    def __init__(self, root: Path, descriptor_path: Path, descriptor: dict[str, Any], origin: str,
                 _tmpdir: Path | None = None, allow_remote: bool = False) -> None:
        self.root, self.descriptor_path, self.descriptor, self.origin = root, descriptor_path, descriptor, origin
        self._tmpdir, self.allow_remote = _tmpdir, allow_remote

    def __repr__(self) -> str:
        return f"PackageSource(root={self.root!r}, origin={self.origin!r})"

    def adopt(self, tmpdir: Path, origin: str) -> PackageSource:
        """This package, as ``origin``, owning the temporary folder ``tmpdir`` (removed on close)."""
        return PackageSource(self.root, self.descriptor_path, self.descriptor, origin, tmpdir, self.allow_remote)

    @property
    def descriptor_name(self) -> str:
        """The descriptor's path relative to the package root (used as ``file`` in findings)."""
        return self.descriptor_path.relative_to(self.root).as_posix()

    def close(self) -> None:
        """Remove the temporary folder a zipped package was extracted into."""
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> PackageSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def artefact_names(descriptor: dict[str, Any]) -> tuple[str, str]:
    """(database file name, zip file name) of a package's release: ``<name>.duckdb`` and ``<name>-<version>.zip``."""
    name = SAFE_NAME.sub("-", str(descriptor.get("name") or "package")).strip("-.") or "package"
    version = SAFE_NAME.sub("-", str(descriptor.get("version") or "")).strip("-.")
    return f"{name}.duckdb", f"{name}-{version}.zip" if version else f"{name}.zip"


def is_remote(path: str) -> bool:
    """True when ``path`` is a URL with a remote scheme (http, https, ...)."""
    return ":" in path and urlparse(path).scheme.lower() in REMOTE_SCHEMES  # no scheme without a colon


def is_local(path: Any) -> bool:
    """True for a non-empty path string that is not a URL."""
    return isinstance(path, str) and bool(path) and not is_remote(path)


def json_value(value: Any) -> Any:
    """Dates and times a YAML descriptor holds as such, in ISO 8601 (anything else as text): ``json.dumps``' default."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def path_escape(path: str) -> str | None:
    """Why ``path`` would leave the folder it is relative to: ``"absolute"``, ``"climbs"`` (a ``..``
    part) or None when it stays inside. Backslashes count as separators, ``C:`` as absolute."""
    posix = path.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        return "absolute"
    if ".." in posix.split("/"):  # a '..' part
        return "climbs"
    return None


def check_relative_path(path: str, what: str) -> None:
    """Refuse a package path that is absolute, climbs out of the package or has a scheme."""
    scheme = urlparse(path).scheme.lower() if ":" in path else ""
    if scheme and len(scheme) > 1 and scheme not in REMOTE_SCHEMES:
        raise UsageError(f"{what} {path!r} has the unsupported scheme '{scheme}:'")
    escape = path_escape(path)
    if escape == "absolute":
        raise UsageError(f"{what} {path!r} is absolute; resource paths must be relative to the package")
    if escape == "climbs":
        raise UsageError(f"{what} {path!r} climbs out of the package ('..'); paths must stay inside it")


def read_descriptor(path: Path) -> dict[str, Any]:
    """Parse a JSON or YAML descriptor file into a dict, or raise a one-line UsageError."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8")  # as "utf-8-sig" does, without loading that codec
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path.name} is not UTF-8 text (byte {exc.start}: {raw[exc.start:exc.start + 1]!r})") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        data = strict_json.load_yaml(text, path.name)
    else:
        data = strict_json.loads(text, path.name)
    if not isinstance(data, dict):
        raise UsageError(f"{path.name} must hold a JSON object (a data package descriptor), not {type(data).__name__}")
    return data


def resource_paths(resource: dict[str, Any]) -> list[str]:
    """The data paths a resource descriptor names (``path`` may be a string or a list)."""
    value = resource.get("path")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [p for p in value if isinstance(p, str)]
    return []


def check_descriptor_paths(descriptor: dict[str, Any], allow_remote: bool) -> None:
    """Refuse hostile or remote paths in resources (data, schema and dialect paths)."""
    resources = descriptor.get("resources")
    if not isinstance(resources, list):
        return  # frictionless reports the malformed descriptor as a finding
    for index, resource in enumerate(resources):
        if not isinstance(resource, dict):
            continue
        name = resource.get("name") or f"#{index + 1}"
        named = [(p, f"resource '{name}' path") for p in resource_paths(resource)]
        for key in ("schema", "dialect"):
            if isinstance(resource.get(key), str):
                named.append((resource[key], f"resource '{name}' {key}"))
        for path, what in named:
            if is_remote(path):
                if not allow_remote:
                    raise UsageError(f"{what} {path!r} is remote; it is not fetched unless you pass --allow-remote")
                continue
            check_relative_path(path, what)


def check_inside(root: Path, descriptor: dict[str, Any]) -> None:
    """Refuse local resource, schema and dialect paths that resolve outside ``root`` (through a
    symbolic link) or that are not regular files (a FIFO would hang the run, a device never end)."""
    from datapkg.limits import is_within, real_path, regular_file

    known: dict[str, str] = {}  # each folder of the package resolved once
    base = real_path(str(root), known)
    resources = descriptor.get("resources")
    for resource in resources if isinstance(resources, list) else []:
        if not isinstance(resource, dict):
            continue
        name, paths = resource.get("name"), resource_paths(resource)
        named = [(p, f"resource '{name}' path") for p in paths]
        named += [(resource[k], f"resource '{name}' {k}") for k in ("schema", "dialect") if isinstance(resource.get(k), str)]
        local = {path: str(root / path) for path, _ in named if not is_remote(path)}
        for path in paths:
            if path in local and not is_within(base, real_path(local[path], known)):
                raise UsageError(f"resource '{name}' path {path!r} resolves outside the package (symbolic link)")
        for index, (path, what) in enumerate(named):
            if path in local and os.path.lexists(local[path]):
                try:
                    regular_file(root, path, what, known=known)
                except FileNotFoundError:
                    continue  # a dangling link: frictionless reports the missing file
                if index < len(paths) and _tabular_file(resource, path):
                    from datapkg.bounds import check_resource

                    check_resource(root, resource, path, resource.get("schema"))


def _tabular_file(resource: dict[str, Any], path: str) -> bool:
    """True for a CSV/TSV file (compressed or not), by format or name."""
    name = path.lower().removesuffix(".gz").removesuffix(".bz2").removesuffix(".xz")
    return str(resource.get("format") or "").lower() in ("csv", "tsv") or name.endswith((".csv", ".tsv"))


def _find_descriptor(folder: Path) -> Path:
    for name in DESCRIPTOR_NAMES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    raise UsageError(f"no datapackage.json (or .yaml/.yml) in {folder}")


def _extract_zip(path: Path) -> tuple[Path, Path]:
    """Extract a zipped package safely into a temporary folder; return (tmpdir, root)."""
    from datapkg import safezip

    tmp = Path(tempfile.mkdtemp(prefix="dpkg-zip-"))
    try:
        safezip.extract(path, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for candidate in [tmp, *sorted(p for p in tmp.iterdir() if p.is_dir())]:
        if any((candidate / n).is_file() for n in DESCRIPTOR_NAMES):
            return tmp, candidate
    shutil.rmtree(tmp, ignore_errors=True)
    raise UsageError(f"{path.name} holds no datapackage.json at its root")


def is_database_file(path: Path) -> bool:
    """True when ``path`` is a DuckDB database file (its header's magic bytes, not its name)."""
    try:
        with path.open("rb") as file:
            return file.read(12)[8:12] == b"DUCK"
    except OSError:
        return False


def release_folder_zip(folder: Path) -> Path | None:
    """The package zip of a release folder (the one ``.zip`` its ``SHA256SUMS`` lists), else None."""
    if not (folder / "SHA256SUMS").is_file():
        return None
    from datapkg.verify import SUMS, read_sums, release_zip

    return folder / release_zip(read_sums(folder / SUMS))


def package_target(text: str) -> Path:
    """``text`` as a local folder or file that can hold a package; a one-line UsageError for a URL,
    a path that does not exist, or a FIFO or device."""
    if is_remote(text):
        raise UsageError(f"{text} is a URL; download it first with 'dpkg download'")
    target = Path(text)
    if not target.exists():
        raise UsageError(f"{text}: no such file or folder")
    if not target.is_dir() and not target.is_file():  # opening a FIFO would wait for ever
        raise UsageError(f"{text} is not a regular file or a folder (a FIFO or a device?); refused")
    return target


def open_package(path: str | Path = ".", *, allow_remote: bool = False) -> PackageSource:
    """Resolve ``path`` (folder, descriptor file, zip, or a release folder: its zip) into a checked :class:`PackageSource`."""
    text = str(path)
    target = package_target(text)
    tmpdir = None
    if target.is_dir() and not any((target / n).is_file() for n in DESCRIPTOR_NAMES):
        target = release_folder_zip(target) or target  # a release folder (dpkg build's output): its zip
    if target.is_dir():
        descriptor_path = _find_descriptor(target)
        root = target
    elif zipfile.is_zipfile(target) or target.suffix.lower() == ".zip":
        tmpdir, root = _extract_zip(target)
        descriptor_path = _find_descriptor(root)
    elif is_database_file(target):
        raise UsageError(f"{text} is a DuckDB database, not a package: give the package folder, its descriptor or its "
                         "release zip ('dpkg query' and 'dpkg tables' read a .duckdb as it is)")
    else:
        descriptor_path = target
        root = target.parent
    try:
        descriptor = read_descriptor(descriptor_path)
        check_descriptor_paths(descriptor, allow_remote)
        check_inside(root, descriptor)
    except BaseException:
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)
        raise
    return PackageSource(root=root.resolve(), descriptor_path=descriptor_path.resolve(),
                         descriptor=descriptor, origin=text, _tmpdir=tmpdir, allow_remote=allow_remote)

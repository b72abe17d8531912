"""Integrity of a release on disk: SHA256SUMS over the artefacts, ``bytes``/``hash`` of every resource.

A release is what ``dpkg build`` writes (a folder with ``SHA256SUMS`` and the artefacts it lists,
among them ``<name>-<version>.zip``), the zip alone, or a package folder whose descriptor records
``bytes`` and ``hash`` per resource -- such as a folder written by ``dpkg download``, which keeps
the release artefacts under ``release/``. Every problem is a :class:`Finding` in one
:class:`Report`; the one-line form of the first error is what ``dpkg download`` stops with.
"""

from __future__ import annotations

import hashlib
import re
import time
import zipfile
from pathlib import Path

from datapkg.checks.files import check_resource_hashes, parse_hash, sha256_of
from datapkg.errors import UsageError
from datapkg.package_source import DESCRIPTOR_NAMES, PackageSource, is_remote, open_package, resource_paths
from datapkg.report import Finding, Report
from datapkg.safezip import relative_path

SUMS = "SHA256SUMS"
#: Where ``dpkg download`` keeps SHA256SUMS and the release artefacts, inside the package folder.
RELEASE_DIR = "release"
_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


def parse_sums(text: str, label: str = SUMS) -> dict[str, str]:
    """Parse ``sha256sum`` output (``<64 hex>  <path>``, or `` *<path>`` in binary mode) into {path: hex}.

    Malformed lines, unsafe paths (absolute, ``..``) and duplicates are a one-line UsageError.
    """
    sums: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _LINE.match(line.rstrip("\r"))
        if not match:
            raise UsageError(f"{label} line {number} is not '<64 hex digits>  <path>': {line[:80]!r}")
        path = relative_path(match[2], f"{label} line {number} path {match[2]!r}").as_posix()
        if path in sums:
            raise UsageError(f"{label} line {number} lists {path} a second time")
        sums[path] = match[1].lower()
    if not sums:
        raise UsageError(f"{label} lists no files")
    return sums


def read_sums(path: Path) -> dict[str, str]:
    """Read and parse a SHA256SUMS file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_sums(text, path.name)


def release_zip(sums: dict[str, str], label: str = SUMS) -> str:
    """The one top-level ``.zip`` SHA256SUMS lists (the data package itself)."""
    zips = sorted(p for p in sums if p.lower().endswith(".zip") and "/" not in p)
    if len(zips) != 1:
        found = ", ".join(zips) if zips else "none"
        raise UsageError(f"{label} must list exactly one top-level .zip (the data package); found {found}")
    return zips[0]


def checksum_finding(file: str, actual: str, expected: str) -> Finding:
    """The finding for an artefact whose sha256 differs from its SHA256SUMS line."""
    return Finding(check="checksum-mismatch", file=file, value=expected, message=(
        f"sha256 is {actual} but {SUMS} records {expected}; the file is corrupt or was changed"))


def check_sums(folder: Path, sums: dict[str, str], prefix: str = "") -> list[Finding]:
    """Every file SHA256SUMS lists exists in ``folder`` with that sha256; unlisted files are warnings."""
    findings = []
    for rel, expected in sorted(sums.items()):
        path = folder / rel
        if not path.is_file():
            findings.append(Finding(check="file-missing", file=prefix + rel, message=(
                f"{SUMS} lists {rel} but it is not in the release folder")))
            continue
        actual = sha256_of(path)
        if actual != expected:
            findings.append(checksum_finding(prefix + rel, actual, expected))
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and rel != SUMS and rel not in sums and not any(p.startswith(".") for p in Path(rel).parts):
            findings.append(Finding(check="unlisted-file", severity="warning", file=prefix + rel, message=(
                f"{rel} is in the release folder but {SUMS} does not list it, so it is not verified")))
    return findings


def package_findings(source: PackageSource, prefix: str = "") -> list[Finding]:
    """Every local resource file exists and has the ``bytes`` and ``hash`` its descriptor records."""
    findings: list[Finding] = []
    resources = source.descriptor.get("resources")
    resources = [r for r in resources if isinstance(r, dict)] if isinstance(resources, list) else []
    for resource in resources:
        name = resource.get("name")
        for rel in resource_paths(resource):
            if is_remote(rel):
                findings.append(Finding(check="remote-resource", severity="warning", resource=name, file=rel,
                                        message=f"{rel} is remote; it is not part of the release and is not verified"))
            elif not (source.root / rel).is_file():
                findings.append(Finding(check="file-missing", resource=name, file=prefix + rel,
                                        message=f"resource '{name}' names {rel} but the package does not hold it"))
            elif not isinstance(resource.get("hash"), str):
                findings.append(Finding(check="hash-missing", severity="warning", resource=name, file=prefix + rel,
                                        message="the descriptor records no hash for this resource, so its content is not verified"))
            elif parse_hash(resource["hash"])[0] not in hashlib.algorithms_available:
                findings.append(Finding(check="hash-unsupported", resource=name, file=prefix + rel, value=resource["hash"],
                                        message=f"the hash algorithm '{parse_hash(resource['hash'])[0]}' is unknown, "
                                                "so the content cannot be verified; use sha256"))
    names = {r.get("name") for r in resources}
    for finding in check_resource_hashes(source, names):
        findings.append(Finding(**{**finding.to_dict(), "file": prefix + (finding.file or "")}))
    return findings


def _has_descriptor(folder: Path) -> bool:
    return any((folder / name).is_file() for name in DESCRIPTOR_NAMES)


def check_package(path: Path, prefix: str = "", require_hash: bool = False) -> list[Finding]:
    """:func:`package_findings` of the package at ``path`` (a folder or a zip, extracted safely).

    With ``require_hash``, a descriptor that records no resource hash is a UsageError: there
    would be nothing to verify.
    """
    with open_package(path, allow_remote=True) as source:
        resources = source.descriptor.get("resources")
        hashed = isinstance(resources, list) and any(isinstance(r, dict) and isinstance(r.get("hash"), str)
                                                     for r in resources)
        if require_hash and not hashed:
            raise UsageError(f"{path}: nothing to verify (no {SUMS}, and the descriptor records no resource hash; "
                             "'dpkg build' writes a release that has both)")
        return package_findings(source, prefix)


def check_release_folder(folder: Path, prefix: str = "") -> list[Finding]:
    """SHA256SUMS of a release folder, then the resources inside the zip it lists (when intact)."""
    sums = read_sums(folder / SUMS)
    findings = check_sums(folder, sums, prefix)
    broken = {f.file for f in findings if f.severity == "error"}
    zips = [p for p in sums if p.lower().endswith(".zip") and "/" not in p]
    for name in zips:
        if prefix + name not in broken:
            findings += check_package(folder / name, prefix=f"{prefix}{name}/")
    return findings


def verify_release(path: str | Path) -> Report:
    """Check a release on disk: a release folder, a SHA256SUMS file, a zip, or a (downloaded) package folder.

    Raises UsageError when ``path`` holds nothing that can be verified.
    """
    started = time.perf_counter()
    target = Path(path)
    if not target.exists():
        raise UsageError(f"{path}: no such file or folder")
    if target.is_file() and target.name == SUMS:
        target = target.parent
    findings: list[Finding] = []
    checked: list[str] = []
    if target.is_dir():
        if (target / SUMS).is_file():
            findings += check_release_folder(target)
            checked.append(SUMS)
        if (target / RELEASE_DIR / SUMS).is_file():
            findings += check_release_folder(target / RELEASE_DIR, prefix=f"{RELEASE_DIR}/")
            checked.append(f"{RELEASE_DIR}/{SUMS}")
        if _has_descriptor(target):
            findings += check_package(target, require_hash=not checked)
            checked.append("descriptor")
        if not checked:
            raise UsageError(f"{path}: nothing to verify (no {SUMS}, {RELEASE_DIR}/{SUMS} or datapackage.json)")
    elif zipfile.is_zipfile(target):
        findings += check_package(target, prefix=f"{target.name}/", require_hash=True)
        checked.append("zip")
    else:
        raise UsageError(f"{path} is neither a folder, a {SUMS} file nor a zip archive")
    report = Report(findings=findings)
    report.sort()
    report.stats.update(path=str(path), checked=checked, seconds=round(time.perf_counter() - started, 3))
    return report


def first_error(report: Report) -> str:
    """One line for the first error of ``report``: the file, then the message, plus how many more."""
    errors = report.errors
    if not errors:
        return ""
    first = errors[0]
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{first.file or '(package)'}: {first.message}{more}"

"""Open one version of a package for ``dpkg diff``: a path, a release (URL or folder), a git revision.

- a folder, descriptor or zip: :func:`datapkg.package_source.open_package`;
- a release folder (``SHA256SUMS``, no descriptor) or an http(s) URL of a release (the latter
  only with ``allow_remote``): fetched, verified and extracted by :func:`datapkg.download.download`
  into a temporary folder;
- ``git_version(rev, path)``: the package at ``path`` as it is in commit ``rev``, exported with
  ``git archive --format=zip`` (bounded in size and time) and extracted by :mod:`datapkg.safezip`.

Every temporary folder is removed when the returned :class:`PackageSource` is closed.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from datapkg.errors import UsageError
from datapkg.package_source import DESCRIPTOR_NAMES, PackageSource, is_remote, open_package

GIT_TIMEOUT = 300  #: seconds ``git archive`` may take
SUMS = "SHA256SUMS"


def _is_release_folder(path: Path) -> bool:
    return path.is_dir() and (path / SUMS).is_file() and not any((path / n).is_file() for n in DESCRIPTOR_NAMES)


def _downloaded(text: str, allow_remote: bool) -> PackageSource:
    from datapkg.download import download

    tmp = Path(tempfile.mkdtemp(prefix="dpkg-diff-"))
    try:
        download(text, tmp / "package")
        return open_package(tmp / "package", allow_remote=allow_remote).adopt(tmp, text)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def open_version(text: str, *, allow_remote: bool = False) -> PackageSource:
    """Open ``text`` (path, release folder or URL) as a :class:`PackageSource`."""
    if is_remote(text):
        if not allow_remote:
            raise UsageError(f"{text} is a URL; pass --allow-remote to fetch it")
        return _downloaded(text, allow_remote)
    if _is_release_folder(Path(text)):
        return _downloaded(text, allow_remote)
    return open_package(text, allow_remote=allow_remote)


def _git(args: list[str], cwd: Path, what: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT)
    except FileNotFoundError:
        raise UsageError("--git needs the git command, which is not installed") from None
    except subprocess.TimeoutExpired:
        raise UsageError(f"git {args[0]} took longer than {GIT_TIMEOUT} s") from None
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["failed"])[0]
        raise UsageError(f"{what}: {first}")
    return done.stdout.strip()


def _archive(top: Path, commit: str, prefix: str, target: Path, cap: int) -> None:
    """``git archive --format=zip commit -- prefix`` into ``target``, refusing more than ``cap`` bytes."""
    args = ["git", "archive", "--format=zip", commit, "--", prefix or "."]
    with target.open("wb") as out:
        process = subprocess.Popen(args, cwd=top, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        written = 0
        try:
            assert process.stdout is not None
            while chunk := process.stdout.read(1 << 20):
                written += len(chunk)
                if written > cap:
                    raise UsageError(f"the archive of {commit[:12]} is larger than {cap} bytes "
                                     "(raise DPKG_MAX_UNZIPPED to allow it)")
                out.write(chunk)
            error = process.stderr.read().decode("utf-8", "replace") if process.stderr else ""
            if process.wait(timeout=GIT_TIMEOUT) != 0:
                first = (error.strip().splitlines() or ["failed"])[0]
                raise UsageError(f"git archive {commit[:12]} -- {prefix or '.'}: {first}")
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def git_version(rev: str, path: str | Path = ".") -> PackageSource:
    """The package at ``path`` (folder or descriptor in a git work tree) as committed in ``rev``."""
    from datapkg import safezip

    if not rev or rev.startswith("-"):
        raise UsageError(f"--git {rev!r} is not a revision")
    target = Path(path)
    folder = target if target.is_dir() else target.parent
    name = None if target.is_dir() else target.name
    if not folder.is_dir():
        raise UsageError(f"{path}: no such file or folder")
    top = Path(_git(["rev-parse", "--show-toplevel"], folder, f"{folder} is not in a git repository"))
    prefix = _git(["rev-parse", "--show-prefix"], folder, "git rev-parse")
    commit = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"], folder,
                  f"--git {rev}: no such revision")
    limits = safezip.default_limits()
    tmp = Path(tempfile.mkdtemp(prefix="dpkg-git-"))
    try:
        archive = tmp / "tree.zip"
        _archive(top, commit, prefix.rstrip("/"), archive, limits.max_total)
        safezip.extract(archive, tmp / "tree", limits)
        archive.unlink()
        root = tmp / "tree" / prefix
        if not root.is_dir():
            raise UsageError(f"{folder} did not exist in {rev}")
        source = open_package(root / name if name else root)
        return source.adopt(tmp, f"{rev}:{prefix or './'}{name or ''}")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

"""``download``: fetch a release (zip, or folder with SHA256SUMS) over http(s) or from disk, verify, extract.

Everything is written into a temporary folder beside the target (:func:`datapkg.atomic.replace_dir`)
and renamed into place only when every check passed, so a failed or interrupted download leaves
the target as it was. The target ends up as a package folder that ``dpkg validate`` accepts:

    DIR/datapackage.json, DIR/<resource paths>...   the zip's content, extracted safely
    DIR/release/<name>-<version>.zip                the zip as downloaded
    DIR/release/SHA256SUMS + artefacts              (folder sources) everything SHA256SUMS lists

HTTP transfers resume with a Range request after a dropped connection (or restart from zero when
the server ignores Range), retry with exponential backoff and have connect and read timeouts, a
minimum rate (``min_rate`` bytes/s over every ``read_timeout`` period: a server that trickles
bytes is given up) and an overall deadline for the whole transfer (``timeout``).
When a run ends before a file is complete (retries used up, Ctrl-C), the bytes received are kept
outside DIR, in the user's cache (:func:`partial_dir`), if the server can resume them (it accepts
ranges and gave an ETag or Last-Modified); the next run of the same URL resumes from there with
``Range`` + ``If-Range``, so a file that changed in between starts over.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, unquote, urljoin, urlparse
from urllib.request import url2pathname

from datapkg import safezip, verify
from datapkg.atomic import write_text
from datapkg.checks.files import sha256_of
from datapkg.errors import DataError, UsageError
from datapkg.package_source import DESCRIPTOR_NAMES, open_package
from datapkg.owned_dir import DOWNLOAD, check_owned, replace_owned_dir
from datapkg.report import Finding, Report

if TYPE_CHECKING:  # httpx is imported only when a URL is fetched
    import httpx

HTTP_SCHEMES = ("http", "https")
RETRY_STATUSES = (408, 425, 429, 500, 502, 503, 504)
MAX_SUMS = 1 << 20  #: a SHA256SUMS file larger than this is refused (it lists a handful of artefacts)


@dataclass(frozen=True)
class Options:
    """Network and safety settings of a download."""

    connect_timeout: float = 10.0   #: seconds to open a connection
    read_timeout: float = 30.0      #: seconds without a byte before giving up on a response
    retries: int = 5                #: failed attempts retried per file (an attempt that gets further resets it)
    backoff: float = 1.0            #: first delay between attempts, doubled each time, at most 30 s
    max_bytes: int = 4 << 30        #: cap on one downloaded file
    max_redirects: int = 10
    limits: safezip.Limits | None = None  #: zip caps (default: :func:`datapkg.safezip.default_limits`)
    resume: bool = True             #: keep an unfinished file between runs and resume it (else start over)
    timeout: float = 3600.0         #: seconds for the whole transfer (every file, retries and waits included)
    min_rate: int = 1024            #: bytes/s a response must average over each read_timeout period


class Progress(Protocol):
    """What the download reports while it runs (the CLI shows a bar on a terminal)."""

    def start(self, name: str, total: int | None, completed: int) -> None: ...
    def advance(self, size: int) -> None: ...
    def note(self, message: str) -> None: ...


class NullProgress:
    """Reports nothing."""

    def start(self, name: str, total: int | None, completed: int) -> None:
        pass

    def advance(self, size: int) -> None:
        pass

    def note(self, message: str) -> None:
        pass


@dataclass
class Transfers:
    """Counts of what the network did (for --json and tests)."""

    requests: int = 0
    resumed: int = 0
    restarted: int = 0
    retries: int = 0
    bytes_received: int = 0


@dataclass
class Result:
    """What a successful download produced."""

    dir: Path
    source: str
    package: str | None
    version: str | None
    zip: str
    artefacts: list[dict[str, Any]]
    resources: list[dict[str, Any]]
    warnings: list[Finding] = field(default_factory=list)
    transfers: Transfers = field(default_factory=Transfers)
    seconds: float = 0.0
    kept: list[str] = field(default_factory=list)  #: files in DIR that the release did not write, kept


    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": True, "dir": str(self.dir), "source": self.source, "package": self.package,
            "version": self.version, "zip": f"{verify.RELEASE_DIR}/{self.zip}", "artefacts": self.artefacts,
            "resources": self.resources, "warnings": [w.to_dict() for w in self.warnings],
            "transfers": self.transfers.__dict__, "seconds": self.seconds, "kept": self.kept,
        }


class _Retry(Exception):
    """A failed attempt that may succeed when tried again (after ``wait`` seconds if the server said so)."""

    def __init__(self, message: str, wait: float = 0.0) -> None:
        super().__init__(message)
        self.wait = wait


class _GaveUp(UsageError):
    """A file's attempts all failed on the network (exit 2, like any network failure)."""


# --------------------------------------------------------------------------- kept between runs

def partial_dir() -> Path:
    """Where unfinished HTTP downloads wait for the next run (see :func:`datapkg.user_cache.user_cache_dir`)."""
    from datapkg.user_cache import user_cache_dir

    return user_cache_dir("partial")


class _Kept:
    """The unfinished download of one URL, kept between runs: ``<key>.part`` (the bytes) and
    ``<key>.json`` (the URL and the validator that guards a resume), key = SHA-256 of the URL."""

    def __init__(self, url: str) -> None:
        key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]
        self.url, self.data, self.meta = url, partial_dir() / f"{key}.part", partial_dir() / f"{key}.json"

    def take(self, target: Path) -> str | None:
        """Move the kept bytes to ``target``; return their validator (None, and nothing moved, if there are none)."""
        try:
            meta = json.loads(self.meta.read_text(encoding="utf-8"))
            if meta.get("url") != self.url or not meta.get("validator") or not self.data.is_file():
                raise ValueError("not a usable record")
            shutil.move(str(self.data), str(target))
            return str(meta["validator"])
        except (OSError, ValueError):
            self.discard()
            return None
        finally:
            with contextlib.suppress(OSError):
                self.meta.unlink(missing_ok=True)

    def keep(self, target: Path, validator: str) -> int:
        """Move ``target`` (the bytes received so far) here for the next run; return their count (0: kept nothing)."""
        try:
            size = target.stat().st_size
            if not size:
                return 0
            self.data.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(target), str(self.data))
            write_text(self.meta, json.dumps({"url": self.url, "validator": validator, "bytes": size}))
            return size
        except OSError:
            self.discard()
            return 0

    def discard(self) -> None:
        """Forget this URL's kept bytes (a cache that cannot be written or read is no error)."""
        for path in (self.data, self.meta):
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- sources

class _Source:
    """Where artefacts come from: a base (URL or folder) and how to copy one into a file."""

    label: str

    def fetch(self, rel: str, target: Path) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _LocalSource(_Source):
    def __init__(self, base: Path) -> None:
        self.base = base
        self.label = str(base)

    def fetch(self, rel: str, target: Path) -> None:
        path = self.base / rel
        if not path.resolve().is_relative_to(self.base.resolve()):
            raise UsageError(f"{rel} resolves outside {self.base} (symbolic link); refused")
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(path, target)
        except OSError as exc:
            raise UsageError(f"cannot copy {path}: {exc.strerror or exc}") from None


class _HttpSource(_Source):
    def __init__(self, base_url: str, options: Options, progress: Progress, transfers: Transfers) -> None:
        import httpx

        from datapkg import __version__

        self.base = base_url
        self.label = base_url
        self.options, self.progress, self.transfers = options, progress, transfers
        timeout = httpx.Timeout(connect=options.connect_timeout, read=options.read_timeout,
                                write=options.read_timeout, pool=options.connect_timeout)
        self.deadline = time.monotonic() + options.timeout
        self.client = httpx.Client(timeout=timeout, follow_redirects=False,
                                   headers={"User-Agent": f"dpkg/{__version__}", "Accept-Encoding": "identity"})

    def url(self, rel: str) -> str:
        return urljoin(self.base, quote(rel))

    def close(self) -> None:
        self.client.close()

    @contextlib.contextmanager
    def _open(self, url: str, headers: dict[str, str]) -> Iterator[httpx.Response]:
        """GET ``url`` as a stream, following redirects to http(s) only."""
        import httpx

        current = httpx.URL(url)
        for _ in range(self.options.max_redirects + 1):
            self.transfers.requests += 1
            left = self._left(url)
            timeout = httpx.Timeout(connect=min(self.options.connect_timeout, left), read=min(self.options.read_timeout, left),
                                    write=min(self.options.read_timeout, left), pool=min(self.options.connect_timeout, left))
            request = self.client.build_request("GET", current, headers=headers, timeout=timeout)
            response = self.client.send(request, stream=True)
            if not (response.is_redirect and "location" in response.headers):
                try:
                    yield response
                finally:
                    response.close()
                return
            location = response.headers["location"]
            response.close()
            try:
                current = response.url.join(location)
            except httpx.InvalidURL as exc:
                raise UsageError(f"{url}: redirect to an invalid URL {location!r}: {exc}") from None
            if current.scheme not in HTTP_SCHEMES:
                raise UsageError(f"{url}: redirect to {location!r} refused: only http and https are followed")
        raise UsageError(f"{url}: more than {self.options.max_redirects} redirects")

    def _left(self, url: str) -> float:
        """Seconds left before the overall deadline; past it, :class:`_GaveUp` (one line, exit 2)."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _GaveUp(f"{url}: the download did not finish within {self.options.timeout:g} s "
                          "(--timeout; raise it for a slow connection)")
        return left

    def fetch(self, rel: str, target: Path) -> None:
        """Download ``rel`` into ``target``, resuming or restarting after a failure (and from the
        bytes an earlier run kept)."""
        url, options = self.url(rel), self.options
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        guard: dict[str, str] = {}  # If-Range validator of the last whole response (survives a cut-off)
        kept = _Kept(url)
        if not options.resume:
            kept.discard()
        elif validator := kept.take(target):
            guard.update(validator=validator, ranges="bytes")
            self.progress.note(f"{rel}: resuming at byte {target.stat().st_size}, kept from an earlier run")
        try:
            self._fetch(url, rel, target, guard)
        except (_GaveUp, KeyboardInterrupt) as exc:  # the network failed or the user stopped: keep what resumes
            resumable = options.resume and guard.get("validator") and guard.get("ranges") == "bytes"
            saved = kept.keep(target, guard["validator"]) if resumable and target.exists() else 0
            if saved and isinstance(exc, _GaveUp):
                raise UsageError(f"{exc}; {saved} bytes kept: run the same command again to resume") from None
            raise

    def _fetch(self, url: str, rel: str, target: Path, guard: dict[str, str]) -> None:
        """:meth:`fetch`'s attempts: resume or restart after each failure, up to the retry budget."""
        import httpx

        options = self.options
        failures, furthest = 0, 0
        while True:
            have = target.stat().st_size if target.exists() else 0
            try:
                self._attempt(url, rel, target, have, guard)
                return
            except (httpx.TransportError, _Retry) as exc:
                if isinstance(exc, httpx.UnsupportedProtocol):
                    raise UsageError(f"{url}: {exc}") from None
                reached = target.stat().st_size if target.exists() else 0
                if reached > furthest:
                    furthest, failures = reached, 0  # progress made: the retry budget starts again
                failures += 1
                reason = self._describe(exc)
                if failures > options.retries:
                    tries = f"{failures} attempts" if failures > 1 else "1 attempt"
                    raise _GaveUp(f"{url}: {reason} (gave up after {tries})") from None
                delay = min(max(options.backoff * 2 ** (failures - 1), getattr(exc, "wait", 0.0)), 30.0)
                self.transfers.retries += 1
                self.progress.note(f"{rel}: {reason}; retrying in {delay:g} s (at byte {reached})")
                time.sleep(min(delay, self._left(url)))
                self._left(url)
            except OSError as exc:
                raise UsageError(f"cannot write {target.name}: {exc.strerror or exc}") from None

    def _attempt(self, url: str, rel: str, target: Path, have: int, guard: dict[str, str]) -> None:
        """One GET; appends to ``target`` on a matching 206, rewrites it otherwise; sets ``guard['validator']``."""
        headers = {}
        if have:
            headers["Range"] = f"bytes={have}-"
            if guard.get("validator"):
                headers["If-Range"] = guard["validator"]
        with self._open(url, headers) as response:
            status = response.status_code
            if status == 416 and have:
                total = _range_total(response.headers.get("content-range", ""))
                if total == have:
                    return  # the file was already complete
                target.unlink()
                raise _Retry("the server refused the resume range")
            if status in RETRY_STATUSES:
                after = response.headers.get("retry-after", "")
                raise _Retry(f"HTTP {status} {response.reason_phrase}", float(after) if after.isdigit() else 0.0)
            if status not in (200, 206):
                raise UsageError(f"{url}: HTTP {status} {response.reason_phrase}")
            length = response.headers.get("content-length")
            length = int(length) if length and length.isdigit() else None
            if status == 206 and have and _range_start(response.headers.get("content-range", "")) == have:
                mode, self.transfers.resumed = "ab", self.transfers.resumed + 1
                self.progress.note(f"{rel}: resuming at byte {have}")
            else:
                if status == 206:  # a range we did not ask for: start over without one
                    target.unlink(missing_ok=True)
                    raise _Retry("the server answered with an unexpected range")
                if have:
                    self.transfers.restarted += 1
                    self.progress.note(f"{rel}: the server ignored the Range request; restarting from zero")
                mode, have = "wb", 0
            if mode == "wb":  # a whole response: its ETag (strong only) or Last-Modified guards later resumes
                etag = response.headers.get("etag")
                guard["validator"] = (etag if etag and not etag.startswith("W/") else "") \
                    or response.headers.get("last-modified", "")
                guard["ranges"] = response.headers.get("accept-ranges", "").strip().lower()
            total = have + length if length is not None else None
            if total is not None and total > self.options.max_bytes:
                raise UsageError(f"{url}: {total} bytes, over the cap of {self.options.max_bytes}")
            self.progress.start(rel, total, have)
            rate = _RateGuard(url, self.options)
            with target.open(mode) as sink:
                for chunk in response.iter_raw():  # unbuffered: a cut-off keeps every byte received
                    have += len(chunk)
                    if have > self.options.max_bytes:
                        raise UsageError(f"{url}: more than {self.options.max_bytes} bytes; refused")
                    sink.write(chunk)
                    self.transfers.bytes_received += len(chunk)
                    self.progress.advance(len(chunk))
                    self._left(url)
                    if total is None or have < total:  # a body that has all arrived is not too slow
                        rate.add(len(chunk))
            if total is not None and have < total:
                raise _Retry(f"connection closed at byte {have} of {total}")

    def _describe(self, exc: Exception) -> str:
        import httpx

        if isinstance(exc, httpx.ConnectTimeout):
            return f"no connection within {self.options.connect_timeout:g} s (connect timeout)"
        if isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout)):
            return f"the server sent nothing for {self.options.read_timeout:g} s (read timeout; stalled server?)"
        if isinstance(exc, httpx.ConnectError):
            return f"cannot connect ({exc})"
        if isinstance(exc, httpx.RemoteProtocolError):
            return f"connection closed early ({exc})"
        return str(exc) or type(exc).__name__


class _RateGuard:
    """Gives up (:class:`_GaveUp`) a response that averages less than ``min_rate`` bytes/s over a
    ``read_timeout`` period: a server that trickles a byte now and then never trips the read timeout."""

    def __init__(self, url: str, options: Options) -> None:
        self.url, self.options = url, options
        self.start, self.bytes = time.monotonic(), 0

    def add(self, size: int) -> None:
        self.bytes += size
        elapsed = time.monotonic() - self.start
        if elapsed < self.options.read_timeout:
            return
        if self.bytes < self.options.min_rate * elapsed:
            raise _GaveUp(f"{self.url}: {self.bytes / elapsed:.0f} bytes/s over {elapsed:.1f} s, below the minimum of "
                          f"{self.options.min_rate} bytes/s (--min-rate; lower it for a slow connection)")
        self.start, self.bytes = time.monotonic(), 0


def _range_start(content_range: str) -> int | None:
    """First byte of ``bytes a-b/n``."""
    try:
        return int(content_range.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _range_total(content_range: str) -> int | None:
    """Total size of ``bytes */n`` or ``bytes a-b/n``."""
    try:
        return int(content_range.rsplit("/", 1)[1])
    except (IndexError, ValueError):
        return None


# --------------------------------------------------------------------------- plan

@dataclass
class _Plan:
    """What SOURCE names: where to fetch from, the SHA256SUMS (folder sources) and the zip."""

    source: _Source
    zip: str
    sums: dict[str, str] | None
    sums_text: str | None


def _split_source(source: str) -> tuple[str, str]:
    """('http', url) or ('local', path); any other scheme is a UsageError."""
    parsed = urlparse(source)
    scheme = parsed.scheme.lower()
    if scheme in HTTP_SCHEMES:
        if not parsed.netloc:
            raise UsageError(f"{source}: URL without a host")
        return "http", source
    if scheme == "file":
        return "local", url2pathname(parsed.path)
    if len(scheme) > 1:
        raise UsageError(f"{source}: the scheme '{scheme}:' is not supported; give an http(s) URL or a local path")
    return "local", source


def _plan(source: str, options: Options, progress: Progress, transfers: Transfers, staging: Path) -> _Plan:
    """Resolve SOURCE and, for a release folder, fetch and parse its SHA256SUMS into ``staging``."""
    kind, where = _split_source(source)
    if kind == "http":
        path = urlparse(where).path
        name = unquote(path.rsplit("/", 1)[-1])
        folder = path.endswith("/") or name == verify.SUMS
        base = where if path.endswith("/") else where.rsplit("/", 1)[0] + "/"
        if not folder:
            if not name:
                raise UsageError(f"{source}: cannot tell the zip's name from the URL")
            safezip.relative_path(name, f"{source}: file name {name!r}")
            return _Plan(_HttpSource(base, options, progress, transfers), name, None, None)
        fetcher: _Source = _HttpSource(base, options, progress, transfers)
    else:
        local = Path(where)
        if not local.exists():
            raise UsageError(f"{source}: no such file or folder")
        if local.is_dir():
            if not (local / verify.SUMS).is_file():
                raise UsageError(f"{source}: the folder holds no {verify.SUMS}; give the release folder or the zip")
            fetcher = _LocalSource(local)
        elif local.name == verify.SUMS:
            fetcher = _LocalSource(local.parent)
        else:
            return _Plan(_LocalSource(local.parent), local.name, None, None)
    try:
        target = staging / verify.SUMS
        fetcher.fetch(verify.SUMS, target)
        if target.stat().st_size > MAX_SUMS:
            raise UsageError(f"{source}: {verify.SUMS} is larger than {MAX_SUMS} bytes; refused")
        text = target.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        fetcher.close()
        raise UsageError(f"{source}: {verify.SUMS} is not UTF-8 text") from None
    except BaseException:
        fetcher.close()
        raise
    finally:
        (staging / verify.SUMS).unlink(missing_ok=True)
    sums = verify.parse_sums(text)
    return _Plan(fetcher, verify.release_zip(sums), sums, text)


def default_dir(zip_name: str) -> Path:
    """The folder a release is downloaded into when no --to is given: the zip's name without .zip."""
    stem = zip_name[:-4] if zip_name.lower().endswith(".zip") else zip_name
    return Path(stem or "release")


def _check_target(target: Path) -> None:
    """Refuse to replace anything but a missing/empty folder or an earlier download (never the working folder)."""
    if target.resolve() in (Path.cwd().resolve(), *Path.cwd().resolve().parents):
        raise UsageError(f"{target} is the working folder or holds it; name a folder to create or replace")
    check_owned(target, DOWNLOAD, "--to")


# --------------------------------------------------------------------------- download

def download(source: str, to: str | Path | None = None, options: Options | None = None,
             progress: Progress | None = None) -> Result:
    """Download, verify and extract the release named by ``source`` into ``to`` (atomically).

    Raises UsageError (exit 2) for bad or hostile input and network failures, DataError (exit 1)
    when a checksum, size or hash does not match; in both cases ``to`` is left as it was.
    """
    started = time.perf_counter()
    options, progress = options or Options(), progress or NullProgress()
    if options.limits is None:  # read (and checked) before anything is fetched
        options = dataclasses.replace(options, limits=safezip.default_limits())
    transfers = Transfers()
    probe = Path(to) if to is not None else None
    if probe is not None:
        _check_target(probe)
    with tempfile.TemporaryDirectory(prefix="dpkg-download-") as scratch:  # SHA256SUMS, before DIR is known
        plan = _plan(source, options, progress, transfers, Path(scratch))
    try:
        target = probe if probe is not None else default_dir(plan.zip)
        if probe is None:
            _check_target(target)
        with replace_owned_dir(target, DOWNLOAD, "--to") as replacement:
            result = _fill(replacement.tmp, plan, source, options, transfers)
        result.dir = target
        result.kept = replacement.kept
    finally:
        plan.source.close()
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _fill(tmp: Path, plan: _Plan, source: str, options: Options, transfers: Transfers) -> Result:
    """Fetch every artefact into ``tmp/release``, verify it, extract the zip into ``tmp``."""
    release = tmp / verify.RELEASE_DIR
    release.mkdir()
    artefacts = []
    names = sorted(plan.sums) if plan.sums is not None else [plan.zip]
    for rel in names:
        target = release / rel
        plan.source.fetch(rel, target)
        digest = sha256_of(target)
        if plan.sums is not None and digest != plan.sums[rel]:
            finding = verify.checksum_finding(rel, digest, plan.sums[rel])
            raise DataError(f"{finding.file}: {finding.message}")
        artefacts.append({"path": f"{verify.RELEASE_DIR}/{rel}", "bytes": target.stat().st_size, "sha256": digest})
    if plan.sums_text is not None:
        (release / verify.SUMS).write_text(plan.sums_text, encoding="utf-8")
    zip_path = release / plan.zip
    for member in safezip.extract(zip_path, tmp, options.limits):
        if member.parts[0] == verify.RELEASE_DIR:
            raise UsageError(f"{plan.zip}: member {member.as_posix()!r} lies under {verify.RELEASE_DIR}/, where "
                             "dpkg download keeps the release artefacts; refused")
    if not any((tmp / name).is_file() for name in DESCRIPTOR_NAMES):
        raise UsageError(f"{plan.zip} holds no datapackage.json at its root")
    with open_package(tmp, allow_remote=True) as package:
        report = Report(verify.package_findings(package))
        descriptor = package.descriptor
    report.sort()
    if not report.valid:
        raise DataError(verify.first_error(report))
    resources = []
    for resource in descriptor.get("resources") or []:
        if isinstance(resource, dict):
            resources.append({key: resource.get(key) for key in ("name", "path", "bytes", "hash")})
    return Result(dir=tmp, source=source, package=descriptor.get("name"), version=descriptor.get("version"),
                  zip=plan.zip, artefacts=artefacts, resources=resources, warnings=report.findings,
                  transfers=transfers)

"""A misbehaving-on-demand HTTP server on 127.0.0.1 for download tests (started and stopped by the test)."""

from __future__ import annotations

import hashlib
import socket
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse


@dataclass
class Behaviour:
    """How the server treats requests.

    ``files``: path -> bytes served. ``ranges``: honour ``Range`` (else always 200 with the whole
    file). ``drop``: path -> how many responses of that path are cut off halfway. ``redirects``:
    path -> Location. ``stall``: paths whose request is never answered. ``stall_body``: paths whose
    headers are sent, then nothing. ``busy``: path -> how many requests get 503 (Retry-After: 0).
    ``hold``: path -> seconds the first request of that path waits before it is answered (a slow
    server: the client's work surely lasts that long, without costing CPU).
    """

    files: dict[str, bytes]
    ranges: bool = True
    drop: dict[str, int] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    stall: set[str] = field(default_factory=set)
    stall_body: set[str] = field(default_factory=set)
    busy: dict[str, int] = field(default_factory=dict)
    trickle: dict[str, float] = field(default_factory=dict)  #: path -> seconds between single bytes
    hold: dict[str, float] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    #: Headers and body go out in separate writes: with Nagle's algorithm on, the body waits for the
    #: client's delayed ACK of the headers (~40 ms on Linux) on every response.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def _record(self, path: str, status: int) -> None:
        self.server.log.append((path, self.headers.get("Range"), status))
        self.server.headers_seen.append(dict(self.headers))

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        behaviour = self.server.behaviour
        path = unquote(urlparse(self.path).path).lstrip("/")
        if path in behaviour.redirects:
            self._record(path, 302)
            self.send_response(302)
            self.send_header("Location", behaviour.redirects[path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path in behaviour.stall:
            self._record(path, 0)
            self.server.release.wait(10)
            self.close_connection = True
            return
        if path in behaviour.hold and not self.server.held[path]:
            self.server.held[path] += 1
            self.server.release.wait(behaviour.hold[path])
        if self.server.busy[path] < behaviour.busy.get(path, 0):
            self.server.busy[path] += 1
            self._record(path, 503)
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = behaviour.files.get(path)
        if data is None:
            self._record(path, 404)
            self.send_error(404)
            return
        start, status = 0, 200
        wanted = self.headers.get("Range")
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        if self.headers.get("If-Range") not in (None, etag):
            wanted = None  # RFC 9110: the file changed, so the whole of it, with 200
        if wanted and behaviour.ranges and wanted.startswith("bytes=") and wanted.endswith("-"):
            start = int(wanted[len("bytes="):-1])
            if start >= len(data):
                self._record(path, 416)
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        body = data[start:]
        self._record(path, status)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        if behaviour.ranges:
            self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if path in behaviour.stall_body:
            self.wfile.flush()
            self.server.release.wait(10)
            self.close_connection = True
            return
        if path in behaviour.trickle:
            for i in range(len(body)):
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                if self.server.release.wait(behaviour.trickle[path]):
                    break
            self.close_connection = True
            return
        if self.server.drops[path] < behaviour.drop.get(path, 0):
            self.server.drops[path] += 1
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, behaviour: Behaviour) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviour = behaviour
        self.log: list[tuple[str, str | None, int]] = []
        self.headers_seen: list[dict[str, str]] = []
        self.drops: Counter[str] = Counter()
        self.busy: Counter[str] = Counter()
        self.held: Counter[str] = Counter()
        self.release = threading.Event()

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-response (what dpkg download does to a trickling server) is
        expected: say nothing. socketserver's default prints a traceback to ``sys.stderr``, which a
        CliRunner test running at that moment reads as the command's own output."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ReleaseServer:
    """Context manager: serve ``behaviour`` on 127.0.0.1 in a thread; ``url(path)`` names a file."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.server = _Server(behaviour)
        # shutdown() waits for serve_forever's next poll: every test stops a server
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)

    @property
    def log(self) -> list[tuple[str, str | None, int]]:
        """(path, Range header, status) of every request, in order."""
        return self.server.log

    @property
    def headers(self) -> list[dict[str, str]]:
        """The request headers of every request, in the order of :attr:`log`."""
        return self.server.headers_seen

    def url(self, path: str = "") -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/{path}"

    def __enter__(self) -> ReleaseServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

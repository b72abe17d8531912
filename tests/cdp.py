"""Drive Debian's headless chromium through the DevTools protocol over a pipe (standard library only).

``--remote-debugging-pipe`` makes chromium read commands on its fd 3 and write replies and events
on its fd 4, each message JSON ending in a NUL byte: no port, no websocket library, no browser
download. Used by the browser tests of the HTML pages that ``dpkg build`` writes.
"""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


class Browser:
    """One headless chromium with one page (``session``) to navigate, script, click and screenshot."""

    def __init__(self, profile: Path, timeout: float = 30.0, flags: tuple[str, ...] = ()) -> None:
        """Start chromium with the user data folder ``profile`` and ``flags`` beside :data:`FLAGS`."""
        self.timeout = timeout
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()
        # above 9, so that moving them to 3 and 4 in the child never overwrites one with the other
        to_chrome_r, from_chrome_w = (self._high(fd) for fd in (to_chrome_r, from_chrome_w))
        command = [str(CHROMIUM), *FLAGS, *flags, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"]

        def child_fds() -> None:  # chromium reads commands on fd 3 and writes on fd 4 (inheritable after dup2)
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        profile.mkdir(parents=True, exist_ok=True)
        self.log = profile.parent / f"{profile.name}-chromium.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, close_fds=False, preexec_fn=child_fds, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=log)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next, self._buffer, self.events = 0, b"", []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable", session=self.session)

    @staticmethod
    def _high(fd: int) -> int:
        import fcntl

        high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
        os.close(fd)
        return high

    def _read(self) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        """Send one command and return its result (events received meanwhile go to ``events``)."""
        self._next += 1
        message = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        try:
            os.write(self._w, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            raise RuntimeError(f"chromium ended: {self.log.read_text(errors='replace')[-1500:]}") from None
        while True:
            reply = self._read()
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def page(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.call(method, params, self.session)

    def open(self, url: str, width: int = 1280, height: int = 900) -> None:
        """Load ``url`` at a window of ``width`` x ``height`` CSS pixels and wait for its load event."""
        self.page("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                         "mobile": width < 600})
        if getattr(self, "_url", "").split("#")[0] == url.split("#")[0]:
            self.open("about:blank", width, height)  # a fragment change alone fires no load event
        self._url = url
        self.events.clear()
        self.page("Page.navigate", {"url": url})
        deadline = time.monotonic() + self.timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not load")
            self.events.append(self._read())

    def wait_for(self, expression: str) -> Any:
        """Wait until a JavaScript expression is truthy in the page (scripts that run after the load
        event); return its value."""
        deadline = time.monotonic() + self.timeout
        while not (value := self.js(expression)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expression} stayed false")
            time.sleep(0.05)
        return value

    def js(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = self.page("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click (pressed + released) at the centre of the first element matching ``selector``."""
        box = self.js(f"(function(){{var e=document.querySelector({json.dumps(selector)});e.scrollIntoView({{block:'center'}});"
                      "var r=e.getClientRects()[0];return [r.left+r.width/2,r.top+r.height/2];})()")
        for kind in ("mousePressed", "mouseReleased"):
            self.page("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1})

    def key(self, key: str) -> None:
        """A real key press (down + up) sent to the focused element: ``Enter``, ``Tab``, `` `` (Space)."""
        codes = {"Enter": ("Enter", 13, "\r"), "Tab": ("Tab", 9, ""), " ": ("Space", 32, " ")}
        code, number, text = codes[key]
        self.page("Input.dispatchKeyEvent", {"type": "keyDown", "key": key, "code": code, "windowsVirtualKeyCode": number,
                                             "text": text})
        self.page("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": number})

    def screenshot(self, target: Path) -> Path:
        """The viewport as a PNG file."""
        data = self.page("Page.captureScreenshot", {"format": "png"})["data"]
        target.write_bytes(base64.b64decode(data))
        return target

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._r)
        os.close(self._w)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

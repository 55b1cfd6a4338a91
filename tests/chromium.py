"""Drive a headless Chromium through the DevTools protocol over a pipe (no extra Python deps).

``chromium --remote-debugging-pipe`` reads protocol commands from fd 3 and writes replies
and events to fd 4, as JSON messages separated by NUL bytes. Only loopback pages are loaded:
every host name but 127.0.0.1 fails to resolve, and Chromium's own background traffic
(updates, sync, metrics) is switched off.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["Chromium", "find_chromium"]

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

FLAGS = [
    "--headless",
    "--no-sandbox",  # root in a container: no user namespace sandbox
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--disable-breakpad",
    "--metrics-recording-only",
    "--no-pings",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def find_chromium() -> str | None:
    """The Chromium binary (``CHROMIUM_BIN`` or the Debian package's), or None."""
    explicit = os.environ.get("CHROMIUM_BIN")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class Chromium:
    """One headless Chromium process with one page; stopped by :meth:`close`."""

    def __init__(self, binary: str) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="chromium-profile-"))
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        self.log_path = self.profile / "chromium.log"
        # The browser must see its pipe ends as fds 3 and 4: bash moves them there and execs.
        r, w = to_browser_r, from_browser_w
        script = f'exec "$0" "$@" 3<&{r} 4>&{w} {r}<&- {w}>&-'
        args = [*FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-pipe"]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                ["bash", "-c", script, binary, *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(r, w),
                start_new_session=True,
            )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self._buffer = b""
        self._lock = threading.Lock()
        self.session_id: str | None = None

    # -- protocol -----------------------------------------------------------------------------

    def send(self, method: str, timeout: float = 120.0, **params: Any) -> dict[str, Any]:
        """One command and its result (events are skipped); raises on a protocol error."""
        with self._lock:
            self._next_id += 1
            message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
            if self.session_id is not None and not method.startswith("Target."):
                message["sessionId"] = self.session_id
            os.write(self._to_browser, json.dumps(message).encode() + b"\0")
            deadline = time.monotonic() + timeout
            while True:
                reply = self._read(deadline)
                if reply.get("id") == message["id"]:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    result: dict[str, Any] = reply.get("result", {})
                    return result

    def _read(self, deadline: float) -> dict[str, Any]:
        import select

        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer from Chromium:\n{self.log()[-2000:]}")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 16)
                if not chunk:
                    raise RuntimeError(f"Chromium exited:\n{self.log()[-2000:]}")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(raw)
        return parsed

    # -- a page -------------------------------------------------------------------------------

    def open(self, url: str) -> None:
        """Open ``url`` in a new tab and talk to that tab from now on."""
        target = self.send("Target.createTarget", url=url)["targetId"]
        attached = self.send("Target.attachToTarget", targetId=target, flatten=True)
        self.session_id = attached["sessionId"]

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, attempts: int = 600, interval: float = 0.2) -> Any:
        """Poll until ``expression`` is truthy (bounded: ``attempts`` polls); its value."""
        value: Any = None
        for _ in range(attempts):
            try:
                value = self.evaluate(expression)
            except RuntimeError:  # the page is navigating
                value = None
            if value:
                return value
            time.sleep(interval)
        text = self.evaluate("document.body ? document.body.innerText : ''")
        raise AssertionError(f"never true: {expression}\npage text:\n{text}")

    def screenshot(self, path: Path) -> None:
        import base64

        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def close(self) -> None:
        """Stop the browser and remove its profile."""
        try:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(15)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(10)
        finally:
            for fd in (self._to_browser, self._from_browser):
                with contextlib.suppress(OSError):
                    os.close(fd)
            shutil.rmtree(self.profile, ignore_errors=True)

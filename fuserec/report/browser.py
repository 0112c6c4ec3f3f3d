"""Open a report in headless Chromium and say what a reader's browser sees.

Chromium is driven through the DevTools protocol over ``--remote-debugging-pipe`` (JSON
messages separated by NUL bytes on file descriptors 3 and 4 of the browser process): no
websocket, no extra Python package. :func:`check_page` loads a local HTML file, waits for it to
load, collects every console error, uncaught exception and browser log error (a blocked
request, a violated Content-Security-Policy), reads the page's tables and images (each image's
``naturalWidth``: 0 means broken) and saves a PNG screenshot.

The browser runs with a new empty profile, no sandbox (root in containers), no GPU, no
background networking, no component updates, no sync, no QUIC.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fuserec.errors import ConfigError

#: executables tried, in order, when none is given
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars")

#: what the page is asked once it has loaded (images awaited first)
_PROBE = """
(async () => {
  const imgs = Array.from(document.images);
  await Promise.all(imgs.map(img => img.complete ? null : new Promise(r => { img.onload = r; img.onerror = r; })));
  return {
    title: document.title,
    headings: Array.from(document.querySelectorAll('h1, h2, h3')).map(h => h.textContent),
    tables: Array.from(document.querySelectorAll('table')).map(t => ({
      kind: t.className, rows: t.tBodies.length ? t.tBodies[0].rows.length : 0,
      columns: t.tHead ? t.tHead.rows[0].cells.length : 0,
      caption: t.caption ? t.caption.textContent : ''})),
    images: imgs.map(img => ({src: img.src.slice(0, 40), complete: img.complete,
                              naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight, alt: img.alt})),
    scripts: document.scripts.length,
    height: document.documentElement.scrollHeight,
  };
})()
"""


@dataclass
class PageCheck:
    """What the browser saw: tables (kind, rows, columns, caption), images (src prefix,
    naturalWidth/Height), headings, console / log errors, and the screenshot's path."""

    url: str
    title: str
    headings: list[str]
    tables: list[dict[str, Any]]
    images: list[dict[str, Any]]
    scripts: int
    errors: list[str] = field(default_factory=list)
    screenshot: Path | None = None
    browser: str = ""

    @property
    def broken_images(self) -> list[dict[str, Any]]:
        return [img for img in self.images if not img.get("naturalWidth")]


def find_chromium(executable: str | None = None) -> str | None:
    """Path of a Chromium executable (``executable``, ``$CHROMIUM``, or one of :data:`CHROMIUM_NAMES`)."""
    for name in ([executable] if executable else []) + [os.environ.get("CHROMIUM", "")] + list(CHROMIUM_NAMES):
        if name:
            path = shutil.which(name)
            if path:
                return path
    return None


class _Pipe:
    """The DevTools protocol over the browser's fds 3 (commands in) and 4 (replies and events out)."""

    def __init__(self, proc: subprocess.Popen, write_fd: int, read_fd: int):
        self.proc, self.write_fd, self.read_fd = proc, write_fd, read_fd
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.write_fd, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"DevTools {method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, session: str | None, timeout: float = 30.0) -> dict:
        for k, event in enumerate(self.events):
            if event.get("method") == method and event.get("sessionId") == session:
                return self.events.pop(k)
        deadline = time.monotonic() + timeout
        while True:
            event = self._read(deadline)
            if event.get("method") == method and event.get("sessionId") == session:
                return event
            self.events.append(event)

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from the browser in time")
            ready, _, _ = select.select([self.read_fd], [], [], left)
            if ready:
                chunk = os.read(self.read_fd, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"the browser closed the DevTools pipe (exit code {self.proc.poll()})")
                self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)


def check_page(html_path: str | os.PathLike, screenshot: str | os.PathLike | None = None, *,
               executable: str | None = None, width: int = 1280, max_height: int = 12000,
               timeout: float = 60.0) -> PageCheck:
    """Load ``html_path`` (a local file) in headless Chromium; see :class:`PageCheck`.

    ``screenshot``: where to write a PNG of the page (full height up to ``max_height`` pixels).
    Raises ConfigError when no Chromium is installed.
    """
    browser = find_chromium(executable)
    if browser is None:
        raise ConfigError("no Chromium found (apt-get install chromium)", "chromium")
    url = Path(html_path).resolve().as_uri()
    profile = tempfile.mkdtemp(prefix="fuserec-chromium-")
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()

    def wire_fds() -> None:   # in the child: the protocol's fds are 3 (in) and 4 (out)
        a, b = os.dup(to_browser_r), os.dup(from_browser_w)
        os.dup2(a, 3)
        os.dup2(b, 4)

    cmd = [browser, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", f"--window-size={width},900",
           "about:blank"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=wire_fds, close_fds=False)
    os.close(to_browser_r)
    os.close(from_browser_w)
    pipe = _Pipe(proc, to_browser_w, from_browser_r)
    try:
        version = pipe.send("Browser.getVersion", timeout=timeout).get("product", "")
        target = pipe.send("Target.createTarget", {"url": "about:blank"}, timeout=timeout)["targetId"]
        session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                            timeout=timeout)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            pipe.send(f"{domain}.enable", session=session, timeout=timeout)
        pipe.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": 900, "deviceScaleFactor": 1,
                                                         "mobile": False}, session=session, timeout=timeout)
        pipe.send("Page.navigate", {"url": url}, session=session, timeout=timeout)
        pipe.wait_event("Page.loadEventFired", session, timeout=timeout)
        probe = pipe.send("Runtime.evaluate", {"expression": _PROBE, "awaitPromise": True, "returnByValue": True},
                          session=session, timeout=timeout)
        if "exceptionDetails" in probe:
            raise RuntimeError(f"the page probe failed: {probe['exceptionDetails']}")
        seen = probe["result"]["value"]
        shot_path = None
        if screenshot is not None:
            height = int(min(max(seen.get("height") or 900, 1), max_height))
            shot = pipe.send("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}},
                session=session, timeout=timeout)
            shot_path = Path(screenshot)
            shot_path.parent.mkdir(parents=True, exist_ok=True)
            from fuserec.io import atomic_write_bytes

            atomic_write_bytes(shot_path, base64.b64decode(shot["data"]))
        # let late console messages arrive, then read every event collected so far
        try:
            pipe.send("Runtime.evaluate", {"expression": "1"}, session=session, timeout=timeout)
        except RuntimeError:
            pass
        errors = _errors(pipe.events)
        try:
            pipe.send("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
    finally:
        for fd in (to_browser_w, from_browser_r):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
        shutil.rmtree(profile, ignore_errors=True)
    return PageCheck(url, seen.get("title", ""), list(seen.get("headings", [])), list(seen.get("tables", [])),
                     list(seen.get("images", [])), int(seen.get("scripts", 0)), errors, shot_path, version)


def _errors(events: list[dict]) -> list[str]:
    """Console errors, uncaught exceptions and browser log errors among the DevTools events."""
    out = []
    for event in events:
        method, params = event.get("method"), event.get("params") or {}
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            out.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails") or {}
            out.append("exception: " + str((details.get("exception") or {}).get("description") or details.get("text")))
        elif method == "Log.entryAdded" and (params.get("entry") or {}).get("level") == "error":
            entry = params["entry"]
            out.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".rstrip())
    return out

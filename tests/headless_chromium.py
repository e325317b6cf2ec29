"""Headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: no port, no
websocket library): open a page, wait until it shows what a person waits for, then screenshot it and dump its DOM.

Why not `chromium --screenshot --virtual-time-budget`: that budget counts virtual time, which does not wait for
Dagster's web worker laying out the asset graph; the screenshot caught "Loading assets…" and a spinner.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

# No sandbox (CI runs as root), and none of the browser's own traffic (updates, sync, QUIC).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
# The DevTools pipe: Chromium reads commands on fd 3 and writes answers on fd 4, each message JSON ending in NUL.
COMMAND_FD, ANSWER_FD = 3, 4
PAGE_TEXT = "document.body ? document.body.innerText : ''"
# Set on a page before leaving it: until the next document is committed, the text read is the old page's.
OLD_PAGE_MARK = "__retention_test_old_page"
NEW_PAGE_TEXT = f"window.{OLD_PAGE_MARK} ? '' : ({PAGE_TEXT})"


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@dataclass(frozen=True)
class PageCapture:
    text: str  # what the page shows (document.body.innerText)
    dom: str  # the rendered DOM (document.documentElement.outerHTML)
    png: bytes  # the screenshot


class PageNotReady(TimeoutError):
    """The page never showed what was awaited; `capture` holds what it showed instead, to save and look at."""

    def __init__(self, message: str, capture: PageCapture):
        super().__init__(message)
        self.capture = capture


class Chromium:
    """One headless browser with one tab; a context manager that kills its process group on exit."""

    def __init__(self, binary: str, profile_dir: Path, width: int = 1600, height: int = 1000):
        self.width, self.height = width, height
        # Both pipe ends above fd 4, so placing them at 3 and 4 in the child never overwrites one with the other.
        command_read, self._command_write = (_high_fd(fd) for fd in os.pipe())
        self._answer_read, answer_write = (_high_fd(fd) for fd in os.pipe())

        def place_pipe_fds() -> None:
            os.dup2(command_read, COMMAND_FD)
            os.dup2(answer_write, ANSWER_FD)

        args = [binary, *FLAGS, f"--window-size={width},{height}", f"--user-data-dir={profile_dir}"]
        self.process = subprocess.Popen(
            [*args, "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # dbus and GPU chatter of a headless machine
            close_fds=False,
            preexec_fn=place_pipe_fds,
            start_new_session=True,
        )
        os.close(command_read)
        os.close(answer_write)
        self._buffer = b""
        self._next_id = 0
        self._session = None
        self._session = self._attach_to_page()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        for fd in (self._command_write, self._answer_read):
            with contextlib.suppress(OSError):
                os.close(fd)

    def send(self, method: str, params: dict | None = None, timeout: float = 60.0) -> dict:
        """Send one DevTools command (to the tab once attached) and return its result; an error answer raises."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if self._session is not None:
            message["sessionId"] = self._session
        os.write(self._command_write, json.dumps(message).encode("utf-8") + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") != self._next_id:
                continue  # an event, or the late answer to a command that timed out
            if "error" in answer:
                raise RuntimeError(f"{method} failed: {answer['error']}")
            return answer.get("result", {})

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} raised: {result['exceptionDetails']}")
        return result["result"].get("value")

    def capture(
        self,
        url: str,
        shows: tuple[str, ...],
        hides: tuple[str, ...] = (),
        height: int | None = None,
        timeout: float = 90.0,
    ) -> PageCapture:
        """Open `url` in a window `height` pixels tall (default: the browser's) and wait, as a person would,
        until the page shows every text of `shows` and none of `hides` (a spinner's caption), then a short
        while for the drawing to settle; screenshot and DOM."""
        self._resize(self.width, height or self.height)
        self.evaluate(f"window.{OLD_PAGE_MARK} = true")
        self.send("Page.navigate", {"url": url})
        deadline = time.monotonic() + timeout
        while True:
            text = self.evaluate(NEW_PAGE_TEXT) or ""
            missing = [s for s in shows if s not in text]
            present = [h for h in hides if h in text]
            if not missing and not present:
                break
            if time.monotonic() > deadline:
                raise PageNotReady(
                    f"{url} did not show {missing} / still showed {present} after {timeout:.0f} s; it shows:\n"
                    f"{text[:3000]}",
                    self._snapshot(),
                )
            time.sleep(0.5)
        time.sleep(1.5)  # graph edges and fonts are drawn after the text is in place
        return self._snapshot()

    def _snapshot(self) -> PageCapture:
        png = base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])
        return PageCapture(self.evaluate(PAGE_TEXT) or "", self.evaluate("document.documentElement.outerHTML"), png)

    def _attach_to_page(self) -> str:
        targets = self.send("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        session = self.send("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True})["sessionId"]
        self._session = session
        return session

    def _resize(self, width: int, height: int) -> None:
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self.send("Emulation.setDeviceMetricsOverride", metrics)

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from Chromium's DevTools pipe")
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with code {self.process.returncode}")
            chunk = _read_ready(self._answer_read, min(1.0, max(0.0, deadline - time.monotonic())))
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)


def _high_fd(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


def _read_ready(fd: int, wait: float) -> bytes:
    ready, _, _ = select.select([fd], [], [], wait)
    return os.read(fd, 1 << 20) if ready else b""

"""One writer of the warehouse at a time, whatever the Dagster instance is configured to allow.

`retention run` / `demo`, `run_pipeline`, the ingestion assets (a writing connection) and the dbt
asset all take an exclusive OS lock (`flock`) on `<warehouse>.lock` next to the DuckDB file. The
file holds the pid, start time and command of the holder, so a refused process can name it. The OS
drops the lock when its holder dies, so a lock file left by a killed process never blocks anyone;
the file itself is never deleted (deleting it would let two processes lock two different files).

Re-entrant within one process: `run_pipeline` holds the lock while its in-process steps take it again.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from retention.landing.safe_text import printable
from retention.settings import Settings

_POLL_SECONDS = 0.2
_log = logging.getLogger(__name__)


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse lock (longer than RETENTION_RUN_LOCK_TIMEOUT)."""

    def __init__(self, lock_path: Path, holder: str, waited: float):
        waited_text = f"after waiting {waited:g}s " if waited else ""
        super().__init__(
            f"the warehouse is being written by another process; refusing to start {waited_text}"
            f"(holder: {holder}; lock file {printable(lock_path)}). Wait for it to finish, or set "
            "RETENTION_RUN_LOCK_TIMEOUT to a number of seconds to wait for it."
        )
        self.lock_path = lock_path
        self.holder = holder


@dataclass
class _Held:
    mutex: threading.RLock
    depth: int = 0
    fd: int | None = None


_registry_guard = threading.Lock()
_registry: dict[str, _Held] = {}


def lock_path(settings: Settings) -> Path | None:
    """`<warehouse>.lock`; None for an in-memory warehouse (nothing to share)."""
    if settings.warehouse.name == ":memory:":
        return None
    return settings.warehouse.with_name(settings.warehouse.name + ".lock")


def holder_description(path: Path) -> str:
    """Who holds the lock, as written in the lock file (pid, since when, command)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        text = ""
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    if not fields.get("pid"):
        return "a process that has not yet written its pid"
    return (
        f"pid {printable(fields['pid'], 20)} since {printable(fields.get('since', '?'), 40)}, "
        f"command {printable(fields.get('command', '?'), 200)}"
    )


@contextmanager
def warehouse_lock(settings: Settings, timeout: float | None = None) -> Iterator[Path | None]:
    """Hold the warehouse's writer lock for the block. If another process holds it, wait up to
    `timeout` seconds (default RETENTION_RUN_LOCK_TIMEOUT; 0: not at all, negative: no limit), then
    raise WarehouseBusy naming the holder."""
    path = lock_path(settings)
    if path is None:
        yield None
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with _registry_guard:
        held = _registry.setdefault(os.path.realpath(path), _Held(threading.RLock()))
    timeout = settings.run_lock_timeout if timeout is None else timeout
    deadline = None if timeout < 0 else time.monotonic() + timeout
    # Another thread of this process waits here; the thread that holds the lock re-enters.
    if not held.mutex.acquire(timeout=-1 if deadline is None else timeout):
        raise WarehouseBusy(path, f"another thread of this process (pid {os.getpid()})", timeout)
    try:
        if held.depth == 0:
            held.fd = _acquire(path, deadline, timeout)
        held.depth += 1
        try:
            yield path
        finally:
            held.depth -= 1
            if held.depth == 0 and held.fd is not None:
                fd, held.fd = held.fd, None
                os.ftruncate(fd, 0)  # no holder any more; the next one writes its own details
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
    finally:
        held.mutex.release()


def _acquire(path: Path, deadline: float | None, timeout: float) -> int:
    # Opened without truncating: until the lock is ours, the file holds the holder's details.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    waiting = False
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise WarehouseBusy(path, holder_description(path), timeout) from None
                if not waiting:
                    waiting = True
                    limit = "without limit" if deadline is None else f"up to {timeout:g}s"
                    _log.warning(f"waiting {limit} for the warehouse writer lock (holder: {holder_description(path)})")
                time.sleep(_POLL_SECONDS)
        details = (
            f"pid={os.getpid()}\nsince={datetime.now().astimezone().isoformat(timespec='seconds')}\n"
            f"command={' '.join(sys.argv)}\n"
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, details.encode("utf-8", errors="replace"), 0)
        return fd
    except BaseException:
        os.close(fd)
        raise

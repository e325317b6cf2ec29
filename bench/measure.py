"""Running a command while sampling the resident memory of its whole process tree.

`resource.getrusage` reports only the largest single child; the pipeline's peak is the Dagster process
and the dbt process it starts, together. So the tree's RSS is summed from /proc every few hundred ms.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SAMPLE_SECONDS = 0.25


@dataclass
class Measured:
    wall_seconds: float
    peak_rss_bytes: int
    returncode: int
    stopped: str | None = None  # why the bench stopped it (memory or time limit), if it did

    @property
    def peak_gb(self) -> float:
        return self.peak_rss_bytes / 1e9


def tree_rss_bytes(root: int) -> int:
    """Resident memory of `root` and all its descendants."""
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            total += next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))
            for task in Path(f"/proc/{pid}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue  # the process ended between two reads (or is a zombie without memory)
    return total


def run_measured(
    command: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    log: Path | None = None,
    memory_limit_bytes: int | None = None,
    timeout_seconds: float | None = None,
) -> Measured:
    """Run `command` to its end (or until it passes a limit: then its tree is killed), sampling memory."""
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    began = time.monotonic()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    peak, stopped = 0, None
    try:
        while process.poll() is None:
            peak = max(peak, tree_rss_bytes(process.pid))
            if memory_limit_bytes and peak > memory_limit_bytes:
                stopped = f"memory above {memory_limit_bytes / 1e9:.0f} GB"
            elif timeout_seconds and time.monotonic() - began > timeout_seconds:
                stopped = f"over {timeout_seconds:.0f} s"
            if stopped:
                os.killpg(process.pid, 9)
                break
            time.sleep(SAMPLE_SECONDS)
        process.wait()
    finally:
        if log:
            out.close()
    return Measured(time.monotonic() - began, peak, process.returncode, stopped)

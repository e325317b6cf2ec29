"""Running a command while sampling the resident memory of its whole process tree, and the disk it fills.

`resource.getrusage` reports only the largest single child; the pipeline's peak is the Dagster process
and the dbt process it starts, together. So the tree's RSS is summed from /proc every few hundred ms, and
each process's own peak is kept by its command name (which of the two holds the memory).

Disk is sampled the same way, as the free space of the filesystem the command writes to: DuckDB's temp
spill comes and goes within a build, so the folder's size at the end would miss it. Anything else
writing to or deleting from that filesystem meanwhile counts too: run the bench on a quiet machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_SECONDS = 0.25


@dataclass
class Measured:
    wall_seconds: float
    peak_rss_bytes: int
    returncode: int
    stopped: str | None = None  # why the bench stopped it (memory or time limit), if it did
    # The largest resident set any single process of the tree reached, by command name (`retention`, `dbt`).
    peak_by_command: dict[str, int] = field(default_factory=dict)
    # How much more of the sampled filesystem was in use at its fullest than when the command started.
    disk_growth_bytes: int = 0

    @property
    def peak_gb(self) -> float:
        return self.peak_rss_bytes / 1e9


def tree_processes(root: int) -> dict[int, tuple[str, int]]:
    """Command name and resident memory of `root` and of each of its descendants, by process id."""
    found, pending = {}, [root]
    while pending:
        pid = pending.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            lines = status.splitlines()
            name = next(line.split(maxsplit=1)[1] for line in lines if line.startswith("Name:"))
            found[pid] = (name, next(int(line.split()[1]) * 1024 for line in lines if line.startswith("VmRSS:")))
            for task in Path(f"/proc/{pid}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue  # the process ended between two reads (or is a zombie without memory)
    return found


def run_measured(
    command: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    log: Path | None = None,
    memory_limit_bytes: int | None = None,
    timeout_seconds: float | None = None,
    disk: Path | None = None,
) -> Measured:
    """Run `command` to its end (or until it passes a limit: then its tree is killed), sampling memory and,
    when `disk` is given, the free space of the filesystem holding it."""
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    began = time.monotonic()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    peak, stopped, by_command = 0, None, {}
    free_at_start = least_free = shutil.disk_usage(disk).free if disk else 0
    try:
        while process.poll() is None:
            if disk:
                least_free = min(least_free, shutil.disk_usage(disk).free)
            processes = tree_processes(process.pid)
            peak = max(peak, sum(rss for _, rss in processes.values()))
            for name, rss in processes.values():
                by_command[name] = max(by_command.get(name, 0), rss)
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
    return Measured(
        time.monotonic() - began, peak, process.returncode, stopped, by_command, max(0, free_at_start - least_free)
    )

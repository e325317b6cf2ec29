"""The landing sensor: launches `daily_refresh` for a landing day when its files arrive, change or go.

Each tick lists the landing folder with the loader's own discovery (`retention.landing.files.discover`),
so the sensor sees exactly the files a run would load: the same dates in paths, hidden files ignored,
the same symbolic-link rules. A day's fingerprint is a hash of its files' (relative path, size,
mtime_ns); the cursor remembers the fingerprint last requested per day, and a day whose fingerprint is
new or changed gets one run. The run key carries the fingerprint (and, from a day's second request on,
its number), so a tick evaluated twice (say after a crash before its cursor was saved) never starts the
same run twice, while a day returning to an earlier state still runs again.

The cursor also keeps the sources that had files each day, so a source whose folder vanishes from many
days at once (renamed, moved) is held back instead of withdrawn, as are many days emptied at once.

A first tick on a folder with months of history would ask for hundreds of runs at once: at most
`MAX_RUNS_PER_TICK` days are requested per tick, oldest first, and only those are written to the
cursor, so the rest follow tick after tick and the run queue never floods.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import dagster as dg

from orchestration.jobs import DAILY_REFRESH
from orchestration.partitions import daily_partitions
from retention.landing.contract import SOURCES
from retention.landing.errors import LandingFileError
from retention.landing.files import discover
from retention.landing.safe_text import printable
from retention.settings import Settings

LANDING_SENSOR = "landing_files_sensor"
# A month of days: a backlog drains in a few ticks while a day's new delivery still waits at most that long.
MAX_RUNS_PER_TICK = 31
MIN_INTERVAL_SECONDS = 60
# How many refused files or days a skip reason names before it only counts the rest.
_SHOWN = 5
# A cursor entry: the fingerprint last requested, "#n" from a day's second request on, then "|" and the
# sources that had files that day (absent from cursors written before sources were kept).
_ENTRY = re.compile(r"[0-9a-f]{64}(#[0-9]+)?(\|[a-z_,]*)?")


@dataclass(frozen=True)
class FileStamp:
    relative_path: str  # below the landing dir, e.g. "orders/2025-03-05/pos.csv"
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class LandingListing:
    days: dict[date, tuple[FileStamp, ...]]  # sorted by relative path within a day
    refused: tuple[str, ...]  # the loader's errors (file names escaped): a run would fail on them


@dataclass(frozen=True)
class TickPlan:
    requests: tuple[tuple[str, str], ...]  # (day, run key), oldest first
    cursor: dict[str, str]
    notes: tuple[str, ...]  # why changed days were not requested this tick


# More days than this losing all their files, or all of one source's files, in one tick are held back
# (see plan_tick).
MAX_EMPTIED_DAYS_PER_TICK = 3
_NO_FILES = hashlib.sha256(b"[]").hexdigest()


def fingerprint(stamps: tuple[FileStamp, ...] | list[FileStamp]) -> str:
    """sha256 (hex) of the day's sorted [relative path, size, mtime_ns] as compact JSON: a path holding a
    tab or a newline cannot make two different listings hash alike."""
    rows = sorted([s.relative_path, s.size, s.mtime_ns] for s in stamps)
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def list_landing(settings: Settings) -> LandingListing:
    """Every file a run could load, by landing day, with its size and mtime; or the loader's errors."""
    days: dict[date, list[FileStamp]] = {}
    refused: list[str] = []
    for source in SOURCES.values():
        try:
            files = discover(settings.landing_dir, source, date.min, date.max, settings=settings)
        except LandingFileError as exc:  # its message names the file, escaped, and never its contents
            refused.append(str(exc))
            continue
        for file in files:
            try:
                info = os.stat(file.path)
            except OSError:
                # Gone since it was listed: mid-move. An mtime of "now" keeps the day waiting to settle.
                stamp = FileStamp(file.relative_path, -1, time.time_ns())
            else:
                stamp = FileStamp(file.relative_path, info.st_size, info.st_mtime_ns)
            days.setdefault(file.landing_date, []).append(stamp)
    return LandingListing(
        {day: tuple(sorted(stamps, key=lambda s: s.relative_path)) for day, stamps in sorted(days.items())},
        tuple(refused),
    )


def plan_tick(
    listing: LandingListing,
    cursor: dict[str, str],
    *,
    in_partitions: Callable[[str], bool],
    settle_seconds: int,
    now_ns: int,
    limit: int = MAX_RUNS_PER_TICK,
) -> TickPlan:
    """Which days to request this tick, and the cursor after it. `in_partitions(day_iso)` says whether
    the job has that partition. A day that lost all its files is requested too (the loader withdraws
    them), and stays in the cursor: were its files to come back as they were, they are a new request. More
    than MAX_EMPTIED_DAYS_PER_TICK days emptied at once are held back with a note, never withdrawn."""
    settle_ns = settle_seconds * 1_000_000_000
    listed = {day.isoformat(): stamps for day, stamps in listing.days.items()}
    # Days the cursor knows that have no file now. A few is a withdrawal; many at once is a landing folder
    # missing, moved or archived, and withdrawing them would delete their history from the warehouse.
    emptied = [day for day, value in cursor.items() if day not in listed and value.partition("#")[0] != _NO_FILES]
    hold_emptied = len(emptied) > MAX_EMPTIED_DAYS_PER_TICK
    # The same for one source: its folder renamed or moved while the other sources' files stay.
    vanished = _vanished_sources(listed, cursor, exclude=set(emptied))
    held_sources = {src: days for src, days in vanished.items() if len(days) > MAX_EMPTIED_DAYS_PER_TICK}
    held_days = {day for days in held_sources.values() for day in days}
    changed, unsettled, outside = [], [], []
    for day in sorted(listed.keys() | cursor.keys()):
        stamps = listed.get(day, ())
        current = fingerprint(stamps)
        previous, _, count = cursor.get(day, "").split("|")[0].partition("#")
        if previous == current or (hold_emptied and day in emptied) or day in held_days:
            continue
        if not in_partitions(day):
            outside.append(day)
        # A modification time in the future (a file server's clock ahead) counts as settled: it would
        # otherwise hold the day until that time comes.
        elif any(0 <= now_ns - s.mtime_ns < settle_ns for s in stamps):
            unsettled.append(day)
        else:
            # The day's n-th request since the cursor began. Without it a day coming back to a state it
            # had before (a file moved out and back: same size and mtime) would get that state's old run
            # key, which Dagster drops as already run, and the day would stay withdrawn.
            changed.append((day, current, int(count or 1) + 1 if day in cursor else 1))
    requested, waiting = changed[:limit], changed[limit:]
    new_cursor = dict(cursor)
    for day, current, nth in requested:
        sources = ",".join(_sources(listed.get(day, ())))
        new_cursor[day] = (current if nth == 1 else f"{current}#{nth}") + f"|{sources}"
    notes = []
    if unsettled:
        notes.append(
            f"{_days(unsettled)} still being written (a file modified less than {settle_seconds} s ago, "
            "RETENTION_SENSOR_SETTLE_SECONDS): waiting for the next tick"
        )
    if outside:
        notes.append(
            f"{_days(outside)} outside the job's daily partitions (before RETENTION_START_DATE or after "
            "tomorrow): not requested"
        )
    if hold_emptied:
        notes.append(
            f"{len(emptied)} landing days from {min(emptied)} lost all their files at once (is the landing folder "
            "missing, moved or archived?): not withdrawn automatically; to withdraw them, run those days by hand"
        )
    for source, days in sorted(held_sources.items()):
        notes.append(
            f"{len(days)} landing days from {min(days)} lost all their {printable(source, 40)} files at once (was "
            f"the {printable(source, 40)} folder renamed or moved?): not withdrawn automatically, and those days "
            "wait (any run of them would withdraw it); put the folder back, or, to withdraw them, reset this "
            f"sensor's cursor (dagster sensor cursor {LANDING_SENSOR} --delete)"
        )
    if waiting:
        notes.append(f"{len(waiting)} more changed day(s) from {waiting[0][0]} wait for the next tick")
    run_keys = tuple((day, _run_key(day, current, nth)) for day, current, nth in requested)
    return TickPlan(run_keys, dict(sorted(new_cursor.items())), tuple(notes))


def _sources(stamps: tuple[FileStamp, ...]) -> list[str]:
    return sorted({stamp.relative_path.split("/", 1)[0] for stamp in stamps})


def _vanished_sources(
    listed: dict[str, tuple[FileStamp, ...]], cursor: dict[str, str], exclude: set[str]
) -> dict[str, list[str]]:
    """Per source, the days whose files of that source are all gone since they were last requested
    (days that lost every file are left to the emptied-day rule)."""
    vanished: dict[str, list[str]] = {}
    for day, value in sorted(cursor.items()):
        if day in exclude or "|" not in value:
            continue
        before = {source for source in value.split("|", 1)[1].split(",") if source}
        for source in sorted(before - set(_sources(listed.get(day, ())))):
            vanished.setdefault(source, []).append(day)
    return vanished


def _run_key(day: str, digest: str, nth: int) -> str:
    return f"landing-{day}-{digest[:16]}" if nth == 1 else f"landing-{day}-{digest[:16]}-{nth}"


def build_landing_sensor(settings: Settings) -> dg.SensorDefinition:
    partitions = daily_partitions(settings)

    @dg.sensor(
        name=LANDING_SENSOR,
        job_name=DAILY_REFRESH,
        minimum_interval_seconds=MIN_INTERVAL_SECONDS,
        # Off until someone turns it on in the UI, like the schedule: either, or both (a day the schedule
        # has loaded is requested again only if its files change afterwards).
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Watches the landing folder: when a landing day's files arrive, are re-delivered (new "
        "size or modification time) or are deleted, loads that day and refreshes everything downstream. "
        f"Waits until files have not changed for RETENTION_SENSOR_SETTLE_SECONDS; at most "
        f"{MAX_RUNS_PER_TICK} days per tick, oldest first.",
    )
    def landing_files_sensor(context: dg.SensorEvaluationContext):
        if not settings.landing_dir.is_dir():
            return dg.SkipReason(
                f"the landing folder {printable(str(settings.landing_dir))} does not exist (RETENTION_LANDING_DIR): "
                "nothing is requested, and no day is withdrawn"
            )
        listing = list_landing(settings)
        if listing.refused:
            # Every run would fail on these (the loader checks all files of a source, whatever the day):
            # nothing is requested, and the cursor stays, so the days follow once the files are fixed.
            shown = "; ".join(listing.refused[:_SHOWN])
            more = f" (and {len(listing.refused) - _SHOWN} more)" if len(listing.refused) > _SHOWN else ""
            return dg.SkipReason(f"the loader refuses landing files, so no run is requested: {shown}{more}")
        plan = plan_tick(
            listing,
            _read_cursor(context),
            in_partitions=partitions.has_partition_key,
            settle_seconds=settings.sensor_settle_seconds,
            now_ns=time.time_ns(),
        )
        if not plan.requests:
            return dg.SkipReason("; ".join(plan.notes) or "no landing day is new or changed")
        for note in plan.notes:
            context.log.info(note)
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(run_key=run_key, partition_key=day, tags={"retention/trigger": "sensor"})
                for day, run_key in plan.requests
            ],
            cursor=json.dumps(plan.cursor, separators=(",", ":")),
        )

    return landing_files_sensor


def _read_cursor(context: dg.SensorEvaluationContext) -> dict[str, str]:
    if not context.cursor:
        return {}
    try:
        cursor = json.loads(context.cursor)
    except ValueError:
        cursor = None
    if isinstance(cursor, dict) and all(_is_day(k) and _ENTRY.fullmatch(str(v)) for k, v in cursor.items()):
        return cursor
    # Starting over is safe: every day is requested again, and run keys drop those already run.
    context.log.warning(f"cursor of {LANDING_SENSOR} is not a day -> fingerprint object; starting over")
    return {}


def _is_day(text: str) -> bool:
    try:
        return date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


def _days(days: list[str]) -> str:
    shown = ", ".join(printable(day, 20) for day in days[:_SHOWN])
    more = f" and {len(days) - _SHOWN} more" if len(days) > _SHOWN else ""
    return f"day(s) {shown}{more}"

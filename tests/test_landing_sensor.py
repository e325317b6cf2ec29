"""The landing sensor requests a day's run once per new, re-delivered or deleted set of files, waits for
files still being written, skips days without a partition, and never floods the queue."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import dagster as dg

from orchestration.definitions import build_definitions
from orchestration.sensors import LANDING_SENSOR
from retention.settings import Settings

# 2025-02-19 21:20:00 UTC: every file gets this mtime unless a test says otherwise, so fingerprints are
# known in advance and files are long settled.
T = 1_740_000_000_000_000_000
MEMBERS = "member_id\nM1\n"  # 13 bytes: the sensor never reads contents, only sizes and times
ORDERS = "order_id\nO1\nO2\n"  # 15 bytes


def deliver(settings: Settings, relative: str, text: str, mtime_ns: int = T) -> Path:
    path = settings.landing_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode())
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def expected_fingerprint(*rows: tuple[str, int, int]) -> str:
    """Written out here, not imported: sha256 of the sorted [path, size, mtime_ns] rows as compact JSON."""
    listed = sorted([path, size, mtime] for path, size, mtime in rows)
    return hashlib.sha256(json.dumps(listed, separators=(",", ":")).encode()).hexdigest()


def tick(settings: Settings, cursor: str | None = None):
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def(LANDING_SENSOR)
    with dg.build_sensor_context(
        cursor=cursor, instance=dg.DagsterInstance.ephemeral(), repository_def=defs.get_repository_def()
    ) as context:
        return sensor.evaluate_tick(context)


def requested(result) -> list[tuple[str, str]]:
    return [(r.partition_key, r.run_key) for r in result.run_requests]


def test_registered_stopped_on_daily_refresh(settings):
    sensor = build_definitions(settings).resolve_sensor_def(LANDING_SENSOR)
    assert sensor.job_name == "daily_refresh"
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert sensor.minimum_interval_seconds == 60


def test_two_days_two_runs_then_nothing_until_a_file_changes(settings):
    deliver(settings, "members/2025-03-01/crm.csv", MEMBERS)
    deliver(settings, "orders/2025-03-01/pos.csv", ORDERS)
    deliver(settings, "orders/20250302/pos.csv", ORDERS)
    deliver(settings, "orders/20250302/.DS_Store", "junk")  # hidden: not a delivery, not in the fingerprint
    day1 = expected_fingerprint(("members/2025-03-01/crm.csv", 13, T), ("orders/2025-03-01/pos.csv", 15, T))
    day2 = expected_fingerprint(("orders/20250302/pos.csv", 15, T))

    first = tick(settings)
    assert requested(first) == [
        ("2025-03-01", f"landing-2025-03-01-{day1[:16]}"),
        ("2025-03-02", f"landing-2025-03-02-{day2[:16]}"),
    ]
    assert [r.tags["retention/trigger"] for r in first.run_requests] == ["sensor", "sensor"]
    # Each entry: the fingerprint, then the sources that had files that day.
    assert first.cursor == f'{{"2025-03-01":"{day1}|members,orders","2025-03-02":"{day2}|orders"}}'

    again = tick(settings, first.cursor)
    assert again.run_requests == []
    assert again.skip_message == "no landing day is new or changed"

    # Re-delivered: same name, other content (16 bytes) and time. Only its day runs, its second request.
    deliver(settings, "orders/20250302/pos.csv", "order_id\nO1\nO22\n", mtime_ns=T + 5)
    new_day2 = expected_fingerprint(("orders/20250302/pos.csv", 16, T + 5))
    redelivered = tick(settings, first.cursor)
    assert requested(redelivered) == [("2025-03-02", f"landing-2025-03-02-{new_day2[:16]}-2")]
    assert json.loads(redelivered.cursor) == {
        "2025-03-01": f"{day1}|members,orders",
        "2025-03-02": f"{new_day2}#2|orders",
    }


def test_deleted_files_run_their_day_again(settings):
    deliver(settings, "members/2025-03-01/crm.csv", MEMBERS)
    deliver(settings, "orders/2025-03-01/pos.csv", ORDERS)
    lone = deliver(settings, "orders/2025-03-02/pos.csv", ORDERS)
    cursor = tick(settings).cursor

    (settings.landing_dir / "orders/2025-03-01/pos.csv").unlink()
    lone.unlink()
    result = tick(settings, cursor)
    fewer = expected_fingerprint(("members/2025-03-01/crm.csv", 13, T))
    empty = expected_fingerprint()
    assert requested(result) == [
        ("2025-03-01", f"landing-2025-03-01-{fewer[:16]}-2"),
        ("2025-03-02", f"landing-2025-03-02-{empty[:16]}-2"),  # the loader withdraws the day's rows
    ]
    assert json.loads(result.cursor) == {"2025-03-01": f"{fewer}#2|members", "2025-03-02": f"{empty}#2|"}
    assert tick(settings, result.cursor).run_requests == []

    # Moved back as it was (same size, same mtime, as `mv` keeps it): the day's first key, long used, would
    # be dropped by Dagster as already run; its third request has a key of its own.
    deliver(settings, "orders/2025-03-02/pos.csv", ORDERS)
    back = tick(settings, result.cursor)
    lone_fingerprint = expected_fingerprint(("orders/2025-03-02/pos.csv", 15, T))
    assert requested(back) == [("2025-03-02", f"landing-2025-03-02-{lone_fingerprint[:16]}-3")]


def test_a_file_still_being_written_waits_until_settled(settings):
    deliver(settings, "orders/2025-03-01/pos.csv", ORDERS, mtime_ns=time.time_ns())
    waiting = tick(replace(settings, sensor_settle_seconds=3600))
    assert waiting.run_requests == []
    assert waiting.cursor is None
    assert waiting.skip_message == (
        "day(s) 2025-03-01 still being written (a file modified less than 3600 s ago, "
        "RETENTION_SENSOR_SETTLE_SECONDS): waiting for the next tick"
    )
    settled = tick(replace(settings, sensor_settle_seconds=0))
    assert [key for key, _ in requested(settled)] == ["2025-03-01"]


def test_a_day_before_the_start_date_is_not_requested(settings):
    deliver(settings, "orders/2023-12-31/pos.csv", ORDERS)
    alone = tick(settings)
    assert alone.run_requests == []
    assert alone.skip_message == (
        "day(s) 2023-12-31 outside the job's daily partitions (before RETENTION_START_DATE or after "
        "tomorrow): not requested"
    )
    deliver(settings, "orders/2024-01-01/pos.csv", ORDERS)
    both = tick(settings)
    assert [key for key, _ in requested(both)] == ["2024-01-01"]
    assert list(json.loads(both.cursor)) == ["2024-01-01"]


def test_a_file_the_loader_refuses_holds_every_run(settings):
    deliver(settings, "orders/2025-03-01/pos.csv", ORDERS)
    deliver(settings, "tickets/2999-01-01/desk\n.csv", "ticket_id\n")
    result = tick(settings)
    assert result.run_requests == []
    assert result.skip_message.startswith(
        "the loader refuses landing files, so no run is requested: tickets/2999-01-01/desk\\n.csv: "
        "landing date 2999-01-01 is in the future"
    )


def test_a_backlog_is_requested_31_days_a_tick_oldest_first(settings):
    days = [f"2025-01-{d:02d}" for d in range(1, 32)] + [f"2025-02-{d:02d}" for d in range(1, 10)]
    for day in reversed(days):  # written newest first: the order on disk does not matter
        deliver(settings, f"orders/{day}/pos.csv", ORDERS)

    first = tick(settings)
    assert [key for key, _ in requested(first)] == days[:31]
    assert list(json.loads(first.cursor)) == days[:31]

    second = tick(settings, first.cursor)
    assert [key for key, _ in requested(second)] == days[31:]
    assert len(json.loads(second.cursor)) == 40

    assert tick(settings, second.cursor).run_requests == []


def test_an_unreadable_cursor_starts_over(settings):
    deliver(settings, "orders/2025-03-01/pos.csv", ORDERS)
    result = tick(settings, "not json")
    assert [key for key, _ in requested(result)] == ["2025-03-01"]


def test_a_missing_landing_folder_withdraws_nothing(settings):
    deliver(settings, "orders/2025-03-01/pos.csv", ORDERS)
    first = tick(settings)
    assert len(first.run_requests) == 1
    settings.landing_dir.rename(settings.landing_dir.with_name("landing_moved"))

    result = tick(settings, first.cursor)
    assert result.run_requests == []
    assert "does not exist (RETENTION_LANDING_DIR): nothing is requested, and no day is withdrawn" in (
        result.skip_message
    )


def test_many_days_losing_their_files_at_once_are_held_back(settings):
    for day in range(1, 6):
        deliver(settings, f"orders/2025-03-0{day}/pos.csv", ORDERS)
    first = tick(settings)
    assert len(first.run_requests) == 5
    # An archiving script moves five days away at once: withdrawing them would delete their history.
    for day in range(1, 6):
        (settings.landing_dir / f"orders/2025-03-0{day}/pos.csv").unlink()

    held = tick(settings, first.cursor)
    assert held.run_requests == []
    assert held.skip_message == (
        "5 landing days from 2025-03-01 lost all their files at once (is the landing folder missing, moved or "
        "archived?): not withdrawn automatically; to withdraw them, run those days by hand"
    )
    # Up to three days may go at once (a withdrawal): those are requested.
    for day in range(1, 3):
        deliver(settings, f"orders/2025-03-0{day}/pos.csv", ORDERS)
    withdrawn = tick(settings, first.cursor)
    assert [day for day, _ in requested(withdrawn)] == ["2025-03-03", "2025-03-04", "2025-03-05"]


def test_a_source_folder_renamed_away_from_many_days_is_held_back(settings):
    for day in range(1, 6):
        deliver(settings, f"members/2025-03-0{day}/crm.csv", MEMBERS)
        deliver(settings, f"orders/2025-03-0{day}/pos.csv", ORDERS)
    first = tick(settings)
    assert len(first.run_requests) == 5
    # Someone renames orders/ to orders_old/: every day keeps its members file, so no day is emptied, but
    # running those days would withdraw five days of orders from the warehouse.
    (settings.landing_dir / "orders").rename(settings.landing_dir / "orders_old")
    nothing = tick(settings, first.cursor)
    assert nothing.run_requests == []
    assert nothing.skip_message == (
        "5 landing days from 2025-03-01 lost all their orders files at once (was the orders folder renamed or "
        "moved?): not withdrawn automatically, and those days wait (any run of them would withdraw it); put the "
        "folder back, or, to withdraw them, reset this sensor's cursor (dagster sensor cursor "
        "landing_files_sensor --delete)"
    )

    deliver(settings, "members/2025-03-06/crm.csv", MEMBERS)  # a new day still runs
    held = tick(settings, first.cursor)
    assert [day for day, _ in requested(held)] == ["2025-03-06"]
    assert json.loads(held.cursor)["2025-03-01"] == json.loads(first.cursor)["2025-03-01"]  # untouched
    # Accepting the withdrawal: with the cursor reset, the five days are requested again (and the new day).
    assert [day for day, _ in requested(tick(settings))] == [f"2025-03-0{day}" for day in range(1, 7)]
    # Back under its name: nothing changed, nothing runs.
    (settings.landing_dir / "orders_old").rename(settings.landing_dir / "orders")
    assert tick(settings, held.cursor).run_requests == []


def test_a_source_withdrawn_from_a_few_days_is_requested(settings):
    for day in range(1, 6):
        deliver(settings, f"members/2025-03-0{day}/crm.csv", MEMBERS)
        deliver(settings, f"orders/2025-03-0{day}/pos.csv", ORDERS)
    first = tick(settings)
    for day in (2, 4, 5):  # three days at most: a deliberate withdrawal
        (settings.landing_dir / f"orders/2025-03-0{day}/pos.csv").unlink()
    assert [day for day, _ in requested(tick(settings, first.cursor))] == ["2025-03-02", "2025-03-04", "2025-03-05"]


def test_a_cursor_written_before_sources_were_kept_still_works(settings):
    deliver(settings, "orders/2025-03-01/pos.csv", ORDERS)
    day1 = expected_fingerprint(("orders/2025-03-01/pos.csv", 15, T))
    assert tick(settings, f'{{"2025-03-01":"{day1}"}}').run_requests == []


def test_a_modification_time_in_the_future_does_not_hold_the_day(settings):
    settings = replace(settings, sensor_settle_seconds=3600)
    a_year_ahead = time.time_ns() + 365 * 86_400 * 1_000_000_000
    deliver(settings, "orders/2025-03-01/pos.csv", ORDERS, mtime_ns=a_year_ahead)
    assert [day for day, _ in requested(tick(settings))] == ["2025-03-01"]

"""A range of days loads in batches of whole days, each its own transaction: a failed or killed load
leaves every day either fully old or fully new, and says which days were committed."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from datetime import date, timedelta

import duckdb
import pytest

from retention.landing.contract import MEMBERS, ORDERS
from retention.landing.files import discover
from retention.landing.loader import LandingError, day_batches, load_range
from tests.conftest import members_csv

FIRST = date(2025, 3, 1)
HEADER = "order_id,member_id,order_time,channel,gross_amount,status\n"


def orders_csv(day: date, rows: int, amount: int) -> str:
    lines = [f"O{day:%m%d}-{i},M1,{day} 10:00:00,store,{amount},paid" for i in range(rows)]
    return HEADER + "\n".join(lines) + "\n"


def write_days(landing, days: int, rows: int, amount: int) -> None:
    for n in range(days):
        day = FIRST + timedelta(days=n)
        landing.write(f"orders/{day}/pos.csv", orders_csv(day, rows, amount))


def per_day(con) -> dict[date, tuple[int, tuple, int]]:
    """Landing day -> (raw rows, distinct amounts) and the manifest's count for the day."""
    raw = con.execute(
        "SELECT _landing_date, count(*), list(DISTINCT gross_amount ORDER BY gross_amount) FROM raw.orders GROUP BY 1"
    ).fetchall()
    manifest = dict(
        con.execute(
            "SELECT landing_date, sum(rows_loaded) FROM raw.landed_files WHERE source = 'orders' GROUP BY 1"
        ).fetchall()
    )
    return {day: (n, tuple(int(a) for a in amounts), manifest.get(day)) for day, n, amounts in raw}


@pytest.fixture
def one_day_per_batch(settings):
    return dataclasses.replace(settings, load_batch_rows=1)


def test_batches_cover_every_day_of_the_range_and_never_split_one(landing, settings):
    write_days(landing, 3, rows=10, amount=10)
    landing.write(f"orders/{FIRST}/web.csv", orders_csv(FIRST, 5, 10))
    files = discover(settings.landing_dir, ORDERS, FIRST, FIRST + timedelta(days=9), settings=settings)

    spans = [(first, last, len(batch)) for first, last, batch in day_batches(files, FIRST, date(2025, 3, 10), 1)]

    # Day 1 has two files in one batch; the last batch runs to the end of the range (days without files).
    assert spans == [(date(2025, 3, 1), date(2025, 3, 1), 2), (date(2025, 3, 2), date(2025, 3, 2), 1),
                     (date(2025, 3, 3), date(2025, 3, 10), 1)]  # fmt: skip
    assert [(f, lst) for f, lst, _ in day_batches([], FIRST, date(2025, 3, 10), 1)] == [(FIRST, date(2025, 3, 10))]


def test_unreadable_file_commits_the_days_before_its_batch_and_leaves_the_rest(
    landing, settings, one_day_per_batch, warehouse
):
    landing.write("members/2025-03-01/crm.csv", members_csv("M1"))
    load_range(warehouse, MEMBERS, FIRST, FIRST, settings)
    write_days(landing, 3, rows=4, amount=10)
    load_range(warehouse, ORDERS, FIRST, date(2025, 3, 3), one_day_per_batch)

    write_days(landing, 3, rows=5, amount=20)  # a new delivery of every day ...
    landing.write("orders/2025-03-02/late.jsonl", '{"order_id": "X", "memb')  # ... with a truncated file on day 2
    with pytest.raises(LandingError) as error:
        load_range(warehouse, ORDERS, FIRST, date(2025, 3, 3), one_day_per_batch)

    assert error.value.committed == (FIRST, FIRST)
    assert str(error.value).startswith(
        "1 orders file(s) could not be read; days 2025-03-01..2025-03-01 were loaded and committed; "
        "days 2025-03-02..2025-03-03 were not changed:\n  - orders/2025-03-02/late.jsonl: truncated"
    )
    assert per_day(warehouse) == {
        date(2025, 3, 1): (5, (20,), 5),  # new
        date(2025, 3, 2): (4, (10,), 4),  # old
        date(2025, 3, 3): (4, (10,), 4),  # old
    }


# Loads every day of the landing folder in its own transaction, printing each commit.
KILLED_LOADER = """
import dataclasses, sys
from datetime import date
import duckdb
from retention.landing.contract import ORDERS
from retention.landing.loader import load_range
from retention.settings import Settings

settings = dataclasses.replace(Settings.from_env(), load_batch_rows=1)
con = duckdb.connect(str(settings.warehouse))
load_range(con, ORDERS, date.fromisoformat(sys.argv[1]), date.fromisoformat(sys.argv[2]), settings,
           on_commit=lambda first, last, report: print(last, flush=True))
print("finished", flush=True)
"""


def test_load_killed_halfway_leaves_every_day_old_or_new_and_a_rerun_completes(landing, settings, warehouse):
    days, last = 60, FIRST + timedelta(days=59)
    landing.write("members/2025-03-01/crm.csv", members_csv("M1"))
    load_range(warehouse, MEMBERS, FIRST, FIRST, settings)
    write_days(landing, days, rows=300, amount=10)
    load_range(warehouse, ORDERS, FIRST, last, settings)
    warehouse.close()
    write_days(landing, days, rows=301, amount=20)  # every day re-delivered, one row more

    loader = subprocess.Popen(
        [sys.executable, "-c", KILLED_LOADER, str(FIRST), str(last)],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ,
    )
    committed = [loader.stdout.readline().strip() for _ in range(10)]
    loader.send_signal(signal.SIGKILL)
    loader.wait()
    assert loader.returncode == -signal.SIGKILL
    assert committed == [str(FIRST + timedelta(days=n)) for n in range(10)]

    con = duckdb.connect(str(settings.warehouse))
    try:
        state = per_day(con)
        new_days = [day for day, value in state.items() if value == (301, (20,), 301)]
        old_days = [day for day, value in state.items() if value == (300, (10,), 300)]
        assert len(state) == days and len(new_days) + len(old_days) == days  # no day half-loaded
        assert len(new_days) >= 10 and old_days  # killed mid-range: some days new, some still old
        assert max(new_days) < min(old_days)  # committed in order

        load_range(con, ORDERS, FIRST, last, settings)  # re-running the range completes it
        assert set(per_day(con).values()) == {(301, (20,), 301)}
        assert con.execute("SELECT count(*), count(DISTINCT order_id) FROM raw.orders").fetchone() == (
            days * 301,
            days * 301,
        )
    finally:
        con.close()


def test_duckdb_spills_to_a_temp_directory_that_did_not_exist(settings, tmp_path):
    """DuckDB creates only the last folder of its temp directory, and only when it first spills: the
    pipeline creates the whole path, so a small memory limit never fails a big run halfway."""
    temp = tmp_path / "not" / "yet" / "there"
    # One thread and a sort: DuckDB's external sort spills reliably, where a hash aggregate under so
    # small a limit sometimes fails for memory instead (two threads, count(DISTINCT)).
    bounded = dataclasses.replace(settings, duckdb_temp_directory=temp, duckdb_memory_limit="64MB", duckdb_threads=1)
    con = duckdb.connect(str(tmp_path / "spill.duckdb"), config=bounded.duckdb_config())
    try:
        con.execute("CREATE TABLE t AS SELECT md5(CAST(range AS VARCHAR)) AS s FROM range(2000000)")
        con.execute("CREATE TABLE sorted AS SELECT s FROM t ORDER BY s")
        assert con.execute("SELECT count(*) FROM sorted").fetchone() == (2_000_000,)
        assert con.execute("SELECT min(s) FROM t").fetchone() == con.execute("SELECT s FROM sorted LIMIT 1").fetchone()
    finally:
        con.close()

"""The event tables are incremental by landing day: a daily run reads only the days that changed, and
the result equals a full rebuild, whether a day was re-delivered, withdrawn or added.

Real files, a real Dagster run and real `dbt build`; the expected rows are worked out by hand.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from orchestration.runner import run_pipeline
from tests.conftest import Landing, built_once, copy_built, members_csv, warehouse_rows

D1, D2, D3, D4 = (date(2025, 3, day) for day in range(1, 5))
HEADER = "event_id,member_id,event_time,event_type,platform,page,dwell_seconds\n"
STAGED = "SELECT event_id, member_id, occurred_at, landing_date FROM staging.stg_app__events ORDER BY event_id"
EVENT_DAYS = (
    "SELECT member_id, landing_date, event_date, known_from, events, last_login_at "
    "FROM intermediate.int_member_event_days ORDER BY ALL"
)


def events(*rows: str) -> str:
    return HEADER + "".join(row + "\n" for row in rows)


@pytest.fixture(scope="module")
def three_days_built(tmp_path_factory):
    yield from built_once(tmp_path_factory, "three_days", _build_three_days)


@pytest.fixture
def three_days(three_days_built, settings, monkeypatch):
    monkeypatch.setenv("RETENTION_MAX_QUARANTINE_RATE", "1")
    return copy_built(three_days_built, settings)


def _build_three_days(settings, monkeypatch):
    monkeypatch.setenv("RETENTION_MAX_QUARANTINE_RATE", "1")  # tiny days; the quarantine gate has its own tests
    landing = Landing(settings.landing_dir)
    landing.write("members/2025-03-01/crm.csv", members_csv("M1", "M2"))
    landing.write(
        "events/2025-03-01/app.csv",
        events("E1,M1,2025-03-01 10:00:00,login,app,home,5", "E2,M2,2025-03-01 11:00:00,page_view,app,home,30"),
    )
    # E1 sent again the next day (a re-delivery, not a new event).
    landing.write(
        "events/2025-03-02/app.csv",
        events("E3,M1,2025-03-02 08:00:00,login,app,home,5", "E1,M1,2025-03-01 10:00:00,login,app,home,5"),
    )
    landing.write("events/2025-03-03/app.csv", events("E4,M2,2025-03-03 12:00:00,login,app,home,5"))
    assert run_pipeline(settings, D1, D3).success


def test_a_first_build_keeps_the_first_delivery_of_each_event(three_days):
    assert warehouse_rows(three_days, STAGED) == [
        ("E1", "M1", datetime(2025, 3, 1, 10), D1),
        ("E2", "M2", datetime(2025, 3, 1, 11), D1),
        ("E3", "M1", datetime(2025, 3, 2, 8), D2),
        ("E4", "M2", datetime(2025, 3, 3, 12), D3),
    ]


def test_redelivered_withdrawn_and_new_days_give_what_a_full_rebuild_gives(three_days, landing):
    settings = three_days
    # Day 2 re-delivered: E3 withdrawn, E5 added (E1's copy still there). Day 3 withdrawn. Day 4 new.
    landing.write(
        "events/2025-03-02/app.csv",
        events("E5,M2,2025-03-02 09:00:00,login,app,home,5", "E1,M1,2025-03-01 10:00:00,login,app,home,5"),
    )
    (settings.landing_dir / "events/2025-03-03/app.csv").unlink()
    landing.write("events/2025-03-04/app.csv", events("E6,M1,2025-03-04 20:00:00,page_view,app,home,40"))
    assert run_pipeline(settings, D2, D4).success

    incremental = warehouse_rows(settings, STAGED), warehouse_rows(settings, EVENT_DAYS)
    assert incremental[0] == [
        ("E1", "M1", datetime(2025, 3, 1, 10), D1),
        ("E2", "M2", datetime(2025, 3, 1, 11), D1),
        ("E5", "M2", datetime(2025, 3, 2, 9), D2),
        ("E6", "M1", datetime(2025, 3, 4, 20), D4),
    ]
    assert incremental[1] == [
        ("M1", D1, D1, D1, 1, datetime(2025, 3, 1, 10)),
        ("M1", D4, D4, D4, 1, None),  # a page view, no login
        ("M2", D1, D1, D1, 1, None),
        ("M2", D2, D2, D2, 1, datetime(2025, 3, 2, 9)),
    ]
    # The last login as the marts see it on day 4: M1 on day 1 (E3 was withdrawn), M2 on day 2.
    assert warehouse_rows(
        settings,
        "SELECT m.member_id, d.last_login_at FROM intermediate.int_member_state_daily AS d "
        "JOIN intermediate.int_members__as_of AS m USING (member_key) "
        "WHERE d.as_of_date = DATE '2025-03-04' ORDER BY 1",
    ) == [("M1", datetime(2025, 3, 1, 10)), ("M2", datetime(2025, 3, 2, 9))]

    assert run_pipeline(settings, D4, D4, full_refresh=True).success
    assert (warehouse_rows(settings, STAGED), warehouse_rows(settings, EVENT_DAYS)) == incremental


def test_a_day_withdrawn_without_a_new_delivery_leaves_the_tables(three_days):
    settings = three_days
    (settings.landing_dir / "events/2025-03-03/app.csv").unlink()
    assert run_pipeline(settings, D3, D3).success  # day 3 reloaded: no files any more

    assert [row[0] for row in warehouse_rows(settings, STAGED)] == ["E1", "E2", "E3"]
    assert ("M2", D3) not in {(m, landing) for m, landing, *_ in warehouse_rows(settings, EVENT_DAYS)}


def test_an_unchanged_daily_run_reads_no_event_history(three_days):
    """Re-running the pipeline with nothing new (no partitions reloaded) leaves the tables as they are;
    the first delivery stays the one kept even though its copy is reloaded later."""
    settings = three_days
    before = warehouse_rows(settings, "SELECT event_id, loaded_at FROM staging.stg_app__events ORDER BY 1")
    assert run_pipeline(settings, D3, D3).success  # reloads day 3 only
    after = warehouse_rows(settings, "SELECT event_id, loaded_at FROM staging.stg_app__events ORDER BY 1")
    assert after[:3] == before[:3]  # days 1-2 untouched (same load time)
    assert after[3][0] == "E4" and after[3][1] > before[3][1]  # day 3 rebuilt from its new load

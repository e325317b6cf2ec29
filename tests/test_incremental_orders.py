"""Order versions are staged incrementally by landing day: a daily run reads only the days that
changed, and the versions kept (and the order states built on them) equal a full rebuild's, whether
a day was re-delivered, withdrawn or added.

Real files, a real Dagster run and real `dbt build`; the expected rows are worked out by hand.
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pytest

from orchestration.runner import run_pipeline
from tests.conftest import Landing, built_once, copy_built, members_csv, warehouse_rows

D1, D2, D3, D4 = (date(2025, 3, day) for day in range(1, 5))
HEADER = "order_id,member_id,order_time,channel,gross_amount,discount_amount,status,refund_amount,updated_at\n"
VERSIONS = (
    "SELECT order_id, status, discount_amount, status_at, landing_date "
    "FROM staging.stg_commerce__orders ORDER BY order_id, status_at"
)
STATES = "SELECT * EXCLUDE (known_to) FROM intermediate.int_order_states ORDER BY order_id, known_from"
FACTS = "SELECT order_id, status, net_spend, is_purchase FROM marts.fct_orders ORDER BY order_id"


def orders(*rows: str) -> str:
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
        "orders/2025-03-01/pos.csv",
        orders(
            "O1,M1,2025-03-01 10:00:00,store,200,20,paid,,2025-03-01 10:00:00",
            "O2,M2,2025-03-01 11:00:00,store,50,,paid,,2025-03-01 11:00:00",
        ),
    )
    # Day 2: O1 refunded (no updated_at: recorded on its landing day), O1's sale sent again, and O2
    # again with its blank discount written as 0 - both the same versions as day 1's (same updated_at).
    landing.write(
        "orders/2025-03-02/pos.csv",
        orders(
            "O1,M1,2025-03-01 10:00:00,store,200,20,refunded,180,",
            "O1,M1,2025-03-01 10:00:00,store,200,20,paid,,2025-03-01 10:00:00",
            "O2,M2,2025-03-01 11:00:00,store,50,0,paid,,2025-03-01 11:00:00",
        ),
    )
    landing.write("orders/2025-03-03/pos.csv", orders("O3,M1,2025-03-03 09:00:00,online,100,0,paid,,"))
    assert run_pipeline(settings, D1, D3).success


def test_a_first_build_keeps_the_first_delivery_of_each_version(three_days):
    assert warehouse_rows(three_days, VERSIONS) == [
        ("O1", "paid", 20, datetime(2025, 3, 1, 10), D1),
        ("O1", "refunded", 20, datetime(2025, 3, 2), D2),
        ("O2", "paid", 0, datetime(2025, 3, 1, 11), D1),
        ("O3", "paid", 0, datetime(2025, 3, 3, 9), D3),
    ]
    assert warehouse_rows(three_days, FACTS) == [
        ("O1", "refunded", 0, False),
        ("O2", "paid", 50, True),
        ("O3", "paid", 100, True),
    ]


def test_redelivered_withdrawn_and_new_days_give_what_a_full_rebuild_gives(three_days, landing):
    settings = three_days
    # Day 2 re-delivered without the refund, with a new order O4. Day 3 withdrawn. Day 4: the refund
    # of O1 arrives after all, with its own updated_at.
    landing.write(
        "orders/2025-03-02/pos.csv",
        orders(
            "O4,M2,2025-03-02 12:00:00,app,80,0,paid,,",
            "O1,M1,2025-03-01 10:00:00,store,200,20,paid,,2025-03-01 10:00:00",
        ),
    )
    (settings.landing_dir / "orders/2025-03-03/pos.csv").unlink()
    landing.write(
        "orders/2025-03-04/pos.csv",
        orders("O1,M1,2025-03-01 10:00:00,store,200,20,partially_refunded,30,2025-03-04 09:00:00"),
    )
    assert run_pipeline(settings, D2, D4).success

    incremental = warehouse_rows(settings, VERSIONS), warehouse_rows(settings, STATES)
    assert incremental[0] == [
        ("O1", "paid", 20, datetime(2025, 3, 1, 10), D1),
        ("O1", "partially_refunded", 20, datetime(2025, 3, 4, 9), D4),
        ("O2", "paid", 0, datetime(2025, 3, 1, 11), D1),
        ("O4", "paid", 0, datetime(2025, 3, 2, 12), D2),
    ]
    # As of day 4: O1 kept 200 - 20 - 30 = 150 of spend; O3 is gone with its withdrawn day.
    assert warehouse_rows(settings, FACTS) == [
        ("O1", "partially_refunded", 150, True),
        ("O2", "paid", 50, True),
        ("O4", "paid", 80, True),
    ]

    assert run_pipeline(settings, D4, D4, full_refresh=True).success
    assert (warehouse_rows(settings, VERSIONS), warehouse_rows(settings, STATES)) == incremental


def test_an_unchanged_day_rerun_rebuilds_only_that_day(three_days):
    settings = three_days
    loaded = "SELECT order_id, status, loaded_at FROM staging.stg_commerce__orders ORDER BY 1, 2"
    before = warehouse_rows(settings, loaded)
    assert run_pipeline(settings, D3, D3).success  # reloads day 3 only
    after = warehouse_rows(settings, loaded)
    assert after[:3] == before[:3]  # days 1-2 untouched (same load time)
    assert after[3][0] == "O3" and after[3][2] > before[3][2]  # day 3 rebuilt from its new load


def test_a_version_whose_first_delivery_is_withdrawn_is_known_from_its_next_delivery(three_days):
    # Day 1's orders file is withdrawn. O1's sale and O2 were delivered again on day 2 with the same
    # values: the same versions, now first delivered on day 2, so each order is known from day 2 only. The
    # incremental build must notice, though neither order gained or lost a version (only its landing day).
    settings = three_days
    states = "SELECT order_id, known_from, status FROM intermediate.int_order_states ORDER BY 1, 2"
    assert warehouse_rows(settings, states) == [
        ("O1", D1, "paid"),
        ("O1", D2, "refunded"),
        ("O2", D1, "paid"),
        ("O3", D3, "paid"),
    ]
    (settings.landing_dir / "orders/2025-03-01/pos.csv").unlink()
    assert run_pipeline(settings, D1, D1).success
    # O1 on day 2: the refund (recorded 03-02 00:00, its landing day) is later than the sale (03-01 10:00).
    expected = [("O1", D2, "refunded"), ("O2", D2, "paid"), ("O3", D3, "paid")]
    assert warehouse_rows(settings, states) == expected
    incremental = warehouse_rows(settings, STATES)

    assert run_pipeline(settings, D3, D3, full_refresh=True).success
    assert warehouse_rows(settings, states) == expected
    assert warehouse_rows(settings, STATES) == incremental


def test_a_table_built_before_the_fingerprint_is_rebuilt_in_full_once(three_days):
    # A warehouse whose int_order_states was built by the model before it was incremental: no fingerprint
    # columns. The next daily run recomputes every order, then equals a full rebuild.
    settings = three_days
    con = duckdb.connect(str(settings.warehouse))
    con.execute("ALTER TABLE intermediate.int_order_states DROP COLUMN version_count")
    con.execute("ALTER TABLE intermediate.int_order_states DROP COLUMN versions_fingerprint")
    con.close()
    assert run_pipeline(settings, D3, D3).success
    upgraded = warehouse_rows(settings, STATES)
    assert [row[:2] for row in upgraded] == [("O1", D1), ("O1", D2), ("O2", D1), ("O3", D3)]
    assert run_pipeline(settings, D3, D3, full_refresh=True).success
    assert warehouse_rows(settings, STATES) == upgraded


def test_a_daily_build_recomputes_only_the_orders_whose_versions_changed(three_days, landing):
    # The incremental path must be the one taken: a marker written into O2's stored state (a store name no
    # delivery holds) survives a day that changes only O3, and only a full rebuild replaces it.
    settings = three_days
    con = duckdb.connect(str(settings.warehouse))
    con.execute("UPDATE intermediate.int_order_states SET store_name = 'kept, not recomputed' WHERE order_id = 'O2'")
    con.close()
    landing.write("orders/2025-03-04/pos.csv", orders("O3,M1,2025-03-03 09:00:00,online,100,0,refunded,100,"))
    assert run_pipeline(settings, D4, D4).success
    names = "SELECT order_id, known_from, status, store_name FROM intermediate.int_order_states ORDER BY 1, 2"
    assert warehouse_rows(settings, names) == [
        ("O1", D1, "paid", None),
        ("O1", D2, "refunded", None),
        ("O2", D1, "paid", "kept, not recomputed"),
        ("O3", D3, "paid", None),
        ("O3", D4, "refunded", None),  # the changed order, recomputed with its new version
    ]
    assert run_pipeline(settings, D4, D4, full_refresh=True).success
    assert ("O2", D1, "paid", None) in warehouse_rows(settings, names)

"""A business key delivered twice with different values is never resolved silently.

Within one landing day nobody can tell which delivery is right: every valid row sharing the key is
quarantined as `conflicting_duplicate`, the detail naming the key, the files and rows and the columns
that differ, never their values. On another landing day it is a correction: it loads (staging's
documented rule decides which version stands) and the load reports it.
"""

from __future__ import annotations

from datetime import date

from assets.ingestion.raw_assets import load_metadata
from retention.landing.contract import EVENTS, MEMBERS, ORDERS
from retention.landing.loader import load_range
from tests.conftest import MEMBERS_HEADER, members_csv

D1, D2 = date(2025, 3, 1), date(2025, 3, 2)
HEADER = "order_id,member_id,order_time,channel,gross_amount,status,updated_at\n"
POS_HEADER = "订单号,会员号,下单时间,渠道,订单金额,订单状态\n"  # a POS export without 更新时间
QUARANTINE = (
    "SELECT source_file, row_number, reason_code, reason_column, reason_detail FROM raw.quarantine "
    "WHERE source = '{source}' ORDER BY source_file, row_number"
)


def _members(landing, settings, warehouse):
    landing.write("members/2025-03-01/crm.csv", members_csv("M1", "M2"))
    load_range(warehouse, MEMBERS, D1, D1, settings)


def _quarantine(warehouse, source="orders"):
    return warehouse.execute(QUARANTINE.format(source=source)).fetchall()


def test_same_key_with_different_amounts_in_two_files_of_a_day_quarantines_both(landing, settings, warehouse):
    _members(landing, settings, warehouse)
    landing.write(
        "orders/2025-03-01/a.csv",
        HEADER + "O1,M1,2025-03-01 09:00:00,store,188.80,paid,2025-03-01 10:00:00\n"
        "O2,M1,2025-03-01 09:30:00,store,50,paid,2025-03-01 10:00:00\n",
    )
    landing.write(
        "orders/2025-03-01/b.csv",
        HEADER + "O3,M2,2025-03-01 11:00:00,store,70,paid,2025-03-01 11:00:00\n"
        "O1,M1,2025-03-01 09:00:00,store,199.90,paid,2025-03-01 10:00:00\n",
    )

    report = load_range(warehouse, ORDERS, D1, D1, settings)

    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (4, 2, 2)
    assert dict(report.reasons) == {"conflicting_duplicate": 2}
    assert warehouse.execute("SELECT order_id FROM raw.orders ORDER BY 1").fetchall() == [("O2",), ("O3",)]
    detail = (
        "order_id O1 updated_at 2025-03-01 10:00:00 delivered with different values in "
        "orders/2025-03-01/a.csv row 1 and orders/2025-03-01/b.csv row 2 (differs in: gross_amount)"
    )
    assert _quarantine(warehouse) == [
        ("orders/2025-03-01/a.csv", 1, "conflicting_duplicate", "gross_amount", detail),
        ("orders/2025-03-01/b.csv", 2, "conflicting_duplicate", "gross_amount", detail),
    ]
    assert "188" not in detail and "199" not in detail
    # read = loaded + quarantined, per file
    assert warehouse.execute(
        "SELECT source_file, rows_read, rows_loaded, rows_quarantined FROM raw.landed_files "
        "WHERE source = 'orders' ORDER BY 1"
    ).fetchall() == [("orders/2025-03-01/a.csv", 2, 1, 1), ("orders/2025-03-01/b.csv", 2, 1, 1)]


def test_without_updated_at_the_empty_version_is_part_of_the_key(landing, settings, warehouse):
    _members(landing, settings, warehouse)
    # Same order, no updated_at column in either export: the key is (O1, NULL) in both files.
    landing.write("orders/2025-03-01/pos.csv", POS_HEADER + "O1,M1,2025/3/1 09:00:00,门店,120,已支付\n", "gbk")
    landing.write(
        "orders/2025-03-01/pos_late.csv",
        POS_HEADER + "O2,M2,2025/3/1 12:00:00,门店,30,已支付\nO1,M1,2025/3/1 09:00:00,门店,150,已退款\n",
        "gbk",
    )

    report = load_range(warehouse, ORDERS, D1, D1, settings)

    assert (report.rows_read, report.rows_loaded, dict(report.reasons)) == (3, 1, {"conflicting_duplicate": 2})
    detail = (
        "order_id O1 updated_at (empty) delivered with different values in orders/2025-03-01/pos.csv row 1 "
        "and orders/2025-03-01/pos_late.csv row 2 (differs in: gross_amount, status)"
    )
    assert [r[:2] + r[3:] for r in _quarantine(warehouse)] == [
        ("orders/2025-03-01/pos.csv", 1, "gross_amount", detail),
        ("orders/2025-03-01/pos_late.csv", 2, "gross_amount", detail),
    ]


def test_exact_copies_stay_duplicate_rows(landing, settings, warehouse):
    _members(landing, settings, warehouse)
    o1 = "O1,M1,2025-03-01 09:00:00,store,100,paid,2025-03-01 10:00:00\n"
    o2 = "O2,M2,2025-03-01 09:00:00,store,40,paid,2025-03-01 10:00:00\n"
    landing.write("orders/2025-03-01/a.csv", HEADER + o1 + o2)
    landing.write("orders/2025-03-01/b.csv", HEADER + o1)  # an exact copy of O1
    # c.csv: an exact copy of O2 and a third O2 that differs: the copy stays a copy, the two versions conflict.
    landing.write("orders/2025-03-01/c.csv", HEADER + o2 + o2.replace(",paid,", ",cancelled,"))

    report = load_range(warehouse, ORDERS, D1, D1, settings)

    assert (report.rows_read, report.rows_loaded) == (5, 1)
    assert dict(report.reasons) == {"duplicate_row": 2, "conflicting_duplicate": 2}
    assert warehouse.execute("SELECT order_id, _source_file FROM raw.orders").fetchall() == [
        ("O1", "orders/2025-03-01/a.csv")
    ]
    conflict = (
        "order_id O2 updated_at 2025-03-01 10:00:00 delivered with different values in "
        "orders/2025-03-01/a.csv row 2 and orders/2025-03-01/c.csv row 2 (differs in: status)"
    )
    assert [r[:3] + r[4:] for r in _quarantine(warehouse)] == [
        ("orders/2025-03-01/a.csv", 2, "conflicting_duplicate", conflict),
        ("orders/2025-03-01/b.csv", 1, "duplicate_row", "exact copy of an earlier row of this landing day"),
        ("orders/2025-03-01/c.csv", 1, "duplicate_row", "exact copy of an earlier row of this landing day"),
        ("orders/2025-03-01/c.csv", 2, "conflicting_duplicate", conflict),
    ]
    assert report.corrected_keys == 0


def test_a_changed_redelivery_on_a_later_day_loads_and_is_reported_as_a_correction(landing, settings, warehouse):
    _members(landing, settings, warehouse)
    landing.write(
        "orders/2025-03-01/pos.csv",
        HEADER + "O1,M1,2025-03-01 09:00:00,store,100,paid,2025-03-01 10:00:00\n"
        "O2,M2,2025-03-01 09:30:00,store,40,paid,2025-03-01 10:00:00\n"
        "O3,M2,2025-03-01 09:40:00,store,60,paid,\n"
        "O4,M2,2025-03-01 09:50:00,store,70,paid,2025-03-01 10:00:00\n",
    )
    # Day 2: O1 again with the same updated_at and a corrected amount; O2 again unchanged (harmless); O3
    # again without updated_at and a corrected amount (the key is (O3, empty) on both days).
    landing.write(
        "orders/2025-03-02/pos.csv",
        HEADER + "O1,M1,2025-03-01 09:00:00,store,110,paid,2025-03-01 10:00:00\n"
        "O2,M2,2025-03-01 09:30:00,store,40,paid,2025-03-01 10:00:00\n"
        "O3,M2,2025-03-01 09:40:00,store,65,paid,\n",
    )
    first = load_range(warehouse, ORDERS, D1, D1, settings)
    assert first.corrected_keys == 0

    report = load_range(warehouse, ORDERS, D2, D2, settings)  # 3 of 7 rows: the range's keys are joined

    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (3, 3, 0)
    assert report.corrected_keys == 2
    assert load_metadata(report)["corrected_keys"] == 2
    assert warehouse.execute(
        "SELECT order_id, _landing_date, gross_amount FROM raw.orders ORDER BY 1, 2"
    ).fetchall() == [
        ("O1", D1, 100), ("O1", D2, 110), ("O2", D1, 40), ("O2", D2, 40), ("O3", D1, 60), ("O3", D2, 65), ("O4", D1, 70)
    ]  # fmt: skip
    # The same count whichever way the days are loaded: day 1 again (4 of 7 rows: one pass over the
    # table), or both days in one batch.
    assert load_range(warehouse, ORDERS, D1, D1, settings).corrected_keys == 2
    assert load_range(warehouse, ORDERS, D1, D2, settings).corrected_keys == 2


def test_an_event_redelivered_with_other_values_is_counted_too(landing, settings, warehouse):
    _members(landing, settings, warehouse)
    event = '{{"event_id": "E1", "member_id": "M1", "event_time": "2025-03-01 08:00:00", "event_type": "{}"}}\n'
    landing.write("events/2025-03-01/app.jsonl", event.format("login"))
    landing.write("events/2025-03-02/app.jsonl", event.format("logout"))

    report = load_range(warehouse, EVENTS, D1, D2, settings)

    assert (report.rows_loaded, report.corrected_keys) == (2, 1)


def test_a_member_state_with_two_mobiles_is_quarantined_without_showing_either(landing, settings, warehouse):
    row = "M1,测试M1,{mobile},2024-01-02 10:00:00,1,2025-03-01 08:00:00\n"
    landing.write("members/2025-03-01/crm_a.csv", MEMBERS_HEADER + row.format(mobile="13800001111"))
    landing.write(
        "members/2025-03-01/crm_b.csv",
        MEMBERS_HEADER
        + "M2,测试M2,13800002222,2024-01-02 10:00:00,1,2025-03-01 08:00:00\n"
        + row.format(mobile="13900003333"),
    )

    report = load_range(warehouse, MEMBERS, D1, D1, settings)

    assert (report.rows_read, report.rows_loaded, dict(report.reasons)) == (3, 1, {"conflicting_duplicate": 2})
    rows = _quarantine(warehouse, "members")
    detail = (
        "member_id M1 updated_at 2025-03-01 08:00:00 delivered with different values in "
        "members/2025-03-01/crm_a.csv row 1 and members/2025-03-01/crm_b.csv row 2 (differs in: mobile)"
    )
    assert rows == [
        ("members/2025-03-01/crm_a.csv", 1, "conflicting_duplicate", "mobile", detail),
        ("members/2025-03-01/crm_b.csv", 2, "conflicting_duplicate", "mobile", detail),
    ]
    assert "13800001111" not in detail and "13900003333" not in detail


def test_hostile_ids_and_file_names_are_escaped_in_the_detail(landing, settings, warehouse):
    _members(landing, settings, warehouse)
    row = "O\x1b[31m|X,M1,2025-03-01 09:00:00,store,{amount},paid,2025-03-01 10:00:00\n"
    landing.write("orders/2025-03-01/a|b.csv", HEADER + row.format(amount=1))
    landing.write("orders/2025-03-01/c.csv", HEADER + row.format(amount=2))

    load_range(warehouse, ORDERS, D1, D1, settings)

    details = {r[4] for r in _quarantine(warehouse)}
    assert details == {
        "order_id O\\x1b[31m\\x7cX updated_at 2025-03-01 10:00:00 delivered with different values in "
        "orders/2025-03-01/a\\x7cb.csv row 1 and orders/2025-03-01/c.csv row 1 (differs in: gross_amount)"
    }

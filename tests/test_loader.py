"""Loading landing days into the real DuckDB warehouse: quarantine, idempotence, late and bad files."""

from __future__ import annotations

from datetime import date

import pytest

from retention.landing.contract import EVENTS, MEMBERS, ORDERS
from retention.landing.loader import LandingError, load_range
from tests.conftest import members_csv

DAY = date(2025, 3, 1)
POS_HEADER = "订单号,会员号,下单时间,渠道,门店名称,订单金额,优惠金额,订单状态\n"
POS_ROWS = [
    'O1,M1,2025/3/1 10:00:00,门店,上海徐汇店,"1,200.50",0,已支付',  # good
    "O2,M9,2025/3/1 10:05:00,门店,上海徐汇店,100,0,已支付",  # unknown_member
    "O3,M1,2025-02-30 11:00:00,门店,北京朝阳店,100,0,已支付",  # bad_timestamp
    'O1,M1,2025/3/1 10:00:00,门店,上海徐汇店,"1,200.50",0,已支付',  # duplicate_row
    "O4,M1,2025/3/1 12:00:00,门店,上海徐汇店,-5,0,已支付",  # negative_amount
    "O5,M2,2025/3/1 12:30:00,门店,上海徐汇店,5000000,0,已支付",  # absurd_amount
    "O6,,2025/3/1 13:00:00,门店,上海徐汇店,10,0,已支付",  # missing_value
    "O7,M2,2025/3/1 14:00:00,电视购物,上海徐汇店,10,0,已支付",  # unknown_code
]
ONLINE_ROWS = [
    '{"order_id": "O8", "member_id": "M2", "order_time": "2025-03-01T09:00:00+08:00", "channel": "app", '
    '"gross_amount": 99.9, "status": "paid"}',
    "not json at all",  # malformed_json
    # inconsistent_amount
    '{"order_id": "O9", "member_id": "M2", "order_time": "2025-03-01 09:30:00", "channel": "online", '
    '"gross_amount": 50, "discount_amount": 80, "status": "paid"}',
]
EXPECTED_REASONS = {
    "unknown_member": 1,
    "bad_timestamp": 1,
    "duplicate_row": 1,
    "negative_amount": 1,
    "absurd_amount": 1,
    "missing_value": 1,
    "unknown_code": 1,
    "malformed_json": 1,
    "inconsistent_amount": 1,
}


@pytest.fixture
def day_with_every_defect(landing, settings, warehouse):
    landing.write("members/2025-03-01/crm.csv", members_csv("M1", "M2"))
    landing.write("orders/2025-03-01/pos.csv", POS_HEADER + "\n".join(POS_ROWS) + "\n", "gbk")
    landing.write("orders/2025-03-01/online.jsonl", "\n".join(ONLINE_ROWS) + "\n")
    load_range(warehouse, MEMBERS, DAY, DAY, settings)


def _counts(con):
    return {
        "raw": con.execute("SELECT count(*) FROM raw.orders").fetchone()[0],
        "quarantine": con.execute("SELECT count(*) FROM raw.quarantine WHERE source = 'orders'").fetchone()[0],
        "files": con.execute("SELECT count(*) FROM raw.landed_files WHERE source = 'orders'").fetchone()[0],
    }


def test_each_defect_lands_in_quarantine_with_its_reason(day_with_every_defect, settings, warehouse):
    report = load_range(warehouse, ORDERS, DAY, DAY, settings)

    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (11, 2, 9)
    assert dict(report.reasons) == EXPECTED_REASONS
    assert sorted(r[0] for r in warehouse.execute("SELECT order_id FROM raw.orders").fetchall()) == ["O1", "O8"]
    rows = warehouse.execute(
        "SELECT source_file, row_number, reason_code FROM raw.quarantine WHERE source = 'orders' ORDER BY 1, 2"
    ).fetchall()
    assert rows == [
        ("orders/2025-03-01/online.jsonl", 2, "malformed_json"),
        ("orders/2025-03-01/online.jsonl", 3, "inconsistent_amount"),
        ("orders/2025-03-01/pos.csv", 2, "unknown_member"),
        ("orders/2025-03-01/pos.csv", 3, "bad_timestamp"),
        ("orders/2025-03-01/pos.csv", 4, "duplicate_row"),
        ("orders/2025-03-01/pos.csv", 5, "negative_amount"),
        ("orders/2025-03-01/pos.csv", 6, "absurd_amount"),
        ("orders/2025-03-01/pos.csv", 7, "missing_value"),
        ("orders/2025-03-01/pos.csv", 8, "unknown_code"),
    ]
    # read = loaded + quarantined, per file, in the manifest
    manifest = warehouse.execute(
        "SELECT source_file, rows_read, rows_loaded, rows_quarantined, encoding FROM raw.landed_files ORDER BY 1"
    ).fetchall()
    assert manifest[1:] == [
        ("orders/2025-03-01/online.jsonl", 3, 1, 2, "utf-8"),
        ("orders/2025-03-01/pos.csv", 8, 1, 7, "gb18030"),
    ]


def test_typed_values_are_parsed_from_every_accepted_spelling(day_with_every_defect, settings, warehouse):
    load_range(warehouse, ORDERS, DAY, DAY, settings)
    rows = warehouse.execute(
        "SELECT order_id, order_time, channel, store_name, gross_amount, status, updated_at FROM raw.orders ORDER BY 1"
    ).fetchall()
    assert [(r[0], str(r[1]), r[2], r[3], float(r[4]), r[5], str(r[6])) for r in rows] == [
        # updated_at was not delivered: raw keeps it NULL (staging decides what stands in for it).
        ("O1", "2025-03-01 10:00:00", "store", "上海徐汇店", 1200.50, "paid", "None"),
        ("O8", "2025-03-01 09:00:00", "app", None, 99.9, "paid", "None"),
    ]


def test_rerunning_a_day_gives_identical_rows(day_with_every_defect, settings, warehouse):
    load_range(warehouse, ORDERS, DAY, DAY, settings)
    first = _counts(warehouse)
    load_range(warehouse, ORDERS, DAY, DAY, settings)
    assert _counts(warehouse) == first == {"raw": 2, "quarantine": 9, "files": 2}


def test_redelivered_file_duplicates_nothing(day_with_every_defect, landing, settings, warehouse):
    load_range(warehouse, ORDERS, DAY, DAY, settings)
    landing.write("orders/2025-03-01/pos_resent.csv", POS_HEADER + "\n".join(POS_ROWS) + "\n", "gbk")
    report = load_range(warehouse, ORDERS, DAY, DAY, settings)
    assert warehouse.execute("SELECT count(*) FROM raw.orders").fetchone()[0] == 2
    # The resent copy: its one good row and the copy of it are duplicates; the rest keep their reasons.
    assert report.reasons["duplicate_row"] == 1 + 2
    assert report.rows_read == 11 + 8 and report.rows_loaded == 2


def test_late_file_is_picked_up_by_rerunning_its_day(day_with_every_defect, landing, settings, warehouse):
    load_range(warehouse, ORDERS, DAY, DAY, settings)
    landing.write(
        "orders/2025-03-01/pos_late.csv", POS_HEADER + "O10,M2,2025/3/1 21:00:00,门店,上海徐汇店,35,0,已支付\n", "gbk"
    )
    load_range(warehouse, ORDERS, DAY, DAY, settings)
    assert _counts(warehouse) == {"raw": 3, "quarantine": 9, "files": 3}


def test_unknown_member_is_recovered_when_the_member_arrives_later(day_with_every_defect, landing, settings, warehouse):
    load_range(warehouse, ORDERS, DAY, DAY, settings)
    landing.write("members/2025-03-02/crm.csv", members_csv("M9", day="2025-03-02"))
    load_range(warehouse, MEMBERS, date(2025, 3, 2), date(2025, 3, 2), settings)
    report = load_range(warehouse, ORDERS, DAY, DAY, settings)
    assert "unknown_member" not in report.reasons
    assert report.rows_loaded == 3


def test_unreadable_file_fails_the_range_and_changes_nothing(day_with_every_defect, landing, settings, warehouse):
    landing.write("orders/2025-03-02/pos.csv", POS_HEADER + "O20,M1,2025/3/2 10:00:00,门店,店,10,0,已支付\n", "gbk")
    load_range(warehouse, ORDERS, DAY, date(2025, 3, 2), settings)
    before = warehouse.execute("SELECT * EXCLUDE (_loaded_at, _run_id) FROM raw.orders ORDER BY order_id").fetchall()
    assert len(before) == 3

    landing.write(
        "orders/2025-03-01/pos_late.csv", POS_HEADER + "O11,M1,2025/3/1 22:00:00,门店,店,10,0,已支付\n", "gbk"
    )
    (settings.landing_dir / "orders/2025-03-02/web.jsonl").write_bytes(b'{"order_id": "O21", "memb')
    (settings.landing_dir / "orders/2025-03-02/pos_extra.csv").write_bytes(b"order_id,member_id\nO22,M1\n")
    with pytest.raises(LandingError) as error:
        load_range(warehouse, ORDERS, DAY, date(2025, 3, 2), settings)

    message = str(error.value)
    assert "2 orders file(s) could not be read" in message
    assert "orders/2025-03-02/web.jsonl: truncated" in message
    assert "orders/2025-03-02/pos_extra.csv: missing required column(s)" in message
    after = warehouse.execute("SELECT * EXCLUDE (_loaded_at, _run_id) FROM raw.orders ORDER BY order_id").fetchall()
    assert after == before
    assert _counts(warehouse) == {"raw": 3, "quarantine": 9, "files": 3}


def test_future_dated_file_fails_the_load_and_changes_nothing(day_with_every_defect, landing, settings, warehouse):
    from retention.landing.files import LandingFileError

    load_range(warehouse, ORDERS, DAY, DAY, settings)
    before = warehouse.execute("SELECT * EXCLUDE (_loaded_at, _run_id) FROM raw.orders ORDER BY order_id").fetchall()

    landing.write(
        "orders/2025-03-01/pos_late.csv", POS_HEADER + "O11,M1,2025/3/1 22:00:00,门店,店,10,0,已支付\n", "gbk"
    )
    landing.write("orders/2099-01-01/pos.csv", POS_HEADER + "O30,M1,2099/1/1 10:00:00,门店,店,10,0,已支付\n", "gbk")
    with pytest.raises(LandingFileError, match=r"^orders/2099-01-01/pos.csv: landing date 2099-01-01 is in the future"):
        load_range(warehouse, ORDERS, DAY, DAY, settings)

    after = warehouse.execute("SELECT * EXCLUDE (_loaded_at, _run_id) FROM raw.orders ORDER BY order_id").fetchall()
    assert after == before
    assert _counts(warehouse) == {"raw": 2, "quarantine": 9, "files": 2}


def test_raw_table_that_drifted_from_the_contract_is_refused(landing, settings, warehouse):
    from retention.landing.loader import LandingSchemaError

    warehouse.execute("CREATE SCHEMA raw")
    warehouse.execute("CREATE TABLE raw.orders (order_id VARCHAR, gross_amount DOUBLE)")
    landing.write("members/2025-03-01/crm.csv", members_csv("M1"))
    with pytest.raises(
        LandingSchemaError,
        match=r"raw.orders does not match the landing contract .*'channel'.*other type \['gross_amount'\]",
    ):
        load_range(warehouse, ORDERS, DAY, DAY, settings)


def test_integer_out_of_bigint_range_is_quarantined_not_a_failed_load(landing, settings, warehouse):
    landing.write("members/2025-03-01/crm.csv", members_csv("M1"))
    landing.write(
        "events/2025-03-01/app.jsonl",
        '{"event_id": "E1", "member_id": "M1", "event_time": "2025-03-01 08:00:00", "event_type": "login", '
        '"dwell_seconds": 12}\n'
        '{"event_id": "E2", "member_id": "M1", "event_time": "2025-03-01 08:01:00", "event_type": "page_view", '
        '"dwell_seconds": 1e20}\n'
        '{"event_id": "E3", "member_id": "M1", "event_time": "2025-03-01 08:02:00", "event_type": "page_view", '
        '"dwell_seconds": "inf"}\n',
    )
    load_range(warehouse, MEMBERS, DAY, DAY, settings)
    report = load_range(warehouse, EVENTS, DAY, DAY, settings)
    assert (report.rows_loaded, dict(report.reasons)) == (1, {"bad_integer": 2})

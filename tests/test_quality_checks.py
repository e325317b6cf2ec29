"""Every Great Expectations suite can fail: each is fed data that breaks it."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pandas as pd

from quality.gx_runner import run_suite, run_suite_in_chunks
from quality.raw_checks import QUARANTINE_RATE, VALID_ROWS, evaluate_raw_checks, load_stats_frame
from quality.raw_suites import load_stats_suite, loaded_rows_suite
from retention.landing.contract import MEMBERS, ORDERS
from retention.landing.loader import load_range


def _orders_frame(**overrides) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "order_id": ["O1", "O2", "O3"],
            "member_id": ["M1", "M1", "M2"],
            "order_time": pd.to_datetime(["2025-03-01 10:00"] * 3),
            "channel": ["store", "app", "online"],
            "gross_amount": [100.0, 20.0, 35.5],
            "discount_amount": [0.0, 5.0, None],
            "status": ["paid", "paid", "refunded"],
            "refund_amount": [None, None, 35.5],
            "updated_at": pd.to_datetime(["2025-03-01 10:00"] * 3),
            "_landing_date": pd.to_datetime(["2025-03-01"] * 3),
            "event_day_offset": [0, 0, 0],
        }
    )
    for column, values in overrides.items():
        frame[column] = values
    return frame


def _failed(outcome):
    return {(f["expectation"], str(f["column"]), f["severity"]) for f in outcome.failures}


def test_clean_orders_pass(settings):
    assert run_suite("orders", _orders_frame(), loaded_rows_suite(ORDERS, settings)).passed


def test_missing_key_unknown_code_and_absurd_amount_fail_with_error(settings):
    bad = _orders_frame(
        member_id=["M1", None, "M2"], channel=["store", "tv", "online"], gross_amount=[100.0, 20.0, 9e9]
    )
    outcome = run_suite("orders", bad, loaded_rows_suite(ORDERS, settings))
    assert outcome.severity == "ERROR"
    assert _failed(outcome) == {
        ("expect_column_values_to_not_be_null", "member_id", "ERROR"),
        ("expect_column_values_to_be_in_set", "channel", "ERROR"),
        ("expect_column_values_to_be_between", "gross_amount", "ERROR"),
    }


def test_duplicate_key_and_events_off_the_landing_day_only_warn(settings):
    bad = _orders_frame(order_id=["O1", "O1", "O3"], event_day_offset=[0, 0, 9])
    outcome = run_suite("orders", bad, loaded_rows_suite(ORDERS, settings))
    assert outcome.severity == "WARN"
    assert _failed(outcome) == {
        ("expect_compound_columns_to_be_unique", "['order_id', 'updated_at', '_landing_date']", "WARN"),
        ("expect_column_values_to_be_between", "event_day_offset", "WARN"),
    }


def test_chunks_are_judged_together(settings):
    """A history is validated in chunks of whole days: an expectation with `mostly` is judged on the pooled
    counts, every other one fails if any chunk breaks it."""
    suite = loaded_rows_suite(ORDERS, settings)  # event_day_offset within +-1 day for at least 98% of rows
    clean = pd.concat([_orders_frame()] * 50, ignore_index=True).assign(
        order_id=[f"O{i}" for i in range(150)], event_day_offset=0
    )  # 150 rows
    late = _orders_frame(order_id=["L1", "L2", "L3"], event_day_offset=[5, 0, 0])  # 1 of 3 late: 33% alone

    pooled = run_suite_in_chunks("orders", [clean, late], suite)  # 1 of 153 late: 0.65%, within 2%
    assert pooled.passed and pooled.rows == 153
    assert not run_suite("orders", late, suite).passed

    broken = _orders_frame(order_id=["B1", "B2", "B3"], channel=["store", "tv", "app"])
    outcome = run_suite_in_chunks("orders", [clean, broken, late], suite)
    assert _failed(outcome) == {("expect_column_values_to_be_in_set", "channel", "ERROR")}
    assert outcome.failures[0]["unexpected_count"] == 1 and outcome.failures[0]["examples"] == ["tv"]


def test_quarantine_rate_above_the_setting_fails(settings):
    stats = pd.DataFrame({"rows_read": [100, 100], "quarantine_rate": [0.01, 0.30]})
    outcome = run_suite("stats", stats, load_stats_suite(settings))
    assert not outcome.passed and outcome.failures[0]["unexpected_count"] == 1


def test_checks_on_a_loaded_day_report_a_mostly_broken_delivery(settings, landing, warehouse):
    """25 orders, 20 of them for unknown members: 80% quarantined > 5% allowed -> blocking ERROR."""
    landing.write("members/2025-03-01/crm.csv", "member_id,registered_at,updated_at\nM1,2024-01-01,2025-03-01 08:00\n")
    rows = [f"O{i},{'M1' if i < 5 else 'M404'},2025-03-01 10:00:00,store,10,paid" for i in range(25)]
    landing.write(
        "orders/2025-03-01/pos.csv",
        "order_id,member_id,order_time,channel,gross_amount,status\n" + "\n".join(rows) + "\n",
    )
    day = date(2025, 3, 1)
    load_range(warehouse, MEMBERS, day, day, settings)
    load_range(warehouse, ORDERS, day, day, settings)

    stats = load_stats_frame(warehouse, ORDERS, day, day, settings)
    assert stats[["rows_read", "rows_quarantined", "duplicate_rows"]].values.tolist() == [[25, 20, 0]]
    assert stats["quarantine_rate"].tolist() == [0.8]
    results = {
        r.check_name: r
        for r in evaluate_raw_checks(warehouse, ORDERS, settings, day, day, dg.AssetKey(["raw", "orders"]))
    }
    assert results[VALID_ROWS].passed
    assert not results[QUARANTINE_RATE].passed
    assert results[QUARANTINE_RATE].severity == dg.AssetCheckSeverity.ERROR


def test_a_suite_draws_no_progress_bars_into_the_log(capfd):
    import great_expectations as gx

    from quality.gx_runner import expect

    outcome = run_suite(
        "quiet", pd.DataFrame({"x": [1, None]}), [expect(gx.expectations.ExpectColumnValuesToNotBeNull, column="x")]
    )
    assert not outcome.passed  # the suite ran and judged
    captured = capfd.readouterr()
    assert "Calculating Metrics" not in captured.err + captured.out

"""Status changes delivered without updated_at, and the risk / KPI history of a range, end to end.

Real files through the loader, a real Dagster run and a real `dbt build`; the expected rows are
worked out by hand in the comments.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import dagster as dg
import pytest

from orchestration.runner import run_pipeline
from tests.conftest import members_csv, warehouse_rows

D1, D2, D3, D4, D5 = (date(2025, 3, day) for day in range(1, 6))

# A POS export in GBK with Chinese headers and no 更新时间 (updated_at) column.
POS_HEADER = "订单号,会员号,下单时间,渠道,订单金额,优惠金额,订单状态,退款金额\n"
TICKET_HEADER = "ticket_id,member_id,opened_at,ticket_type,status,closed_at,content\n"
ORDER_STATUSES = "SELECT order_id, status, net_spend, is_purchase FROM marts.fct_orders ORDER BY 1"
RISK_DAYS = "SELECT as_of_date, count(*) FROM marts.member_churn_risk GROUP BY 1 ORDER BY 1"


def _deliveries(landing):
    landing.write("members/2025-03-01/crm.csv", members_csv("M1", "M2"))
    # O1 paid on day 1, refunded in full on day 5. O2 is free (100 gross, 100 discount).
    landing.write("orders/2025-03-01/pos.csv", POS_HEADER + "O1,M1,2025-03-01 10:00:00,门店,200,20,已支付,\n", "gbk")
    landing.write("orders/2025-03-02/pos.csv", POS_HEADER + "O2,M2,2025-03-02 11:00:00,门店,100,100,已支付,\n", "gbk")
    landing.write("orders/2025-03-05/pos.csv", POS_HEADER + "O1,M1,2025-03-01 10:00:00,门店,200,20,已退款,180\n", "gbk")
    # T1: a complaint closed on day 2, reopened on day 4. T2: a consultation escalated to a complaint on day 3.
    landing.write("tickets/2025-03-01/cs.csv", TICKET_HEADER + "T1,M1,2025-03-01 09:00:00,投诉,待处理,,门店态度差\n")
    landing.write(
        "tickets/2025-03-02/cs.csv",
        TICKET_HEADER
        + "T1,M1,2025-03-01 09:00:00,投诉,已关闭,2025-03-02 10:00:00,门店态度差\n"
        + "T2,M2,2025-03-02 10:00:00,咨询,待处理,,积分怎么用\n",
    )
    landing.write("tickets/2025-03-03/cs.csv", TICKET_HEADER + "T2,M2,2025-03-02 10:00:00,投诉,处理中,,积分怎么用\n")
    landing.write("tickets/2025-03-04/cs.csv", TICKET_HEADER + "T1,M1,2025-03-01 09:00:00,投诉,处理中,,门店态度差\n")


def _member_ids(settings):
    """member_key -> member_id, for readable assertions (the marts carry only the pseudonym)."""
    return dict(warehouse_rows(settings, "SELECT member_key, member_id FROM intermediate.int_members__as_of"))


@pytest.fixture
def small_days(settings, landing, monkeypatch):
    # Two members make tiny days; the quarantine gate has its own tests.
    monkeypatch.setenv("RETENTION_MAX_QUARANTINE_RATE", "1")
    _deliveries(landing)
    return settings


def test_late_status_changes_win_from_their_landing_day_and_history_covers_the_range(small_days, monkeypatch):
    settings = small_days
    # Load all five days, marts as of day 4: the refund (landed day 5) is not known yet.
    assert run_pipeline(settings, D1, D5, as_of_date=D4).success
    assert warehouse_rows(settings, ORDER_STATUSES) == [
        ("O1", "paid", 180, True),
        ("O2", "paid", 0, True),
    ]
    # Raw keeps the missing updated_at as NULL; staging dates the refund by its landing day.
    assert warehouse_rows(settings, "SELECT count(*) FROM raw.orders WHERE updated_at IS NULL") == [(3,)]
    assert warehouse_rows(
        settings, "SELECT status, status_at FROM staging.stg_commerce__orders WHERE order_id = 'O1' ORDER BY 2"
    ) == [
        ("paid", datetime(2025, 3, 1, 10)),
        ("refunded", datetime(2025, 3, 5)),
    ]
    # The history of the range: days 1..4, two members each.
    assert warehouse_rows(settings, RISK_DAYS) == [
        (D1, 2),
        (D2, 2),
        (D3, 2),
        (D4, 2),
    ]

    # Re-running day 5 computes its marts as of day 5: the refund wins, O1 is no purchase.
    assert run_pipeline(settings, D5, D5).success
    assert warehouse_rows(settings, ORDER_STATUSES) == [
        ("O1", "refunded", 0, False),
        ("O2", "paid", 0, True),
    ]
    # The zero-amount order is a purchase: M2 has a BTYD row; M1's only purchase was refunded.
    keys = _member_ids(settings)
    btyd = [
        (keys[k], f, r, t, m)
        for k, f, r, t, m in warehouse_rows(
            settings, 'SELECT member_key, frequency, recency, "T", monetary_value FROM marts.member_btyd_summary'
        )
    ]
    assert btyd == [("M2", 0, 0, 3, 0)]

    # T1 closed on day 2 and reopened on day 4; T2 escalated to a complaint on day 3. Open hours at
    # the end of each day: T1 87 on day 4, 111 on day 5; T2 38 on day 3 (not yet > 48), 62, 86.
    flagged = warehouse_rows(
        settings,
        "SELECT member_key, as_of_date, open_complaint_ticket_id, open_complaint_hours FROM marts.member_churn_risk "
        "WHERE flag_open_complaint ORDER BY 2, 3",
    )
    assert [(keys[k], d, t, h) for k, d, t, h in flagged] == [
        ("M1", D4, "T1", 87),
        ("M2", D4, "T2", 62),
        ("M1", D5, "T1", 111),
        ("M2", D5, "T2", 86),
    ]
    assert warehouse_rows(
        settings, "SELECT ticket_id, ticket_type, status, closed_at FROM marts.fct_service_tickets ORDER BY 1"
    ) == [
        ("T1", "complaint", "in_progress", None),
        ("T2", "complaint", "in_progress", None),
    ]
    assert warehouse_rows(settings, "SELECT count(*) FROM marts.member_kpis_daily") == [(5,)]

    # Re-running a day replaces the whole day, even when the member keys change with the salt.
    monkeypatch.setenv("RETENTION_MEMBER_KEY_SALT", "another-salt")
    assert run_pipeline(settings, D5, D5).success
    assert warehouse_rows(settings, RISK_DAYS) == [
        (D1, 2),
        (D2, 2),
        (D3, 2),
        (D4, 2),
        (D5, 2),
    ]
    assert warehouse_rows(settings, "SELECT count(DISTINCT member_key) FROM marts.member_churn_risk") == [
        (4,)
    ]  # old keys on days 1-4

    # A full refresh recomputes the history of every landed day (with the new keys), instead of erasing it.
    assert run_pipeline(settings, D5, D5, full_refresh=True).success
    assert warehouse_rows(settings, RISK_DAYS) == [
        (D1, 2),
        (D2, 2),
        (D3, 2),
        (D4, 2),
        (D5, 2),
    ]
    assert warehouse_rows(settings, "SELECT count(DISTINCT member_key) FROM marts.member_churn_risk") == [(2,)]
    assert warehouse_rows(settings, "SELECT count(*) FROM marts.member_kpis_daily") == [(5,)]

    # The same history computed in chunks: two members and a budget of 4 member-days make chunks of 2
    # days. A full refresh as of day 4 builds days 1-2 first (replacing the stored history, day 5
    # included), then days 3-4 in the final build; every row equals the one-build history above.
    risk = "SELECT * EXCLUDE (as_of_date), as_of_date FROM marts.member_churn_risk WHERE as_of_date <= '2025-03-04'"
    kpis = "SELECT * FROM marts.member_kpis_daily WHERE as_of_date <= '2025-03-04' ORDER BY 1"
    one_build_rows = sorted(warehouse_rows(settings, risk), key=repr), warehouse_rows(settings, kpis)
    chunked = replace(settings, history_chunk_member_days=4)
    instance = dg.DagsterInstance.ephemeral()
    outcome = run_pipeline(chunked, D1, D5, instance=instance, as_of_date=D4, full_refresh=True)
    assert outcome.success, outcome.failures
    messages = [entry.user_message for entry in instance.all_logs(outcome.run_id)]
    assert any("in 2 chunk(s) of at most 2 days" in m for m in messages), messages
    assert any("History chunk 1/2 (2025-03-01..2025-03-02)" in m for m in messages)
    assert warehouse_rows(settings, RISK_DAYS) == [(D1, 2), (D2, 2), (D3, 2), (D4, 2)]
    assert (sorted(warehouse_rows(settings, risk), key=repr), warehouse_rows(settings, kpis)) == one_build_rows


def test_a_first_build_too_long_for_one_build_is_computed_in_chunks(small_days):
    # A fresh warehouse whose first history needs chunks (a retailer's first load at a million members):
    # two members and a budget of 4 member-days make chunks of 2 days, so days 1-2 are built before
    # the final build. Before the marts and the contract_codes seed exist, the build of what the history
    # reads must not run the tests that read them (it did, and the first load failed).
    chunked = replace(small_days, history_chunk_member_days=4)
    instance = dg.DagsterInstance.ephemeral()
    outcome = run_pipeline(chunked, D1, D5, instance=instance, as_of_date=D4)
    assert outcome.success, outcome.failures
    messages = [entry.user_message for entry in instance.all_logs(outcome.run_id)]
    assert any("History of 4 days (2025-03-01..2025-03-04)" in m and "in 2 chunk(s)" in m for m in messages)
    assert any("History chunk 1/2 (2025-03-01..2025-03-02)" in m for m in messages)
    assert warehouse_rows(chunked, RISK_DAYS) == [(D1, 2), (D2, 2), (D3, 2), (D4, 2)]
    assert warehouse_rows(chunked, "SELECT count(*) FROM marts.member_kpis_daily") == [(4,)]

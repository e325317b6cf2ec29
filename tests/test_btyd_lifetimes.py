"""marts.member_btyd_summary against the real `lifetimes` library, on a hand-made fixture.

The fixture goes through the real pipeline (Dagster ingestion + dbt build); then
scripts/check_btyd_with_lifetimes.py runs in the lifetimes environment (.venv-lifetimes, built by
`make test`: lifetimes needs pandas 1.x) and must find every customer identical.
"""

from __future__ import annotations

import hashlib
import subprocess
from datetime import date

import duckdb
import pytest

from orchestration.runner import run_pipeline
from retention.settings import project_root
from tests.conftest import members_csv

SALT = "btyd-test-salt"
START, AS_OF = date(2025, 3, 1), date(2025, 3, 10)
HEADER = "order_id,member_id,order_time,channel,gross_amount,discount_amount,status,refund_amount,updated_at\n"

# Hand-computed summary as of 2025-03-10 (lifetimes, freq='D'): (frequency, recency, T, monetary_value).
EXPECTED = {
    # 03-01: two orders on one day = one purchase day (100.10 + 49.95); 03-04: 200 - 20 - 30.50 refunded
    # = 149.50; 03-05: refunded in full, no purchase day; 03-09: 10.01. Repeat days 03-04, 03-09.
    "M1": (2, 8, 9, (149.50 + 10.01) / 2),
    # 03-02: 60; 03-08: gross 100, discount 100 = a zero-amount purchase, a repeat day worth 0.
    "M2": (1, 6, 8, 0.0),
    # One-time buyer, at 00:30 local time (the day must not shift); a later cancelled order is no purchase.
    "M3": (0, 0, 7, 0.0),
    # Whose only purchase is zero-amount: a buyer all the same.
    "M4": (0, 0, 5, 0.0),
    # M5 (only a cancelled order) and M6 (only a fully refunded order) are not buyers.
}


def _member_key(member_id: str) -> str:
    return hashlib.sha256(f"{SALT}|{member_id}".encode()).hexdigest()[:20]


def _write_fixture(landing) -> None:
    landing.write("members/2025-03-01/crm.csv", members_csv("M1", "M2", "M3", "M4", "M5", "M6"))
    landing.write(
        "orders/2025-03-01/pos.csv",
        HEADER
        + "O11,M1,2025-03-01 10:00:00,store,100.10,0,paid,,\n"
        + "O12,M1,2025-03-01 18:30:00,online,49.95,,paid,,\n",
    )
    landing.write("orders/2025-03-02/pos.csv", HEADER + "O21,M2,2025-03-02 09:00:00,store,60,0,paid,,\n")
    landing.write("orders/2025-03-03/pos.csv", HEADER + "O31,M3,2025-03-03 00:30:00,app,120,0,paid,,\n")
    landing.write(
        "orders/2025-03-04/pos.csv",
        HEADER
        + "O13,M1,2025-03-04 12:00:00,store,200,20,paid,,\n"
        + "O51,M5,2025-03-04 12:00:00,store,90,0,cancelled,,\n",
    )
    landing.write(
        "orders/2025-03-05/pos.csv",
        HEADER
        + "O14,M1,2025-03-05 15:00:00,online,80,0,paid,,\n"
        + "O41,M4,2025-03-05 11:00:00,store,100,100,paid,,\n"
        + "O61,M6,2025-03-05 16:00:00,store,70,0,paid,,\n",
    )
    # Refunds arrive days later as new versions of the orders: partial for O13, full for O14 and O61.
    landing.write(
        "orders/2025-03-06/pos.csv",
        HEADER
        + "O13,M1,2025-03-04 12:00:00,store,200,20,partially_refunded,30.50,2025-03-06 10:00:00\n"
        + "O61,M6,2025-03-05 16:00:00,store,70,0,refunded,70,2025-03-06 11:00:00\n",
    )
    landing.write(
        "orders/2025-03-07/pos.csv",
        HEADER
        + "O14,M1,2025-03-05 15:00:00,online,80,0,refunded,80,2025-03-07 09:00:00\n"
        + "O32,M3,2025-03-07 10:00:00,store,55,0,cancelled,,\n",
    )
    landing.write("orders/2025-03-08/pos.csv", HEADER + "O22,M2,2025-03-08 14:00:00,store,100,100,paid,,\n")
    landing.write("orders/2025-03-09/pos.csv", HEADER + "O15,M1,2025-03-09 20:00:00,app,10.01,0,paid,,\n")


def _lifetimes_python():
    python = project_root() / ".venv-lifetimes" / "bin" / "python"
    if not python.exists():
        pytest.fail(
            f"{python} is missing: run `make test`, which builds the lifetimes environment "
            "from scripts/lifetimes-constraints.txt"
        )
    return python


def test_btyd_summary_matches_lifetimes_on_every_awkward_case(settings, landing, monkeypatch):
    python = _lifetimes_python()
    monkeypatch.setenv("RETENTION_MEMBER_KEY_SALT", SALT)
    _write_fixture(landing)

    outcome = run_pipeline(settings, START, AS_OF)
    assert outcome.success, outcome.failures

    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        rows = con.execute(
            'SELECT member_key, frequency, recency, "T", CAST(monetary_value AS DOUBLE) FROM marts.member_btyd_summary'
        ).fetchall()
    finally:
        con.close()
    keys = {_member_key(m): m for m in ("M1", "M2", "M3", "M4", "M5", "M6")}
    mart = {keys[key]: tuple(figures) for key, *figures in rows}
    assert set(mart) == set(EXPECTED), mart
    for member, (frequency, recency, t, monetary) in EXPECTED.items():
        assert mart[member][:3] == (frequency, recency, t), member
        assert mart[member][3] == pytest.approx(monetary, abs=1e-9), member

    check = subprocess.run(
        [str(python), str(project_root() / "scripts" / "check_btyd_with_lifetimes.py"), str(settings.warehouse)],
        capture_output=True,
        text=True,
    )
    report = check.stdout + check.stderr
    print(report)
    assert check.returncode == 0, report
    assert "lifetimes 4 customers, mart 4, in both 4" in report
    # The table lists every customer; the zero-amount-only buyer is among them.
    assert _member_key("M4") in report and _member_key("M5") not in report

"""The campaign's settings recorded for the retrospective: one row per campaign, rewritten on every run."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from retention.outreach.campaign import load_campaign
from retention.outreach.campaign_log import ensure_schema, record_campaign

DEFAULT = Path(__file__).resolve().parents[1] / "campaigns" / "winback_2025_autumn.yaml"


def test_the_campaign_is_recorded_once_with_its_measurement_end_offers_codes_and_unit_costs(tmp_path):
    campaign = load_campaign(DEFAULT)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_schema(con)
    record_campaign(con, campaign, "a" * 64, datetime(2025, 8, 15, 3))
    record_campaign(con, campaign, "b" * 64, datetime(2025, 8, 16, 3))  # a re-run replaces, never adds

    assert con.execute(
        "SELECT campaign_id, window_start, window_end, attribution_days, first_wave_id, first_wave_date,"
        " last_wave_date, measurement_end, budget_cny, sms_quota, holdout_share, campaign_file_sha256"
        " FROM outreach.campaigns"
    ).fetchall() == [
        (
            "winback-2025-08",
            date(2025, 8, 1),
            date(2025, 9, 30),
            14,
            "wave_1",
            date(2025, 8, 15),
            date(2025, 9, 15),
            date(2025, 9, 29),  # wave_3 (09-15) + 14 days, inside the window (09-30)
            Decimal("60000.00"),
            1000,
            0.1,
            "b" * 64,
        )
    ]
    offers = con.execute(
        "SELECT offer_id, face_value, coupon_code, benefit_code FROM outreach.offers ORDER BY offer_id"
    ).fetchall()
    assert offers == [
        ("advanced_trial", Decimal("40.00"), None, "BNF_WB_ADVANCED_TRIAL"),
        ("basic_coupon", Decimal("10.00"), "WB25-BC10", None),
        ("final_discount", Decimal("20.00"), "WB25-FD20", None),
        ("login_gift", Decimal("10.00"), None, "BNF_WB_LOGIN_GIFT"),
        ("points_gift", Decimal("15.00"), None, "BNF_WB_POINTS_GIFT"),
        ("premium_trial_week", Decimal("60.00"), None, "BNF_WB_PREMIUM_WEEK"),
        ("repurchase_coupon", Decimal("30.00"), "WB25-RC30", None),
    ]
    assert con.execute("SELECT channel, unit_cost FROM outreach.channels ORDER BY channel").fetchall() == [
        ("call", Decimal("3.0000")),
        ("push", Decimal("0.0000")),
        ("sms", Decimal("0.0500")),
    ]


def test_a_measurement_end_past_the_window_is_cut_at_the_window_end(tmp_path):
    text = DEFAULT.read_text(encoding="utf-8").replace("end: 2025-09-30", "end: 2025-09-20")
    path = tmp_path / "short.yaml"
    path.write_text(text, encoding="utf-8")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_schema(con)
    record_campaign(con, load_campaign(path), "c" * 64, datetime(2025, 8, 15))

    assert con.execute("SELECT measurement_end FROM outreach.campaigns").fetchone() == (date(2025, 9, 20),)

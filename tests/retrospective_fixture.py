# ruff: noqa: E501 (one table row per line reads best)
"""A hand-made retrospective schema (the contract's columns, numbers chosen by hand) for the report tests.

The first batch: 400 treated members (130 won back: 32.5%), 40 holdout members (8: 20.0%), lift +12.5% with the
interval [+3.1%, +18.4%]; 4,567.80 CNY spent of 60,000 (35.14 per member won back). A second campaign's rows
sit in every table and must never show up.
"""

from __future__ import annotations

import duckdb

CAMPAIGN = "winback-2025-08"
OTHER = "other-2025-10"
METHOD = "Newcombe hybrid score interval (Wilson), 95%"

DDL = """
CREATE SCHEMA IF NOT EXISTS retrospective;
CREATE SCHEMA IF NOT EXISTS outreach;
CREATE TABLE main.tiers (tier VARCHAR, tier_name_zh VARCHAR, tier_rank INTEGER);
CREATE TABLE outreach.offers (campaign_id VARCHAR, offer_id VARCHAR, offer_name VARCHAR);
CREATE TABLE retrospective.campaign_retrospective_summary (
    campaign_id VARCHAR, campaign_name VARCHAR, as_of_date DATE, measurement_end DATE, is_final BOOLEAN,
    first_batch_members INTEGER, treated_members INTEGER, holdout_members INTEGER, treated_won_back INTEGER,
    treated_rate DOUBLE, holdout_rate DOUBLE, lift DOUBLE, lift_ci_low DOUBLE, lift_ci_high DOUBLE,
    ci_method VARCHAR, target_rate DOUBLE, meets_target BOOLEAN, budget_cny DECIMAL(18, 2),
    budget_spent DECIMAL(18, 2), cost_per_member_won_back DECIMAL(18, 2));
CREATE TABLE retrospective.campaign_winback_rates (
    campaign_id VARCHAR, scope VARCHAR, dimension VARCHAR, dimension_value VARCHAR, arm VARCHAR,
    members INTEGER, won_back INTEGER, win_back_rate DOUBLE, target_rate DOUBLE, meets_target BOOLEAN);
CREATE TABLE retrospective.campaign_lift (
    campaign_id VARCHAR, scope VARCHAR, dimension VARCHAR, dimension_value VARCHAR, treated_members INTEGER,
    treated_won_back INTEGER, treated_rate DOUBLE, holdout_members INTEGER, holdout_won_back INTEGER,
    holdout_rate DOUBLE, lift DOUBLE, lift_ci_low DOUBLE, lift_ci_high DOUBLE, confidence DOUBLE,
    ci_method VARCHAR, incremental_won_back DOUBLE);
CREATE TABLE retrospective.campaign_channel_comparison (
    campaign_id VARCHAR, channel VARCHAR, members_contacted INTEGER, touches_exported INTEGER,
    touches_delivered INTEGER, delivery_rate DOUBLE, touches_opened INTEGER, open_rate DOUBLE,
    unsubscribes INTEGER, unsubscribe_rate DOUBLE, members_won_back INTEGER, conversion_rate DOUBLE,
    touch_cost DECIMAL(18, 2), redemption_cost DECIMAL(18, 2), total_cost DECIMAL(18, 2),
    cost_per_member_won_back DECIMAL(18, 2), lift DOUBLE, lift_ci_low DOUBLE, lift_ci_high DOUBLE);
CREATE TABLE retrospective.campaign_benefit_usage (
    campaign_id VARCHAR, arm VARCHAR, tier VARCHAR, benefit_code VARCHAR, members_used INTEGER, uses INTEGER,
    rank_in_tier INTEGER);
CREATE TABLE retrospective.campaign_weekly_progress (
    campaign_id VARCHAR, iso_week VARCHAR, week_start DATE, week_end DATE, touches_exported INTEGER,
    touches_delivered INTEGER, touches_opened INTEGER, unsubscribes INTEGER, coupons_redeemed INTEGER,
    benefits_redeemed INTEGER, app_logins INTEGER, repurchase_orders INTEGER, members_won_back_to_date INTEGER,
    win_back_rate_to_date DOUBLE, budget_spent_week DECIMAL(18, 2), budget_spent_to_date DECIMAL(18, 2),
    budget_cny DECIMAL(18, 2));
CREATE TABLE retrospective.campaign_kpis (
    campaign_id VARCHAR, kpi VARCHAR, period VARCHAR, period_start DATE, period_end DATE, value DOUBLE,
    target DOUBLE, target_direction VARCHAR, meets_target BOOLEAN);
-- Member-level: never read by the report.
CREATE TABLE retrospective.campaign_winback (campaign_id VARCHAR, member_key VARCHAR, arm VARCHAR, won_back BOOLEAN);
"""

ROWS: dict[str, list[tuple]] = {
    "main.tiers": [("basic", "基础", 1), ("advanced", "进阶", 2), ("premium", "尊享", 3)],
    "outreach.offers": [
        (CAMPAIGN, "advanced_trial", "进阶会员免费体验一个月"),
        (CAMPAIGN, "repurchase_coupon", "专属复购券 满100减30"),
    ],
    "retrospective.campaign_retrospective_summary": [
        (CAMPAIGN, "2025 年 8–9 月流失会员挽回", "2025-09-30", "2025-09-29", True, 440, 400, 40, 130,
         0.325, 0.2, 0.125, 0.031, 0.184, METHOD, 0.25, True, 60000, 4567.80, 35.14),
        (OTHER, "十月活动", "2025-10-31", "2025-10-30", False, 10, 9, 1, 9,
         0.999, 0.0, 0.999, 0.9, 0.999, METHOD, 0.25, True, 1, 1, 1),
    ],
    "retrospective.campaign_winback_rates": [
        (CAMPAIGN, "first_batch", "overall", "all", "treated", 400, 130, 0.325, 0.25, True),
        (CAMPAIGN, "first_batch", "overall", "all", "holdout", 40, 8, 0.2, 0.25, None),
        (CAMPAIGN, "first_batch", "tier", "basic", "treated", 100, 20, 0.2, 0.25, False),
        (CAMPAIGN, "first_batch", "tier", "basic", "holdout", 10, 1, 0.1, 0.25, None),
        (CAMPAIGN, "first_batch", "tier", "advanced", "treated", 200, 70, 0.35, 0.25, True),
        (CAMPAIGN, "first_batch", "tier", "advanced", "holdout", 20, 4, 0.2, 0.25, None),
        (CAMPAIGN, "first_batch", "tier", "premium", "treated", 100, 40, 0.4, 0.25, True),
        (CAMPAIGN, "first_batch", "tier", "premium", "holdout", 10, 3, 0.3, 0.25, None),
        (CAMPAIGN, "first_batch", "channel", "call", "treated", 60, 27, 0.45, 0.25, True),
        (CAMPAIGN, "first_batch", "channel", "call", "holdout", 6, 2, 2 / 6, 0.25, None),
        (CAMPAIGN, "first_batch", "channel", "sms", "treated", 240, 72, 0.3, 0.25, True),
        (CAMPAIGN, "first_batch", "channel", "sms", "holdout", 24, 5, 5 / 24, 0.25, None),
        (CAMPAIGN, "first_batch", "channel", "push", "treated", 300, 90, 0.3, 0.25, True),
        (CAMPAIGN, "first_batch", "channel", "push", "holdout", 30, 6, 0.2, 0.25, None),
        (CAMPAIGN, "first_batch", "reason", "competitor", "treated", 80, 20, 0.25, 0.25, True),
        (CAMPAIGN, "first_batch", "reason", "competitor", "holdout", 8, 1, 0.125, 0.25, None),
        (CAMPAIGN, "first_batch", "reason", "frequency_drop", "treated", 320, 110, 0.34375, 0.25, True),
        (CAMPAIGN, "first_batch", "reason", "frequency_drop", "holdout", 32, 7, 0.21875, 0.25, None),
        (CAMPAIGN, "first_batch", "offer", "advanced_trial", "treated", 80, 20, 0.25, 0.25, True),
        (CAMPAIGN, "first_batch", "offer", "advanced_trial", "holdout", 8, 1, 0.125, 0.25, None),
        (CAMPAIGN, "first_batch", "offer", "repurchase_coupon", "treated", 320, 110, 0.34375, 0.25, True),
        (CAMPAIGN, "first_batch", "offer", "repurchase_coupon", "holdout", 32, 7, 0.21875, 0.25, None),
        (CAMPAIGN, "wave_1", "overall", "all", "treated", 400, 100, 0.25, 0.25, True),
        (CAMPAIGN, "wave_1", "overall", "all", "holdout", 40, 6, 0.15, 0.25, None),
        (CAMPAIGN, "wave_2", "overall", "all", "treated", 250, 20, 0.08, 0.25, False),
        (CAMPAIGN, "wave_2", "overall", "all", "holdout", 34, 2, 2 / 34, 0.25, None),
        (OTHER, "first_batch", "overall", "all", "treated", 9, 9, 0.999, 0.25, True),
    ],
    "retrospective.campaign_lift": [
        (CAMPAIGN, "first_batch", "overall", "all", 400, 130, 0.325, 40, 8, 0.2, 0.125, 0.031, 0.184, 0.95, METHOD, 50.0),
        (CAMPAIGN, "first_batch", "channel", "call", 60, 27, 0.45, 6, 2, 2 / 6, 0.45 - 2 / 6, -0.25, 0.42, 0.95, METHOD, 7.0),
        (CAMPAIGN, "first_batch", "channel", "sms", 240, 72, 0.3, 24, 5, 5 / 24, 0.3 - 5 / 24, -0.09, 0.22, 0.95, METHOD, 22.0),
        (CAMPAIGN, "first_batch", "channel", "push", 300, 90, 0.3, 30, 6, 0.2, 0.1, -0.07, 0.21, 0.95, METHOD, 30.0),
        (OTHER, "first_batch", "overall", "all", 9, 9, 0.999, 1, 0, 0.0, 0.999, 0.9, 0.999, 0.95, METHOD, 9.0),
    ],
    "retrospective.campaign_channel_comparison": [
        (CAMPAIGN, "call", 60, 60, 60, 1.0, 45, 0.75, 0, 0.0, 27, 0.45, 180.00, 540.00, 720.00, 26.67,
         0.45 - 2 / 6, -0.25, 0.42),
        (CAMPAIGN, "sms", 240, 240, 228, 0.95, 48, 0.2, 12, 0.05, 72, 0.3, 12.00, 1400.00, 1412.00, 19.61,
         0.3 - 5 / 24, -0.09, 0.22),
        (CAMPAIGN, "push", 300, 300, 270, 0.9, 54, 0.2, 3, 0.01, 90, 0.3, 0.00, 2435.80, 2435.80, 27.06,
         0.1, -0.07, 0.21),
        (OTHER, "call", 9, 9, 9, 1.0, 9, 1.0, 0, 0.0, 9, 0.999, 1, 1, 1, 1, 0.999, 0.9, 0.999),
    ],
    "retrospective.campaign_benefit_usage": [
        (CAMPAIGN, "treated", "basic", "BNF_WB_LOGIN_GIFT", 12, 15, 1),
        (CAMPAIGN, "treated", "premium", "BNF_WB_PREMIUM_WEEK", 30, 41, 1),
        (CAMPAIGN, "treated", "premium", "BNF_WB_POINTS_GIFT", 8, 8, 2),
        (CAMPAIGN, "holdout", "premium", "BNF_WB_POINTS_GIFT", 1, 1, 1),
        (OTHER, "treated", "basic", "BNF_OTHER_CAMPAIGN", 9, 9, 1),
    ],
    "retrospective.campaign_weekly_progress": [
        (CAMPAIGN, "2025-W33", "2025-08-11", "2025-08-17", 600, 558, 147, 15, 10, 5, 40, 12, 20, 0.05, 730.00, 730.00, 60000),
        (CAMPAIGN, "2025-W34", "2025-08-18", "2025-08-24", 0, 0, 0, 0, 30, 12, 90, 45, 70, 0.175, 1200.00, 1930.00, 60000),
        (CAMPAIGN, "2025-W35", "2025-08-25", "2025-08-31", 250, 240, 60, 2, 20, 20, 70, 30, 104, 0.26, 500.00, 2430.00, 60000),
        (CAMPAIGN, "2025-W36", "2025-09-01", "2025-09-07", 0, 0, 0, 0, 15, 9, 50, 21, 130, 0.325, 2137.80, 4567.80, 60000),
        (OTHER, "2025-W40", "2025-09-29", "2025-10-05", 9, 9, 9, 9, 9, 9, 9, 9, 9, 0.999, 1, 1, 1),
    ],
    "retrospective.campaign_kpis": [
        (CAMPAIGN, "core_repurchase_rate", "campaign", "2025-08-01", "2025-09-30", 0.38, 0.35, "at_least", True),
        (CAMPAIGN, "core_repurchase_rate", "before", "2025-06-01", "2025-07-31", 0.31, 0.35, "at_least", False),
        (CAMPAIGN, "unsubscribe_rate", "campaign", "2025-08-01", "2025-09-30", 0.02, 0.08, "at_most", True),
        (CAMPAIGN, "unsubscribe_rate", "before", "2025-06-01", "2025-07-31", None, 0.08, "at_most", None),
        (CAMPAIGN, "churn_rate", "campaign", "2025-08-01", "2025-09-30", 0.12, None, None, None),
        (CAMPAIGN, "churn_rate", "before", "2025-06-01", "2025-07-31", 0.15, None, None, None),
        (OTHER, "churn_rate", "campaign", "2025-10-01", "2025-10-31", 0.999, None, None, None),
    ],
    "retrospective.campaign_winback": [(CAMPAIGN, "MK-SECRET-0001", "treated", True)],
}  # fmt: skip


def build_retrospective(con: duckdb.DuckDBPyConnection, only: tuple[str, ...] | None = None) -> None:
    """Create the tables and rows above (`only`: just these tables, the others are not created)."""
    for statement in DDL.split(";"):
        table = statement.split("TABLE", 1)[1].split("(", 1)[0].strip() if "CREATE TABLE" in statement else None
        if statement.strip() and (table is None or only is None or table in only):
            con.execute(statement)
    for table, rows in ROWS.items():
        if only is None or table in only:
            placeholders = ", ".join("?" * len(rows[0]))
            con.executemany(f"INSERT INTO {table} VALUES ({placeholders})", rows)

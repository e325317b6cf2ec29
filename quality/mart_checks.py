"""Dagster asset checks on the marts, built on the Great Expectations mart suites.

Each check reads a narrow projection of its mart through a read-only connection after dbt has
built it; none holds a connection while dbt runs.
"""

from __future__ import annotations

import importlib

import dagster as dg

from retention.resources import RetentionResource

# Mart -> (projection the suite reads, suite in quality.mart_suites). Suites are looked up when a check
# runs: importing Great Expectations takes about 5 s, too long for every load of the code location.
MART_SUITES: dict[str, tuple[str, str]] = {
    "dim_members": (
        "SELECT member_key, tier, value_segment, lifecycle_stage, CAST(spend_12m AS DOUBLE) AS spend_12m "
        "FROM marts.dim_members",
        "dim_members_suite",
    ),
    "member_rfm": (
        "SELECT member_key, r_score, f_score, m_score, recency_days, segment FROM marts.member_rfm",
        "member_rfm_suite",
    ),
    "member_btyd_summary": (
        'SELECT member_key, frequency, recency, "T", monetary_value FROM marts.member_btyd_summary',
        "member_btyd_suite",
    ),
    "member_churn_risk": (
        "SELECT as_of_date, member_key, flag_count, risk_level FROM marts.member_churn_risk "
        "WHERE as_of_date = (SELECT max(as_of_date) FROM marts.member_churn_risk)",
        "member_churn_risk_suite",
    ),
}


def _build_check(mart: str, sql: str, suite: str) -> dg.AssetChecksDefinition:
    key = dg.AssetKey(["marts", mart])

    @dg.asset_check(
        asset=key,
        name=f"gx_{mart}",
        description=f"Great Expectations suite `{suite}` on marts.{mart}.",
    )
    def _check(retention: RetentionResource) -> dg.AssetCheckResult:
        from quality.check_results import suite_check_result
        from quality.gx_runner import run_suite

        expectations = getattr(importlib.import_module("quality.mart_suites"), suite)(retention.settings())
        with retention.connect(read_only=True) as con:
            frame = con.execute(sql).df()
        outcome = run_suite(f"marts_{mart}", frame, expectations)
        return suite_check_result(key, f"gx_{mart}", outcome)

    return _check


def build_mart_checks() -> list[dg.AssetChecksDefinition]:
    return [_build_check(mart, sql, suite) for mart, (sql, suite) in MART_SUITES.items()]

"""Great Expectations suites for the marts: the properties BI users and the outreach stage rely on."""

from __future__ import annotations

import great_expectations as gx

from quality.gx_runner import expect
from retention.settings import Settings

E = gx.expectations

TIERS = ["basic", "advanced", "premium"]
VALUE_SEGMENTS = ["core", "active", "dormant", "other"]
LIFECYCLE_STAGES = ["new", "active", "dormant", "churned"]
RISK_LEVELS = ["high", "medium", "low"]


def dim_members_suite(settings: Settings) -> list:
    return [
        expect(E.ExpectTableRowCountToBeBetween, min_value=1),
        expect(E.ExpectColumnValuesToBeUnique, column="member_key"),
        expect(E.ExpectColumnValuesToNotBeNull, column="member_key"),
        expect(E.ExpectColumnValuesToBeInSet, column="tier", value_set=TIERS),
        expect(E.ExpectColumnValuesToNotBeNull, column="tier"),
        expect(E.ExpectColumnValuesToBeInSet, column="value_segment", value_set=VALUE_SEGMENTS),
        expect(E.ExpectColumnValuesToBeInSet, column="lifecycle_stage", value_set=LIFECYCLE_STAGES),
        expect(E.ExpectColumnValuesToBeBetween, column="spend_12m", min_value=0),
    ]


def member_rfm_suite(settings: Settings) -> list:
    return [
        expect(E.ExpectColumnValuesToBeUnique, column="member_key"),
        *[expect(E.ExpectColumnValuesToBeBetween, column=c, min_value=1) for c in ("r_score", "f_score", "m_score")],
        expect(E.ExpectColumnValuesToBeBetween, column="recency_days", min_value=0),
        expect(E.ExpectColumnValuesToNotBeNull, column="segment"),
    ]


def member_btyd_suite(settings: Settings) -> list:
    return [
        expect(E.ExpectColumnValuesToBeUnique, column="member_key"),
        expect(E.ExpectColumnValuesToBeBetween, column="frequency", min_value=0),
        expect(E.ExpectColumnValuesToBeBetween, column="recency", min_value=0),
        expect(E.ExpectColumnPairValuesAToBeGreaterThanB, column_A="T", column_B="recency", or_equal=True),
        expect(E.ExpectColumnValuesToBeBetween, column="monetary_value", min_value=0),
    ]


def member_churn_risk_suite(settings: Settings) -> list:
    """On the latest as-of day: consistent flags, and a high-risk list of plausible size (warning)."""
    return [
        expect(E.ExpectCompoundColumnsToBeUnique, column_list=["as_of_date", "member_key"]),
        expect(E.ExpectColumnValuesToBeBetween, column="flag_count", min_value=0, max_value=5),
        expect(E.ExpectColumnValuesToBeInSet, column="risk_level", value_set=RISK_LEVELS),
        expect(
            E.ExpectColumnValuesToBeInSet,
            "WARN",
            column="risk_level",
            value_set=["medium", "low"],
            mostly=1 - settings.max_high_risk_share,
        ),
    ]

"""Great Expectations suites for the marts: the properties BI users and the outreach stage rely on.

Accepted values come from the dbt seeds, the lists dbt's own tests use: tiers.csv, rfm_segments.csv, and
mart_codes.csv for the enumerated columns without a seed of their own. They are read when a suite is built,
i.e. when its check runs, never at import.
"""

from __future__ import annotations

import csv
from pathlib import Path

import great_expectations as gx

from quality.gx_runner import expect
from retention.settings import Settings, project_root

E = gx.expectations


def seeds_dir() -> Path:
    return project_root() / "dbt_project" / "seeds"


def seed_values(seed: str, column: str, seeds: Path | None = None, **where: str) -> list[str]:
    """The values of `column` in the dbt seed `<seed>.csv` (rows matching `where`), read when a suite is built,
    i.e. when its check runs: the seeds are the one list of accepted codes for dbt and for these suites."""
    path = (seeds or seeds_dir()) / f"{seed}.csv"
    with path.open(encoding="utf-8", newline="") as f:
        values = [row[column] for row in csv.DictReader(f) if all(row[k] == v for k, v in where.items())]
    if not values:
        raise ValueError(f"{path} has no {column} for {where}")
    return values


def mart_codes(model: str, column: str, seeds: Path | None = None) -> list[str]:
    """Accepted codes of an enumerated mart column without a seed of its own (seeds/mart_codes.csv)."""
    return seed_values("mart_codes", "code", seeds, model=model, column_name=column)


def dim_members_suite(settings: Settings, seeds: Path | None = None) -> list:
    accepted = {
        "tier": seed_values("tiers", "tier", seeds),
        "value_segment": mart_codes("dim_members", "value_segment", seeds),
        "lifecycle_stage": mart_codes("dim_members", "lifecycle_stage", seeds),
    }
    return [
        expect(E.ExpectTableRowCountToBeBetween, min_value=1),
        expect(E.ExpectColumnValuesToBeUnique, column="member_key"),
        expect(E.ExpectColumnValuesToNotBeNull, column="member_key"),
        expect(E.ExpectColumnValuesToNotBeNull, column="tier"),
        *[expect(E.ExpectColumnValuesToBeInSet, column=c, value_set=codes) for c, codes in accepted.items()],
        expect(E.ExpectColumnValuesToBeBetween, column="spend_12m", min_value=0),
    ]


def member_rfm_suite(settings: Settings, seeds: Path | None = None) -> list:
    segments = seed_values("rfm_segments", "segment", seeds)
    return [
        expect(E.ExpectColumnValuesToBeUnique, column="member_key"),
        *[expect(E.ExpectColumnValuesToBeBetween, column=c, min_value=1) for c in ("r_score", "f_score", "m_score")],
        expect(E.ExpectColumnValuesToBeBetween, column="recency_days", min_value=0),
        expect(E.ExpectColumnValuesToNotBeNull, column="segment"),
        expect(E.ExpectColumnValuesToBeInSet, column="segment", value_set=segments),
    ]


def member_btyd_suite(settings: Settings, seeds: Path | None = None) -> list:
    return [
        expect(E.ExpectColumnValuesToBeUnique, column="member_key"),
        expect(E.ExpectColumnValuesToBeBetween, column="frequency", min_value=0),
        expect(E.ExpectColumnValuesToBeBetween, column="recency", min_value=0),
        expect(E.ExpectColumnPairValuesAToBeGreaterThanB, column_A="T", column_B="recency", or_equal=True),
        expect(E.ExpectColumnValuesToBeBetween, column="monetary_value", min_value=0),
    ]


def member_churn_risk_suite(settings: Settings, seeds: Path | None = None) -> list:
    """On the latest as-of day: consistent flags, and a high-risk list of plausible size (warning)."""
    risk_levels = mart_codes("member_churn_risk", "risk_level", seeds)
    return [
        expect(E.ExpectCompoundColumnsToBeUnique, column_list=["as_of_date", "member_key"]),
        expect(E.ExpectColumnValuesToBeBetween, column="flag_count", min_value=0, max_value=5),
        expect(E.ExpectColumnValuesToBeInSet, column="risk_level", value_set=risk_levels),
        expect(
            E.ExpectColumnValuesToBeInSet,
            "WARN",
            column="risk_level",
            value_set=[level for level in risk_levels if level != "high"],
            mostly=1 - settings.max_high_risk_share,
        ),
    ]

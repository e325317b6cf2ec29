"""How well the high-risk list finds the members who are really drifting away.

On generated data the answer key (`member_personas.csv` in the ground-truth folder, column `drifts_away`)
says who declines, churns or switches to a competitor; this asset scores the latest `member_churn_risk` day
against it, so tuning a threshold has a number. It reads the answer key as data: nothing here imports the
generator. On a retailer's own data there is no answer key: the asset is then left out of the daily job
(orchestration/jobs.py) and, materialized by hand, says so.
"""

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from assets.owners import owners
from retention.resources import RetentionResource

PERSONAS_FILE = "member_personas.csv"
ANSWER_COLUMN = "drifts_away"
EVALUATION_GROUP = "evaluation"
RISK_MART = dg.AssetKey(["marts", "member_churn_risk"])
MEMBERS_AS_OF = dg.AssetKey(["intermediate", "int_members__as_of"])


def has_answer_key(ground_truth_dir: Path) -> bool:
    return (ground_truth_dir / PERSONAS_FILE).is_file()


@dataclass(frozen=True)
class RiskRecovery:
    as_of_date: str
    members: int
    at_risk: int  # members of a drifting persona (the positives)
    flagged_high: int
    true_positives: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.flagged_high if self.flagged_high else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.at_risk if self.at_risk else 0.0


def risk_recovery(con: duckdb.DuckDBPyConnection, personas_csv: str) -> RiskRecovery:
    """Score the latest as-of day of marts.member_churn_risk against the answer key's `drifts_away`."""
    row = con.execute(
        f"""
        WITH truth AS (
          SELECT member_id, {ANSWER_COLUMN} AS is_at_risk
          FROM read_csv($personas, header = true, types = {{'member_id': 'VARCHAR', '{ANSWER_COLUMN}': 'BOOLEAN'}})
        ), latest AS (
          SELECT * FROM marts.member_churn_risk WHERE as_of_date = (SELECT max(as_of_date) FROM marts.member_churn_risk)
        )
        SELECT any_value(latest.as_of_date)::VARCHAR, count(*),
          count(*) FILTER (WHERE truth.is_at_risk),
          count(*) FILTER (WHERE latest.risk_level = 'high'),
          count(*) FILTER (WHERE truth.is_at_risk AND latest.risk_level = 'high')
        FROM latest
        JOIN intermediate.int_members__as_of AS members USING (member_key)
        JOIN truth USING (member_id)
        """,
        {"personas": personas_csv},
    ).fetchone()
    return RiskRecovery(*row)


@dg.asset(
    key=["evaluation", "risk_recovery"],
    deps=[RISK_MART, MEMBERS_AS_OF],
    group_name=EVALUATION_GROUP,
    owners=owners(EVALUATION_GROUP),
    kinds={"duckdb"},
    description="Precision and recall of the high-risk list against the answer key of generated data "
    f"({PERSONAS_FILE}, column {ANSWER_COLUMN}), for the latest as-of day of member_churn_risk. In the daily "
    "job only where an answer key exists.",
)
def risk_recovery_evaluation(context: dg.AssetExecutionContext, retention: RetentionResource) -> dg.MaterializeResult:
    ground_truth = retention.settings().ground_truth_dir
    personas = ground_truth / PERSONAS_FILE
    if not has_answer_key(ground_truth):
        return dg.MaterializeResult(metadata={"ground_truth": f"none at {personas} (real data has no answer key)"})
    with personas.open(encoding="utf-8") as answer_key:
        header = answer_key.readline().strip().split(",")
    if ANSWER_COLUMN not in header:
        raise dg.Failure(
            f"the answer key {personas} has no column {ANSWER_COLUMN} (an older generator wrote it): "
            "generate the demo data again"
        )
    with retention.connect(read_only=True) as con:
        result = risk_recovery(con, str(personas))
    context.log.info(f"high-risk list vs personas: precision {result.precision:.2f}, recall {result.recall:.2f}")
    return dg.MaterializeResult(
        metadata={
            "as_of_date": result.as_of_date,
            "precision": round(result.precision, 4),
            "recall": round(result.recall, 4),
            "members": result.members,
            "at_risk_members": result.at_risk,
            "flagged_high": result.flagged_high,
            "true_positives": result.true_positives,
        }
    )

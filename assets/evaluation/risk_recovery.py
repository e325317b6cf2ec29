"""How well the high-risk list finds the members who are really drifting away.

On generated data the generator's answer key says who declines, churns or switches to a competitor;
this asset scores the latest `member_churn_risk` day against it, so tuning a threshold has a number.
On a retailer's own data there is no answer key and the asset says so.
"""

from dataclasses import dataclass

import dagster as dg
import duckdb

from retention.generator.personas import AT_RISK_PERSONAS
from retention.resources import RetentionResource

PERSONAS_FILE = "member_personas.csv"


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
    """Score the latest as-of day of marts.member_churn_risk against the generator's personas."""
    row = con.execute(
        """
        WITH truth AS (
          SELECT member_id, persona IN (SELECT unnest($at_risk)) AS is_at_risk
          FROM read_csv(
            $personas, header = true,
            columns = {'member_id': 'VARCHAR', 'persona': 'VARCHAR', 'change_date': 'VARCHAR'}
          )
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
        {"personas": personas_csv, "at_risk": list(AT_RISK_PERSONAS)},
    ).fetchone()
    return RiskRecovery(*row)


@dg.asset(
    key=["evaluation", "risk_recovery"],
    deps=[dg.AssetKey(["marts", "member_churn_risk"])],
    group_name="evaluation",
    kinds={"duckdb"},
    description="Precision and recall of the high-risk list against the demo generator's answer key "
    f"(personas {', '.join(AT_RISK_PERSONAS)}), for the latest as-of day of member_churn_risk.",
)
def risk_recovery_evaluation(context: dg.AssetExecutionContext, retention: RetentionResource) -> dg.MaterializeResult:
    personas = retention.settings().ground_truth_dir / PERSONAS_FILE
    if not personas.exists():
        return dg.MaterializeResult(metadata={"ground_truth": f"none at {personas} (real data has no answer key)"})
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

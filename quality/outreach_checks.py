"""Asset checks on the outreach log, run with Great Expectations after each build of the batches.

They guard what a campaign promises its members and its budget holder, on the durable log rather than
on the plan that produced it: one touch per member, wave and channel; control members never contacted;
no member over the monthly cap; the campaign's expected cost within its budget.
"""

from __future__ import annotations

import dagster as dg

from retention.outreach.campaign import CHANNELS, load_campaign
from retention.resources import RetentionResource

OUTREACH_BATCHES = dg.AssetKey(["outreach", "winback_batches"])

TOUCHES_SQL = """
SELECT campaign_id, wave_id, member_key, channel, status, is_holdout, status = 'holdout' AS status_is_holdout
FROM outreach.touches WHERE campaign_id = $campaign
"""
# Exported touches per member and calendar month over every campaign, against the smallest cap any of
# them was planned under.
CAPS_SQL = """
SELECT member_key, date_trunc('month', send_date) AS month, count(*) AS touches, min(monthly_cap) AS cap
FROM outreach.touches WHERE status = 'exported' GROUP BY ALL
"""
CAMPAIGN_SQL = """
SELECT
    coalesce(sum(expected_cost) FILTER (WHERE outcome = 'treated'), 0)::DOUBLE AS expected_cost,
    (SELECT count(*) FROM (
        SELECT member_key FROM outreach.touches WHERE campaign_id = $campaign
        GROUP BY member_key HAVING bool_or(status = 'exported') AND bool_or(status = 'holdout')
    )) AS holdout_members_contacted
FROM outreach.targets WHERE campaign_id = $campaign
"""


def _suites(campaign) -> dict[str, tuple[str, dict, list]]:
    import great_expectations as gx

    from quality.gx_runner import expect

    E = gx.expectations
    params = {"campaign": campaign.campaign_id}
    return {
        "touch_log_consistent": (
            TOUCHES_SQL,
            params,
            [
                expect(
                    E.ExpectCompoundColumnsToBeUnique, column_list=["campaign_id", "wave_id", "member_key", "channel"]
                ),
                expect(E.ExpectColumnValuesToBeInSet, column="channel", value_set=list(CHANNELS)),
                expect(E.ExpectColumnValuesToBeInSet, column="status", value_set=["exported", "holdout"]),
                expect(E.ExpectColumnPairValuesToBeEqual, column_A="is_holdout", column_B="status_is_holdout"),
            ],
        ),
        "monthly_caps_respected": (
            CAPS_SQL,
            {},
            [expect(E.ExpectColumnPairValuesAToBeGreaterThanB, column_A="cap", column_B="touches", or_equal=True)],
        ),
        "budget_and_holdout_respected": (
            CAMPAIGN_SQL,
            params,
            [
                expect(
                    E.ExpectColumnValuesToBeBetween, column="expected_cost", min_value=0, max_value=campaign.budget_cny
                ),
                expect(E.ExpectColumnValuesToBeBetween, column="holdout_members_contacted", min_value=0, max_value=0),
            ],
        ),
    }


DESCRIPTIONS = {
    "touch_log_consistent": "One touch per member, wave and channel; known channels and statuses; the "
    "holdout flag agrees with the status.",
    "monthly_caps_respected": "No member has more exported touches in a calendar month (any campaign) than the "
    "cap they were planned under (caps.high_value / caps.others).",
    "budget_and_holdout_respected": "The campaign's expected offer cost is within budget_cny, and no member "
    "of the holdout was ever contacted.",
}


def _build_check(name: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=OUTREACH_BATCHES, name=name, description=DESCRIPTIONS[name])
    def _check(retention: RetentionResource) -> dg.AssetCheckResult:
        from quality.check_results import suite_check_result
        from quality.gx_runner import run_suite

        campaign = load_campaign(retention.settings().campaign_file)
        sql, params, expectations = _suites(campaign)[name]
        with retention.connect(read_only=True) as con:
            frame = con.execute(sql, params).df()
        outcome = run_suite(f"outreach_{name}", frame, expectations)
        return suite_check_result(OUTREACH_BATCHES, name, outcome)

    return _check


def build_outreach_checks() -> list[dg.AssetChecksDefinition]:
    return [_build_check(name) for name in DESCRIPTIONS]

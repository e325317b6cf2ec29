"""The retrospective marts on the real pipeline: the small demo's March campaign, run through the first wave's
date, then one more day with a hand-written feedback file landing in it (one receipt that matches a touch, one
for an unknown batch, one for a holdout member). Structural truths of the real tables, and where each receipt
went; the hand-computed cases are the dbt unit tests beside the models (run by the same `dbt build`)."""

from __future__ import annotations

import dataclasses
from datetime import date

import dagster as dg
import duckdb
import polars as pl

from retention.generator import generate
from retention.runner import run_pipeline
from tests.test_demo_pipeline import march_campaign

START, WAVE_1, NEXT_DAY = date(2025, 1, 1), date(2025, 3, 3), date(2025, 3, 4)
WAVE_1_DIR = ("outreach", "winback-2025-08", "wave_1")
BATCH = "winback-2025-08-wave_1-20250303"


def feedback_csv(rows: list[tuple[str, str, str, str, str, str]]) -> str:
    header = "message_id,batch_id,member_id,channel,status,event_time\n"
    return header + "".join(",".join(row) + "\n" for row in rows)


def test_retrospective_marts_on_the_demo_campaign(settings, tmp_path):
    settings = dataclasses.replace(settings, max_quarantine_rate=0.25, campaign_file=march_campaign(tmp_path))
    generate(settings.landing_dir, members=400, start=START, end=NEXT_DAY, seed=11, truth_dir=settings.ground_truth_dir)
    instance = dg.DagsterInstance.ephemeral()
    first = run_pipeline(settings, START, WAVE_1, instance=instance)
    assert first.success, first.failures

    # A push touch of a treated member (the channel file names the member), and a holdout member's planned touch.
    push = pl.read_parquet(settings.export_dir.joinpath(*WAVE_1_DIR) / f"{BATCH}_push.parquet").sort("touch_id")
    treated_touch, treated_member = push["touch_id"][0], push["member_id"][0]
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    holdout_touch, holdout_member = con.execute(
        "SELECT t.touch_id, m.member_id FROM outreach.touches AS t"
        " JOIN intermediate.int_members__as_of AS m USING (member_key)"
        " WHERE t.wave_id = 'wave_1' AND t.status = 'holdout' ORDER BY t.touch_id LIMIT 1"
    ).fetchone()
    con.close()
    received = "2025-03-03 20:00:00"
    (settings.landing_dir / "outreach_feedback" / "2025-03-04").mkdir(parents=True, exist_ok=True)
    (settings.landing_dir / "outreach_feedback" / "2025-03-04" / "push_report_20250304_wave_1.csv").write_text(
        feedback_csv(
            [
                (treated_touch, BATCH, treated_member, "push", "delivered", received),
                (treated_touch, "winback-2025-08-wave_9-20250303", treated_member, "push", "opened", received),
                (holdout_touch, BATCH, holdout_member, "sms", "delivered", received),
            ]
        ),
        encoding="utf-8",
    )

    second = run_pipeline(settings, NEXT_DAY, NEXT_DAY, instance=instance)
    assert second.success, second.failures

    con = duckdb.connect(str(settings.warehouse), read_only=True)

    def rows(sql: str) -> list[tuple]:
        return con.execute(sql).fetchall()

    # Each receipt landed where it should, and every feedback row is in exactly one of the two tables.
    assert rows("SELECT touch_id, outcome, channel, occurred_date FROM retrospective.fct_outreach_feedback") == [
        (treated_touch, "delivered", "push", date(2025, 3, 3))
    ]
    assert rows("SELECT message_id, reason FROM retrospective.outreach_feedback_rejected ORDER BY reason") == [
        (holdout_touch, "member_not_contacted"),
        (treated_touch, "unknown_batch"),
    ]
    assert rows("SELECT count(*) FROM staging.stg_outreach__feedback") == [(3,)]
    rejected_columns = {row[0] for row in rows("DESCRIBE retrospective.outreach_feedback_rejected")}
    assert "member_id" not in rejected_columns and "member_key" not in rejected_columns
    # The rejected rows are a warning, not a failed build.
    check = instance.get_latest_asset_check_evaluation_record(
        dg.AssetCheckKey(dg.AssetKey(["retrospective", "outreach_feedback_rejected"]), "outreach_feedback_all_matched")
    )
    assert check is not None and check.event.dagster_event.event_specific_data.severity == dg.AssetCheckSeverity.WARN
    assert not check.event.dagster_event.event_specific_data.passed

    # One campaign_winback row per wave_1 treated or holdout target, with its arm.
    assert rows(
        "SELECT member_key, outcome FROM outreach.targets WHERE wave_id = 'wave_1'"
        " AND outcome IN ('treated', 'holdout') ORDER BY member_key"
    ) == rows("SELECT member_key, arm FROM retrospective.campaign_winback ORDER BY member_key")
    assert rows("SELECT DISTINCT window_start, window_end FROM retrospective.campaign_winback") == [
        (WAVE_1, NEXT_DAY)  # (first wave date, least(measurement_end 03-31, as of 03-04)]
    ]
    # Holdout members are never contacted.
    touched = "SELECT count(*) FROM retrospective.campaign_winback WHERE arm = 'holdout' AND touches_exported > 0"
    assert rows(touched) == [(0,)]
    assert rows(
        "SELECT count(*) FROM retrospective.campaign_winback_rates"
        " WHERE NOT (win_back_rate BETWEEN 0 AND 1) OR won_back > members"
    ) == [(0,)]
    # The summary's counts are the winback table's.
    summary = rows(
        "SELECT first_batch_members, treated_members, holdout_members, treated_won_back, is_final"
        " FROM retrospective.campaign_retrospective_summary"
    )
    from_winback = rows(
        "SELECT count(*), count(*) FILTER (arm = 'treated'), count(*) FILTER (arm = 'holdout'),"
        " count(*) FILTER (arm = 'treated' AND won_back), false FROM retrospective.campaign_winback"
    )
    assert summary == from_winback and summary[0][1] > 0
    # The weekly report runs from the first wave's ISO week (2025-W10) to the as-of day's (also W10).
    assert rows("SELECT iso_week, touches_exported FROM retrospective.campaign_weekly_progress") == rows(
        "SELECT '2025-W10', count(*) FROM outreach.touches WHERE status = 'exported'"
    )
    con.close()

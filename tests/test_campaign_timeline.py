"""The campaign as the demo runs it, on a small population with the campaign moved to March 2025: runs and
simulated responses alternate; the retrospective marts measure it; the report shows it.

One timeline for the whole module (each run is the real pipeline: ingestion, both dbt builds, checks, the
outreach and report assets). A hand-written feedback file lands with the simulated ones: one receipt that
matches a touch, one for a batch that does not exist, one for a holdout member (never contacted). The
hand-computed cases of every rule are the dbt unit tests beside the models, run on the timeline's warehouse
at the end of this module."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from orchestration.demo_timeline import run_campaign_timeline
from retention.settings import Settings, project_root

START, END, SEED, MEMBERS = date(2025, 1, 1), date(2025, 3, 31), 11, 2000
CAMPAIGN = "winback-2025-08"
BATCH_1 = "winback-2025-08-wave_1-20250303"
FOREIGN_MESSAGE = "MSG-NOT-OURS-1"


def march_campaign(folder) -> str:
    """The default campaign moved to March 2025, inside the demo's range (and its risk history), for anyone
    at high or medium risk (three months of history give few members a 12-month spend to rank, and few reach
    high risk), with half of the first batch held out: a first batch of some 500 members whose lift interval
    is narrow enough to mean something (see test_the_lift_interval_contains_the_simulators_true_lift)."""
    text = (project_root() / "campaigns" / "winback_2025_autumn.yaml").read_text(encoding="utf-8")
    for old, new in [
        ("start: 2025-08-01", "start: 2025-03-01"),
        ("end: 2025-09-30", "end: 2025-03-31"),
        ("date: 2025-08-15", "date: 2025-03-03"),
        ("date: 2025-08-29", "date: 2025-03-17"),
        ("date: 2025-09-15", "date: 2025-03-31"),
        ("min_spend_12m: 1000", "min_spend_12m: 0"),
        ("recoverable_within_days: 60", "recoverable_within_days: 90"),
        ("risk_levels: [high]", "risk_levels: [high, medium]"),
        ("share: 0.10", "share: 0.50"),
    ]:
        assert old in text
        text = text.replace(old, new)
    path = folder / "march.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def timeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("timeline")
    (root / "landing").mkdir()
    env = {
        "RETENTION_LANDING_DIR": str(root / "landing"),
        "RETENTION_WAREHOUSE": str(root / "warehouse.duckdb"),
        "RETENTION_EXPORT_DIR": str(root / "exports"),
        "RETENTION_GROUND_TRUTH_DIR": str(root / "ground_truth"),
        "RETENTION_DUCKDB_TEMP_DIRECTORY": str(root / "duckdb_tmp"),
        "RETENTION_SERVING_FILE": str(root / "serving" / "serving.duckdb"),
        "RETENTION_SERVING_PARQUET_DIR": str(root / "serving" / "parquet"),
    }
    # A small population needs a looser quarantine gate (1% defects of three kinds on ~150 events a day).
    settings = dataclasses.replace(Settings.from_env(env), max_quarantine_rate=0.25, campaign_file=march_campaign(root))
    hand_written = {}

    def after_stage(line: str) -> None:
        lines.append(line)
        if line.startswith("[simulate wave_1]"):
            hand_written.update(_land_hand_written_feedback(settings))

    lines: list[str] = []
    instance = dg.DagsterInstance.ephemeral()
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        patch.delenv("DAGSTER_HOME", raising=False)
        result = run_campaign_timeline(settings, MEMBERS, START, END, SEED, instance=instance, report=after_stage)
    yield settings, result, lines, instance, hand_written
    shutil.rmtree(root, ignore_errors=True)  # CI disks are small: a passed module's files go at once


def _land_hand_written_feedback(settings: Settings) -> dict[str, str]:
    """After wave 1 is built: a receipt for a real push touch (`sent`, as the push service also reported
    it), one under a batch id that does not exist, one for a holdout member's planned touch."""
    push = pl.read_parquet(settings.export_dir / "outreach" / CAMPAIGN / "wave_1" / f"{BATCH_1}_push.parquet").sort(
        "touch_id"
    )
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    holdout_touch, holdout_member = con.execute(
        "SELECT t.touch_id, m.member_id FROM outreach.touches AS t"
        " JOIN intermediate.int_members__as_of AS m USING (member_key)"
        " WHERE t.wave_id = 'wave_1' AND t.status = 'holdout' ORDER BY t.touch_id LIMIT 1"
    ).fetchone()
    con.close()
    rows = [
        (push["touch_id"][0], BATCH_1, push["member_id"][0], "push", "sent", "2025-03-03 20:00:00"),
        (
            FOREIGN_MESSAGE,
            "winback-2025-08-wave_9-20250303",
            push["member_id"][0],
            "push",
            "opened",
            "2025-03-03 20:00:00",
        ),
        (holdout_touch, BATCH_1, holdout_member, "sms", "delivered", "2025-03-03 20:00:00"),
    ]
    folder = settings.landing_dir / "outreach_feedback" / "2025-03-05"
    folder.mkdir(parents=True, exist_ok=True)
    text = "message_id,batch_id,member_id,channel,status,event_time\n" + "".join(",".join(r) + "\n" for r in rows)
    (folder / "partner_receipts_20250305.csv").write_text(text, encoding="utf-8")
    return {"matched_touch": push["touch_id"][0], "holdout_touch": holdout_touch}


def _rows(settings: Settings, sql: str) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_waves_are_built_simulated_and_their_responses_loaded(timeline):
    settings, result, lines, _, _ = timeline

    assert result.success, result.failures
    assert [stage.name for stage in result.stages] == [
        "generate", "run", "simulate wave_1", "run", "simulate wave_2", "run", "simulate wave_3",
    ]  # fmt: skip
    assert [stage.detail for stage in result.stages if stage.name == "run"] == [
        "pipeline 2025-01-01..2025-03-03 (62 days)",
        "pipeline 2025-03-04..2025-03-17 (14 days)",
        "pipeline 2025-03-18..2025-03-31 (14 days)",  # wave_3 is on the last day: no run after it
    ]
    assert len(lines) == 7
    wave_1 = result.simulations[0]
    assert wave_1.built and wave_1.members > 0

    # The files the first two simulations wrote on days up to the end were loaded, none quarantined.
    written = {f for s in result.simulations[:2] for f in s.files if f.split("/")[1] <= END.isoformat()}
    loaded = _rows(
        settings,
        "SELECT source_file, rows_quarantined FROM raw.landed_files"
        " WHERE regexp_matches(source_file, '_wave_[0-9]+[.](csv|jsonl)$')",
    )
    assert written and written <= {name for name, _ in loaded}
    assert sum(quarantined for _, quarantined in loaded) == 0

    # The answer key counts the members of wave_1's channel files (read here independently).
    exported = pl.concat(
        [
            pl.read_parquet(path, columns=["member_id"])
            for path in (settings.export_dir / "outreach" / CAMPAIGN / "wave_1").glob("*.parquet")
            if path.stem.endswith(("_sms", "_push", "_call_list"))
        ]
    )
    truth = json.loads((settings.ground_truth_dir / "campaign" / CAMPAIGN / "truth.json").read_text())
    assert truth["first_batch_final"]["treated_n"] == exported["member_id"].n_unique() == wave_1.members
    assert truth["first_batch_final"]["window"] == {"after": "2025-03-03", "through": "2025-03-31"}


def test_every_feedback_row_is_matched_or_kept_aside_with_its_reason(timeline):
    settings, _, _, instance, hand_written = timeline

    # The hand-written receipts: one matched, two rejected with their reasons; every simulated one matched.
    matched_touch = hand_written["matched_touch"]
    assert _rows(
        settings,
        "SELECT outcome, channel FROM retrospective.fct_outreach_feedback"
        f" WHERE touch_id = '{matched_touch}' AND outcome = 'sent'",
    ) == [("sent", "push")]
    assert _rows(settings, "SELECT message_id, reason FROM retrospective.outreach_feedback_rejected ORDER BY 2") == [
        (hand_written["holdout_touch"], "member_not_contacted"),
        (FOREIGN_MESSAGE, "unknown_batch"),
    ]
    staged, matched, rejected = _rows(
        settings,
        "SELECT (SELECT count(*) FROM staging.stg_outreach__feedback WHERE landing_date <= DATE '2025-03-31'),"
        " (SELECT count(*) FROM retrospective.fct_outreach_feedback),"
        " (SELECT count(*) FROM retrospective.outreach_feedback_rejected)",
    )[0]
    simulated = _rows(
        settings,
        "SELECT sum(rows_loaded) FROM raw.landed_files WHERE source = 'outreach_feedback'"
        " AND source_file NOT LIKE '%partner_receipts%'",
    )[0][0]
    assert staged == matched + rejected
    # Every simulated receipt matched; the hand-written `sent` repeats the simulator's receipt of that touch
    # (same message id and status), so staging keeps the first delivery only.
    assert matched == simulated and simulated > 0
    columns = {row[0] for row in _rows(settings, "DESCRIBE retrospective.outreach_feedback_rejected")}
    assert not columns & {"member_id", "member_key", "mobile"}
    # Rejected rows are a warning, not a failed build.
    check = instance.get_latest_asset_check_evaluation_record(
        dg.AssetCheckKey(dg.AssetKey(["retrospective", "outreach_feedback_rejected"]), "outreach_feedback_all_matched")
    )
    evaluation = check.event.dagster_event.event_specific_data
    assert evaluation.severity == dg.AssetCheckSeverity.WARN and not evaluation.passed


def test_the_retrospective_measures_the_first_batch_in_one_window_for_both_arms(timeline):
    settings, _, _, _, _ = timeline

    # One row per wave_1 treated or holdout target, with its arm, all in (wave 1, measurement end].
    assert _rows(
        settings,
        "SELECT member_key, outcome FROM outreach.targets WHERE wave_id = 'wave_1'"
        " AND outcome IN ('treated', 'holdout') ORDER BY member_key",
    ) == _rows(settings, "SELECT member_key, arm FROM retrospective.campaign_winback ORDER BY member_key")
    assert _rows(settings, "SELECT DISTINCT window_start, window_end FROM retrospective.campaign_winback") == [
        (date(2025, 3, 3), date(2025, 3, 31))  # least(wave_3 03-31 + 14 days, window end 03-31)
    ]
    # Holdout members are never contacted, and no member-level row reaches the rates.
    assert _rows(
        settings, "SELECT count(*) FROM retrospective.campaign_winback WHERE arm = 'holdout' AND touches_exported > 0"
    ) == [(0,)]
    assert _rows(
        settings,
        "SELECT count(*) FROM retrospective.campaign_winback_rates WHERE NOT (win_back_rate BETWEEN 0 AND 1)"
        " OR won_back > members",
    ) == [(0,)]
    # The headline is the winback table's, counted here independently.
    assert _rows(
        settings,
        "SELECT first_batch_members, treated_members, holdout_members, treated_won_back, is_final"
        " FROM retrospective.campaign_retrospective_summary",
    ) == _rows(
        settings,
        "SELECT count(*), count(*) FILTER (arm = 'treated'), count(*) FILTER (arm = 'holdout'),"
        " count(*) FILTER (arm = 'treated' AND won_back), true FROM retrospective.campaign_winback",
    )
    # The weekly report covers the campaign's ISO weeks, wave 1's (W10) through the window end's (W14).
    weeks = _rows(settings, "SELECT iso_week, touches_exported FROM retrospective.campaign_weekly_progress ORDER BY 1")
    assert [week for week, _ in weeks] == ["2025-W10", "2025-W11", "2025-W12", "2025-W13", "2025-W14"]
    assert (
        sum(touches for _, touches in weeks)
        == _rows(settings, "SELECT count(*) FROM outreach.touches WHERE status = 'exported'")[0][0]
    )


def test_the_lift_interval_contains_the_simulators_true_lift(timeline):
    """The measured first-batch lift against the answer key, at this seed: the simulator's realised true lift
    (treated members won back by a response who would not have come back on their own, from the clean base
    activity) lies inside the 95% interval, and the interval is narrow enough to have been able to miss it.
    `make bench-coverage` repeats this over 20 seeds (at least 17 must cover)."""
    settings = timeline[0]
    truth = json.loads((settings.ground_truth_dir / "campaign" / CAMPAIGN / "truth.json").read_text())
    true_lift = truth["first_batch_final"]["realised_lift"]
    treated, holdout, lift, low, high, method = _rows(
        settings,
        "SELECT treated_members, holdout_members, lift, lift_ci_low, lift_ci_high, ci_method"
        " FROM retrospective.campaign_lift WHERE scope = 'first_batch' AND dimension = 'overall'",
    )[0]
    assert treated == truth["first_batch_final"]["treated_n"] and holdout >= 200
    assert "Newcombe" in method
    assert low < true_lift < high, (true_lift, low, lift, high)
    assert high - low < 0.25  # 50:50 of some 500 members; the demo (752, 10% held out) gets 0.22


def test_the_report_and_weekly_pages_are_written_with_the_marts_numbers(timeline):
    settings, _, _, _, _ = timeline
    folder = settings.export_dir / "retrospective" / CAMPAIGN
    html = (folder / "report.html").read_text(encoding="utf-8")
    first_batch, treated, won_back, rate, lift, low, high = _rows(
        settings,
        "SELECT first_batch_members, treated_members, treated_won_back, treated_rate, lift, lift_ci_low, lift_ci_high"
        " FROM retrospective.campaign_retrospective_summary",
    )[0]

    # The headline cards carry the summary's numbers, formatted as the report formats them.
    assert (
        f'<div class="label">挽回会员 (触达组)</div><div class="value">{won_back:,}</div>'
        f'<div class="note">共 {treated:,} 位触达会员 / 首批 {first_batch:,} 位</div>'
    ) in html
    assert f"{rate:.1%}" in html
    assert f"{lift:+.1%}" in html and f"[{low:+.1%}, {high:+.1%}]" in html
    assert sorted(path.stem for path in (folder / "weekly").glob("*.html")) == [
        "2025-W10", "2025-W11", "2025-W12", "2025-W13", "2025-W14",
    ]  # fmt: skip
    member_keys = [key for (key,) in _rows(settings, "SELECT member_key FROM retrospective.campaign_winback LIMIT 20")]
    assert member_keys and not any(key in html for key in member_keys)


def test_every_row_is_accounted_for_and_the_ui_shows_no_mobile(timeline):
    settings, _, _, instance, _ = timeline
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    loads = con.execute(
        "SELECT source, sum(rows_read), sum(rows_loaded), sum(rows_quarantined) FROM raw.landed_files GROUP BY 1"
    ).fetchall()
    assert {source for source, *_ in loads} == {"members", "orders", "events", "tickets", "outreach_feedback"}
    for source, read, loaded, quarantined in loads:
        assert read == loaded + quarantined, source  # every row read was loaded or kept aside
    assert con.execute("SELECT count(*) FROM raw.quarantine").fetchone()[0] == sum(row[3] for row in loads)
    assert con.execute("SELECT count(*) FROM marts.dim_members").fetchone()[0] > 300

    # The outreach asset built the three waves (its checks on the log passed, or the run would fail).
    waves = con.execute(
        "SELECT wave_id, members_targeted, members_holdout, touches_exported FROM outreach.waves ORDER BY wave_date"
    ).fetchall()
    assert [wave[0] for wave in waves] == ["wave_1", "wave_2", "wave_3"]
    _, targeted, holdout, exported = waves[0]
    assert targeted > 10 and exported > 0
    assert abs(holdout - 0.50 * targeted) < 1  # systematic sampling: the share, to the member
    # Control stays control: a member held out in wave 1 is never contacted later.
    assert con.execute(
        "SELECT count(*) FROM outreach.touches WHERE status = 'exported' AND member_key IN"
        " (SELECT member_key FROM outreach.targets WHERE wave_id = 'wave_1' AND outcome = 'holdout')"
    ).fetchone() == (0,)
    # What the UI shows: the waves, the first wave's size, the retrospective's headline, never a mobile number.
    outreach = instance.get_latest_materialization_event(dg.AssetKey(["outreach", "winback_batches"]))
    report = instance.get_latest_materialization_event(dg.AssetKey(["retrospective", "campaign_report"]))
    metadata = {**outreach.asset_materialization.metadata, **report.asset_materialization.metadata}
    assert metadata["targeted_first_wave"].value == targeted
    assert {"waves", "wave_1_breakdown", "wave_1_adjustments", "first_wave_preview", "weekly_trend"} <= set(metadata)
    shown = str({name: value.value for name, value in metadata.items()})
    mobiles = [row[0] for row in con.execute("SELECT DISTINCT mobile FROM raw.members WHERE mobile > ''").fetchall()]
    assert len(mobiles) > 300 and not any(mobile in shown for mobile in mobiles)
    files = sorted(path.name for path in (settings.export_dir / "outreach" / CAMPAIGN / "wave_1").iterdir())
    assert f"{BATCH_1}_decisions.csv" in files and f"{BATCH_1}_push.parquet" in files
    con.close()


def test_every_dbt_unit_test_passes_on_the_built_warehouse(timeline, tmp_path, dbt_manifest):
    """The unit tests beside the models (hand-computed cases of every rule) are left out of the pipeline's runs,
    which check the data: they run here, once, where every model they read has been built."""
    settings = timeline[0]
    project = project_root() / "dbt_project"
    manifest = json.loads(dbt_manifest.read_text(encoding="utf-8"))
    declared = set(manifest["unit_tests"])
    # A build's day range left in the shell must not reach the unit tests (they set their own).
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("RETENTION_DBT_")}
    env = {**inherited, "RETENTION_WAREHOUSE": str(settings.warehouse)}
    done = subprocess.run(
        [str(Path(sys.prefix) / "bin" / "dbt"), "test", "--select", "test_type:unit", "--profiles-dir", "."]
        + ["--target-path", str(tmp_path / "target")],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    results = json.loads((tmp_path / "target" / "run_results.json").read_text(encoding="utf-8"))["results"]
    statuses = {r["unique_id"]: r["status"] for r in results}
    assert done.returncode == 0, done.stdout[-3000:]
    assert set(statuses) == declared
    assert len(declared) >= 21
    assert set(statuses.values()) == {"pass"}

"""Waves built from a hand-made warehouse: the log, the files, idempotent re-runs, and no mobile where
it must not be. The marts here are the few columns the outreach stage reads, filled by hand."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from retention.outreach.campaign import load_campaign
from retention.outreach.review import load_review
from retention.outreach.touch_log import CampaignLogMismatch
from retention.outreach.waves import build_due_waves
from retention.settings import project_root

MOBILES = {"M1": "13800000001", "M2": "13900000002", "M3": "13700000003", "M5": "13600000005", "M6": "13500000006"}


def key(member_id: str) -> str:
    return hashlib.sha256(member_id.encode()).hexdigest()


# member: high value, consents (sms, push, phone), risk level, days inactive, spend
MEMBERS = {
    "M1": (True, (True, True, True), "high", 5, 9000),
    "M2": (False, (True, True, False), "high", 10, 3000),
    "M3": (False, (False, True, False), "high", 20, 2000),
    "M4": (False, (True, True, True), "low", 1, 2500),
    "M5": (False, (True, True, True), "high", 3, 4000),  # excluded by review
    "M6": (False, (True, True, True), "high", 100, 5000),  # lapsed: reactivation list
}
WAVE_DAYS = (date(2025, 8, 15), date(2025, 8, 29))


def build_warehouse(path: Path, risk_days=WAVE_DAYS) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts; CREATE SCHEMA intermediate; CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE marts.member_churn_risk (as_of_date DATE, member_key VARCHAR, risk_level VARCHAR,"
        " reasons VARCHAR[], flag_count INTEGER, tier VARCHAR, is_high_value BOOLEAN, spend_12m DECIMAL(38,2),"
        " days_inactive BIGINT)"
    )
    con.execute(
        "CREATE TABLE marts.dim_members (member_key VARCHAR, consent_sms BOOLEAN, consent_push BOOLEAN,"
        " consent_phone BOOLEAN)"
    )
    con.execute(
        "CREATE TABLE intermediate.int_member_states (member_key VARCHAR, known_from DATE, known_to DATE,"
        " consent_sms BOOLEAN, consent_push BOOLEAN, consent_phone BOOLEAN)"
    )
    con.execute(
        "CREATE TABLE marts.fct_orders (member_key VARCHAR, order_date DATE, ordered_at TIMESTAMP,"
        " is_purchase BOOLEAN, net_amount DECIMAL(18,2))"
    )
    con.execute("CREATE TABLE marts.fct_member_events (member_key VARCHAR, event_date DATE, event_type VARCHAR)")
    con.execute("CREATE TABLE intermediate.int_members__as_of (member_id VARCHAR, member_key VARCHAR)")
    con.execute(
        "CREATE TABLE raw.members (member_id VARCHAR, mobile VARCHAR, updated_at TIMESTAMP, _landing_date DATE,"
        " _source_file VARCHAR, _row_number BIGINT)"
    )
    con.execute("CREATE TABLE main.tiers (tier VARCHAR, tier_name_zh VARCHAR)")
    con.execute("INSERT INTO main.tiers VALUES ('basic', '基础'), ('advanced', '进阶'), ('premium', '尊享')")
    for member_id, (high_value, consents, risk, inactive, spend) in MEMBERS.items():
        tier = "premium" if high_value else "advanced"
        for day in risk_days:
            con.execute(
                "INSERT INTO marts.member_churn_risk VALUES (?, ?, ?, ['frequency_drop', 'overdue'], 2, ?, ?, ?, ?)",
                [day, key(member_id), risk, tier, high_value, spend, inactive],
            )
        con.execute("INSERT INTO marts.dim_members VALUES (?, ?, ?, ?)", [key(member_id), *consents])
        # Consent as known from registration, until a later state (none here) supersedes it.
        con.execute(
            "INSERT INTO intermediate.int_member_states VALUES (?, '2024-01-01', NULL, ?, ?, ?)",
            [key(member_id), *consents],
        )
        con.execute("INSERT INTO intermediate.int_members__as_of VALUES (?, ?)", [member_id, key(member_id)])
        # An older delivery with another number: the latest one is dialled.
        con.execute(
            "INSERT INTO raw.members VALUES (?, '13000000000', '2025-01-01', '2025-01-01', 'old.csv', 1),"
            " (?, ?, '2025-06-01', '2025-06-01', 'new.csv', 1)",
            [member_id, member_id, MOBILES.get(member_id)],
        )
    con.execute(
        "INSERT INTO marts.fct_orders VALUES (?, '2025-08-01', '2025-08-01 10:00', true, 88.00),"
        # M2 buys after wave 1: a response, so wave 2 leaves M2 alone.
        " (?, '2025-08-20', '2025-08-20 12:00', true, 120.00)",
        [key("M1"), key("M2")],
    )
    # M3 logs in but uses no benefit: not a response.
    con.execute("INSERT INTO marts.fct_member_events VALUES (?, '2025-08-21', 'login')", [key("M3")])
    return con


@pytest.fixture
def campaign_file(tmp_path):
    """The default campaign with two waves, no holdout and calls on the wave day only."""
    text = (project_root() / "campaigns" / "winback_2025_autumn.yaml").read_text(encoding="utf-8")
    text = text.replace("  share: 0.10", "  share: 0.0").replace("    days: 2", "    days: 1")
    final_wave = text.index("  - id: wave_3")
    path = tmp_path / "campaign.yaml"
    path.write_text(text[:final_wave], encoding="utf-8")
    return path


@pytest.fixture
def review_file(tmp_path):
    path = tmp_path / "campaign.review.csv"
    path.write_text(
        f"member_key,action,reason\n{key('M5')},exclude,在投诉处理中\n{'ab' * 32},exclude,not a member\n",
        encoding="utf-8",
    )
    return path


def run(con, campaign_file, review_file, export_dir, messages=None):
    campaign = load_campaign(campaign_file)
    review = load_review(review_file, [wave.wave_id for wave in campaign.waves])
    sink = messages if messages is not None else []
    return build_due_waves(con, campaign, review, export_dir, log=sink.append, warn=sink.append)


def written(report) -> dict[str, str]:
    return {file.csv_path.name: file.csv_sha256 for wave in report.waves for file in wave.files}


def on_disk(export_dir: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in export_dir.rglob("*.csv")}


def csv_rows(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, encoding="utf8-lossy", infer_schema=False)


def test_two_waves_log_and_export_what_each_channel_needs(tmp_path, campaign_file, review_file):
    con = build_warehouse(tmp_path / "warehouse.duckdb")
    messages: list[str] = []
    report = run(con, campaign_file, review_file, tmp_path / "exports", messages)

    wave_1, wave_2 = report.waves
    assert (wave_1.status, wave_2.status) == ("built", "built")
    assert wave_1.outcomes == {"excluded_by_review": 1, "not_recoverable": 1, "treated": 3}
    assert wave_2.outcomes == {"responded": 1, "treated": 2}  # M2 bought on 20 August
    assert wave_1.unknown_review_keys == ("ab" * 32,)
    touches = con.execute(
        "SELECT wave_id, member_key, channel FROM outreach.touches ORDER BY wave_id, member_key, channel"
    ).fetchall()
    assert touches == sorted(
        [
            ("wave_1", key("M1"), "call"),
            ("wave_1", key("M1"), "push"),
            ("wave_1", key("M2"), "push"),
            ("wave_1", key("M2"), "sms"),
            ("wave_1", key("M3"), "push"),
            ("wave_2", key("M1"), "call"),
            ("wave_2", key("M1"), "push"),
            ("wave_2", key("M3"), "push"),
        ]
    )
    folder = tmp_path / "exports" / "outreach" / "winback-2025-08" / "wave_1"
    batch = "winback-2025-08-wave_1-20250815"
    sms = csv_rows(folder / f"{batch}_sms.csv")
    assert sms.select("member_id", "mobile", "unsubscribe_text").rows() == [("M2", "13900000002", "拒收请回复R")]
    calls = csv_rows(folder / f"{batch}_call_list.csv")
    assert calls.select("member_id", "mobile", "tier_name_zh", "last_order_date", "last_order_amount").rows() == [
        ("M1", "13800000001", "尊享", "2025-08-01", "88.00")
    ]
    push_bytes = (folder / f"{batch}_push.csv").read_bytes() + (folder / f"{batch}_push.parquet").read_bytes()
    assert sorted(csv_rows(folder / f"{batch}_push.csv")["member_id"]) == ["M1", "M2", "M3"]
    assert all(mobile.encode() not in push_bytes for mobile in [*MOBILES.values(), "13000000000"])
    reactivation = csv_rows(folder / f"{batch}_reactivation.csv")
    assert reactivation["member_key"].to_list() == [key("M6")]
    # No mobile in the reports, the log tables or any message.
    reports = (folder / f"{batch}_decisions.csv").read_bytes() + (folder / f"{batch}_reactivation.csv").read_bytes()
    logged = str(con.execute("SELECT * FROM outreach.targets").fetchall())
    logged += str(con.execute("SELECT * FROM outreach.touches").fetchall())
    for mobile in MOBILES.values():
        assert mobile.encode() not in reports
        assert mobile not in logged
        assert not any(mobile in message for message in messages)


def test_rerun_is_idempotent_and_new_data_warns_instead_of_a_second_batch(tmp_path, campaign_file, review_file):
    con = build_warehouse(tmp_path / "warehouse.duckdb")
    first = run(con, campaign_file, review_file, tmp_path / "exports")
    touches = con.execute("SELECT count(*) FROM outreach.touches").fetchone()[0]

    again = run(con, campaign_file, review_file, tmp_path / "exports")
    assert [wave.status for wave in again.waves] == ["unchanged", "unchanged"]
    assert con.execute("SELECT count(*) FROM outreach.touches").fetchone()[0] == touches == 8
    assert written(again) == written(first) == on_disk(tmp_path / "exports")

    # An opt-out recorded after the batches were built does not make them "changed": a re-run plans with
    # the consent known when each wave was first built.
    con.execute("UPDATE intermediate.int_member_states SET known_to = '2025-09-02' WHERE member_key = ?", [key("M3")])
    con.execute(
        "INSERT INTO intermediate.int_member_states VALUES (?, '2025-09-02', NULL, false, false, false)", [key("M3")]
    )
    con.execute(
        "INSERT INTO marts.member_churn_risk SELECT * REPLACE (DATE '2025-09-02' AS as_of_date)"
        " FROM marts.member_churn_risk WHERE as_of_date = '2025-08-29'"
    )
    assert [wave.status for wave in run(con, campaign_file, review_file, tmp_path / "exports").waves] == [
        "unchanged",
        "unchanged",
    ]

    # New data about the past: a late delivery says M3 had withdrawn push consent all along. The logged
    # batches stand; a warning says the plan moved.
    con.execute("UPDATE intermediate.int_member_states SET consent_push = false WHERE member_key = ?", [key("M3")])
    messages: list[str] = []
    changed = run(con, campaign_file, review_file, tmp_path / "exports", messages)
    assert [wave.status for wave in changed.waves] == ["changed_since_logged", "changed_since_logged"]
    assert any("nothing new is exported" in message for message in messages)
    assert con.execute("SELECT count(*) FROM outreach.touches").fetchone()[0] == 8
    assert written(changed) == written(first) == on_disk(tmp_path / "exports")


def test_monthly_cap_across_waves_trims_the_second_wave(tmp_path, campaign_file, review_file):
    text = campaign_file.read_text(encoding="utf-8").replace("  high_value: 4", "  high_value: 3")
    campaign_file.write_text(text, encoding="utf-8")
    con = build_warehouse(tmp_path / "warehouse.duckdb")
    run(con, campaign_file, review_file, tmp_path / "exports")
    # M1 (high value): call + push in wave 1 (2 touches), so only the call fits in August's cap of 3.
    assert con.execute(
        "SELECT wave_id, list(channel ORDER BY channel) FROM outreach.touches WHERE member_key = ? GROUP BY 1"
        " ORDER BY 1",
        [key("M1")],
    ).fetchall() == [("wave_1", ["call", "push"]), ("wave_2", ["call"])]
    assert con.execute(
        "SELECT trimmed_by_cap FROM outreach.targets WHERE wave_id = 'wave_2' AND member_key = ?", [key("M1")]
    ).fetchone() == (True,)


def test_nothing_is_exported_for_a_wave_the_marts_have_not_reached(tmp_path, campaign_file, review_file):
    con = build_warehouse(tmp_path / "warehouse.duckdb", risk_days=(date(2025, 8, 15), date(2025, 8, 20)))
    report = run(con, campaign_file, review_file, tmp_path / "exports")
    assert [wave.status for wave in report.waves] == ["built", "not_due"]
    assert con.execute("SELECT DISTINCT wave_id FROM outreach.touches").fetchall() == [("wave_1",)]
    assert not (tmp_path / "exports" / "outreach" / "winback-2025-08" / "wave_2").exists()


def test_a_wave_without_risk_history_is_not_built_and_says_what_to_run(tmp_path, campaign_file, review_file):
    con = build_warehouse(tmp_path / "warehouse.duckdb", risk_days=(date(2025, 8, 29),))
    messages: list[str] = []
    report = run(con, campaign_file, review_file, tmp_path / "exports", messages)
    assert [wave.status for wave in report.waves] == ["not_built", "not_built"]
    assert "retention run --from 2025-08-15" in report.waves[0].message
    assert "wave_1, which it follows up, is not" in report.waves[1].message
    assert con.execute("SELECT count(*) FROM outreach.touches").fetchone()[0] == 0


def test_after_the_campaign_window_logged_waves_stand_without_re_planning(tmp_path, campaign_file, review_file):
    con = build_warehouse(tmp_path / "warehouse.duckdb")
    run(con, campaign_file, review_file, tmp_path / "exports")
    folder = tmp_path / "exports" / "outreach" / "winback-2025-08" / "wave_1"
    for path in folder.iterdir():
        path.unlink()
    # The marts move past the window's end (30 September) and M3 opts out: nothing is re-planned.
    con.execute(
        "INSERT INTO marts.member_churn_risk SELECT * REPLACE (DATE '2025-10-01' AS as_of_date)"
        " FROM marts.member_churn_risk WHERE as_of_date = '2025-08-29'"
    )
    con.execute("UPDATE intermediate.int_member_states SET consent_push = false WHERE member_key = ?", [key("M3")])
    report = run(con, campaign_file, review_file, tmp_path / "exports")
    assert [wave.status for wave in report.waves] == ["closed", "closed"]
    assert report.waves[0].outcomes == {"excluded_by_review": 1, "not_recoverable": 1, "treated": 3}
    assert list(folder.iterdir()) == []
    assert con.execute("SELECT count(*) FROM outreach.touches").fetchone()[0] == 8


def test_a_renamed_or_moved_logged_wave_is_refused_before_anything_is_written(tmp_path, campaign_file, review_file):
    con = build_warehouse(tmp_path / "warehouse.duckdb")
    run(con, campaign_file, review_file, tmp_path / "exports")
    campaign_file.write_text(campaign_file.read_text(encoding="utf-8").replace("id: wave_1", "id: wave_1a"))
    with pytest.raises(CampaignLogMismatch, match=r"no longer lists: wave_1 \(2025-08-15\)"):
        run(con, campaign_file, review_file, tmp_path / "exports")
    assert con.execute("SELECT count(*), count(DISTINCT wave_id) FROM outreach.touches").fetchone() == (8, 2)


def test_follow_up_wave_takes_responses_up_to_its_own_day_and_needs_a_mobile_for_sms(
    tmp_path, campaign_file, review_file
):
    # Attribution of 3 days: M3's purchase on 25 August is outside it, but M3 is no longer silent on 29 August.
    campaign_file.write_text(
        campaign_file.read_text(encoding="utf-8").replace("attribution_days: 14", "attribution_days: 3")
    )
    con = build_warehouse(tmp_path / "warehouse.duckdb")
    con.execute("INSERT INTO marts.fct_orders VALUES (?, '2025-08-25', '2025-08-25 09:00', true, 50.00)", [key("M3")])
    # M2's latest CRM delivery has no mobile: push only, no SMS.
    con.execute("UPDATE raw.members SET mobile = NULL WHERE member_id = 'M2' AND _source_file = 'new.csv'")
    report = run(con, campaign_file, review_file, tmp_path / "exports")
    assert report.waves[1].outcomes == {"responded": 2, "treated": 1}
    assert con.execute(
        "SELECT list(channel ORDER BY channel) FROM outreach.touches WHERE wave_id = 'wave_1' AND member_key = ?",
        [key("M2")],
    ).fetchone() == (["push"],)
    folder = tmp_path / "exports" / "outreach" / "winback-2025-08" / "wave_1"
    assert not (folder / "winback-2025-08-wave_1-20250815_sms.csv").exists()  # nobody left to text


def test_missing_files_are_written_again_without_contacts_withdrawn_since(tmp_path, campaign_file, review_file):
    con = build_warehouse(tmp_path / "warehouse.duckdb")
    run(con, campaign_file, review_file, tmp_path / "exports")
    folder = tmp_path / "exports" / "outreach" / "winback-2025-08" / "wave_1"
    push = folder / "winback-2025-08-wave_1-20250815_push.csv"
    push.unlink()
    con.execute("UPDATE marts.dim_members SET consent_push = false WHERE member_key = ?", [key("M3")])
    messages: list[str] = []
    report = run(con, campaign_file, review_file, tmp_path / "exports", messages)
    assert [wave.status for wave in report.waves] == ["unchanged", "unchanged"]
    assert sorted(csv_rows(push)["member_id"]) == ["M1", "M2"]
    assert any("1 logged touches are not in the files" in message for message in messages)
    assert con.execute("SELECT count(*) FROM outreach.touches").fetchone()[0] == 8  # the log is unchanged


def test_include_rows_for_a_follow_up_wave_are_reported_not_applied(tmp_path, campaign_file):
    review = tmp_path / "campaign.review.csv"
    review.write_text(f"member_key,action,reason,wave_id\n{key('M4')},include,VIP 回访,wave_2\n", encoding="utf-8")
    con = build_warehouse(tmp_path / "warehouse.duckdb")
    messages: list[str] = []
    report = run(con, campaign_file, review, tmp_path / "exports", messages)
    assert report.waves[1].ignored_review_includes == (key("M4"),)
    assert any("1 include row(s) for wave_2 not applied" in message for message in messages)
    assert con.execute("SELECT count(*) FROM outreach.targets WHERE member_key = ?", [key("M4")]).fetchone() == (0,)

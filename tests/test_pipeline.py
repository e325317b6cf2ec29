"""The real thing end to end: Dagster runs the ingestion assets and `dbt build` on a DuckDB file."""

from __future__ import annotations

from datetime import date

import dagster as dg
import duckdb

from orchestration.definitions import build_definitions
from orchestration.runner import run_pipeline
from tests.conftest import members_csv

D1, D2 = date(2025, 3, 1), date(2025, 3, 2)


def _two_days(landing):
    landing.write("members/2025-03-01/crm.csv", members_csv("M1", "M2"))
    landing.write(
        "members/2025-03-02/crm.csv",
        "member_id,registered_at,consent_sms,updated_at\nM2,2024-01-02 10:00:00,0,2025-03-02 09:00:00\n",
    )
    header = "order_id,member_id,order_time,channel,gross_amount,discount_amount,status,refund_amount,updated_at\n"
    landing.write(
        "orders/2025-03-01/pos.csv",
        header + "O1,M1,2025-03-01 10:00:00,store,200,20,paid,,\nO2,M2,2025-03-01 11:00:00,store,50,0,paid,,\n",
        "gbk",
    )
    landing.write(
        "orders/2025-03-02/pos.csv",
        header + "O1,M1,2025-03-01 10:00:00,store,200,20,refunded,180,2025-03-02 15:00:00\n",
    )
    landing.write(
        "orders/2025-03-02/pos_resent.csv",
        header + "O1,M1,2025-03-01 10:00:00,store,200,20,refunded,180,2025-03-02 15:00:00\n",
    )
    events = [
        '{"event_id": "E1", "member_id": "M1", "event_time": "2025-03-01 08:00:00", "event_type": "login", '
        '"platform": "app"}',
        '{"event_id": "E2", "member_id": "M1", "event_time": "2025-03-01 08:01:00", "event_type": "benefit_use", '
        '"platform": "app"}',
        '{"event_id": "E3", "member_id": "M2", "event_time": "2025-03-01 09:00:00", "event_type": "screenshot"}',
    ]
    landing.write("events/2025-03-01/app.jsonl", "\n".join(events) + "\n")
    landing.write("events/2025-03-02/app.jsonl", events[0] + "\n")  # the same event delivered again next day
    landing.write(
        "tickets/2025-03-01/cs.csv",
        "\ufeffticket_id,member_id,opened_at,ticket_type,status,content\n"
        "T1,M2,2025-03-01 12:00:00,投诉,处理中,别家更便宜，请回电 13912345678 或 a.b@example.com\n",
    )
    landing.write("outreach_feedback/2025-03-01/sms.csv", "message_id,batch_id,member_id,channel,status,event_time\n")


def _query(settings, sql):
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_definitions_show_landing_raw_and_staging_with_checks(settings):
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for source in ("members", "orders", "events", "tickets", "outreach_feedback"):
        assert f"landing/{source}" in keys and f"raw/{source}" in keys
    assert {
        "staging/stg_crm__members",
        "staging/stg_commerce__orders",
        "staging/stg_app__events",
        "staging/stg_service__tickets",
        "staging/stg_outreach__feedback",
    } <= keys
    # The dbt sources are the ingestion assets: staging hangs directly off raw.
    assert dg.AssetKey(["raw", "orders"]) in graph.get(dg.AssetKey(["staging", "stg_commerce__orders"])).parent_keys
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert ("raw/orders", "gx_quarantine_rate") in checks and ("raw/orders", "gx_valid_rows") in checks
    assert any(a == "staging/stg_app__events" and n.startswith("unique_") for a, n in checks)
    assert graph.get(dg.AssetKey(["staging", "stg_app__events"])).group_name == "staging"
    # The outreach batches hang off the marts they read, with their checks on the touch log.
    outreach = graph.get(dg.AssetKey(["outreach", "winback_batches"]))
    assert outreach.group_name == "outreach"
    assert dg.AssetKey(["marts", "member_churn_risk"]) in outreach.parent_keys
    assert ("outreach/winback_batches", "monthly_caps_respected") in checks


def test_two_days_run_through_dagster_and_dbt(settings, landing, dbt_manifest):
    _two_days(landing)
    instance = dg.DagsterInstance.ephemeral()
    outcome = run_pipeline(settings, D1, D2, instance=instance)
    assert outcome.success, outcome.failures

    # The run's second dbt build (the retrospective) starts from the first build's parse state: dbt
    # re-parses only what changed, not the whole project because the run's profile differs from the
    # parse `make manifest` made. The build folders are in the session's dbt target folder (DBT_TARGET_PATH).
    target = dbt_manifest.parent
    [retrospective_build] = target.glob(f"retention_dbt_retrospective-{outcome.run_id[:7]}-*")
    log = (retrospective_build / "dbt.log").read_text(encoding="utf-8")
    assert "Unable to do partial parsing" not in log and "Partial parsing enabled" in log

    # The UI shows counts and a preview, never personal data.
    members = instance.get_latest_materialization_event(dg.AssetKey(["raw", "members"])).asset_materialization
    # Each day's partition has its own counts (M2 again on the second day), and the last one the run's.
    assert (members.partition, members.metadata["rows_loaded"].value) == (D2.isoformat(), 1)
    assert members.metadata["run_rows_loaded"].value == 3
    first_day = (
        instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(["raw", "members"]), asset_partitions=[D1.isoformat()]), limit=1
        )
        .records[0]
        .asset_materialization
    )
    assert (first_day.metadata["files_read"].value, first_day.metadata["rows_loaded"].value) == (1, 2)
    assert "run_rows_loaded" not in first_day.metadata and "files_found" not in first_day.metadata
    tickets = instance.get_latest_materialization_event(dg.AssetKey(["raw", "tickets"])).asset_materialization
    shown = " ".join(str(v.value) for m in (members, tickets) for v in m.metadata.values())
    assert "M1" in shown and "13800000000" not in shown and "测试M1" not in shown and "13912345678" not in shown

    loads = _query(
        settings,
        "SELECT source, sum(rows_read), sum(rows_loaded), sum(rows_quarantined) "
        "FROM raw.landed_files GROUP BY 1 ORDER BY 1",
    )
    assert loads == [
        ("events", 4, 3, 1),  # E3 has an unknown event type
        ("members", 3, 3, 0),
        ("orders", 4, 3, 1),  # the resent refund row is an exact duplicate
        ("outreach_feedback", 0, 0, 0),
        ("tickets", 1, 1, 0),
    ]
    # Staging keeps one row per business key: E1 delivered twice is one event; O1 has two statuses.
    assert _query(settings, "SELECT count(*) FROM staging.stg_app__events") == [(2,)]
    assert _query(
        settings,
        "SELECT order_id, status, refund_amount FROM staging.stg_commerce__orders ORDER BY order_id, status_at",
    ) == [
        ("O1", "paid", 0),
        ("O1", "refunded", 180),
        ("O2", "paid", 0),
    ]
    assert _query(
        settings, "SELECT member_id, consent_sms FROM staging.stg_crm__members ORDER BY member_id, valid_from"
    ) == [
        ("M1", True),
        ("M2", True),
        ("M2", False),
    ]
    assert _query(settings, "SELECT content FROM staging.stg_service__tickets") == [
        ("别家更便宜，请回电 [mobile] 或 [email]",)
    ]
    # PII never leaves raw: no staging column carries a name, mobile, e-mail or birthday.
    columns = {
        c
        for (c,) in _query(
            settings, "SELECT column_name FROM information_schema.columns WHERE table_schema = 'staging'"
        )
    }
    assert not columns & {"name", "mobile", "email", "birthday"}

    # Re-running day 2 alone changes nothing.
    before = _query(
        settings, "SELECT source, sum(rows_loaded), sum(rows_quarantined) FROM raw.landed_files GROUP BY 1 ORDER BY 1"
    )
    assert run_pipeline(settings, D2, D2).success
    assert (
        _query(
            settings,
            "SELECT source, sum(rows_loaded), sum(rows_quarantined) FROM raw.landed_files GROUP BY 1 ORDER BY 1",
        )
        == before
    )


def test_a_failed_blocking_check_keeps_the_delivery_out_of_staging(settings, landing):
    landing.write("members/2025-03-01/crm.csv", members_csv("M1"))
    rows = [f"O{i},{'M1' if i < 5 else 'M404'},2025-03-01 10:00:00,store,10,paid" for i in range(25)]
    landing.write(
        "orders/2025-03-01/pos.csv",
        "order_id,member_id,order_time,channel,gross_amount,status\n" + "\n".join(rows) + "\n",
    )

    outcome = run_pipeline(settings, D1, D1)

    assert not outcome.success
    assert "check raw/orders:gx_quarantine_rate failed" in [f.splitlines()[0] for f in outcome.failures]
    # The blocked dbt step never ran, so no staging view exists.
    assert _query(settings, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'staging'") == [(0,)]

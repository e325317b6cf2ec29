"""The signals asset on a real DuckDB file: each distinct text scored once per detector version, a new
version re-scores, the content hash is the same in DuckDB and Python, and a real pipeline run carries
the detector's verdicts into the marts."""

from __future__ import annotations

import hashlib

import dagster as dg
import duckdb

from assets.ingestion.ticket_churn_intent import TICKET_CHURN_INTENT, score_new_texts
from orchestration.runner import run_pipeline
from retention.churn_intent import detector_version
from tests.test_pipeline import D1, D2, _two_days

TEXTS = [
    ("T1", "会员到期不续了"),
    ("T2", "会员到期不续了"),  # the same text again (a re-delivered ticket): scored once
    ("T3", "Where is my parcel?"),
    ("T4", None),  # no text: nothing to score
    ("T5", "I'm switching to Aldi, please close my account"),
]


def _warehouse(tmp_path, rows):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("CREATE SCHEMA raw; CREATE TABLE raw.tickets (ticket_id VARCHAR, content VARCHAR)")
    con.executemany("INSERT INTO raw.tickets VALUES (?, ?)", rows)
    return con


def _stored(con):
    return con.execute(
        "SELECT content_hash, detector_version, category, evidence FROM signals.ticket_churn_intent ORDER BY category"
    ).fetchall()


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def test_each_text_is_scored_once_per_version(tmp_path):
    con = _warehouse(tmp_path, TEXTS)
    assert score_new_texts(con, "v1") == {"competitor": 1, "no_longer_needed": 1, "none": 1}
    assert _stored(con) == [
        (_md5(TEXTS[4][1]), "v1", "competitor", "pattern competitor.switch_to_rival_en: 'switching to aldi'"),
        (_md5("会员到期不续了"), "v1", "no_longer_needed", "pattern leave.not_renewing_zh: '到期不续'"),
        (_md5("Where is my parcel?"), "v1", "none", ""),
    ]
    # Nothing new: nothing scored. A new text: only it.
    assert score_new_texts(con, "v1") == {"competitor": 0, "no_longer_needed": 0, "none": 0}
    con.execute("INSERT INTO raw.tickets VALUES ('T6', '谢谢')")
    assert score_new_texts(con, "v1") == {"competitor": 0, "no_longer_needed": 0, "none": 1}
    # New rules: every text again, one row per text (the old version's rows replaced).
    assert score_new_texts(con, "v2") == {"competitor": 1, "no_longer_needed": 1, "none": 2}
    assert con.execute("SELECT detector_version, count(*) FROM signals.ticket_churn_intent GROUP BY 1").fetchall() == [
        ("v2", 4)
    ]
    # A text no longer delivered keeps no score of an older version: v3 scores 3 texts and drops "谢谢".
    con.execute("DELETE FROM raw.tickets WHERE ticket_id = 'T6'")
    assert score_new_texts(con, "v3") == {"competitor": 1, "no_longer_needed": 1, "none": 1}
    assert con.execute("SELECT detector_version, count(*) FROM signals.ticket_churn_intent GROUP BY 1").fetchall() == [
        ("v3", 3)
    ]


def test_duckdb_md5_is_the_md5_of_the_utf8_text(tmp_path):
    # dbt (staging's content_hash) and the asset hash in DuckDB; Python tools must agree on non-ASCII text.
    con = duckdb.connect()
    for text in ("隔壁店更便宜", "Ｃａｎｃｅｌ ✓ émoji 😀", "plain"):
        assert con.execute("SELECT md5(?)", [text]).fetchone()[0] == _md5(text)


def test_the_pipeline_scores_ticket_texts_and_the_marts_carry_the_evidence(settings, landing):
    # The two days of test_pipeline, with T1 (day 1, member M2) leaving for a cheaper rival: a comparison
    # alone ("别家更便宜") is not leaving. Plus two tickets of M1 on day 2: one not renewing (with a phone
    # number), one without intent.
    _two_days(landing)
    landing.write(
        "tickets/2025-03-01/cs.csv",
        "ticket_id,member_id,opened_at,ticket_type,status,content\n"
        "T1,M2,2025-03-01 12:00:00,投诉,处理中,别家更便宜，以后去别家买了，请回电 13912345678 或 a.b@example.com\n",
    )
    landing.write(
        "tickets/2025-03-02/cs.csv",
        "ticket_id,member_id,opened_at,ticket_type,status,content\n"
        "T2,M1,2025-03-02 09:00:00,咨询,已解决,会员到期不续了，请回电 13912345678\n"
        "T3,M1,2025-03-02 10:00:00,咨询,已解决,Where is my parcel?\n",
    )
    instance = dg.DagsterInstance.ephemeral()
    outcome = run_pipeline(settings, D1, D2, instance=instance)
    assert outcome.success, outcome.failures

    scored = instance.get_latest_materialization_event(TICKET_CHURN_INTENT).asset_materialization.metadata
    assert scored["texts_scored_this_run"].value == 3
    assert scored["scored_by_category"].value == {"competitor": 1, "no_longer_needed": 1, "none": 1}
    shown = " ".join(str(v.value) for v in scored.values())
    assert "13912345678" not in shown and "别家" not in shown and "parcel" not in shown

    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        tickets = con.execute(
            "SELECT ticket_id, churn_intent_category, churn_intent_evidence, churn_intent_detector_version "
            "FROM marts.fct_service_tickets "
            "ORDER BY ticket_id"
        ).fetchall()
        flagged = con.execute(
            "SELECT churn_text_ticket_id, churn_text_category, churn_text_evidence FROM marts.member_churn_risk "
            "WHERE as_of_date = DATE '2025-03-02' AND flag_churn_text ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    version = detector_version()
    assert tickets == [
        ("T1", "competitor", "pattern competitor.buy_there_from_now_on: '以后去别家买'", version),
        ("T2", "no_longer_needed", "pattern leave.not_renewing_zh: '到期不续'", version),
        ("T3", None, None, None),
    ]
    # M1's later ticket T3 carries no intent: the flag's evidence is T2.
    assert flagged == [
        ("T1", "competitor", "pattern competitor.buy_there_from_now_on: '以后去别家买'"),
        ("T2", "no_longer_needed", "pattern leave.not_renewing_zh: '到期不续'"),
    ]

    # A second run over the same days scores nothing again.
    assert run_pipeline(settings, D1, D2, instance=instance).success
    again = instance.get_latest_materialization_event(TICKET_CHURN_INTENT).asset_materialization.metadata
    assert again["texts_scored_this_run"].value == 0

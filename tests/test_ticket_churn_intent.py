"""The signals asset's scoring step on a real DuckDB file: each distinct text scored once per detector
version, a new version re-scores, and the content hash is the same in DuckDB and Python."""

from __future__ import annotations

import hashlib

import duckdb

from assets.ingestion.ticket_churn_intent import score_new_texts

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


def test_duckdb_md5_is_the_md5_of_the_utf8_text(tmp_path):
    # dbt (staging's content_hash) and the asset hash in DuckDB; Python tools must agree on non-ASCII text.
    con = duckdb.connect()
    for text in ("隔壁店更便宜", "Ｃａｎｃｅｌ ✓ émoji 😀", "plain"):
        assert con.execute("SELECT md5(?)", [text]).fetchone()[0] == _md5(text)

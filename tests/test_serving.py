"""The BI serving copy: only the analytic schemas, swapped in whole, and readers that never fail or see
half a publication while runs write the warehouse and publish again."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb

from orchestration.runner import run_pipeline
from retention import serving
from retention.generator import generate
from retention.serving import publish

MOBILE = "13812345678"

# BI users, each in its own process (DuckDB shares one database per file within a process, so a
# connection sees the publication that was current when the process first opened the file). Mode
# "fresh" opens a new read-only connection for every query, as a dashboard refresh does; mode "held"
# keeps one connection for the whole test. Every snapshot must be one whole publication: each table's
# row count equals what the publication row says it holds.
READER = r"""
import json, sys, time
from pathlib import Path
import duckdb

serving, stop, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
held = duckdb.connect(str(serving), read_only=True) if mode == "held" else None
versions, queries, errors, torn = set(), 0, [], 0
while not stop.exists():
    try:
        con = held or duckdb.connect(str(serving), read_only=True)
        version, rows = con.execute("SELECT version, table_rows FROM main.publication").fetchone()
        for table, expected in json.loads(rows).items():
            if con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] != expected:
                torn += 1
        if held is None:
            con.close()
        versions.add(version)
        queries += 1
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}"[:200])
    time.sleep(0.01)
print(json.dumps({"versions": sorted(versions), "queries": queries, "errors": errors, "torn": torn}))
"""


def warehouse_with_personal_data(path: Path, members: int) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA raw; CREATE SCHEMA staging; CREATE SCHEMA marts; CREATE SCHEMA outreach")
    con.execute(f"CREATE TABLE raw.members AS SELECT 'M' || i AS member_id, '{MOBILE}' AS mobile FROM range(3) t(i)")
    con.execute("CREATE VIEW staging.stg_events AS SELECT 'E' || i AS event_id FROM range(5) t(i)")
    con.execute(f"CREATE TABLE marts.dim_members AS SELECT 'K' || i AS member_key FROM range({members}) t(i)")
    con.execute("CREATE VIEW marts.fct_member_events AS SELECT * FROM staging.stg_events")
    con.execute("CREATE TABLE outreach.touches AS SELECT 'T1' AS touch_id")
    con.close()


def test_publishes_the_analytic_schemas_only_and_swaps_versions(settings):
    warehouse_with_personal_data(settings.warehouse, members=4)
    first = publish(settings, version="v1")
    assert first.tables == {"marts.dim_members": 4, "marts.fct_member_events": 5, "outreach.touches": 1}
    assert first.started_from == "scratch: no previous serving file"

    con = duckdb.connect(str(settings.serving_file), read_only=True)
    schemas = {row[0] for row in con.execute("SELECT DISTINCT schema_name FROM duckdb_tables()").fetchall()}
    assert schemas == {"main", "marts", "outreach"}  # main holds the publication row; no raw, no staging
    assert con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = 'fct_member_events'"
    ).fetchall() == [("BASE TABLE",)]  # the view over staging became a table
    assert con.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchone() == (0,)
    con.close()
    assert MOBILE.encode() not in settings.serving_file.read_bytes()
    current = settings.serving_parquet_dir / "current"
    assert sorted(p.name for p in current.iterdir()) == [
        "marts.dim_members.parquet",
        "marts.fct_member_events.parquet",
        "outreach.touches.parquet",
    ]
    assert duckdb.sql(f"SELECT count(*) FROM '{current}/marts.dim_members.parquet'").fetchone() == (4,)

    publish(settings, version="v2")
    publish(settings, version="v3")
    assert current.resolve().name == "v3"
    # The previous version stays for a reader still in it; older ones go.
    assert sorted(p.name for p in settings.serving_parquet_dir.iterdir()) == ["current", "v2", "v3"]
    assert not list(settings.serving_file.parent.glob(".*.tmp"))


def start_readers(tmp_path: Path, serving: Path) -> tuple[dict[str, subprocess.Popen], Path]:
    script, stop = tmp_path / "reader.py", tmp_path / "stop"
    script.write_text(READER, encoding="utf-8")
    readers = {
        mode: subprocess.Popen(
            [sys.executable, str(script), str(serving), str(stop), mode], stdout=subprocess.PIPE, text=True
        )
        for mode in ("fresh", "held")
    }
    return readers, stop


def stop_readers(readers: dict[str, subprocess.Popen], stop: Path) -> dict[str, dict]:
    stop.touch()
    return {mode: json.loads(reader.communicate(timeout=60)[0]) for mode, reader in readers.items()}


def test_readers_never_fail_nor_see_half_a_publication(settings, tmp_path):
    warehouse_with_personal_data(settings.warehouse, members=1)
    publish(settings, version="v00")
    readers, stop = start_readers(tmp_path, settings.serving_file)
    time.sleep(1.0)
    for n in range(1, 6):
        con = duckdb.connect(str(settings.warehouse))
        con.execute(f"INSERT INTO marts.dim_members SELECT 'N{n}-' || i FROM range({n * 1000}) t(i)")
        con.close()
        publish(settings, version=f"v{n:02d}")
        time.sleep(0.3)
    seen = stop_readers(readers, stop)
    for mode in ("fresh", "held"):
        assert seen[mode]["errors"] == [] and seen[mode]["torn"] == 0, mode
        assert seen[mode]["queries"] > 20, mode
    assert len(seen["fresh"]["versions"]) >= 3  # a new connection sees the newest publication
    assert seen["held"]["versions"] == ["v00"]  # an open one keeps the version it opened


def test_a_bi_user_holding_the_serving_file_never_makes_a_run_fail(settings, tmp_path):
    settings = dataclasses.replace(settings, max_quarantine_rate=1.0)
    start, end = date(2025, 3, 1), date(2025, 3, 3)
    generate(settings.landing_dir, members=60, start=start, end=end, seed=5, truth_dir=settings.ground_truth_dir)
    # A publication already being read: from another warehouse, into the same serving file.
    earlier = dataclasses.replace(settings, warehouse=tmp_path / "earlier.duckdb")
    warehouse_with_personal_data(earlier.warehouse, members=2)
    publish(earlier, version="earlier")
    readers, stop = start_readers(tmp_path, settings.serving_file)
    time.sleep(1.0)

    outcome = run_pipeline(settings, start, end)  # writes the warehouse, then publishes again
    time.sleep(1.0)  # let the readers query the new publication too

    seen = stop_readers(readers, stop)
    assert outcome.success, outcome.failures
    for mode in ("fresh", "held"):
        assert seen[mode]["errors"] == [] and seen[mode]["torn"] == 0, mode
    assert len(seen["held"]["versions"]) == 1 and len(seen["fresh"]["versions"]) == 2
    latest = duckdb.connect(str(settings.serving_file), read_only=True)
    assert latest.execute("SELECT max(as_of_date) FROM marts.member_churn_risk").fetchone() == (end,)
    # The big facts of the real marts are published by day (their date columns are where serving expects them).
    by_day = latest.execute(
        "SELECT relation, count(*) FROM main.publication_partitions"
        " WHERE columns LIKE '%published by day of%' GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert [relation for relation, _ in by_day] == [
        "marts.fct_member_events",
        "marts.fct_orders",
        "marts.member_churn_risk",
    ]
    assert dict(by_day)["marts.member_churn_risk"] == 3  # as of 1, 2 and 3 March


def warehouse_with_event_days(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts; CREATE SCHEMA outreach; CREATE SCHEMA retrospective")
    con.execute(
        "CREATE TABLE marts.fct_member_events AS SELECT * FROM (VALUES ('E1', 'K1', DATE '2025-07-31'),"
        " ('E2', 'K1', DATE '2025-08-01'), ('E3', 'K2', DATE '2025-08-01'), ('E4', 'K2', DATE '2025-08-15'),"
        " ('E5', 'K3', DATE '2025-08-20'), ('E6', 'K3', NULL), ('E8', 'K1', DATE '2025-07-01'),"
        " ('E9', 'K1', DATE '2025-07-02'), ('E10', 'K2', DATE '2025-07-03'), ('E11', 'K2', DATE '2025-07-04'),"
        " ('E12', 'K3', DATE '2025-06-10')) t(event_id, member_key, event_date)"
    )
    con.execute("CREATE TABLE marts.dim_members AS SELECT * FROM (VALUES ('K1'), ('K2'), ('K3')) t(member_key)")
    con.execute("CREATE TABLE outreach.touches AS SELECT 'T1' AS touch_id")
    con.execute("CREATE TABLE outreach.channels AS SELECT 'sms' AS channel")
    con.execute("CREATE TABLE marts.gone AS SELECT 1 AS n")
    con.close()


def serving_columns(con: duckdb.DuckDBPyConnection, database: str) -> list[tuple]:
    return con.execute(
        "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns()"
        f" WHERE database_name = '{database}' ORDER BY schema_name, table_name, column_index"
    ).fetchall()


def assert_same_publication(incremental, full) -> None:
    con = duckdb.connect()
    con.execute(f"ATTACH '{incremental.serving_file}' AS incremental (READ_ONLY)")
    con.execute(f"ATTACH '{full.serving_file}' AS full_copy (READ_ONLY)")
    assert serving_columns(con, "incremental") == serving_columns(con, "full_copy")
    tables = sorted({f"{schema}.{table}" for schema, table, _, _ in serving_columns(con, "incremental")})
    for table in (t for t in tables if t != "main.publication"):
        for a, b in (("incremental", "full_copy"), ("full_copy", "incremental")):
            assert con.execute(f"SELECT * FROM {a}.{table} EXCEPT ALL SELECT * FROM {b}.{table}").fetchall() == [], (
                table
            )
    files = sorted(p.relative_to(incremental.parquet_dir) for p in incremental.parquet_dir.rglob("*.parquet"))
    assert files == sorted(p.relative_to(full.parquet_dir) for p in full.parquet_dir.rglob("*.parquet"))
    for file in files:
        a, b = incremental.parquet_dir / file, full.parquet_dir / file
        assert (
            con.execute(f"DESCRIBE SELECT * FROM '{a}'").fetchall()
            == con.execute(f"DESCRIBE SELECT * FROM '{b}'").fetchall()
        )
        assert con.execute(f"SELECT * FROM '{a}' EXCEPT ALL SELECT * FROM '{b}'").fetchall() == [], file
        assert con.execute(f"SELECT * FROM '{b}' EXCEPT ALL SELECT * FROM '{a}'").fetchall() == [], file


def full_publication_of(settings, tmp_path: Path):
    """Settings publishing the same warehouse into a serving file of its own, always from scratch."""
    full = dataclasses.replace(
        settings, serving_file=tmp_path / "full" / "serving.duckdb", serving_parquet_dir=tmp_path / "full" / "parquet"
    )
    full.serving_file.unlink(missing_ok=True)
    return full


def test_a_publication_copies_only_the_changed_days_and_equals_a_full_one(settings, tmp_path):
    warehouse_with_event_days(settings.warehouse)
    first = publish(settings, version="v1")
    # events: ten partitions (nine days and the undated row); four whole tables
    assert (first.partitions_copied, first.partitions_kept) == (14, 0)
    v1 = settings.serving_parquet_dir / "v1"
    assert sorted(p.name for p in (v1 / "marts.fct_member_events").iterdir()) == [
        "published_month=2025-06",
        "published_month=2025-07",
        "published_month=2025-08",
        "published_month=none",
    ]

    con = duckdb.connect(str(settings.warehouse))
    con.execute("INSERT INTO marts.fct_member_events VALUES ('E7', 'K1', DATE '2025-09-02')")  # a new day
    con.execute("UPDATE marts.fct_member_events SET member_key = 'K3' WHERE event_id = 'E4'")  # an old day changed
    con.execute("DELETE FROM marts.fct_member_events WHERE event_id IN ('E5', 'E11')")  # two days gone
    con.execute("INSERT INTO marts.dim_members VALUES ('K4')")  # a table's rows changed
    con.execute("ALTER TABLE outreach.touches ADD COLUMN channel VARCHAR DEFAULT 'sms'")  # a table's columns
    con.execute("DROP TABLE marts.gone")
    con.execute("CREATE TABLE retrospective.campaign_kpis AS SELECT 0.5 AS winback_rate")
    con.close()
    second = publish(settings, version="v2")
    # copied: 2025-08-15, 2025-09-02, dim_members, touches, campaign_kpis;
    # kept: 2025-06-10, 2025-07-01, -02, -03, 2025-07-31, 2025-08-01, the undated row, channels
    assert (second.partitions_copied, second.partitions_kept) == (5, 8)
    assert second.tables == {
        "marts.dim_members": 4,
        "marts.fct_member_events": 10,
        "outreach.channels": 1,
        "outreach.touches": 1,
        "retrospective.campaign_kpis": 1,
    }
    v2 = settings.serving_parquet_dir / "v2"
    same_file = {
        name: (v1 / name).stat().st_ino == (v2 / name).stat().st_ino
        for name in (
            "marts.fct_member_events/published_month=2025-06/data0.parquet",
            "marts.fct_member_events/published_month=none/data0.parquet",
            "outreach.channels.parquet",
            "marts.fct_member_events/published_month=2025-07/data0.parquet",  # 2025-07-04 gone
            "marts.fct_member_events/published_month=2025-08/data0.parquet",
            "marts.dim_members.parquet",
        )
    }
    # unchanged files are the previous version's, linked
    assert list(same_file.values()) == [True, True, True, False, False, False], same_file
    assert duckdb.sql(
        f"SELECT published_month, count(*) FROM '{v2}/marts.fct_member_events/*/*.parquet' GROUP BY 1 ORDER BY 1"
    ).fetchall() == [("2025-06", 1), ("2025-07", 4), ("2025-08", 3), ("2025-09", 1), ("none", 1)]

    full = full_publication_of(settings, tmp_path)
    assert_same_publication(second, publish(full, version="v2"))

    third = publish(settings, version="v3")  # nothing changed
    assert (third.partitions_copied, third.partitions_kept) == (0, 13)
    v3 = settings.serving_parquet_dir / "v3"
    assert all(file.stat().st_ino == (v2 / file.relative_to(v3)).stat().st_ino for file in v3.rglob("*.parquet"))
    assert_same_publication(third, publish(full_publication_of(settings, tmp_path / "again"), version="v3"))


def test_emptied_tables_nested_values_and_dropped_empty_tables_reach_the_publication(settings, tmp_path):
    con = duckdb.connect(str(settings.warehouse))
    con.execute("CREATE SCHEMA marts; CREATE SCHEMA outreach")
    con.execute(
        "CREATE TABLE marts.member_churn_risk AS SELECT * FROM (VALUES ('K1', DATE '2025-09-01', []::VARCHAR[]),"
        " ('K2', DATE '2025-09-01', ['no_login']), ('K1', DATE '2025-09-02', []::VARCHAR[]))"
        " t(member_key, as_of_date, reasons)"
    )
    con.execute("CREATE TABLE marts.fct_orders AS SELECT 'O1' AS order_id, DATE '2025-09-01' AS order_date")
    con.execute("CREATE TABLE outreach.touches AS SELECT 'T1' AS touch_id")
    con.execute("CREATE TABLE marts.empty_then_gone (n INTEGER)")
    con.close()
    publish(settings, version="v1")

    con = duckdb.connect(str(settings.warehouse))
    # hash() alone gives [] and NULL lists the same value: the fingerprint must still see the change
    con.execute("UPDATE marts.member_churn_risk SET reasons = NULL WHERE reasons = []")
    con.execute("DELETE FROM outreach.touches")
    con.execute("DELETE FROM marts.fct_orders")
    con.execute("DROP TABLE marts.empty_then_gone")
    con.close()
    second = publish(settings, version="v2")
    assert second.tables == {"marts.fct_orders": 0, "marts.member_churn_risk": 3, "outreach.touches": 0}
    serving = duckdb.connect(str(settings.serving_file), read_only=True)
    assert serving.execute("SELECT count(*) FROM marts.member_churn_risk WHERE reasons IS NULL").fetchone() == (2,)
    serving.close()
    current = settings.serving_parquet_dir / "current"
    assert duckdb.sql(f"SELECT count(*) FROM '{current}/outreach.touches.parquet'").fetchone() == (0,)
    assert duckdb.sql(f"SELECT count(*) FROM '{current}/marts.fct_orders/*/*.parquet'").fetchone() == (0,)
    assert_same_publication(second, publish(full_publication_of(settings, tmp_path), version="v2"))


def test_a_serving_file_without_fingerprints_is_published_again_from_scratch(settings):
    warehouse_with_event_days(settings.warehouse)
    settings.serving_file.parent.mkdir(parents=True)
    old = duckdb.connect(str(settings.serving_file))  # as published before fingerprints, or a mistaken path
    old.execute("CREATE SCHEMA marts; CREATE TABLE marts.dim_members AS SELECT 'stale' AS member_key")
    old.execute(f"CREATE SCHEMA raw; CREATE TABLE raw.members AS SELECT '{MOBILE}' AS mobile")
    old.execute("CREATE TABLE main.publication AS SELECT 'old' AS version")
    old.close()
    publication = publish(settings, version="v1")
    assert (publication.partitions_copied, publication.partitions_kept) == (14, 0)
    assert publication.started_from == "scratch: the previous file has no main.publication_partitions"
    con = duckdb.connect(str(settings.serving_file), read_only=True)
    assert con.execute("SELECT member_key FROM marts.dim_members ORDER BY 1").fetchall() == [("K1",), ("K2",), ("K3",)]
    assert con.execute("SELECT count(*) FROM duckdb_schemas() WHERE schema_name = 'raw'").fetchone() == (0,)
    con.close()
    assert MOBILE.encode() not in settings.serving_file.read_bytes()


def test_a_serving_file_mostly_free_blocks_is_published_again_from_scratch(settings, monkeypatch):
    monkeypatch.setattr(serving, "MIN_FREE_BYTES", 1)  # this file is a few MB, not the 64 MB it takes in use
    warehouse_with_event_days(settings.warehouse)
    con = duckdb.connect(str(settings.warehouse))
    con.execute("CREATE TABLE marts.member_rfm AS SELECT 'K' || i AS member_key, i AS score FROM range(300000) t(i)")
    con.close()
    publish(settings, version="v1")
    con = duckdb.connect(str(settings.warehouse))
    con.execute("DROP TABLE marts.member_rfm")
    con.close()
    second = publish(settings, version="v2")  # drops the big table from its copy: most of the file is free
    assert second.partitions_kept == 14
    third = publish(settings, version="v3")
    assert (third.partitions_copied, third.partitions_kept) == (14, 0)
    assert third.bytes < second.bytes
    assert second.started_from == "version v1"
    assert re.fullmatch(r"scratch: \d+% of the previous file is free blocks", third.started_from), third.started_from


def test_an_unreadable_serving_file_is_published_again_from_scratch_saying_so(settings):
    warehouse_with_event_days(settings.warehouse)
    settings.serving_file.parent.mkdir(parents=True)
    settings.serving_file.write_bytes(f"not a DuckDB file {MOBILE}\n".encode() * 1000)
    publication = publish(settings, version="v1")
    assert (publication.partitions_copied, publication.partitions_kept) == (14, 0)
    # Named by the error's class: DuckDB's message may quote the file, and this one holds a phone number.
    assert re.fullmatch(r"scratch: the previous file cannot be read \(\w+\)", publication.started_from)
    assert MOBILE.encode() not in settings.serving_file.read_bytes()
    assert publish(settings, version="v2").started_from == "version v1"


def test_days_outside_the_plain_calendar_are_published_and_replaced_like_any_other(settings, tmp_path):
    con = duckdb.connect(str(settings.warehouse))
    con.execute("CREATE SCHEMA marts")
    con.execute(
        "CREATE TABLE marts.fct_orders AS SELECT * FROM (VALUES ('O1', DATE '1999-12-31'), ('O2', 'infinity'::DATE),"
        " ('O3', DATE '10000-01-05'), ('O4', DATE '2025-09-01'), ('O5', DATE '2025-09-02'), ('O6', DATE '2025-09-03'),"
        " ('O7', DATE '2025-09-04')) t(order_id, order_date)"
    )
    con.close()
    publish(settings, version="v1")
    con = duckdb.connect(str(settings.warehouse))
    con.execute("UPDATE marts.fct_orders SET order_id = order_id || 'b' WHERE order_id IN ('O2', 'O3')")
    con.close()
    second = publish(settings, version="v2")
    assert (second.partitions_copied, second.partitions_kept) == (2, 5)  # the infinity and year-10000 days
    current = settings.serving_parquet_dir / "current"
    assert duckdb.sql(f"SELECT count(*) FROM '{current}/marts.fct_orders/*/*.parquet'").fetchone() == (7,)
    assert_same_publication(second, publish(full_publication_of(settings, tmp_path), version="v2"))

"""The BI serving copy: only the analytic schemas, swapped in whole, and readers that never fail or see
half a publication while runs write the warehouse and publish again."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb

from orchestration.runner import run_pipeline
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

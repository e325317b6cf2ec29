"""The staged demo on a small population and the campaign moved to March 2025: runs and simulations alternate,
each run loads only the new days, and every simulated row is loaded by the next run."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import dagster as dg
import duckdb
import polars as pl

from retention.demo_timeline import run_campaign_timeline
from tests.test_demo_pipeline import march_campaign

START, END = date(2025, 1, 1), date(2025, 3, 31)


def test_waves_are_built_simulated_and_their_responses_loaded(settings, tmp_path):
    # See test_demo_pipeline: a small population needs a looser quarantine gate; the flow is what counts here.
    settings = dataclasses.replace(settings, max_quarantine_rate=0.25, campaign_file=march_campaign(tmp_path))
    lines = []
    timeline = run_campaign_timeline(
        settings, 400, START, END, 11, instance=dg.DagsterInstance.ephemeral(), report=lines.append
    )

    assert timeline.success, timeline.failures
    assert [stage.name for stage in timeline.stages] == [
        "generate", "run", "simulate wave_1", "run", "simulate wave_2", "run", "simulate wave_3",
    ]  # fmt: skip
    runs = [stage.detail for stage in timeline.stages if stage.name == "run"]
    assert runs == [
        "pipeline 2025-01-01..2025-03-03 (62 days)",
        "pipeline 2025-03-04..2025-03-17 (14 days)",
        "pipeline 2025-03-18..2025-03-31 (14 days)",  # wave_3 is on the last day: no run after it
    ]
    assert len(lines) == 7
    wave_1 = timeline.simulations[0]
    assert wave_1.built and wave_1.members > 0

    # The files the first two simulations wrote on days up to the end were loaded, none quarantined.
    written = {f for s in timeline.simulations[:2] for f in s.files if f.split("/")[1] <= END.isoformat()}
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    loaded = con.execute(
        "SELECT source_file, rows_quarantined FROM raw.landed_files"
        " WHERE regexp_matches(source_file, '_wave_[0-9]+[.](csv|jsonl)$')"
    ).fetchall()
    con.close()
    assert written and written <= {name for name, _ in loaded}
    assert sum(quarantined for _, quarantined in loaded) == 0

    # The answer key counts the members of wave_1's channel files (read here independently).
    exported = pl.concat(
        [
            pl.read_parquet(path, columns=["member_id"])
            for path in (settings.export_dir / "outreach" / "winback-2025-08" / "wave_1").glob("*.parquet")
            if path.stem.endswith(("_sms", "_push", "_call_list"))
        ]
    )
    truth = json.loads((settings.ground_truth_dir / "campaign" / "winback-2025-08" / "truth.json").read_text())
    assert truth["first_batch_final"]["treated_n"] == exported["member_id"].n_unique() == wave_1.members
    assert truth["first_batch_final"]["window"] == {"after": "2025-03-03", "through": "2025-03-31"}

"""The generated demo data through the whole pipeline: every asset materializes and `dbt build` passes."""

from __future__ import annotations

import dataclasses
from datetime import date

import duckdb

from retention.generator import generate
from retention.runner import run_pipeline

START, END = date(2025, 1, 1), date(2025, 3, 31)


def test_small_demo_runs_end_to_end_and_every_row_is_accounted_for(settings):
    # 400 members make ~150 events a day, so 1% defects of three kinds push some days past the 5%
    # quarantine gate by chance alone; the gate has its own tests, this one is about the flow.
    settings = dataclasses.replace(settings, max_quarantine_rate=0.25)
    summary = generate(
        settings.landing_dir, members=400, start=START, end=END, seed=11, truth_dir=settings.ground_truth_dir
    )

    outcome = run_pipeline(settings, START, END)

    assert outcome.success, outcome.failures
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    loads = {
        source: (read, loaded, quarantined)
        for source, read, loaded, quarantined in con.execute(
            "SELECT source, sum(rows_read), sum(rows_loaded), sum(rows_quarantined) FROM raw.landed_files GROUP BY 1"
        ).fetchall()
    }
    for source, rows in summary.rows_per_source.items():
        read, loaded, quarantined = loads[source]
        assert read == rows, source  # every delivered row was read ...
        assert read == loaded + quarantined, source  # ... and either loaded or kept aside
    assert con.execute("SELECT count(*) FROM raw.quarantine").fetchone()[0] == sum(q for _, _, q in loads.values())
    assert con.execute("SELECT count(*) FROM marts.dim_members").fetchone()[0] > 300
    con.close()

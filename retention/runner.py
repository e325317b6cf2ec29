"""Running the pipeline without the UI (for `retention run`, cron and tests) and summarising it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date

import dagster as dg
import duckdb

from retention.settings import Settings

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


@dataclass
class RunOutcome:
    success: bool
    run_id: str
    failures: list[str] = field(default_factory=list)


def run_pipeline(
    settings: Settings,
    start: date,
    end: date,
    instance: dg.DagsterInstance | None = None,
    as_of_date: date | None = None,
    full_refresh: bool = False,
) -> RunOutcome:
    """Materialize every partition in [start, end] of every ingestion asset, then all dbt models as of
    `as_of_date` (default: `end`), with the risk and KPI history of every day from `start` (or the as-of
    day, if earlier) to it, in one run. `full_refresh` recomputes that history for every landed day."""
    from orchestration.definitions import build_definitions
    from orchestration.jobs import DAILY_REFRESH

    if start < settings.start_date:
        raise ValueError(f"{start} is before the first partition ({settings.start_date}, RETENTION_START_DATE)")
    job = build_definitions(settings).resolve_job_def(DAILY_REFRESH)
    instance = instance or (
        dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    )
    result = job.execute_in_process(
        instance=instance,
        tags={RANGE_START_TAG: start.isoformat(), RANGE_END_TAG: end.isoformat()},
        run_config={
            "loggers": {"console": {"config": {"log_level": "INFO"}}},
            "ops": {
                "retention_dbt_models": {
                    "config": {
                        "as_of_date": (as_of_date or end).isoformat(),
                        "history_from": min(start, as_of_date or end).isoformat(),
                        "full_refresh": full_refresh,
                    }
                }
            },
        },
        raise_on_error=False,
    )
    failures = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            failures.append(f"step {event.step_key}: {error.message.strip() if error else event.message}")
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
                failures.append(f"check {evaluation.asset_key.to_user_string()}:{evaluation.check_name} failed")
    return RunOutcome(result.success and not failures, result.run_id, failures)


def warehouse_summary(settings: Settings) -> str:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        loads = con.execute(
            """SELECT source, count(*) AS files, sum(rows_read), sum(rows_loaded), sum(rows_quarantined)
            FROM raw.landed_files GROUP BY source ORDER BY source"""
        ).fetchall()
        reasons = con.execute(
            "SELECT source, reason_code, count(*) FROM raw.quarantine GROUP BY ALL ORDER BY source, 3 DESC"
        ).fetchall()
        models = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = 'marts' ORDER BY table_name"
        ).fetchall()
        model_counts = [
            (f"{schema}.{name}", con.execute(f'SELECT count(*) FROM {schema}."{name}"').fetchone()[0])
            for schema, name in models
        ]
    finally:
        con.close()
    lines = ["Loaded (raw layer):", f"  {'source':<18}{'files':>7}{'read':>12}{'loaded':>12}{'quarantined':>13}"]
    for source, files, read, loaded, quarantined in loads:
        lines.append(f"  {source:<18}{files:>7,}{read:>12,}{loaded:>12,}{quarantined:>13,}")
    if reasons:
        lines.append("Quarantined by reason (raw.quarantine):")
        for source, code, n in reasons:
            lines.append(f"  {source:<18}{code:<22}{n:>9,}")
    # Marts only: counting a staging view would run its deduplication over the whole history.
    lines.append("Marts (what BI tools and the outreach stage read):")
    lines += [f"  {name:<36}{n:>12,} rows" for name, n in model_counts]
    lines += [
        "",
        f"Warehouse (DuckDB): {settings.warehouse}",
        f"Landing files:      {settings.landing_dir}",
        f"Exports:            {settings.export_dir}",
        "Open the Dagster UI: make ui   (then http://127.0.0.1:3000)",
    ]
    return "\n".join(lines)

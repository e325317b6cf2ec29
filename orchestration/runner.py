"""Running the pipeline without the UI (for `retention run`, cron and tests) and summarising it."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb

from retention.landing.safe_text import printable
from retention.landing.unmapped import unmapped_lines
from retention.run_lock import warehouse_lock
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
    # One writer at a time, whatever the Dagster instance allows: the lock also covers opening the
    # instance, so two runs never create or migrate its SQLite storage at once.
    with warehouse_lock(settings):
        if instance is not None:
            return _execute(job, instance, start, end, as_of_date, full_refresh)
        with _default_instance() as own:
            return _execute(job, own, start, end, as_of_date, full_refresh)


def _default_instance() -> dg.DagsterInstance:
    """The instance of $DAGSTER_HOME, so the UI shows the run, else an in-memory one."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return dg.DagsterInstance.ephemeral()
    if not (Path(home) / "dagster.yaml").is_file():
        print(
            f"note: DAGSTER_HOME ({printable(home)}) has no dagster.yaml (`make setup` copies "
            "orchestration/dagster.yaml there): this run is recorded with Dagster's defaults.",
            file=sys.stderr,
        )
    return dg.DagsterInstance.get()


def _execute(job, instance: dg.DagsterInstance, start: date, end: date, as_of_date: date | None, full_refresh: bool):
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
                },
                "retention_dbt_retrospective": {"config": {"as_of_date": (as_of_date or end).isoformat()}},
            },
        },
        raise_on_error=False,
    )
    failures, failed_checks = [], 0
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            if failed_checks and error is not None and error.cls_name == "DagsterAssetCheckFailedError":
                continue  # "1 blocking asset check failed": the checks are listed with their reasons
            failures.append(step_failure_summary(event.step_key, error))
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
                failures.append(check_failure_summary(evaluation))
                failed_checks += 1
    return RunOutcome(result.success and not failures, result.run_id, failures)


# A failure's summary: the first line says what failed, the indented lines below it why. Every line
# goes through `printable` and none carries a row value other than a code value: landing errors name
# the file, position and problem; dbt's messages have their quoted literals masked; check results are
# counts, codes and the unmapped code values, those that look like personal data only counted.
MAX_DETAIL_LINES = 20
_DBT_ERRORS_HEADER = "Errors parsed from dbt logs:"
_DBT_FAILING_NODE = re.compile(r"(?:Error|Failure|Warning) in (?:model|test|seed|snapshot|unit_test) ([\w.]+)")
_QUOTED_LITERAL = re.compile(r"'(?:[^']|'')*'")
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def step_failure_summary(step_key: str, error) -> str:
    """What failed in a step and why: the message of the error the asset code raised (not Dagster's
    wrapper, "Error occurred while executing op ..."), found by walking the error's cause chain."""
    user_error = asset_code_error(error)
    if user_error is None:
        return f"step {step_key} failed (no error recorded; see the run log)"
    text = _message_text(user_error)
    if user_error.cls_name == "DagsterDbtCliRuntimeError":
        return _dbt_failure_summary(step_key, text)
    if user_error.cls_name not in TRUSTED_ERRORS:
        return f"step {step_key} failed: {user_error.cls_name} ({WITHHELD})"
    return _with_details(f"step {step_key} failed: {user_error.cls_name}", text.splitlines())


# Errors whose wording this project writes and keeps free of values: the loader's, the warehouse lock's, a
# blocking check's and our own dg.Failure texts. Any other error (Polars, DuckDB, pandas, Python's own) may
# quote or echo the value it choked on in shapes no mask recognises (backticks, the value alone on a line, a
# name after an apostrophe): its message is withheld from the summary, the CLI and the alerts.
TRUSTED_ERRORS = frozenset(
    {"LandingError", "LandingFileError", "WarehouseBusy", "DagsterAssetCheckFailedError", "Failure"}
)
WITHHELD = "message withheld, it may quote data: the run's log in the Dagster UI has it"


def asset_code_error(error):
    """The outermost error in the cause chain that is not one of Dagster's own wrappers (its deeper
    causes are the implementation's, and a parser's message may quote the line it choked on)."""
    chain, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        chain.append(error)
        error = error.cause or error.context
    for candidate in chain:
        if not candidate.message.startswith("dagster._"):
            return candidate
    return chain[-1] if chain else None


def _message_text(error) -> str:
    """The message without the `module.Class: ` prefix of Python's exception formatting."""
    text = error.message.strip()
    prefix, sep, rest = text.partition(": ")
    if sep and prefix.split(".")[-1] == error.cls_name:
        return rest
    return text


def _dbt_failure_summary(step_key: str, text: str) -> str:
    messages = text.split(_DBT_ERRORS_HEADER, 1)[1] if _DBT_ERRORS_HEADER in text else ""
    messages = _ANSI_ESCAPE.sub("", messages)
    # dbt's own lines ("Runtime Error in model x (models/x.sql)") and the database's error lines, values
    # masked; not the rest (DuckDB repeats a value it could not parse alone on a line, under a caret).
    lines = [
        _QUOTED_LITERAL.sub("'…'", line)
        for line in messages.splitlines()
        if line.strip()
        and not line.lstrip().startswith(("> in macro", "> called by"))
        and ("error" in line.lower() or "Failure in" in line or "Got " in line)
    ]
    nodes = list(dict.fromkeys(_DBT_FAILING_NODE.findall(messages)))
    headline = f"step {step_key} failed: dbt build"
    if nodes:
        headline += f" (failing: {', '.join(nodes)})"
    if not lines:
        exit_code = re.search(r"failed with exit code `?(-?\d+)", text)
        lines = [f"dbt exited with code {exit_code[1] if exit_code else '?'}; its output is in the run log"]
    return _with_details(headline, lines)


def check_failure_summary(evaluation) -> str:
    """A failed blocking check with what its metadata says: the failed expectations (counts, never
    the example values), the worst days and, for the quarantine rate, the top quarantine reasons and
    the code values no spelling maps, with the file that maps them (escaped and cut; a value held by fewer than
    3 members, or with an @ or 7+ digits, is only counted: see retention/landing/unmapped.py)."""
    lines = []
    metadata = {k: getattr(v, "value", v) for k, v in (evaluation.metadata or {}).items()}
    for failure in metadata.pop("failures", None) or []:
        if not isinstance(failure, dict):
            continue
        column = failure.get("column")
        column = ", ".join(column) if isinstance(column, list) else column
        line = f"{failure.get('severity', 'ERROR')} {failure.get('expectation')}"
        line += f" on {column}" if column else ""
        if failure.get("unexpected_count"):
            line += f": {failure['unexpected_count']:,} unexpected"
            if failure.get("unexpected_percent") is not None:
                line += f" ({failure['unexpected_percent']}%)"
        if isinstance(failure.get("observed"), (int, float)):
            line += f"; observed {failure['observed']}"
        if failure.get("error"):
            line += f"; error: {failure['error']}"
        lines.append(line)
    worst = metadata.pop("worst_days", None)
    if isinstance(worst, dict) and worst:
        limit = metadata.pop("max_quarantine_rate", None)
        lines.append(
            "worst days by quarantine rate"
            + (f" (max {limit})" if limit is not None else "")
            + ": "
            + ", ".join(f"{day} {rate}" for day, rate in worst.items())
        )
    reasons = metadata.pop("quarantine_reasons", None)
    if isinstance(reasons, dict) and reasons:
        lines.append(
            "top quarantine reasons (raw.quarantine, exact duplicates excluded): "
            + ", ".join(f"{reason} {n:,}" for reason, n in reasons.items())
        )
    unmapped = metadata.pop("unmapped_values", None)
    vocabulary_file = metadata.pop("vocabulary_file", None)
    if isinstance(unmapped, dict) and unmapped:
        lines += unmapped_lines(unmapped, str(vocabulary_file or "the vocabulary file (RETENTION_VOCABULARY_FILE)"))
    numbers = {k: v for k, v in metadata.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if numbers:
        lines.append(", ".join(f"{k} {v:,}" for k, v in numbers.items()))
    headline = f"check {evaluation.asset_key.to_user_string()}:{evaluation.check_name} failed"
    return _with_details(headline, lines)


def _with_details(headline: str, lines: list[str]) -> str:
    # Landing errors escape file names once already; long enough for a deep path.
    shown = [printable(line.rstrip(), 1000, escape_backslash=False) for line in lines if line.strip()]
    if len(shown) > MAX_DETAIL_LINES:
        shown = [*shown[:MAX_DETAIL_LINES], f"... {len(shown) - MAX_DETAIL_LINES} more line(s) in the run log"]
    return "\n".join([printable(headline, 1000, escape_backslash=False), *(f"    {line}" for line in shown)])


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
        waves = _outreach_waves(con)
        retrospective = _retrospective(con)
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
    if waves:
        lines.append("Win-back waves (outreach.waves; files per channel under Exports/outreach):")
        lines.append(f"  {'batch':<38}{'targeted':>9}{'treated':>9}{'holdout':>9}{'touches':>9}{'exp. cost':>11}")
        for batch, targeted, treated, holdout, touches, cost in waves:
            lines.append(f"  {batch:<38}{targeted:>9,}{treated:>9,}{holdout:>9,}{touches:>9,}{cost:>11,.2f}")
    lines += retrospective
    lines += [
        "",
        f"Warehouse (DuckDB): {settings.warehouse}",
        f"Landing files:      {settings.landing_dir}",
        f"Exports:            {settings.export_dir}",
        f"For BI tools:       {settings.serving_file} (read-only copy of marts + outreach; Parquet in"
        f" {settings.serving_parquet_dir / 'current'})",
        "Open the Dagster UI: make ui   (then http://127.0.0.1:3000)",
    ]
    return "\n".join(lines)


def has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, table]
        ).fetchone()[0]
    )


def _retrospective(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The campaigns' headline (first-batch win-back rate, holdout, lift with its interval) and the outreach
    feedback kept aside, by reason."""
    lines = []
    if has_table(con, "retrospective", "campaign_retrospective_summary"):
        rows = con.execute(
            "SELECT campaign_id, as_of_date, is_final, treated_members, treated_rate, holdout_members, holdout_rate,"
            " lift, lift_ci_low, lift_ci_high, budget_spent FROM retrospective.campaign_retrospective_summary"
            " ORDER BY campaign_id"
        ).fetchall()
        if rows:
            lines.append(
                "Campaign retrospective (first batch; retrospective.* and the report under Exports/retrospective):"
            )
        for campaign, as_of, final, treated, treated_rate, holdout, holdout_rate, lift, low, high, spent in rows:
            state = "final" if final else f"to date ({as_of})"
            line = f"  {campaign}, {state}: win-back {_percent(treated_rate)} of {treated:,} contacted"
            line += f", holdout {_percent(holdout_rate)} of {holdout:,}"
            if lift is not None:
                line += f", lift {lift:+.1%} (95% CI {low:+.1%} to {high:+.1%})"
            if spent is not None:
                line += f", spent {spent:,.2f} CNY"
            lines.append(line)
    if has_table(con, "retrospective", "outreach_feedback_rejected"):
        rejected = con.execute(
            "SELECT reason, count(*) FROM retrospective.outreach_feedback_rejected GROUP BY ALL ORDER BY 2 DESC, 1"
        ).fetchall()
        if rejected:
            lines.append("Outreach feedback kept aside (retrospective.outreach_feedback_rejected):")
            lines += [f"  {reason:<40}{n:>9,}" for reason, n in rejected]
    return lines


def _percent(rate) -> str:
    return "-" if rate is None else f"{rate:.1%}"


def _outreach_waves(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    if not has_table(con, "outreach", "waves"):
        return []
    return con.execute(
        "SELECT batch_id, members_targeted, members_treated, members_holdout, touches_exported, expected_cost"
        " FROM outreach.waves ORDER BY wave_date, campaign_id"
    ).fetchall()

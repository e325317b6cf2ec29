"""Ingestion assets: landed files of each source into `raw.<source>` in DuckDB, one day a partition.

A run may cover a range of days (single-run backfill policy): loading 21 months is one run and one
transaction per source, not 640 runs.
"""

import warnings
from collections import Counter
from datetime import date

import dagster as dg

from assets.owners import owners
from quality.raw_checks import evaluate_raw_checks, raw_check_specs
from retention.landing.contract import SOURCES, Source
from retention.landing.loader import DayCounts, LoadReport, load_range, raw_table
from retention.landing.rules import quote_ident
from retention.landing.safe_text import printable
from retention.resources import WAREHOUSE_POOL, RetentionResource

# Files listed by name in a load's metadata (the counts per status cover all of them); a display bound.
INVENTORY_SHOWN = 200
# Files neither loaded nor out of range (ignored) named in the load's log line.
IGNORED_LOGGED = 20


def landing_key(source: Source) -> dg.AssetKey:
    return dg.AssetKey(["landing", source.name])


def raw_key(source: Source) -> dg.AssetKey:
    return dg.AssetKey(["raw", source.name])


def landing_specs() -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec(
            landing_key(source),
            description=f"Files delivered to `$RETENTION_LANDING_DIR/{source.name}/`, one folder or file "
            f"name per landing day. {source.description} See docs/landing_contract.md.",
            group_name="landing",
            owners=owners("landing"),
            kinds={"file"},
        )
        for source in SOURCES.values()
    ]


def build_raw_asset(source: Source, partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    key = raw_key(source)
    deps = [landing_key(source)]
    if source.references_members:
        # Facts are checked against the member master, so members load first in a shared run.
        deps.append(raw_key(SOURCES["members"]))

    @dg.asset(
        key=key,
        deps=deps,
        description=f"{source.description} Typed rows in `raw.{source.name}`; rows breaking the landing "
        "contract go to `raw.quarantine` with a reason, and every file to `raw.landed_files`.",
        group_name="ingestion",
        owners=owners("ingestion"),
        kinds={"duckdb", "polars"},
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        check_specs=raw_check_specs(key),
        pool=WAREHOUSE_POOL,
        metadata={"landing_contract": dg.MetadataValue.path("docs/landing_contract.md")},
    )
    def _raw_asset(context: dg.AssetExecutionContext, retention: RetentionResource):
        start, end = partition_dates(context)
        settings = retention.settings()
        with retention.connect() as con:
            report = load_range(
                con, source, start, end, settings, run_id=context.run_id, on_commit=_log_commit(context, source)
            )
            checks = evaluate_raw_checks(con, source, settings, start, end, key)
            preview = preview_rows(con, source, start, end)
        context.log.info(
            f"{source.name} {start}..{end}: {report.files} files, {report.rows_read} rows read, "
            f"{report.rows_loaded} loaded, {report.rows_quarantined} quarantined, "
            f"in {report.transactions} transaction(s); {inventory_summary(report.inventory)}"
        )
        if report.corrected_keys:
            context.log.warning(
                f"{source.name} {start}..{end}: {report.corrected_keys} key(s) delivered again on another landing "
                "day with different values; which version stands: docs/landing_contract.md (corrections)"
            )
        # Each day's partition gets its own counts; the run's summary (listings, reasons, preview) goes on
        # its last day only: Dagster stores one event per partition, and copying the summary into every one
        # of a 600-day load's events cost more than reading its files.
        days = context.partition_keys
        for day in days[:-1]:
            context.add_asset_metadata(day_metadata(report, date.fromisoformat(day)), partition_key=day)
        summary = {**load_metadata(report), "preview": dg.MetadataValue.md(preview)}
        context.add_asset_metadata(
            {**day_metadata(report, date.fromisoformat(days[-1])), **summary}, partition_key=days[-1]
        )
        return dg.MaterializeResult(check_results=checks)

    return _raw_asset


def _log_commit(context: dg.AssetExecutionContext, source: Source):
    def log(first: date, last: date, report: LoadReport) -> None:
        context.log.info(
            f"{source.name}: committed landing days {first}..{last} "
            f"({report.rows_loaded:,} rows loaded so far of {report.start}..{report.end})"
        )

    return log


def partition_dates(context: dg.AssetExecutionContext) -> tuple[date, date]:
    keys = context.partition_key_range
    return date.fromisoformat(keys.start), date.fromisoformat(keys.end)


def preview_rows(con, source: Source, start: date, end: date, limit: int = 5) -> str:
    """A few loaded rows as a Markdown table, without the columns that hold personal data."""
    columns = [c.name for c in source.columns if not c.pii]
    quoted = ", ".join(quote_ident(c) for c in columns)
    rows = con.execute(
        f"SELECT {quoted} FROM {raw_table(source)} WHERE _landing_date BETWEEN ? AND ? "
        "ORDER BY _landing_date, _source_file, _row_number LIMIT ?",
        [start, end, limit],
    ).fetchall()
    if not rows:
        return "no rows loaded"
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    # Values escaped: a control character in a store name must not reach the UI or a terminal as is.
    cells = (("" if v is None else printable(v, 60).replace("|", "\\|") for v in row) for row in rows)
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def day_metadata(report: LoadReport, day: date) -> dict:
    """One landing day's counts (its partition's metadata), and the days the run loaded with it."""
    counts = report.by_day.get(day, DayCounts())
    return {
        "run_days": f"{report.start}..{report.end}",
        "files_read": counts.files,
        "rows_read": counts.rows_read,
        "rows_loaded": counts.rows_loaded,
        "rows_quarantined": counts.rows_quarantined,
        "dagster/row_count": counts.rows_loaded,
    }


def load_metadata(report: LoadReport) -> dict:
    """What the UI shows for a load on its last day, beside that day's `day_metadata`: counts and reasons
    over all its days, never row values (they may hold PII)."""
    reasons = sorted(report.reasons.items(), key=lambda kv: -kv[1])
    table = "| reason | rows |\n| --- | --- |\n" + "\n".join(f"| `{code}` | {n} |" for code, n in reasons)
    return {
        "run_files_read": report.files,
        "run_rows_read": report.rows_read,
        "run_rows_loaded": report.rows_loaded,
        "run_rows_quarantined": report.rows_quarantined,
        "corrected_keys": report.corrected_keys,
        "quarantine_by_reason": dg.MetadataValue.md(table if reasons else "no rows quarantined"),
        "encodings": dg.MetadataValue.json(dict(report.encodings)),
        "empty_files": dg.MetadataValue.json([printable(f) for f in report.empty_files[:50]]),
        "ignored_columns": dg.MetadataValue.json(
            {printable(f): [printable(c) for c in cols] for f, cols in report.extra_columns.items()}
        ),
        "files_by_status": dg.MetadataValue.json(dict(sorted(Counter(report.inventory.values()).items()))),
        "files_found": dg.MetadataValue.json(inventory_listing(report.inventory)),
    }


_STATUS_RANK = {"refused": 0, "ignored": 1, "loaded": 2, "in_range": 2, "out_of_range": 3}


def inventory_listing(inventory: dict[str, str], limit: int = INVENTORY_SHOWN) -> dict:
    """Every file found below the source folder with its status (names escaped), refused and ignored
    first, then loaded, then out of range; at most `limit` of them, with how many were left out."""
    ranked = sorted(inventory.items(), key=lambda item: (_STATUS_RANK.get(item[1].split(":")[0], 0), item[0]))
    shown = [{"file": printable(path), "status": printable(status)} for path, status in ranked[:limit]]
    return {"files": shown, "not_shown": len(ranked) - len(shown)}


def inventory_summary(inventory: dict[str, str], limit: int = IGNORED_LOGGED) -> str:
    """One log line's worth: files found per status, and the names (escaped) of those neither loaded nor
    out of range (i.e. ignored: a refused file fails the load before this)."""
    counts = ", ".join(f"{n} {status}" for status, n in sorted(Counter(inventory.values()).items()))
    text = f"files found: {counts or 'none'}"
    not_loaded = [path for path, status in inventory.items() if not status.startswith(("loaded", "out_of_range"))]
    if not_loaded:
        names = ", ".join(printable(path) for path in not_loaded[:limit])
        more = f" and {len(not_loaded) - limit} more" if len(not_loaded) > limit else ""
        text += f" (not loaded: {names}{more})"
    return text


def build_raw_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    # A single-run backfill (a range of days in one run, one dbt build after it) is what a backfill here
    # must be; Dagster marks the parameter beta and would warn on every code location load.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=dg.BetaWarning)
        return [build_raw_asset(source, partitions_def) for source in SOURCES.values()]

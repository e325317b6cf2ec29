"""Dagster asset checks on the raw layer, built on the Great Expectations suites.

Both checks are blocking: an ERROR-severity failure stops the dbt models downstream in the same
run, so a broken delivery never reaches the marts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING

import dagster as dg
import duckdb

from retention.landing.contract import Source
from retention.landing.loader import MANIFEST_TABLE, QUARANTINE_TABLE, raw_table
from retention.landing.rules import quote_ident
from retention.landing.unmapped import unmapped_lines, unmapped_values
from retention.landing.vocabulary import shown_path
from retention.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

# Great Expectations (and pandas) are imported when a check runs, not when the code location loads:
# importing GX alone takes about 5 s, and the Dagster UI reloads definitions often.

VALID_ROWS = "gx_valid_rows"
QUARANTINE_RATE = "gx_quarantine_rate"


def raw_check_specs(asset_key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            VALID_ROWS,
            asset=asset_key,
            blocking=True,
            description="Great Expectations suite on the rows loaded for the materialized days: required "
            "values present, codes and amounts within the contract (ERROR); business key unique per day and "
            "event times on the landing day (WARN).",
        ),
        dg.AssetCheckSpec(
            QUARANTINE_RATE,
            asset=asset_key,
            blocking=True,
            description="Great Expectations suite on per-day load statistics: the share of rows quarantined "
            "(exact duplicates excluded) stays at or below RETENTION_MAX_QUARANTINE_RATE.",
        ),
    ]


def loaded_rows_frames(
    con: duckdb.DuckDBPyConnection, source: Source, start: date, end: date, max_rows: int
) -> Iterator[pd.DataFrame]:
    """The loaded rows of [start, end] in frames of whole landing days, about `max_rows` rows each
    (a 21-month history of events does not fit in memory as one frame)."""
    per_day = con.execute(
        f"SELECT _landing_date, count(*) FROM {raw_table(source)} WHERE _landing_date BETWEEN ? AND ? "
        "GROUP BY ALL ORDER BY 1",
        [start, end],
    ).fetchall()
    if not per_day:
        yield loaded_rows_frame(con, source, start, end)
        return
    first, rows = per_day[0][0], 0
    for (day, n), following in zip(per_day, [*per_day[1:], (None, 0)], strict=True):
        rows += n
        if following[0] is None or rows + following[1] > max_rows:
            yield loaded_rows_frame(con, source, first, day)
            first, rows = following[0], 0


def loaded_rows_frame(con: duckdb.DuckDBPyConnection, source: Source, start: date, end: date) -> pd.DataFrame:
    from quality.raw_suites import loaded_rows_columns

    columns = []
    for name in loaded_rows_columns(source):
        col = source.column(name)
        columns.append(
            f"CAST({quote_ident(name)} AS DOUBLE) AS {quote_ident(name)}" if col.type == "amount" else quote_ident(name)
        )
    offset = f"date_diff('day', _landing_date, CAST({quote_ident(source.event_time)} AS DATE)) AS event_day_offset"
    sql = (
        f"SELECT {', '.join(columns)}, _landing_date, {offset} "
        f"FROM {raw_table(source)} WHERE _landing_date BETWEEN ? AND ?"
    )
    return con.execute(sql, [start, end]).df()


def load_stats_frame(
    con: duckdb.DuckDBPyConnection, source: Source, start: date, end: date, settings: Settings
) -> pd.DataFrame:
    return con.execute(
        f"""
        WITH files AS (
          SELECT landing_date, sum(rows_read) AS rows_read, sum(rows_quarantined) AS rows_quarantined
          FROM {MANIFEST_TABLE} WHERE source = $source AND landing_date BETWEEN $start AND $end GROUP BY ALL
        ), duplicates AS (
          SELECT landing_date, count(*) AS duplicate_rows FROM {QUARANTINE_TABLE}
          WHERE source = $source AND landing_date BETWEEN $start AND $end AND reason_code = 'duplicate_row'
          GROUP BY ALL
        )
        SELECT files.landing_date, rows_read, rows_quarantined, coalesce(duplicate_rows, 0) AS duplicate_rows,
          (rows_quarantined - coalesce(duplicate_rows, 0)) / (rows_read - coalesce(duplicate_rows, 0))
            AS quarantine_rate
        FROM files LEFT JOIN duplicates USING (landing_date)
        WHERE rows_read - coalesce(duplicate_rows, 0) >= $min_rows
        ORDER BY landing_date
        """,
        {"source": source.name, "start": start, "end": end, "min_rows": settings.quarantine_rate_min_rows},
    ).df()


def evaluate_raw_checks(
    con: duckdb.DuckDBPyConnection, source: Source, settings: Settings, start: date, end: date, asset_key: dg.AssetKey
) -> list[dg.AssetCheckResult]:
    from quality.check_results import suite_check_result
    from quality.gx_runner import run_suite, run_suite_in_chunks
    from quality.raw_suites import load_stats_suite, loaded_rows_suite

    rows = run_suite_in_chunks(
        f"raw_{source.name}_rows",
        loaded_rows_frames(con, source, start, end, settings.load_batch_rows),
        loaded_rows_suite(source, settings),
    )
    stats_frame = load_stats_frame(con, source, start, end, settings)
    stats = run_suite(f"raw_{source.name}_load_stats", stats_frame, load_stats_suite(settings))
    worst_days = stats_frame.sort_values("quarantine_rate", ascending=False).head(5)
    unmapped = unmapped_values(con, source, start, end)
    vocabulary_file = shown_path(settings.vocabulary_file)
    if unmapped:
        dg.get_dagster_logger().warning(
            f"{source.name} {start}..{end}: code values no spelling maps (quarantined as unknown_code):\n  "
            + "\n  ".join(unmapped_lines(unmapped, vocabulary_file))
        )
    return [
        suite_check_result(asset_key, VALID_ROWS, rows),
        suite_check_result(
            asset_key,
            QUARANTINE_RATE,
            stats,
            worst_days={
                str(r.landing_date.date() if hasattr(r.landing_date, "date") else r.landing_date): round(
                    float(r.quarantine_rate), 4
                )
                for r in worst_days.itertuples()
            },
            max_quarantine_rate=settings.max_quarantine_rate,
            quarantine_reasons=top_quarantine_reasons(con, source, start, end),
            # The most frequent values per code column, and the file that maps them (the CLI repeats both);
            # a value held by fewer than 3 members, or with an @ or 7+ digits, is only counted (personal data).
            unmapped_values=unmapped,
            vocabulary_file=vocabulary_file,
        ),
    ]


def top_quarantine_reasons(
    con: duckdb.DuckDBPyConnection, source: Source, start: date, end: date, limit: int = 5
) -> dict[str, int]:
    """The most frequent reasons (code and column, never values) of the rows of [start, end] counted in
    the quarantine rate, i.e. without exact duplicates: what to look at when the rate check fails."""
    rows = con.execute(
        f"""SELECT reason_code || coalesce(' on ' || reason_column, ''), count(*) FROM {QUARANTINE_TABLE}
        WHERE source = ? AND landing_date BETWEEN ? AND ? AND reason_code <> 'duplicate_row'
        GROUP BY ALL ORDER BY 2 DESC, 1 LIMIT ?""",
        [source.name, start, end, limit],
    ).fetchall()
    return dict(rows)

"""The code values that no spelling maps, read back from `raw.quarantine`: what to add to the vocabulary file.

A quarantined row keeps its delivered record (`raw_record`: the JSON line as delivered, or a CSV
record's fields as a JSON object keyed by contract column), and an `unknown_code` detail names the
column (`event_type = "..."`); the values are taken from the record, trimmed as the loader trims
them, and counted in SQL. Code columns hold no personal data, but the values come from outside, so
they are escaped and cut before anyone sees them.
"""

from __future__ import annotations

import re
from datetime import date

import duckdb

from retention.landing.contract import Column, Source
from retention.landing.loader import QUARANTINE_TABLE
from retention.landing.rules import quote_literal
from retention.landing.safe_text import printable

VALUES_PER_COLUMN = 5
VALUE_SHOWN_CHARS = 40


def unmapped_values(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    start: date | None = None,
    end: date | None = None,
    per_column: int = VALUES_PER_COLUMN,
) -> dict[str, dict[str, int]]:
    """ "<source>.<column>" -> {value: rows} for the `per_column` most frequent values of each code column
    quarantined as `unknown_code` on the landing days [start, end] (None: no bound), most frequent first.
    A row with two unknown codes counts for both columns; values are escaped and cut for display."""
    columns = [c for c in source.columns if c.type == "code" and not c.pii]
    if not columns:
        return {}
    extracted = " UNION ALL ".join(
        f"SELECT {position} AS position, {quote_literal(col.name)} AS column_name, {_delivered(col)} AS value "
        f"FROM offending WHERE regexp_matches(reason_detail, {quote_literal(_detail_pattern(col.name))})"
        for position, col in enumerate(columns)
    )
    rows = con.execute(
        f"""WITH offending AS (
          SELECT reason_detail, raw_record FROM {QUARANTINE_TABLE}
          WHERE source = $source AND list_contains(all_reasons, 'unknown_code')
            AND ($start IS NULL OR landing_date >= $start) AND ($end IS NULL OR landing_date <= $end)
        ), counted AS (
          SELECT position, column_name, value, count(*) AS n FROM ({extracted}) WHERE value <> '' GROUP BY ALL
        )
        SELECT column_name, value, n FROM counted
        QUALIFY row_number() OVER (PARTITION BY position ORDER BY n DESC, value) <= $per_column
        ORDER BY position, n DESC, value""",
        {"source": source.name, "start": start, "end": end, "per_column": per_column},
    ).fetchall()
    found: dict[str, dict[str, int]] = {}
    for column, value, n in rows:
        shown = found.setdefault(f"{source.name}.{column}", {})
        key = printable(value, VALUE_SHOWN_CHARS)
        shown[key] = shown.get(key, 0) + n
    return found


def _detail_pattern(column: str) -> str:
    """RE2 pattern of the column's `unknown_code` detail (`col = "value"`), one of the row's reason details
    joined by "; "."""
    return f'(?:^|; ){re.escape(column)} = "'


def _delivered(col: Column) -> str:
    """SQL: the column's delivered text in `raw_record`, under its name or any alias (JSON lines may use
    either; a CSV record is stored under the contract's names), trimmed like the loader trims it."""
    keys = [quote_literal("$." + '"' + name.replace('"', '\\"') + '"') for name in col.header_names]
    return f"trim(coalesce({', '.join(f'json_extract_string(raw_record, {key})' for key in keys)}))"


def unmapped_lines(unmapped: dict[str, dict[str, int]], vocabulary_file: str) -> list[str]:
    """One line per value, saying where to map it: `event_type "product_view" 6,851 rows — map it in
    config/vocabulary.yaml (events.event_type)`."""
    lines = []
    for where, values in unmapped.items():
        column = where.split(".", 1)[1]
        for value, n in values.items():
            rows = "1 row" if n == 1 else f"{n:,} rows"
            lines.append(f'{column} "{value}" {rows} — map it in {vocabulary_file} ({where})')
    return lines

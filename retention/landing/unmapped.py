"""The code values that no spelling maps, read back from `raw.quarantine`: what to add to the vocabulary file.

A quarantined row keeps its delivered record (`raw_record`: the JSON line as delivered, or a CSV
record's fields as a JSON object keyed by contract column), and an `unknown_code` detail names the
column (`event_type = "..."`); the values are taken from the record, trimmed as the loader trims
them, and counted in SQL.

A code column normally holds codes, but a shifted or mis-named column puts mobiles, e-mail addresses
or names there, and these lists end up in the Dagster event log, the run log and the terminal. So a
value that looks like personal data is never shown, only counted (`personal_data_kind`), and the
others are escaped and cut.
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
# A value shaped like a personal name is shown only when the rows of this many different members hold
# it: then it is a word the export uses, not one person's name.
NAME_MIN_MEMBERS = 3
# RE2. Any @ (an e-mail address, or half of one); 7 digits or more however they are separated (a
# mobile `138 1234 5678`, an ID card number, a landline, a birthday `1990-03-01`); 2-4 Han characters
# (a Chinese name, `欧阳·娜娜`) or two or three capitalised words (`John Smith`).
_EMAIL = "[@＠]"
_NUMBER = r"(?:\p{Nd}[^\p{Nd}]*){7}"
_NAME = r"\p{Han}(?:[·•]?\p{Han}){1,3}|\p{Lu}[\p{L}'’]+(?:[ .-]+\p{Lu}[\p{L}'’]+){1,2}"


def personal_data_kind(value: str, members: str) -> str:
    """SQL: what the unmapped code value `value` looks like if it may be personal data ('an e-mail
    address', 'a phone or ID number', 'a personal name'), else NULL; `members` is the SQL count of the
    different members whose rows hold it. Applied to distinct values, never row by row."""
    return (
        f"CASE WHEN regexp_matches({value}, {quote_literal(_EMAIL)}) THEN 'an e-mail address' "
        f"WHEN regexp_matches({value}, {quote_literal(_NUMBER)}) THEN 'a phone or ID number' "
        f"WHEN {members} < {NAME_MIN_MEMBERS} AND regexp_full_match({value}, {quote_literal(_NAME)}) "
        "THEN 'a personal name' END"
    )


def not_shown(kind: str, values: int, rows: int) -> str:
    """`2 values like a phone or ID number, 3 rows, not shown`."""
    return f"{_count(values, 'value')} like {kind}, {_count(rows, 'row')}, not shown"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def unmapped_values(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    start: date | None = None,
    end: date | None = None,
    per_column: int = VALUES_PER_COLUMN,
) -> dict[str, list[dict[str, str | int]]]:
    """ "<source>.<column>" -> the `per_column` most frequent values of each code column quarantined as
    `unknown_code` on the landing days [start, end] (None: no bound), most frequent first, as
    {"value": escaped and cut, "rows": n}; then, per kind of personal data, the values that look like it
    as {"not_shown": kind, "values": distinct values, "rows": n}. A row with two unknown codes counts for
    both columns. JSON-ready: it is the check's metadata."""
    columns = [c for c in source.columns if c.type == "code" and not c.pii]
    if not columns:
        return {}
    member = _delivered(source.column("member_id"))
    extracted = " UNION ALL ".join(
        f"SELECT {position} AS position, {quote_literal(col.name)} AS column_name, {_delivered(col)} AS value, "
        f"{member} AS member FROM offending WHERE regexp_matches(reason_detail, {_detail_pattern(col.name)})"
        for position, col in enumerate(columns)
    )
    rows = con.execute(
        f"""WITH offending AS (
          SELECT reason_detail, raw_record FROM {QUARANTINE_TABLE}
          WHERE source = $source AND list_contains(all_reasons, 'unknown_code')
            AND ($start IS NULL OR landing_date >= $start) AND ($end IS NULL OR landing_date <= $end)
        ), counted AS (
          SELECT position, column_name, value, count(*) AS n, count(DISTINCT member) AS members
          FROM ({extracted}) WHERE value <> '' GROUP BY ALL
        ), judged AS (
          SELECT *, {personal_data_kind("value", "members")} AS kind FROM counted
        )
        SELECT * FROM (
          SELECT position, column_name, value, NULL AS kind, n, 1 AS distinct_values FROM judged WHERE kind IS NULL
          QUALIFY row_number() OVER (PARTITION BY position ORDER BY n DESC, value) <= $per_column
          UNION ALL
          SELECT position, column_name, NULL, kind, sum(n), count(*) FROM judged WHERE kind IS NOT NULL GROUP BY ALL
        ) ORDER BY position, kind NULLS FIRST, n DESC, value""",
        {"source": source.name, "start": start, "end": end, "per_column": per_column},
    ).fetchall()
    found: dict[str, list[dict[str, str | int]]] = {}
    for _, column, value, kind, n, distinct in rows:
        entry = {"value": printable(value, VALUE_SHOWN_CHARS)} if kind is None else {"not_shown": kind}
        if kind is not None:
            entry["values"] = distinct
        entry["rows"] = n
        found.setdefault(f"{source.name}.{column}", []).append(entry)
    return found


def _detail_pattern(column: str) -> str:
    """SQL literal: RE2 pattern of the column's `unknown_code` detail (`col = "value"`), one of the row's
    reason details joined by "; "."""
    return quote_literal(f'(?:^|; ){re.escape(column)} = "')


def _delivered(col: Column) -> str:
    """SQL: the column's delivered text in `raw_record`, under its name or any alias (JSON lines may use
    either; a CSV record is stored under the contract's names), trimmed like the loader trims it."""
    keys = [quote_literal("$." + '"' + name.replace('"', '\\"') + '"') for name in col.header_names]
    return f"trim(coalesce({', '.join(f'json_extract_string(raw_record, {key})' for key in keys)}))"


def unmapped_lines(unmapped: dict, vocabulary_file: str) -> list[str]:
    """One line per value, saying where to map it: `event_type "product_view" 6,851 rows — map it in
    config/vocabulary.yaml (events.event_type)`, and one per kind of value not shown. `unmapped` is
    `unmapped_values`' result, or the check metadata holding it."""
    lines = []
    for where, entries in unmapped.items():
        column = str(where).split(".", 1)[-1]
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or not isinstance(entry.get("rows"), int):
                continue
            if "not_shown" in entry:
                lines.append(
                    f"{column}: {not_shown(str(entry['not_shown']), int(entry.get('values', 1)), entry['rows'])} "
                    f"— a mobile, e-mail or name in a code column? check the column mapping of the export ({where})"
                )
            elif "value" in entry:
                rows = _count(entry["rows"], "row")
                lines.append(f'{column} "{entry["value"]}" {rows} — map it in {vocabulary_file} ({where})')
    return lines

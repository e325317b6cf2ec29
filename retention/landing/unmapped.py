"""The code values that no spelling maps, read back from `raw.quarantine`: what to add to the vocabulary file.

A quarantined row keeps its delivered record (`raw_record`: the JSON line as delivered, or a CSV
record's fields as a JSON object keyed by contract column), and an `unknown_code` detail names the
column (`event_type = "..."`); the values are taken from the record, trimmed as the loader trims
them, and counted in SQL.

A code column normally holds codes, but a shifted or mis-named column puts names, mobiles, e-mail
addresses or street addresses there, and these lists end up in the Dagster event log, the run log and
the terminal. So a value is shown only when it is safe by the reviewer's rule (k-anonymity,
`personal_data_kind`): it is held by at least MIN_MEMBERS_SHOWN different members (a real code is
shared by many; one person's name, mobile or address is not) and it has no shape of a contact or an
identity number whatever its count. The others are only counted; those shown are escaped and cut.
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
# A value is shown only when the valid rows of this many different members hold it: then it is a word the
# export uses, not one person's data. Real codes are shared by many members, so this costs nothing there.
MIN_MEMBERS_SHOWN = 3
EMAIL_KIND = "like an e-mail address"
NUMBER_KIND = "like a phone or ID number"
RARE_KIND = f"held by fewer than {MIN_MEMBERS_SHOWN} members"
# RE2. Shapes are judged on the value without whitespace (U+3000 and line breaks included) and invisible
# characters, so `王\u3000芳`, `138 1234 5678` and a zero-width space change nothing. Any at sign (an
# e-mail address, or half of one); 7 digits or more however separated (a mobile, an ID card number, a
# landline, a birthday `1990/3/1`), digits of any script and Chinese numerals included (`一三八...`).
_INVISIBLE = r"[\s\p{Z}\p{Cc}\p{Cf}]"
_EMAIL = "[@＠﹫]"
_DIGIT = "\\p{N}〇零一二三四五六七八九幺"
# A shifted member_id column holds timestamps or dates, one per row: they would make one person's value
# look shared by many members.
_NOT_A_MEMBER_ID = r"^$|:|\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}"


def personal_shape(value: str, digits: int = 7) -> str:
    """SQL: EMAIL_KIND or NUMBER_KIND when `value` (SQL text) is shaped like a contact or an identity
    number (`digits` digits or more, however separated), else NULL; whatever its count, such a value is
    never shown."""
    bare = f"regexp_replace({value}, {quote_literal(_INVISIBLE)}, '', 'g')"
    number = f"(?:[{_DIGIT}][^{_DIGIT}]*){{{digits}}}"
    return (
        f"CASE WHEN regexp_matches({bare}, {quote_literal(_EMAIL)}) THEN {quote_literal(EMAIL_KIND)} "
        f"WHEN regexp_matches({bare}, {quote_literal(number)}) THEN {quote_literal(NUMBER_KIND)} END"
    )


def personal_data_kind(value: str, members: str) -> str:
    """SQL: why the unmapped code value `value` is not shown (EMAIL_KIND, NUMBER_KIND, RARE_KIND), NULL when
    it may be; `members` is the SQL count of the different valid members whose rows hold it (see
    `member_counted`). Applied to distinct values, never row by row."""
    rare = f"CASE WHEN {members} < {MIN_MEMBERS_SHOWN} THEN {quote_literal(RARE_KIND)} END"
    return f"coalesce({personal_shape(value)}, {rare})"


def member_counted(member: str) -> str:
    """SQL: the member id `member` (SQL text) when it may be one, else NULL: not empty, a timestamp or a
    date."""
    return f"CASE WHEN NOT regexp_matches({member}, {quote_literal(_NOT_A_MEMBER_ID)}) THEN {member} END"


def not_shown(kind: str, values: int, rows: int) -> str:
    """`2 values like a phone or ID number, 3 rows, not shown`, `1 value held by fewer than 3 members, ...`."""
    return f"{_count(values, 'value')} {kind}, {_count(rows, 'row')}, not shown"


def not_shown_hint(kind: str) -> str:
    """What to do about values not shown for this reason."""
    if kind == RARE_KIND:
        return "rare codes, or names or mobiles in a shifted code column? check the column mapping of the export"
    return "a mobile, e-mail or ID number in a code column? check the column mapping of the export"


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
    {"value": escaped and cut, "rows": n}; then, per reason a value is not shown (`personal_data_kind`),
    the values not shown as {"not_shown": reason, "values": distinct values, "rows": n}. A row with two
    unknown codes counts for both columns. Members are counted from rows whose member id is valid: not
    quarantined as unknown_member, not a timestamp. JSON-ready: it is the check's metadata."""
    columns = [c for c in source.columns if c.type == "code" and not c.pii]
    if not columns:
        return {}
    valid = "NOT list_contains(all_reasons, 'unknown_member')"
    member = member_counted(f"CASE WHEN {valid} THEN {_delivered(source.column('member_id'))} END")
    extracted = " UNION ALL ".join(
        f"SELECT {position} AS position, {quote_literal(col.name)} AS column_name, {_delivered(col)} AS value, "
        f"{member} AS member FROM offending WHERE regexp_matches(reason_detail, {_detail_pattern(col.name)})"
        for position, col in enumerate(columns)
    )
    rows = con.execute(
        f"""WITH offending AS (
          SELECT reason_detail, raw_record, all_reasons FROM {QUARANTINE_TABLE}
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
                kind = str(entry["not_shown"])
                hidden = not_shown(kind, int(entry.get("values", 1)), entry["rows"])
                lines.append(f"{column}: {hidden} — {not_shown_hint(kind)} ({where})")
            elif "value" in entry:
                rows = _count(entry["rows"], "row")
                lines.append(f'{column} "{entry["value"]}" {rows} — map it in {vocabulary_file} ({where})')
    return lines

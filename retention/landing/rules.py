"""SQL that turns a batch of all-text landed rows into typed rows or quarantine reasons.

The expressions are generated from the contract so that every source is checked the same way.
Each failed rule yields one reason string `code|column|detail`; a row with any reason is
quarantined, and its first reason is its `reason_code`.
"""

from __future__ import annotations

from retention.landing.contract import Column, Source
from retention.settings import Settings

TIMESTAMP_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y%m%d%H%M%S",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
)
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日")
# `NaN` is not here: it is what a failed computation prints, so it is a bad value in a number, date, time,
# boolean or code column (never a 0 or a missing discount), and text in a text column (a name can be Nan).
NULL_TOKENS = ("", "null", "none", "na", "n/a", "-")
TRUE_TOKENS = ("1", "true", "t", "y", "yes", "是", "同意")
FALSE_TOKENS = ("0", "false", "f", "n", "no", "否", "拒绝")

SQL_TYPES = {
    "string": "VARCHAR",
    "code": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "amount": "DECIMAL(18, 2)",
    "integer": "BIGINT",
    "boolean": "BOOLEAN",
}


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _list(values) -> str:
    return "[" + ", ".join(quote_literal(v) for v in values) + "]"


def cleaned(column: str) -> str:
    """The trimmed text value, NULL for the usual spellings of 'nothing'."""
    col = quote_ident(column)
    nothing = ", ".join(quote_literal(t) for t in NULL_TOKENS)
    return f"CASE WHEN lower(trim({col})) IN ({nothing}) THEN NULL ELSE trim({col}) END"


def typed(col: Column, settings: Settings) -> str:
    """Expression giving the column's typed value, NULL where it is missing or does not parse."""
    value = f"v_{col.name}"
    if col.type == "string":
        return value
    if col.type == "timestamp":
        with_offset = f"regexp_matches({value}, '(Z|[+-]\\d{{2}}:?\\d{{2}})$')"
        # DuckDB's cast refuses a space before the offset ("10:00:00 +08:00"); it means the same as without.
        offset_joined = f"regexp_replace({value}, '\\s+(Z|[+-]\\d{{2}}:?\\d{{2}})$', '\\1')"
        return (
            f"CASE WHEN {with_offset} "
            f"THEN (try_cast({offset_joined} AS TIMESTAMPTZ) AT TIME ZONE {quote_literal(settings.timezone)}) "
            f"ELSE coalesce({_fast_cast(value, 'TIMESTAMP')}, "
            f"try_strptime({value}, {_list(TIMESTAMP_FORMATS + DATE_FORMATS)})) END"
        )
    if col.type == "date":
        return f"coalesce({_fast_cast(value, 'DATE')}, CAST(try_strptime({value}, {_list(DATE_FORMATS)}) AS DATE))"
    if col.type == "amount":
        # Only the documented spellings; what matches is cast exactly (places beyond fen are zeros), and
        # try_cast keeps a number too large for DECIMAL(18, 2) a bad value.
        pattern = quote_literal(amount_pattern(settings.amount_decimals))
        return (
            f"CASE WHEN regexp_full_match({value}, {pattern}) "
            f"THEN try_cast(regexp_replace({value}, '[¥￥,\\s]', '', 'g') AS DECIMAL(18, 2)) END"
        )
    if col.type == "integer":
        as_double = f"try_cast({value} AS DOUBLE)"
        # try_cast: a whole number too large for BIGINT (or inf) is a bad value, not a failed load.
        return (
            f"CASE WHEN isfinite({as_double}) AND {as_double} = floor({as_double}) "
            f"THEN try_cast({as_double} AS BIGINT) END"
        )
    if col.type == "boolean":
        return (
            f"CASE WHEN lower({value}) IN ({', '.join(map(quote_literal, TRUE_TOKENS))}) THEN TRUE "
            f"WHEN lower({value}) IN ({', '.join(map(quote_literal, FALSE_TOKENS))}) THEN FALSE END"
        )
    if col.type == "code":
        whens = " ".join(
            f"WHEN lower({value}) IN ({', '.join(quote_literal(s.lower()) for s in (code, *spellings))}) "
            f"THEN {quote_literal(code)}"
            for code, spellings in col.codes.items()
        )
        return f"CASE {whens} END"
    raise ValueError(f"unknown column type {col.type}")


def amount_pattern(decimals: int) -> str:
    """Regular expression (RE2, whole value) of an amount: optional sign, optional ¥ or ￥, digits either
    plain or grouped by commas in threes ("1,234,567"), then optionally "." and 1 to `decimals` places;
    places beyond the second (fen) must be zeros, so the value is never rounded. Anything else ("12,50",
    "1.234,56", "1e3", "1_000", "1 000", "12.345") is a bad number."""
    if decimals < 0:
        raise ValueError(f"RETENTION_AMOUNT_DECIMALS must be 0 or more, not {decimals}")
    digits = r"([1-9]\d{0,2}(,\d{3})+|\d+)"
    if decimals == 0:
        fraction = ""
    elif decimals <= 2:
        fraction = rf"(\.\d{{1,{decimals}}})?"
    else:
        fraction = rf"(\.\d{{1,2}}0{{0,{decimals - 2}}})?"
    return rf"\s*[+-]?[¥￥]?{digits}{fraction}\s*"


def _fast_cast(value: str, sql_type: str) -> str:
    """DuckDB's own cast, tried before the list of formats: it reads ISO-like dates and times (with - or /
    and one- or two-digit fields) some 40x faster than try_strptime with a list. Only for values that
    start with a digit, so the cast's special words ('infinity', 'epoch') stay bad values."""
    return f"CASE WHEN left({value}, 1) BETWEEN '0' AND '9' THEN try_cast({value} AS {sql_type}) END"


def _maximum(col: Column, settings: Settings) -> float | None:
    if col.maximum_setting:
        return getattr(settings, col.maximum_setting)
    return col.maximum


def _reason(condition: str, code: str, column: str, detail_sql: str) -> str:
    return f"CASE WHEN {condition} THEN {quote_literal(code + '|' + column + '|')} || {detail_sql} END"


def _shown(col: Column) -> str:
    """The offending value for the reason detail; PII values are never repeated there."""
    if col.pii:
        return "'(value withheld: personal data)'"
    return f"'{col.name} = \"' || left(v_{col.name}, 60) || '\"'"


def plausible_window(col: Column, settings: Settings) -> tuple[str, str, str] | None:
    """(reason code, SQL condition true when the parsed value lies outside its plausible window, SQL text
    naming the window) for a timestamp or date column, else None. Timestamps: from `earliest_timestamp` to
    the end of the row's landing day plus `future_tolerance_days`; dates (birthdays): from
    `earliest_birthday` to the landing day."""
    parsed = f"t_{col.name}"
    if col.type == "timestamp":
        tolerance = settings.future_tolerance_days
        if tolerance < 0:
            raise ValueError(f"RETENTION_FUTURE_TOLERANCE_DAYS must be 0 or more, not {tolerance}")
        earliest = settings.earliest_timestamp.isoformat()
        condition = (
            f"{parsed} < TIMESTAMP '{earliest}' OR {parsed} >= CAST(_landing_date + {tolerance + 1} AS TIMESTAMP)"
        )
        window = (
            f"'outside the plausible window {earliest} 00:00:00 .. ' || CAST(_landing_date + {tolerance} AS VARCHAR) "
            f"|| ' 23:59:59 (RETENTION_EARLIEST_TIMESTAMP .. end of landing day + RETENTION_FUTURE_TOLERANCE_DAYS "
            f"= {tolerance})'"
        )
        return "implausible_timestamp", condition, window
    if col.type == "date":
        earliest = settings.earliest_birthday.isoformat()
        condition = f"{parsed} < DATE '{earliest}' OR {parsed} > _landing_date"
        window = (
            f"'outside the plausible window {earliest} .. ' || CAST(_landing_date AS VARCHAR) "
            "|| ' (RETENTION_EARLIEST_BIRTHDAY .. landing day)'"
        )
        return "implausible_date", condition, window
    return None


def column_reasons(col: Column, settings: Settings) -> list[str]:
    value, parsed = f"v_{col.name}", f"t_{col.name}"
    reasons = []
    if col.required:
        reasons.append(_reason(f"{value} IS NULL", "missing_value", col.name, f"'{col.name} is required'"))
    bad_code = {"code": "unknown_code", "amount": "bad_number"}.get(col.type, f"bad_{col.type}")
    if col.type != "string":
        reasons.append(_reason(f"{value} IS NOT NULL AND {parsed} IS NULL", bad_code, col.name, _shown(col)))
    window = plausible_window(col, settings)
    if window is not None:
        code, condition, window_text = window
        # The value is named unless it is personal data (a birthday); the window always is.
        shown = f"'{col.name}'" if col.pii else _shown(col)
        reasons.append(_reason(condition, code, col.name, f"{shown} || ' ' || {window_text}"))
    maximum = _maximum(col, settings)
    if col.type == "amount":
        reasons.append(_reason(f"{parsed} < 0", "negative_amount", col.name, _shown(col)))
        if maximum is not None:
            reasons.append(
                _reason(f"{parsed} > {maximum}", "absurd_amount", col.name, _shown(col) + f" || ' > {maximum:g}'")
            )
    elif col.type == "integer":
        bounds = []
        if col.minimum is not None:
            bounds.append(f"{parsed} < {col.minimum:g}")
        if maximum is not None:
            bounds.append(f"{parsed} > {maximum:g}")
        if bounds:
            reasons.append(_reason(" OR ".join(bounds), "out_of_range", col.name, _shown(col)))
    return reasons


def cross_column_reasons(source: Source) -> list[str]:
    reasons = []
    names = set(source.column_names)
    if {"gross_amount", "discount_amount"} <= names:
        reasons.append(
            _reason(
                "t_discount_amount > t_gross_amount",
                "inconsistent_amount",
                "discount_amount",
                "'discount above gross amount'",
            )
        )
    if {"gross_amount", "refund_amount"} <= names:
        reasons.append(
            _reason(
                "t_refund_amount > t_gross_amount - coalesce(t_discount_amount, 0)",
                "inconsistent_amount",
                "refund_amount",
                "'refund above net amount'",
            )
        )
    if {"opened_at", "closed_at"} <= names:
        reasons.append(_reason("t_closed_at < t_opened_at", "inconsistent_time", "closed_at", "'closed before opened'"))
    return reasons


def checked_rows_sql(source: Source, settings: Settings, batch_table: str, members_table: str | None) -> str:
    """SELECT over the text batch giving typed columns, `reasons` (a list) and lineage columns."""
    cols = source.columns
    cleaned_cols = ",\n    ".join(f"{cleaned(c.name)} AS v_{c.name}" for c in cols)
    typed_cols = ",\n    ".join(f"{typed(c, settings)} AS t_{c.name}" for c in cols)
    reasons = [r for c in cols for r in column_reasons(c, settings)] + cross_column_reasons(source)
    if members_table and source.references_members:
        reasons.append(
            _reason(
                f"v_member_id IS NOT NULL AND v_member_id NOT IN (SELECT member_id FROM {members_table})",
                "unknown_member",
                "member_id",
                "'member_id = \"' || v_member_id || '\" not in member master'",
            )
        )
    # Values are stored as delivered: a missing optional `updated_at` stays NULL in raw, and staging
    # decides what stands in for it (filling it here made a later refund look like the original sale).
    final_cols = [f"t_{c.name} AS {quote_ident(c.name)}" for c in cols]
    return f"""
WITH cleaned AS (
  SELECT _landing_date, _source_file, _row_number, _malformed,
    {cleaned_cols}
  FROM {batch_table}
), typed AS (
  SELECT *,
    {typed_cols}
  FROM cleaned
)
SELECT
  {", ".join(final_cols)},
  _landing_date, _source_file, _row_number,
  CASE WHEN _malformed IS NOT NULL THEN [_malformed]
  ELSE list_filter([{", ".join(reasons)}], r -> r IS NOT NULL) END AS reasons
FROM typed
"""


DUPLICATE_REASON = "duplicate_row||exact copy of an earlier row of this landing day"


def mark_copies_sql(source: Source, checked_table: str) -> str:
    """UPDATE quarantining every exact copy of an earlier valid row of the same landing day (earlier:
    by file, then row). Copies are rare: a hash aggregate finds the few candidate groups, and only their
    rows are numbered exactly (a window over every row carries whole rows through a sort)."""
    values = "_landing_date, " + ", ".join(quote_ident(c.name) for c in source.columns)
    return f"""
UPDATE {checked_table} SET reasons = [{quote_literal(DUPLICATE_REASON)}]
FROM (
  WITH candidates AS (
    SELECT hash({values}) AS h FROM {checked_table} WHERE len(reasons) = 0 GROUP BY ALL HAVING count(*) > 1
  )
  SELECT _source_file AS copy_file, _row_number AS copy_row,
    row_number() OVER (PARTITION BY {values} ORDER BY _source_file, _row_number) AS copy_number
  FROM {checked_table}
  WHERE len(reasons) = 0 AND hash({values}) IN (SELECT h FROM candidates)
) AS copies
WHERE copies.copy_number > 1
  AND {checked_table}._source_file = copies.copy_file AND {checked_table}._row_number = copies.copy_row
"""


CONFLICT_CODE = "conflicting_duplicate"


def conflict_groups_sql(source: Source, checked_table: str) -> str:
    """SELECT one row per business key that two or more valid rows of one landing day share while
    differing in some other column (exact copies are marked before, so any two such rows differ):
    the day, the key values, the rows' files and row numbers (by file, then row) and the names of the
    columns that differ. NULLs in key columns compare equal. Like `mark_copies_sql`, a hash aggregate
    finds the few candidate keys first, so the per-column comparison only touches their rows."""
    keys = ", ".join(quote_ident(c) for c in source.key)
    key_hash = f"hash(_landing_date, {keys})"
    differs = ", ".join(
        f"CASE WHEN count(DISTINCT {quote_ident(c)}) > 1 OR count({quote_ident(c)}) NOT IN (0, count(*)) "
        f"THEN {quote_literal(c)} END"
        for c in source.column_names
        if c not in source.key
    )
    return f"""
WITH candidates AS (
  SELECT {key_hash} AS h FROM {checked_table} WHERE len(reasons) = 0 GROUP BY ALL HAVING count(*) > 1
)
SELECT _landing_date, {keys},
  list(_source_file ORDER BY _source_file, _row_number) AS files,
  list(_row_number ORDER BY _source_file, _row_number) AS row_numbers,
  list_filter([{differs}], c -> c IS NOT NULL) AS differing
FROM {checked_table}
WHERE len(reasons) = 0 AND {key_hash} IN (SELECT h FROM candidates)
GROUP BY _landing_date, {keys}
HAVING count(*) > 1
ORDER BY _landing_date, files[1], row_numbers[1]
"""

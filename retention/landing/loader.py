"""Loading a range of landing days of one source into the warehouse, a batch of whole days at a time.

Re-loading a day replaces everything that day contributed (rows, quarantine, file manifest), so
any day can be re-run safely. Each batch of days (about `load_batch_rows` rows) is one
transaction: memory stays bounded by one batch whatever the length of the range, and a load that
fails or is killed leaves every day either fully old or fully new. If a file cannot be read, its
batch is rolled back, the later days are left as they were, and the error lists every unreadable
file of the range and the days that were committed before it.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import duckdb
import polars as pl

from retention.landing.contract import MEMBERS, Source
from retention.landing.files import LOADED, LandedFile, LandingFileError, ReadResult, discover, read_landed_file
from retention.landing.rules import (
    CONFLICT_CODE,
    SQL_TYPES,
    checked_rows_sql,
    conflict_groups_sql,
    mark_copies_sql,
    quote_ident,
    quote_literal,
)
from retention.landing.safe_text import printable
from retention.landing.vocabulary import load_vocabulary
from retention.settings import Settings

RAW_SCHEMA = "raw"
QUARANTINE_TABLE = f"{RAW_SCHEMA}.quarantine"
MANIFEST_TABLE = f"{RAW_SCHEMA}.landed_files"
LINEAGE_COLUMNS = {
    "_landing_date": "DATE",
    "_source_file": "VARCHAR",
    "_row_number": "BIGINT",
    "_run_id": "VARCHAR",
    "_loaded_at": "TIMESTAMP",
}


class LandingError(Exception):
    """One or more files of a partition range could not be read. Days before the first batch holding
    an unreadable file were committed (`committed`, a (first, last) pair or None); the others were
    not changed."""

    def __init__(self, source: str, errors: list[LandingFileError], committed: tuple[date, date] | None, end: date):
        lines = "\n".join(f"  - {e.file}: {e.problem}" for e in errors)
        if committed is None:
            outcome = "nothing was loaded or changed for the requested days"
        else:
            outcome = (
                f"days {committed[0]}..{committed[1]} were loaded and committed; days "
                f"{committed[1] + timedelta(days=1)}..{end} were not changed"
            )
        super().__init__(f"{len(errors)} {source} file(s) could not be read; {outcome}:\n{lines}")
        self.errors = errors
        self.committed = committed


class LandingSchemaError(Exception):
    """The raw table in the warehouse was created for another version of the contract."""


@dataclass
class LoadReport:
    source: str
    start: date
    end: date
    files: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    reasons: Counter = field(default_factory=Counter)
    extra_columns: dict[str, list[str]] = field(default_factory=dict)
    empty_files: list[str] = field(default_factory=list)
    encodings: Counter = field(default_factory=Counter)
    transactions: int = 0  # batches of days committed
    # Every file found below the source folder, whatever its date: relative path -> "loaded", "out_of_range",
    # "ignored:<reason>" (a load with a "refused:<reason>" file fails, naming it; see `discover`).
    inventory: dict[str, str] = field(default_factory=dict)
    # Business keys of these days that another landing day delivered with different values (a correction;
    # which version stands is the documented rule of docs/landing_contract.md, decided in staging).
    corrected_keys: int = 0
    # Per landing day with files: files read, rows read, rows loaded (for each day's partition metadata).
    by_day: dict[date, DayCounts] = field(default_factory=dict)


@dataclass
class DayCounts:
    files: int = 0
    rows_read: int = 0
    rows_loaded: int = 0

    @property
    def rows_quarantined(self) -> int:
        return self.rows_read - self.rows_loaded


def raw_table(source: Source) -> str:
    return f"{RAW_SCHEMA}.{source.name}"


def ensure_tables(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    """Create the raw tables if needed, and refuse to load into one whose columns drifted from the contract."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
    expected = {c.name: SQL_TYPES[c.type] for c in source.columns} | LINEAGE_COLUMNS
    columns = [f"{quote_ident(name)} {sql_type}" for name, sql_type in expected.items()]
    con.execute(f"CREATE TABLE IF NOT EXISTS {raw_table(source)} ({', '.join(columns)})")
    actual = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
            "ORDER BY ordinal_position",
            [RAW_SCHEMA, source.name],
        ).fetchall()
    )
    normalized = {name: sql_type.replace(" ", "") for name, sql_type in expected.items()}
    if {k: v.replace(" ", "") for k, v in actual.items()} != normalized:
        missing = sorted(set(expected) - set(actual))
        unexpected = sorted(set(actual) - set(expected))
        retyped = sorted(k for k in set(expected) & set(actual) if actual[k].replace(" ", "") != normalized[k])
        raise LandingSchemaError(
            f"{raw_table(source)} does not match the landing contract (missing {missing}, unexpected {unexpected}, "
            f"other type {retyped}); migrate or drop the table, then re-run the partitions"
        )
    con.execute(
        f"""CREATE TABLE IF NOT EXISTS {QUARANTINE_TABLE} (
            source VARCHAR, landing_date DATE, source_file VARCHAR, row_number BIGINT,
            reason_code VARCHAR, reason_column VARCHAR, reason_detail VARCHAR, all_reasons VARCHAR[],
            raw_record VARCHAR, run_id VARCHAR, loaded_at TIMESTAMP)"""
    )
    con.execute(
        f"""CREATE TABLE IF NOT EXISTS {MANIFEST_TABLE} (
            source VARCHAR, landing_date DATE, source_file VARCHAR, sha256 VARCHAR, encoding VARCHAR,
            rows_read BIGINT, rows_loaded BIGINT, rows_quarantined BIGINT, extra_columns VARCHAR[],
            run_id VARCHAR, loaded_at TIMESTAMP)"""
    )


def load_range(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    start: date,
    end: date,
    settings: Settings,
    run_id: str = "manual",
    on_commit: Callable[[date, date, LoadReport], None] | None = None,
) -> LoadReport:
    """Replace the landing days [start, end] of `source` with what is in the landing folder now.

    `on_commit(first, last, report)` is called after each batch of days is committed (for progress logs:
    if the process dies, the days up to the last one reported are loaded). The deployment's vocabulary file
    (`settings.vocabulary_file`) is read and checked first: codes spelled its way load as the contract's."""
    source = load_vocabulary(settings.vocabulary_file).applied_to(source)
    inventory: dict[str, str] = {}
    files = discover(settings.landing_dir, source, start, end, settings=settings, inventory=inventory)
    ensure_tables(con, MEMBERS)
    ensure_tables(con, source)
    report = LoadReport(source.name, start, end, files=len(files), inventory=inventory)
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    errors: list[LandingFileError] = []
    committed: tuple[date, date] | None = None
    for first, last, batch in day_batches(files, start, end, settings.load_batch_rows):
        results = []
        for outcome in read_files(batch, source, settings.duckdb_thread_count):
            (errors if isinstance(outcome, LandingFileError) else results).append(outcome)
        if errors:  # after the first unreadable file, keep reading only to report all of them
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            _delete_days(con, source, first, last)
            _load_batch(con, source, settings, results, run_id, loaded_at, report)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        committed = (start, last)
        report.transactions += 1
        report.inventory.update((file.relative_path, LOADED) for file in batch)
        if on_commit is not None:
            on_commit(first, last, report)
    if errors:
        raise LandingError(source.name, errors, committed, end)
    report.corrected_keys = count_corrected_keys(con, source, start, end)
    return report


# Files read at once: reading a small file is mostly Python and Polars set-up (about 10 ms), and more
# threads than this gained nothing measurable on 2 cores. Below it, the DuckDB thread setting
# (RETENTION_DUCKDB_THREADS) bounds the reading threads too: one setting says how many cores a run uses.
MAX_READ_THREADS = 4


def read_files(files: list[LandedFile], source: Source, threads: int) -> list[ReadResult | LandingFileError]:
    """Each file read (in its order), or the error saying why it cannot be; read on up to `threads` threads
    (Polars and the decoders release the GIL for part of the work: about a quarter less wall time on a
    demo day's small files). Memory stays that of one batch: the batch is read whole either way."""

    def read(file: LandedFile) -> ReadResult | LandingFileError:
        try:
            return read_landed_file(file, source)
        except LandingFileError as exc:
            return exc

    workers = min(threads, MAX_READ_THREADS, len(files))
    if workers <= 1:
        return [read(file) for file in files]
    with ThreadPoolExecutor(workers, thread_name_prefix=f"read_{source.name}") as pool:
        return list(pool.map(read, files))


def _delete_days(con: duckdb.DuckDBPyConnection, source: Source, first: date, last: date) -> None:
    for table, column in (
        (raw_table(source), "_landing_date"),
        (QUARANTINE_TABLE, "landing_date"),
        (MANIFEST_TABLE, "landing_date"),
    ):
        source_filter = "" if table == raw_table(source) else f" AND source = {quote_literal(source.name)}"
        con.execute(f"DELETE FROM {table} WHERE {column} BETWEEN ? AND ?{source_filter}", [first, last])


def day_batches(files: list[LandedFile], start: date, end: date, max_rows: int):
    """Split [start, end] into consecutive spans of whole days holding about `max_rows` rows each:
    yields (first day, last day, files). The spans cover every day of the range, days without files
    included (re-loading such a day clears it), and never split a day (duplicates are found per day)."""
    batch: list[LandedFile] = []
    batch_size = 0
    first = start
    for day, day_files in itertools.groupby(files, key=lambda f: f.landing_date):
        day_files = list(day_files)
        # Rough row estimate from file size (~100 bytes a row) keeps memory bounded without a pre-scan.
        day_size = sum(f.path.stat().st_size for f in day_files) // 100
        if batch and batch_size + day_size > max_rows:
            yield first, day - timedelta(days=1), batch
            batch, batch_size, first = [], 0, day
        batch.extend(day_files)
        batch_size += day_size
    yield first, end, batch


def _with_lineage(result: ReadResult) -> pl.DataFrame:
    return result.frame.with_columns(
        pl.lit(result.file.landing_date).alias("_landing_date"),
        pl.lit(result.file.relative_path).alias("_source_file"),
    )


def _load_batch(
    con, source: Source, settings: Settings, results: list[ReadResult], run_id, loaded_at, report: LoadReport
):
    stage_batch(con, source, results)
    members = f"{RAW_SCHEMA}.members" if source.references_members else None
    store_batch(con, source, settings, results, run_id, loaded_at, report, members)


def stage_batch(con: duckdb.DuckDBPyConnection, source: Source, results: list[ReadResult]) -> None:
    """The delivered text of the files read, one row per record, in the temp table `_landing_batch`
    (JSON lines already split into the contract's columns); `store_batch` checks and stores it."""
    text_cols = source.column_names
    csv_frames = [_with_lineage(r) for r in results if r.file.format == "csv"]
    json_frames = [_with_lineage(r) for r in results if r.file.format == "jsonl"]
    batch_cols = ", ".join(f"{quote_ident(c)} VARCHAR" for c in text_cols)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _landing_batch (_landing_date DATE, _source_file VARCHAR, "
        f"_row_number BIGINT, _malformed VARCHAR, _raw VARCHAR, {batch_cols})"
    )
    select_text = ", ".join(quote_ident(c) for c in text_cols)
    if csv_frames:
        con.register("csv_batch", pl.concat(csv_frames, how="diagonal_relaxed"))
        con.execute(
            "INSERT INTO _landing_batch SELECT _landing_date, _source_file, _row_number, _malformed, _raw, "
            f"{select_text} FROM csv_batch"
        )
    if json_frames:
        con.register("json_batch", pl.concat(json_frames, how="diagonal_relaxed"))
        paths, extracts = _json_extracts(source)
        con.execute(
            f"""INSERT INTO _landing_batch
            SELECT _landing_date, _source_file, _row_number,
              CASE WHEN _json IS NULL THEN 'malformed_json||line is not valid JSON'
                   WHEN _kind <> 'OBJECT' THEN 'malformed_json||line is not a JSON object'
                   ELSE {_json_structure(source)} END,
              _line,
              {select_text}
            FROM (
              SELECT *, {extracts}, {_json_has_duplicates(source)} AS _duplicated
              FROM (
                -- One parse for every key of the contract (a parse per key and alias cost 2-3x more).
                SELECT *, CASE WHEN _kind = 'OBJECT' THEN json_extract_string(_json, {paths}) END AS _values,
                  CASE WHEN _kind = 'OBJECT' THEN json_keys(_json) END AS _keys
                FROM (
                  SELECT *, json_type(_json) AS _kind
                  FROM (SELECT *, CASE WHEN json_valid(_line) THEN _line END AS _json FROM json_batch)
                )
              )
            )"""
        )
    for name in ("csv_batch", "json_batch"):
        con.unregister(name)


def store_batch(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    settings: Settings,
    results: list[ReadResult],
    run_id: str,
    loaded_at: datetime,
    report: LoadReport,
    members_table: str | None,
) -> None:
    """Check the staged `_landing_batch` against the contract (member ids against `members_table`, if
    given) and store it: valid rows in `raw.<source>`, the others in `raw.quarantine` with their
    reasons, every file in `raw.landed_files`; counts go to `report`. Drops `_landing_batch`."""
    text_cols = source.column_names
    checked = checked_rows_sql(source, settings, "_landing_batch", members_table)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _checked AS {checked}")
    con.execute(mark_copies_sql(source, "_checked"))
    _mark_conflicts(con, source)
    typed_cols = ", ".join(quote_ident(c) for c in text_cols)
    con.execute(
        f"INSERT INTO {raw_table(source)} ({typed_cols}, {', '.join(LINEAGE_COLUMNS)}) "
        f"SELECT {typed_cols}, _landing_date, _source_file, _row_number, ?, ? FROM _checked WHERE len(reasons) = 0 "
        "ORDER BY _landing_date, _source_file, _row_number",
        [run_id, loaded_at],
    )
    raw_values = ", ".join(f"{quote_literal(c)}, delivered.{quote_ident(c)}" for c in text_cols)
    con.execute(
        f"""INSERT INTO {QUARANTINE_TABLE}
        SELECT ?, _checked._landing_date, _source_file, _row_number,
          split_part(reasons[1], '|', 1), nullif(split_part(reasons[1], '|', 2), ''),
          -- Everything after the column: a delivered value may hold a `|` itself.
          array_to_string(list_transform(reasons, r -> regexp_replace(r, '^[^|]*[|][^|]*[|]', '')), '; '),
          list_transform(reasons, r -> split_part(r, '|', 1)),
          -- The delivered text, kept for quarantined rows only (for all rows it would double a batch's memory).
          coalesce(delivered._raw, CAST(json_object({raw_values}) AS VARCHAR)), ?, ?
        FROM _checked JOIN _landing_batch AS delivered USING (_source_file, _row_number)
        WHERE len(reasons) > 0""",
        [source.name, run_id, loaded_at],
    )
    per_file = con.execute(
        """SELECT _source_file, count(*), count(*) FILTER (WHERE len(reasons) = 0)
        FROM _checked GROUP BY ALL"""
    ).fetchall()
    counts = {f: (read, loaded) for f, read, loaded in per_file}
    for r in results:
        read, loaded = counts.get(r.file.relative_path, (0, 0))
        con.execute(
            f"INSERT INTO {MANIFEST_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                source.name,
                r.file.landing_date,
                r.file.relative_path,
                r.sha256,
                r.encoding,
                read,
                loaded,
                read - loaded,
                r.extra_columns,
                run_id,
                loaded_at,
            ],
        )
        report.rows_read += read
        report.rows_loaded += loaded
        report.rows_quarantined += read - loaded
        day = report.by_day.setdefault(r.file.landing_date, DayCounts())
        day.files += 1
        day.rows_read += read
        day.rows_loaded += loaded
        report.encodings[r.encoding] += 1
        if r.extra_columns:
            report.extra_columns[r.file.relative_path] = r.extra_columns
        if read == 0:
            report.empty_files.append(r.file.relative_path)
    for code, n in con.execute(
        "SELECT split_part(reasons[1], '|', 1), count(*) FROM _checked WHERE len(reasons) > 0 GROUP BY ALL"
    ).fetchall():
        report.reasons[code] += n
    con.execute("DROP TABLE _landing_batch")
    con.execute("DROP TABLE _checked")


CONFLICT_PLACES_SHOWN = 10  # files and rows named in one conflict's detail (the count of the rest follows)


def _mark_conflicts(con, source: Source) -> None:
    """Quarantine every valid row of a landing day whose business key another valid row of the day shares
    with different values: nobody can tell which is right. The detail names the key (ids only, never
    personal data), every file and row involved and the columns that differ, never their values.
    Conflicts are rare: the few groups are described here, the search itself runs in DuckDB."""
    groups = con.execute(conflict_groups_sql(source, "_checked")).fetchall()
    if not groups:
        return
    key_columns = [source.column(c) for c in source.key]
    files, row_numbers, reasons = [], [], []
    for group in groups:
        key_values, group_files, group_rows, differing = group[1:-3], group[-3], group[-2], group[-1]
        key = " ".join(f"{c.name} {_key_value(c, v)}" for c, v in zip(key_columns, key_values, strict=True))
        places = [f"{printable(f)} row {r}" for f, r in zip(group_files, group_rows, strict=True)]
        if len(places) > CONFLICT_PLACES_SHOWN:
            places = places[:CONFLICT_PLACES_SHOWN] + [f"{len(places) - CONFLICT_PLACES_SHOWN} more rows"]
        where = ", ".join(places[:-1]) + " and " + places[-1]
        detail = f"{key} delivered with different values in {where} (differs in: {', '.join(differing)})"
        # `|` separates the parts of a reason: escaped in the detail so it is not cut there.
        escaped = detail.replace("|", "\\x7c")
        reason = f"{CONFLICT_CODE}|{differing[0]}|{escaped}"
        files += group_files
        row_numbers += group_rows
        reasons += [reason] * len(group_files)
    conflicts = pl.DataFrame(
        {"_source_file": files, "_row_number": row_numbers, "reason": reasons},
        schema={"_source_file": pl.String, "_row_number": pl.Int64, "reason": pl.String},
    )
    con.register("_conflicts", conflicts)
    con.execute(
        "UPDATE _checked SET reasons = [c.reason] FROM _conflicts AS c "
        "WHERE _checked._source_file = c._source_file AND _checked._row_number = c._row_number"
    )
    con.unregister("_conflicts")


def _key_value(column, value) -> str:
    if value is None:
        return "(empty)"
    if column.pii:
        return "(value withheld: personal data)"
    return printable(value, 60)


def count_corrected_keys(con, source: Source, start: date, end: date) -> int:
    """Business keys loaded for [start, end] that another landing day delivered with different values.

    Kept proportional to the range where possible: first the keys of the range found on more than one
    landing day, reading only the key columns and landing dates (for a range holding most of the table,
    one aggregate over the keys' hashes; otherwise a semi-join of the range's keys against the other
    days); then the full rows of just those keys are compared, within the days they span, grouped by the
    key itself (so a hash collision counts nothing, nor does a harmless identical re-delivery). Key
    columns match NULL to NULL (an export without `updated_at`)."""
    table = raw_table(source)
    keys = ", ".join(quote_ident(c) for c in source.key)
    in_range, total = con.execute(
        f"SELECT count(*) FILTER (WHERE _landing_date BETWEEN $1 AND $2), count(*) FROM {table}", [start, end]
    ).fetchone()
    if in_range == 0:
        return 0
    several_days = "min(_landing_date) < max(_landing_date)"
    if in_range * 2 >= total:
        repeated = f"""SELECT hash({keys}) AS h, min(_landing_date) AS first_day, max(_landing_date) AS last_day
            FROM {table} GROUP BY ALL HAVING {several_days} AND bool_or(_landing_date BETWEEN $1 AND $2)"""
    else:
        repeated = f"""SELECT hash({keys}) AS h, min(_landing_date) AS first_day, max(_landing_date) AS last_day
            FROM {table} AS r SEMI JOIN (SELECT DISTINCT {keys} FROM {table} WHERE _landing_date BETWEEN $1 AND $2) AS b
            ON {_keys_match(source, "r", "b")}
            GROUP BY {", ".join(f"r.{quote_ident(c)}" for c in source.key)} HAVING {several_days}"""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _repeated_keys AS {repeated}", [start, end])
    try:
        found, first_day, last_day = con.execute(
            "SELECT count(*), min(first_day), max(last_day) FROM _repeated_keys"
        ).fetchone()
        if found == 0:
            return 0
        return con.execute(
            f"""SELECT count(*) FROM (
              SELECT {keys} FROM {table}
              WHERE _landing_date BETWEEN $3 AND $4 AND hash({keys}) IN (SELECT h FROM _repeated_keys)
              GROUP BY ALL
              HAVING {several_days} AND bool_or(_landing_date BETWEEN $1 AND $2)
                AND count(DISTINCT hash({", ".join(quote_ident(c) for c in source.column_names)})) > 1)""",
            [start, end, first_day, last_day],
        ).fetchone()[0]
    finally:
        con.execute("DROP TABLE _repeated_keys")


def _keys_match(source: Source, left: str, right: str) -> str:
    """Join condition on the business key: `=` for required columns, NULL-safe for optional ones."""
    matches = {True: "=", False: "IS NOT DISTINCT FROM"}
    return " AND ".join(
        f"{left}.{quote_ident(c)} {matches[source.column(c).required]} {right}.{quote_ident(c)}" for c in source.key
    )


def _json_extracts(source: Source) -> tuple[str, str]:
    """SQL: the list of JSON paths of every key and alias of the contract, and the select list reading
    each column from `_values` (their extracted values, in that order). Only objects are read; for
    anything else `_values` and so every column stays NULL (the row is quarantined)."""
    paths: list[str] = []
    columns = []
    for col in source.columns:
        positions = []
        for key in col.header_names:
            paths.append(quote_literal("$." + _json_key(key)))
            positions.append(f"_values[{len(paths)}]")
        value = positions[0] if len(positions) == 1 else f"coalesce({', '.join(positions)})"
        columns.append(f"{value} AS {quote_ident(col.name)}")
    return f"[{', '.join(paths)}]", ", ".join(columns)


def _json_has_duplicates(source: Source) -> str:
    """SQL: whether the object gives a key twice, or two aliases of one column (which value would count?).
    Cheap on the hot path: distinct keys counted, and aliases seen through their values extracted in
    `_values` (an alias given as `null` beside the canonical key is not seen, and harmless)."""
    conditions = ["list_unique(_keys) <> len(_keys)"]
    position = 0
    for col in source.columns:
        given = [f"(_values[{position + i + 1}] IS NOT NULL)::INT" for i in range(len(col.header_names))]
        position += len(given)
        if len(given) > 1:
            conditions.append(f"{' + '.join(given)} > 1")
    return f"coalesce({' OR '.join(conditions)}, FALSE)"


def _json_structure(source: Source) -> str:
    """SQL: a reason `code|column|detail` for an object looser than the contract, else NULL. A key given
    twice (or two keys meaning one column: which value would count?) is `duplicate_key`; an object or
    array as a column's value is `nested_value`. Details name contract keys only, never values."""
    duplicates = []
    for col in source.columns:
        given = f"list_filter(json_keys(_json), k -> list_contains({_sql_list(col.header_names)}, k))"
        duplicates.append(
            f"WHEN len({given}) > 1 THEN {quote_literal('duplicate_key|' + col.name + '|')} || len({given}) "
            f"|| {quote_literal(' keys give ' + col.name + ': ')} || array_to_string({given}, ', ')"
        )
    outside = "'duplicate_key||a key outside the contract appears more than once (not shown)'"
    nested = []
    for col in source.columns:
        whens = []
        for key in col.header_names:
            kind = f"json_type(_json, {quote_literal('$.' + _json_key(key))})"
            reason = quote_literal(f'nested_value|{col.name}|key "{key}" holds a JSON ')
            whens.append(f"WHEN {kind} IN ('OBJECT', 'ARRAY') THEN {reason} || lower({kind}) || ', not a value'")
        # json_extract_string gives an object or array as its JSON text, so only a value starting
        # with { or [ is looked at again (CASE evaluates its THEN for those rows only).
        nested.append(f"CASE WHEN left({quote_ident(col.name)}, 1) IN ('{{', '[') THEN CASE {' '.join(whens)} END END")
    return (
        f"CASE WHEN _duplicated THEN CASE {' '.join(duplicates)} ELSE {outside} END "
        f"ELSE coalesce({', '.join(nested)}) END"
    )


def _sql_list(values) -> str:
    return "[" + ", ".join(map(quote_literal, values)) + "]"


def _json_key(key: str) -> str:
    return '"' + key.replace('"', '\\"') + '"'

"""Publish the marts for BI tools: a separate read-only DuckDB file and Parquet files, swapped in whole.

DuckDB lets one process write a file, and a reader holding the warehouse open makes the next run fail
on its lock. BI tools therefore read a copy: after each successful run the analytic schemas (never
`raw` or `staging`, which hold personal data) are published into a new file beside the serving file,
which then replaces it with one rename. A reader that has the old file open keeps reading the old
version (the rename does not touch open files); the next connection sees the new one; nobody ever sees
half. The Parquet copy is a new folder per publication behind a `current` symbolic link, swapped the
same way.

A daily run changes a few days of a history that grows by the day, so the new file starts as a copy of
the previous one and only what changed is copied again. Every table is fingerprinted (rows and a sum of
row hashes, with its column names and types); the big facts are fingerprinted per day of a date column
(`PARTITIONED_BY`), so only their changed days are deleted and copied again. Parquet files of unchanged
tables and months are hard links to the previous version's (made read-only, as they are shared). The
fingerprints are kept in the serving file (`main.publication_partitions`). The file is published from
scratch when there is no previous one, when it cannot be read or has no fingerprints, and when more
than `MAX_FREE_SHARE` of it (and at least `MIN_FREE_BYTES`) is free blocks: DuckDB reuses the space of
deleted rows but never shrinks the file, and their bytes stay until overwritten. Delete the serving
file to force a publication from scratch (after erasing a member, say).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from retention.settings import Settings

# Schemas BI tools may read: the marts, the outreach log and the campaign retrospective (member keys, no
# contact data).
PUBLISHED_SCHEMAS = ("marts", "outreach", "retrospective")
# One row: which publication this file is (BI tools and tests can tell versions apart).
PUBLICATION_TABLE = "main.publication"
# Per table and partition: rows and fingerprint, what the next publication compares against.
PARTITIONS_TABLE = "main.publication_partitions"
KEEP_PARQUET_VERSIONS = 2
# The facts that grow by the day, each with the date column its days are published by. In Parquet they
# are a folder per table with a folder per month: `<schema>.<table>/published_month=<YYYY-MM>/*.parquet`.
PARTITIONED_BY = {
    "marts.fct_member_events": "event_date",
    "marts.fct_orders": "order_date",
    "marts.member_churn_risk": "as_of_date",
}
WHOLE_TABLE = ""  # the one partition of a table not in PARTITIONED_BY
NO_DATE = "none"  # the partition (and Parquet month) of rows whose date is NULL
MONTH_COLUMN = "published_month"  # the Hive partition of a partitioned table's Parquet folder
# Above this share of free blocks (and this many bytes of them) the previous file is not reused: publish
# from scratch, into a smaller file.
MAX_FREE_SHARE = 0.25
MIN_FREE_BYTES = 64 * 2**20
# A table with more than this share of its days changed is copied whole (cheaper than deleting most of it).
MAX_CHANGED_SHARE = 0.5


@dataclass(frozen=True)
class Publication:
    version: str
    serving_file: Path
    parquet_dir: Path
    tables: dict[str, int]  # schema.table -> rows
    seconds: float
    bytes: int
    partitions_copied: int  # partitions (a day of a partitioned table, or a whole table) copied again
    partitions_kept: int  # partitions unchanged since the previous publication, not copied
    # What this publication started from: "version <previous version>", or why it started from scratch.
    started_from: str


@dataclass(frozen=True)
class _Relation:
    name: str  # schema.table
    # Column names and types, and the partitioning: a table whose columns changed is copied again in full.
    columns: str
    partitions: dict[str, tuple[int, int]]  # partition -> (rows, fingerprint)
    months: dict[str, str]  # partition -> its Parquet month
    date_column: str | None = None

    @property
    def rows(self) -> int:
        return sum(rows for rows, _ in self.partitions.values())


@dataclass(frozen=True)
class _Change:
    rewritten: bool  # the table was copied whole
    partitions: set[str]  # the partitions copied again
    months: set[str]  # the Parquet months to write again (changed or emptied days)

    @classmethod
    def whole(cls, relation: _Relation) -> _Change:
        return cls(True, set(relation.partitions), set(relation.months.values()))


def publish(settings: Settings, version: str | None = None) -> Publication:
    """Bring a copy of the previous serving file up to date with the published schemas of the
    warehouse, write the Parquet folder, then swap both in. The warehouse is only read."""
    started = time.monotonic()
    version = version or datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = settings.serving_file
    target.parent.mkdir(parents=True, exist_ok=True)
    staging_file = target.with_name(f".{target.name}.{version}.tmp")
    parquet_root = settings.serving_parquet_dir
    parquet_version = parquet_root / version
    parquet_version.mkdir(parents=True, exist_ok=False)
    try:
        if target.exists():
            shutil.copyfile(target, staging_file)
        tables, copied, kept, started_from = _update(settings, staging_file, parquet_root, parquet_version, version)
        _make_read_only(parquet_version)
        os.replace(staging_file, target)
        _point_current(parquet_root, version)
    except BaseException:
        staging_file.unlink(missing_ok=True)
        shutil.rmtree(parquet_version, ignore_errors=True)
        raise
    _prune(parquet_root, keep=KEEP_PARQUET_VERSIONS)
    return Publication(
        version,
        target,
        parquet_root / "current",
        tables,
        round(time.monotonic() - started, 2),
        target.stat().st_size,
        copied,
        kept,
        started_from,
    )


def _update(
    settings: Settings, staging_file: Path, parquet_root: Path, parquet_dir: Path, version: str
) -> tuple[dict[str, int], int, int, str]:
    con, previous, previous_version, started_from = _open_previous(settings, staging_file)
    try:
        con.execute("SET enable_progress_bar = false")
        previous_parquet = parquet_root / previous_version if previous_version else None
        con.execute(f"ATTACH {_literal(settings.warehouse)} AS warehouse (READ_ONLY)")
        published = _published_relations(con)
        _drop_unpublished(con, published)
        con.execute(
            "CREATE TEMP TABLE fingerprints (relation VARCHAR, columns VARCHAR, partition VARCHAR, month VARCHAR,"
            " rows BIGINT, fingerprint HUGEINT)"
        )
        current: dict[str, _Relation] = {}
        copied = kept = 0
        for spec in published.values():
            before = previous.get(spec.name)
            if before is not None and before.columns == spec.columns:
                relation = _fingerprint(con, spec, _in_warehouse(spec.name))
                change = _copy_changes(con, relation, before)
            else:  # new, or new columns: copied whole, then fingerprinted (the copy is cheaper to read than a view)
                _copy_whole(con, spec.name)
                relation = _fingerprint(con, spec, _quoted(spec.name))
                change = _Change.whole(relation)
            current[spec.name] = relation
            copied += len(change.partitions)
            kept += len(relation.partitions) - len(change.partitions)
            _write_parquet(con, relation, change, previous_parquet, parquet_dir)
        con.execute("DETACH warehouse")
        _record(con, current.values(), version, settings.warehouse)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return {name: relation.rows for name, relation in sorted(current.items())}, copied, kept, started_from


def _open_previous(
    settings: Settings, staging_file: Path
) -> tuple[duckdb.DuckDBPyConnection, dict[str, _Relation], str | None, str]:
    """The copy of the previous publication, what it holds, its version and "version <it>"; or a new
    empty file (so everything is copied) and why: there is none, it cannot be read (another DuckDB
    version, damaged), it has no fingerprints, or too much of it is free blocks."""
    if not staging_file.exists():
        return _empty(settings, staging_file, "scratch: no previous serving file")
    con = None
    try:
        con = duckdb.connect(str(staging_file), config=settings.duckdb_config())
        free, total, block = con.execute(
            "SELECT free_blocks, total_blocks, block_size FROM pragma_database_size()"
        ).fetchone()
        if free > MAX_FREE_SHARE * total and free * block >= MIN_FREE_BYTES:
            con.close()
            return _empty(settings, staging_file, f"scratch: {free / total:.0%} of the previous file is free blocks")
        relations, version = _previous_publication(con)
        return con, relations, version, f"version {version}"
    except (duckdb.Error, _NoFingerprints) as exc:
        if con is not None:
            con.close()
        # A DuckDB error is named by its class only: its message may quote the file's contents.
        reason = (
            str(exc) if isinstance(exc, _NoFingerprints) else f"the previous file cannot be read ({type(exc).__name__})"
        )
        return _empty(settings, staging_file, f"scratch: {reason}")


class _NoFingerprints(LookupError):
    """The previous serving file has no record of what it publishes (not one this code wrote)."""


def _empty(settings: Settings, staging_file: Path, reason: str):
    staging_file.unlink(missing_ok=True)
    return duckdb.connect(str(staging_file), config=settings.duckdb_config()), {}, None, reason


def _previous_publication(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, _Relation], str]:
    """What the copied file holds, from its fingerprints (_NoFingerprints if it has none)."""
    listed = con.execute(
        "SELECT schema_name || '.' || table_name FROM duckdb_tables() "
        "WHERE database_name = current_database() AND NOT temporary"
    ).fetchall()
    tables = {name for (name,) in listed}
    missing = sorted({PARTITIONS_TABLE, PUBLICATION_TABLE} - tables)
    if missing:
        raise _NoFingerprints(f"the previous file has no {' or '.join(missing)}")
    relations: dict[str, _Relation] = {}
    rows = con.execute(f"SELECT relation, columns, partition, month, rows, fingerprint FROM {PARTITIONS_TABLE}")
    for name, columns, partition, month, count, fingerprint in rows.fetchall():
        if fingerprint is None:
            raise _NoFingerprints(f"the previous file's {PARTITIONS_TABLE} has a partition without a fingerprint")
        relation = relations.setdefault(name, _Relation(name, columns, {}, {}))
        relation.partitions[partition] = (count, int(fingerprint))
        relation.months[partition] = month
    row = con.execute(f"SELECT version FROM {PUBLICATION_TABLE}").fetchone()
    if row is None or row[0] is None:
        raise _NoFingerprints(f"the previous file's {PUBLICATION_TABLE} names no version")
    return relations, row[0]


@dataclass(frozen=True)
class _Published:
    """A relation of the warehouse to publish."""

    name: str
    columns: str  # as in _Relation
    row_hash: str
    date_column: str | None


def _published_relations(con: duckdb.DuckDBPyConnection) -> dict[str, _Published]:
    """Every table and view of the published schemas (a view is published as a table: the copy must not
    read staging), with what its fingerprint hashes."""
    relations = {}
    for name, names, types, signature in con.execute(
        "SELECT schema_name || '.' || table_name, list(column_name ORDER BY column_index),"
        " list(data_type ORDER BY column_index),"
        " string_agg(column_name || ' ' || data_type, ', ' ORDER BY column_index)"
        " FROM duckdb_columns() WHERE database_name = 'warehouse' AND schema_name IN (SELECT unnest(?))"
        " GROUP BY ALL ORDER BY 1",
        [list(PUBLISHED_SCHEMAS)],
    ).fetchall():
        date_column = PARTITIONED_BY.get(name) if PARTITIONED_BY.get(name) in names else None
        if date_column:
            signature += f"; published by day of {date_column}"
        row_hash = f"hash({', '.join(_hashable(column, type_) for column, type_ in zip(names, types, strict=True))})"
        relations[name] = _Published(name, signature, row_hash, date_column)
    return relations


def _fingerprint(con: duckdb.DuckDBPyConnection, spec: _Published, source: str) -> _Relation:
    """Rows and a fingerprint per partition of the relation as read from `source`, also added to the
    temporary table `fingerprints`."""
    # Grouped by the date first and formatted after: formatting every row's date costs more than the hashing.
    day = f"CAST({_identifier(spec.date_column)} AS DATE)" if spec.date_column else "NULL"
    partition, month = (
        (_day("partition_day"), _month("partition_day")) if spec.date_column else (f"'{WHOLE_TABLE}'",) * 2
    )
    con.execute(
        f"INSERT INTO fingerprints SELECT ?, ?, {partition}, {month}, rows, fingerprint FROM"
        f" (SELECT {day} AS partition_day, count(*) AS rows, sum({spec.row_hash}) AS fingerprint"
        f" FROM {source} GROUP BY 1)",
        [spec.name, spec.columns],
    )
    partitions = con.execute(
        "SELECT partition, month, rows, fingerprint FROM fingerprints WHERE relation = ?", [spec.name]
    ).fetchall()
    return _Relation(
        spec.name,
        spec.columns,
        {key: (count, int(fingerprint)) for key, _, count, fingerprint in partitions},
        {key: month for key, month, _, _ in partitions},
        spec.date_column,
    )


def _hashable(column: str, data_type: str) -> str:
    """The column as hashed: DuckDB's hash() does not tell some nested values apart (NULL and [] lists,
    [[1],[2]] and [[1,2]], a NULL struct and one of NULLs) nor 0.0 from -0.0, so those go as text."""
    nested = data_type.endswith("]") or data_type.startswith(("STRUCT", "MAP", "UNION"))
    return f"{_identifier(column)}::VARCHAR" if nested or data_type in ("FLOAT", "DOUBLE") else _identifier(column)


def _drop_unpublished(con: duckdb.DuckDBPyConnection, current: dict[str, _Published]) -> None:
    """Drop whatever the copied file holds that is not to be published now (tables gone from the
    warehouse, and anything a mistaken serving path brought along): only the published schemas remain."""
    for schema, name, kind in con.execute(
        "SELECT schema_name, table_name, 'TABLE' FROM duckdb_tables() WHERE database_name = current_database()"
        " UNION ALL SELECT schema_name, view_name, 'VIEW' FROM duckdb_views()"
        " WHERE database_name = current_database() AND NOT internal"
    ).fetchall():
        if f"{schema}.{name}" not in current and f"{schema}.{name}" not in (PUBLICATION_TABLE, PARTITIONS_TABLE):
            con.execute(f"DROP {kind} IF EXISTS {_identifier(schema)}.{_identifier(name)}")
    for (schema,) in con.execute(
        "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database() AND NOT internal"
    ).fetchall():
        if schema not in (*PUBLISHED_SCHEMAS, "main"):
            con.execute(f"DROP SCHEMA IF EXISTS {_identifier(schema)} CASCADE")


def _copy_changes(con: duckdb.DuckDBPyConnection, relation: _Relation, before: _Relation) -> _Change:
    """Copy the relation's changed partitions (or the whole relation) into the serving file: its columns
    are those of the previous publication."""
    source = _in_warehouse(relation.name)
    if before.partitions == relation.partitions:
        return _Change(False, set(), set())
    if relation.date_column is not None:
        changed = {key for key, value in relation.partitions.items() if before.partitions.get(key) != value}
        gone = before.partitions.keys() - relation.partitions.keys()
        if len(changed) + len(gone) <= MAX_CHANGED_SHARE * max(len(relation.partitions), 1):
            con.execute(f"DELETE FROM {_quoted(relation.name)} WHERE {_on_days(relation.date_column, changed | gone)}")
            if changed:
                days = _on_days(relation.date_column, changed)
                con.execute(f"INSERT INTO {_quoted(relation.name)} SELECT * FROM {source} WHERE {days}")
            months = {relation.months[key] for key in changed} | {before.months[key] for key in gone}
            return _Change(False, changed, months)
    _copy_whole(con, relation.name)
    return _Change.whole(relation)


def _copy_whole(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {_identifier(name.split('.')[0])}")
    con.execute(f"CREATE OR REPLACE TABLE {_quoted(name)} AS SELECT * FROM {_in_warehouse(name)}")


def _write_parquet(
    con: duckdb.DuckDBPyConnection, relation: _Relation, change: _Change, previous_dir: Path | None, parquet_dir: Path
) -> None:
    """One file per table, or for a partitioned one a folder per month (`published_month=YYYY-MM`, Hive
    style); a file or month whose rows did not change is hard links to the previous version's files."""
    if relation.date_column is None:
        file = f"{relation.name}.parquet"
        previous = previous_dir / file if previous_dir is not None else None
        reused = not change.rewritten and previous is not None and previous.is_file()
        if not (reused and _linked([previous], parquet_dir)):
            con.execute(f"COPY {_quoted(relation.name)} TO {_literal(parquet_dir / file)} (FORMAT parquet)")
        return
    folder = parquet_dir / relation.name
    if not relation.partitions:  # an empty fact: one file of its columns, so readers' globs still match
        (folder / f"{MONTH_COLUMN}={NO_DATE}").mkdir(parents=True)
        con.execute(
            f"COPY (SELECT *, NULL::VARCHAR AS {MONTH_COLUMN} FROM {_quoted(relation.name)}) TO"
            f" {_literal(folder / f'{MONTH_COLUMN}={NO_DATE}' / 'data0.parquet')} (FORMAT parquet)"
        )
        return
    months = set(relation.months.values())
    reusable = set()
    if not change.rewritten and previous_dir is not None:
        reusable = {
            month
            for month in months - change.months
            if (previous_dir / relation.name / f"{MONTH_COLUMN}={month}").is_dir()
        }
    month = _month(f"CAST({_identifier(relation.date_column)} AS DATE)")
    if months - reusable:
        con.execute(
            f"COPY (SELECT *, {month} AS {MONTH_COLUMN} FROM {_quoted(relation.name)} WHERE"
            f" {_in_months(relation.date_column, months - reusable)}) TO {_literal(folder)}"
            f" (FORMAT parquet, PARTITION_BY ({MONTH_COLUMN}), FILENAME_PATTERN 'data')"
        )
    for kept in sorted(reusable):
        target = folder / f"{MONTH_COLUMN}={kept}"
        target.mkdir(parents=True)
        if not _linked(sorted((previous_dir / relation.name / target.name).iterdir()), target):
            con.execute(
                f"COPY (SELECT * FROM {_quoted(relation.name)} WHERE {_in_months(relation.date_column, {kept})})"
                f" TO {_literal(target / 'data0.parquet')} (FORMAT parquet)"
            )


def _linked(files: list[Path], folder: Path) -> bool:
    """Hard-link the files into the folder; False on a file system without hard links (write them)."""
    try:
        for file in files:
            os.link(file, folder / file.name)
    except OSError:
        for file in files:
            (folder / file.name).unlink(missing_ok=True)
        return False
    return True


def _make_read_only(folder: Path) -> None:
    """Published files are shared by hard links between versions: an edit in place would change them all."""
    for file in folder.rglob("*.parquet"):
        file.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def _record(con: duckdb.DuckDBPyConnection, relations, version: str, warehouse: Path) -> None:
    """The fingerprints and the publication row, replacing the previous publication's."""
    con.execute(f"CREATE OR REPLACE TABLE {PARTITIONS_TABLE} AS SELECT * FROM fingerprints ORDER BY ALL")
    table_rows = {relation.name: relation.rows for relation in relations}
    con.execute(
        f"CREATE OR REPLACE TABLE {PUBLICATION_TABLE} AS SELECT ? AS version, now() AS published_at,"
        " ? AS warehouse, ?::JSON AS table_rows",
        [version, str(warehouse), json.dumps(table_rows, sort_keys=True)],
    )


def _day(date: str) -> str:
    """A partition's key: the day of a DATE expression, as text."""
    return f"coalesce(strftime({date}, '%Y-%m-%d'), '{NO_DATE}')"


def _month(date: str) -> str:
    return f"coalesce(strftime({date}, '%Y-%m'), '{NO_DATE}')"


def _on_days(date_column: str, days: set[str]) -> str:
    """Rows on these partition days. Plain days become DATE literals, which DuckDB pushes into the scan
    (through a view too); any other key (a year past 9999, infinity) is matched by formatting each row."""
    date = f"CAST({_identifier(date_column)} AS DATE)"
    plain = sorted(day for day in days if re.fullmatch(r"\d{4}-\d{2}-\d{2}", day))
    other = sorted(days - set(plain) - {NO_DATE})
    terms = [f"{date} IN ({', '.join(f'DATE {_literal(day)}' for day in plain)})"] if plain else []
    terms += [f"{_identifier(date_column)} IS NULL"] if NO_DATE in days else []
    terms += [f"{_day(date)} IN ({', '.join(_literal(day) for day in other)})"] if other else []
    return " OR ".join(terms) or "false"


def _in_months(date_column: str, months: set[str]) -> str:
    """Rows in these Parquet months, as _on_days: plain months as date ranges."""
    date = f"CAST({_identifier(date_column)} AS DATE)"
    plain = sorted(month for month in months if re.fullmatch(r"\d{4}-\d{2}", month))
    other = sorted(months - set(plain) - {NO_DATE})
    terms = [f"({date} >= DATE '{month}-01' AND {date} < DATE '{month}-01' + INTERVAL 1 MONTH)" for month in plain]
    terms += [f"{_identifier(date_column)} IS NULL"] if NO_DATE in months else []
    terms += [f"{_month(date)} IN ({', '.join(_literal(month) for month in other)})"] if other else []
    return " OR ".join(terms) or "false"


def _point_current(parquet_root: Path, version: str) -> None:
    link = parquet_root / "current"
    staging_link = parquet_root / f".current.{version}.tmp"
    staging_link.symlink_to(version, target_is_directory=True)
    os.replace(staging_link, link)


def _prune(parquet_root: Path, keep: int) -> None:
    """Drop old Parquet versions, keeping the newest `keep` (a reader may still be in the previous one)."""
    current = (parquet_root / "current").resolve().name
    versions = sorted(path for path in parquet_root.iterdir() if path.is_dir() and not path.is_symlink())
    for path in versions[:-keep]:
        if path.name != current:
            shutil.rmtree(path, ignore_errors=True)


def _in_warehouse(name: str) -> str:
    return f"warehouse.{_quoted(name)}"


def _quoted(name: str) -> str:
    schema, table = name.split(".", 1)
    return f"{_identifier(schema)}.{_identifier(table)}"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str | Path) -> str:
    """A text or a path as a SQL string literal (ATTACH and COPY take no parameters; day lists are
    literals so DuckDB can push them into the scan)."""
    return "'" + str(value).replace("'", "''") + "'"

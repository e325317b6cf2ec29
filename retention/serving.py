"""Publish the marts for BI tools: a separate read-only DuckDB file and Parquet files, swapped in whole.

DuckDB lets one process write a file, and a reader holding the warehouse open makes the next run fail
on its lock. BI tools therefore read a copy: after each successful run the analytic schemas (never
`raw` or `staging`, which hold personal data) are copied into a new file beside the serving file, which
then replaces it with one rename. A reader that has the old file open keeps reading the old version
(the rename does not touch open files); the next connection sees the new one; nobody ever sees half.
The Parquet copy is a new folder per publication behind a `current` symbolic link, swapped the same way.

A daily run changes a few days of a history that grows by the day, so a publication starts from a copy
of the previous one and copies again only what changed. Every table is fingerprinted (rows and a sum
of row hashes, with its column names and types); the big facts are fingerprinted per day of a date
column (`PARTITIONED_BY`), so only their changed days are deleted and copied again. Parquet files of
unchanged tables and months are hard links to the previous version's. The fingerprints are kept in the
serving file (`main.publication_partitions`); a serving file without them is rebuilt in full.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterable
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


@dataclass(frozen=True)
class _Relation:
    name: str  # schema.table
    # Column names and types, and the partitioning: a table whose columns changed is copied again in full.
    columns: str
    partitions: dict[str, tuple[int, int]]  # partition -> (rows, fingerprint)
    date_column: str | None = None

    @property
    def rows(self) -> int:
        return sum(rows for rows, _ in self.partitions.values())


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
        tables, copied, kept = _update(settings, staging_file, parquet_root, parquet_version, version)
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
    )


def _update(
    settings: Settings, staging_file: Path, parquet_root: Path, parquet_dir: Path, version: str
) -> tuple[dict[str, int], int, int]:
    con = _open_previous(settings, staging_file)
    try:
        con.execute("SET enable_progress_bar = false")
        previous, previous_version = _previous_publication(con)
        previous_parquet = parquet_root / previous_version if previous_version else None
        con.execute(f"ATTACH {_literal(settings.warehouse)} AS warehouse (READ_ONLY)")
        current = {relation.name: relation for relation in _fingerprint_warehouse(con)}
        for stale in previous.keys() - current.keys():
            con.execute(f"DROP TABLE IF EXISTS {_quoted(stale)}")
        copied = kept = 0
        for relation in current.values():
            before = previous.get(relation.name)
            changed = _copy_changes(con, relation, before)
            copied += len(changed)
            kept += len(relation.partitions) - len(changed)
            _write_parquet(con, relation, changed, before, previous_parquet, parquet_dir)
        con.execute("DETACH warehouse")
        _record(con, current.values(), version, settings.warehouse)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return {name: relation.rows for name, relation in sorted(current.items())}, copied, kept


def _open_previous(settings: Settings, staging_file: Path) -> duckdb.DuckDBPyConnection:
    """The copy of the previous publication, or a new file when there is none or it cannot be read
    (written by another DuckDB version, damaged): publishing then copies everything."""
    try:
        return duckdb.connect(str(staging_file), config=settings.duckdb_config())
    except duckdb.Error:
        staging_file.unlink(missing_ok=True)
        return duckdb.connect(str(staging_file), config=settings.duckdb_config())


def _previous_publication(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, _Relation], str | None]:
    """What the copied file holds, from its fingerprints; nothing (so everything is copied) for a file
    published before fingerprints existed."""
    has_fingerprints = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()"
        " AND schema_name = 'main' AND table_name IN ('publication', 'publication_partitions')"
    ).fetchone()[0]
    if has_fingerprints < 2:
        for schema in PUBLISHED_SCHEMAS:
            con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        return {}, None
    relations: dict[str, _Relation] = {}
    rows = con.execute(f"SELECT relation, columns, partition, rows, fingerprint FROM {PARTITIONS_TABLE}").fetchall()
    for name, columns, partition, count, fingerprint in rows:
        relation = relations.setdefault(name, _Relation(name, columns, {}))
        relation.partitions[partition] = (count, int(fingerprint))
    (version,) = con.execute(f"SELECT version FROM {PUBLICATION_TABLE}").fetchone()
    return relations, version


def _fingerprint_warehouse(con: duckdb.DuckDBPyConnection) -> list[_Relation]:
    """Rows and a fingerprint per partition of every published relation (views included: the copy must
    not read staging, so a view is published as a table), also left in the temporary table `fingerprints`."""
    columns = con.execute(
        "SELECT schema_name || '.' || table_name, list(column_name ORDER BY column_index),"
        " string_agg(column_name || ' ' || data_type, ', ' ORDER BY column_index)"
        " FROM duckdb_columns() WHERE database_name = 'warehouse' AND schema_name IN (SELECT unnest(?))"
        " GROUP BY ALL ORDER BY 1",
        [list(PUBLISHED_SCHEMAS)],
    ).fetchall()
    con.execute(
        "CREATE TEMP TABLE fingerprints (relation VARCHAR, columns VARCHAR, partition VARCHAR, rows BIGINT,"
        " fingerprint HUGEINT)"
    )
    relations = []
    for name, names, signature in columns:
        date_column = PARTITIONED_BY.get(name) if PARTITIONED_BY.get(name) in names else None
        partition = _day(date_column) if date_column else f"'{WHOLE_TABLE}'"
        if date_column:
            signature += f"; published by day of {date_column}"
        row_hash = f"hash({', '.join(_identifier(column) for column in names)})"
        con.execute(
            f"INSERT INTO fingerprints SELECT ?, ?, {partition}, count(*), sum({row_hash})"
            f" FROM {_in_warehouse(name)} GROUP BY 3",
            [name, signature],
        )
        partitions = con.execute(
            "SELECT partition, rows, fingerprint FROM fingerprints WHERE relation = ?", [name]
        ).fetchall()
        relations.append(_Relation(name, signature, {key: (n, int(f)) for key, n, f in partitions}, date_column))
    return relations


def _copy_changes(con: duckdb.DuckDBPyConnection, relation: _Relation, before: _Relation | None) -> set[str]:
    """Copy the relation's changed partitions into the serving file; returns them."""
    source = _in_warehouse(relation.name)
    if before is not None and before.columns == relation.columns:
        if relation.date_column is None and before.partitions == relation.partitions:
            return set()
        if relation.date_column is not None:
            changed = {key for key, value in relation.partitions.items() if before.partitions.get(key) != value}
            gone = before.partitions.keys() - relation.partitions.keys()
            if changed | gone:
                days = _partition_filter(relation.date_column)
                con.execute(f"DELETE FROM {_quoted(relation.name)} WHERE {days}", [sorted(changed | gone)])
                con.execute(
                    f"INSERT INTO {_quoted(relation.name)} SELECT * FROM {source} WHERE {days}", [sorted(changed)]
                )
            return changed
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {_identifier(relation.name.split('.')[0])}")
    con.execute(f"CREATE OR REPLACE TABLE {_quoted(relation.name)} AS SELECT * FROM {source}")
    return set(relation.partitions)


def _write_parquet(
    con: duckdb.DuckDBPyConnection,
    relation: _Relation,
    changed: set[str],
    before: _Relation | None,
    previous_dir: Path | None,
    parquet_dir: Path,
) -> None:
    """One file per table, or for a partitioned one a folder per month (`published_month=YYYY-MM`, Hive
    style); a file or month whose rows did not change is hard links to the previous version's files."""
    if relation.date_column is None:
        file = f"{relation.name}.parquet"
        previous = previous_dir / file if previous_dir is not None else None
        if changed or previous is None or not previous.is_file() or not _linked([previous], parquet_dir):
            con.execute(f"COPY {_quoted(relation.name)} TO {_literal(parquet_dir / file)} (FORMAT parquet)")
        return
    months = {_month(key) for key in relation.partitions}
    reusable = set()
    if before is not None and before.columns == relation.columns and previous_dir is not None:
        gone = before.partitions.keys() - relation.partitions.keys()
        changed_months = {_month(key) for key in changed | gone}
        reusable = {
            month
            for month in months - changed_months
            if (previous_dir / relation.name / f"{MONTH_COLUMN}={month}").is_dir()
        }
    month = f"coalesce(strftime({_identifier(relation.date_column)}, '%Y-%m'), '{NO_DATE}')"
    folder = parquet_dir / relation.name
    if months - reusable:
        con.execute(
            f"COPY (SELECT *, {month} AS {MONTH_COLUMN} FROM {_quoted(relation.name)} WHERE {month} IN"
            f" (SELECT unnest(?))) TO {_literal(folder)} (FORMAT parquet, PARTITION_BY ({MONTH_COLUMN}),"
            " FILENAME_PATTERN 'data')",
            [sorted(months - reusable)],
        )
    for kept in sorted(reusable):
        target = folder / f"{MONTH_COLUMN}={kept}"
        target.mkdir(parents=True)
        if not _linked(sorted((previous_dir / relation.name / target.name).iterdir()), target):
            con.execute(
                f"COPY (SELECT * FROM {_quoted(relation.name)} WHERE {month} = ?) TO"
                f" {_literal(target / 'data0.parquet')} (FORMAT parquet)",
                [kept],
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


def _record(con: duckdb.DuckDBPyConnection, relations: Iterable[_Relation], version: str, warehouse: Path) -> None:
    """The fingerprints and the publication row, replacing the previous publication's."""
    con.execute(f"CREATE OR REPLACE TABLE {PARTITIONS_TABLE} AS SELECT * FROM fingerprints ORDER BY ALL")
    table_rows = {relation.name: relation.rows for relation in relations}
    con.execute(
        f"CREATE OR REPLACE TABLE {PUBLICATION_TABLE} AS SELECT ? AS version, now() AS published_at,"
        " ? AS warehouse, ?::JSON AS table_rows",
        [version, str(warehouse), json.dumps(table_rows, sort_keys=True)],
    )


def _day(date_column: str) -> str:
    return f"coalesce(strftime({_identifier(date_column)}, '%Y-%m-%d'), '{NO_DATE}')"


def _partition_filter(date_column: str) -> str:
    return f"{_day(date_column)} IN (SELECT unnest(?))"


def _month(partition: str) -> str:
    return NO_DATE if partition == NO_DATE else partition[:7]


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


def _literal(path: Path) -> str:
    """A path as a SQL string literal (ATTACH and COPY take no parameters)."""
    return "'" + str(path).replace("'", "''") + "'"

"""Publish the marts for BI tools: a separate read-only DuckDB file and Parquet files, swapped in whole.

DuckDB lets one process write a file, and a reader holding the warehouse open makes the next run fail
on its lock. BI tools therefore read a copy: after each successful run the analytic schemas (never
`raw` or `staging`, which hold personal data) are copied into a new file beside the serving file, which
then replaces it with one rename. A reader that has the old file open keeps reading the old version
(the rename does not touch open files); the next connection sees the new one; nobody ever sees half.
The Parquet copy is a new folder per publication behind a `current` symbolic link, swapped the same way.
"""

from __future__ import annotations

import json
import os
import shutil
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
KEEP_PARQUET_VERSIONS = 2


@dataclass(frozen=True)
class Publication:
    version: str
    serving_file: Path
    parquet_dir: Path
    tables: dict[str, int]  # schema.table -> rows
    seconds: float
    bytes: int


def publish(settings: Settings, version: str | None = None) -> Publication:
    """Copy the published schemas of the warehouse into a new serving file and Parquet folder, then swap
    both in. The warehouse is only read."""
    started = time.monotonic()
    version = version or datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = settings.serving_file
    target.parent.mkdir(parents=True, exist_ok=True)
    staging_file = target.with_name(f".{target.name}.{version}.tmp")
    parquet_root = settings.serving_parquet_dir
    parquet_version = parquet_root / version
    parquet_version.mkdir(parents=True, exist_ok=False)
    try:
        tables = _copy(settings, staging_file, parquet_version, version)
        os.replace(staging_file, target)
        _point_current(parquet_root, version)
    except BaseException:
        staging_file.unlink(missing_ok=True)
        shutil.rmtree(parquet_version, ignore_errors=True)
        raise
    _prune(parquet_root, keep=KEEP_PARQUET_VERSIONS)
    return Publication(
        version, target, parquet_root / "current", tables, round(time.monotonic() - started, 2), target.stat().st_size
    )


def _copy(settings: Settings, staging_file: Path, parquet_dir: Path, version: str) -> dict[str, int]:
    con = duckdb.connect(str(staging_file), config=settings.duckdb_config())
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute(f"ATTACH {_literal(settings.warehouse)} AS warehouse (READ_ONLY)")
        relations = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'warehouse'"
            " AND schema_name IN (SELECT unnest(?)) UNION ALL"
            " SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = 'warehouse'"
            " AND schema_name IN (SELECT unnest(?)) ORDER BY 1, 2",
            [list(PUBLISHED_SCHEMAS), list(PUBLISHED_SCHEMAS)],
        ).fetchall()
        tables = {}
        for schema, name in relations:
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            # Views (e.g. fct_member_events over staging) become tables: the copy must not read staging.
            con.execute(f'CREATE TABLE "{schema}"."{name}" AS SELECT * FROM warehouse."{schema}"."{name}"')
            parquet_file = _literal(parquet_dir / f"{schema}.{name}.parquet")
            con.execute(f'COPY "{schema}"."{name}" TO {parquet_file} (FORMAT parquet)')
            tables[f"{schema}.{name}"] = con.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchone()[0]
        con.execute("DETACH warehouse")
        con.execute(
            f"CREATE TABLE {PUBLICATION_TABLE} AS SELECT ? AS version, now() AS published_at,"
            " ? AS warehouse, ?::JSON AS table_rows",
            [version, str(settings.warehouse), json.dumps(tables, sort_keys=True)],
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return tables


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


def _literal(path: Path) -> str:
    """A path as a SQL string literal (ATTACH and COPY take no parameters)."""
    return "'" + str(path).replace("'", "''") + "'"

"""Runtime settings, read from environment variables with working local defaults.

Settings are read when asked for (`Settings.from_env()`), never at import time, so tests and the
Dagster code location can point the same code at different folders.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path

_ENV_PREFIX = "RETENTION_"


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    landing_dir: Path = Path("data/landing")
    warehouse: Path = Path("data/warehouse.duckdb")
    # Seconds a run waits for another process writing the warehouse (0: refuse at once; negative: no limit).
    run_lock_timeout: float = 0.0
    export_dir: Path = Path("data/exports")
    # What BI tools read (retention/serving.py): the marts and the outreach log, published after each
    # successful run as a read-only DuckDB file and Parquet files (<dir>/current), each swapped in whole.
    serving_file: Path = Path("data/serving.duckdb")
    serving_parquet_dir: Path = Path("data/serving_parquet")
    # The win-back campaign the outreach assets build (docs/outreach.md); its staff review file is the
    # file beside it named <stem>.review.csv. The default ships with the repository.
    campaign_file: Path = project_root() / "campaigns" / "winback_2025_autumn.yaml"
    # The deployment's own spellings of the contract's codes (docs/vocabulary.md), on top of the built-in
    # aliases of retention/landing/contract.py. The default ships with the repository and maps nothing.
    vocabulary_file: Path = project_root() / "config" / "vocabulary.yaml"
    # The demo generator's answer key (member personas); never loaded as a feature.
    ground_truth_dir: Path = Path("data/ground_truth")
    timezone: str = "Asia/Shanghai"
    # First day of the daily partitions; days before it cannot be loaded.
    start_date: date = date(2024, 1, 1)
    # Landing dates after local today + this many days are refused: a mistyped future folder would become the as-of day.
    max_landing_days_ahead: int = 1
    # The landing sensor leaves a day alone while any of its files was modified less than this many seconds
    # ago: a file still being copied in would otherwise start a run on half a delivery.
    sensor_settle_seconds: int = 60
    # One JSON line per failed run, appended by the run-failure alert sensor (orchestration/alerts.py).
    alerts_file: Path = Path("data/alerts/run_failures.jsonl")
    # The raw assets and the key marts count as stale (a WARN freshness check) when their last update is
    # older than this; hours, fractions allowed.
    freshness_hours: float = 24.0
    # Ingestion rules (documented in docs/landing_contract.md).
    max_order_amount: float = 200_000.0
    max_paid_level: int = 3
    max_dwell_seconds: int = 86_400
    # Amounts may be written with at most this many decimal places. Raw stores fen (two places), so places
    # beyond the second must be zeros ("12.3400" with 4); an amount is never rounded.
    amount_decimals: int = 2
    # Plausible timestamps: from this day (old archives and 1990s registrations are real data) to the end of
    # the row's landing day plus `future_tolerance_days`; others are quarantined as `implausible_timestamp`.
    earliest_timestamp: date = date(1970, 1, 1)
    future_tolerance_days: int = 1
    # Plausible dates (birthdays): from this day to the row's landing day (`implausible_date`).
    earliest_birthday: date = date(1900, 1, 1)
    # A partition whose files lose more than this share of rows to quarantine fails its check.
    max_quarantine_rate: float = 0.05
    # Days with fewer usable rows than this are too small for the quarantine-rate check to mean much.
    quarantine_rate_min_rows: int = 20
    # Share of rows whose event time may fall outside landing day +/- tolerance (warning check).
    event_time_tolerance_days: int = 1
    min_event_time_in_window_share: float = 0.98
    # A latest risk day flagging more than this share of members as high risk is suspicious (warning).
    max_high_risk_share: float = 0.35
    # Rows per transaction while loading a partition range: whole days are committed in batches of about
    # this many rows, which bounds memory whatever the length of the range (not a business rule).
    load_batch_rows: int = 500_000
    # The risk and KPI history is computed in chunks of days when members x history days exceeds this
    # (0 = always in one build): one build sorts every member-day at once, and a million members over a
    # quarter spilled more than 30 GB to disk. Not a business rule.
    history_chunk_member_days: int = 10_000_000
    # DuckDB, for every connection of the pipeline and for dbt: memory it may use before spilling to
    # the temp directory, and worker threads (0 = one per core).
    duckdb_memory_limit: str = "4GB"
    duckdb_threads: int = 0
    duckdb_temp_directory: Path = Path("data/duckdb_tmp")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, base_dir: Path | None = None) -> Settings:
        """Build settings from `RETENTION_<FIELD>` variables; relative paths resolve from base_dir."""
        env = dict(os.environ if env is None else env)
        base = Path(base_dir) if base_dir else Path.cwd()
        values = {}
        for f in fields(cls):
            raw = env.get(_ENV_PREFIX + f.name.upper())
            value = getattr(cls, f.name) if raw is None or raw == "" else _parse(f.type, raw, f.name)
            if isinstance(value, Path) and not value.is_absolute():
                value = (base / value).resolve()
            values[f.name] = value
        return cls(**values)

    @property
    def review_file(self) -> Path:
        return self.campaign_file.with_name(f"{self.campaign_file.stem}.review.csv")

    @property
    def duckdb_thread_count(self) -> int:
        return self.duckdb_threads if self.duckdb_threads > 0 else (os.cpu_count() or 1)

    def duckdb_config(self) -> dict[str, str | int]:
        """DuckDB configuration of every connection the pipeline opens (dbt's profile reads the same
        settings from the environment). Creates the temp directory: DuckDB fails on its first spill,
        not when it connects, if the folder's parent is missing."""
        self.duckdb_temp_directory.mkdir(parents=True, exist_ok=True)
        return {
            "memory_limit": self.duckdb_memory_limit,
            "threads": self.duckdb_thread_count,
            "temp_directory": str(self.duckdb_temp_directory),
        }

    def env_vars(self) -> dict[str, str]:
        """The settings as environment variables, for subprocesses such as dbt."""
        return {_ENV_PREFIX + f.name.upper(): str(getattr(self, f.name)) for f in fields(self)}


def _parse(type_name: str, raw: str, name: str):
    try:
        if type_name == "Path":
            return Path(raw)
        if type_name == "date":
            return date.fromisoformat(raw)
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
        return raw
    except ValueError as exc:
        raise ValueError(f"{_ENV_PREFIX}{name.upper()}={raw!r} is not a valid {type_name}") from exc

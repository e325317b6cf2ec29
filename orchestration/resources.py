"""Resources shared by every asset: where the landing files and the warehouse are."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import dagster as dg
import duckdb

from retention.settings import Settings


class RetentionResource(dg.ConfigurableResource):
    """Pipeline settings plus the one way assets open the DuckDB warehouse.

    Connections are opened per use and closed straight after, so no process holds the DuckDB
    file while dbt (a separate process) writes to it.
    """

    landing_dir: str
    warehouse: str
    export_dir: str

    @classmethod
    def from_settings(cls, settings: Settings) -> "RetentionResource":
        return cls(landing_dir=str(settings.landing_dir), warehouse=str(settings.warehouse), export_dir=str(settings.export_dir))

    def settings(self) -> Settings:
        env = {
            "RETENTION_LANDING_DIR": self.landing_dir,
            "RETENTION_WAREHOUSE": self.warehouse,
            "RETENTION_EXPORT_DIR": self.export_dir,
        }
        return Settings.from_env({**os.environ, **env})

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        path = Path(self.warehouse)
        path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path), read_only=read_only)
        try:
            yield con
        finally:
            con.close()


"""Resources shared by every asset: the pipeline settings, the way to open the warehouse, and its pool.

They live below the assets and checks that use them; `orchestration/` only wires them in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import dagster as dg
import duckdb

from retention.run_lock import warehouse_lock
from retention.settings import Settings

# Every asset that writes the DuckDB warehouse is in this pool (limit 1 in orchestration/dagster.yaml): DuckDB
# allows one writing process per file.
WAREHOUSE_POOL = "duckdb_warehouse"


class RetentionResource(dg.ConfigurableResource):
    """Pipeline settings (as their RETENTION_* variables) plus the one way assets open DuckDB.

    Connections are opened per use and closed straight after, so no process holds the DuckDB
    file while dbt (a separate process) writes to it.
    """

    settings_env: dict[str, str]

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionResource:
        return cls(settings_env=settings.env_vars())

    def settings(self) -> Settings:
        return Settings.from_env(self.settings_env)

    @property
    def warehouse(self) -> str:
        return str(self.settings().warehouse)

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A DuckDB connection; a writing one holds the warehouse's writer lock (retention/run_lock.py)
        while open, so a run launched from the UI never writes while `retention run` does."""
        path = Path(self.warehouse)
        path.parent.mkdir(parents=True, exist_ok=True)
        with nullcontext() if read_only else warehouse_lock(self.settings()):
            con = duckdb.connect(str(path), read_only=read_only, config=self.settings().duckdb_config())
            try:
                yield con
            finally:
                con.close()

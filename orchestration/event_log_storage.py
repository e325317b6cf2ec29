"""Dagster's SQLite event log, writing a batch of events in one transaction per database.

Dagster's stock SQLite event log opens, writes, commits and closes its databases once per event (the run's
and the cross-run index): some 8 ms an event on a plain disk. A backfill of the demo's 593 days stores one
planned and one materialization event per partition of each of the five raw assets, about 6,000 events,
which took some 45 s of its 160 s. Dagster hands a storage its events in batches when
DAGSTER_EVENT_BATCH_SIZE is set (the planned events of a run, the per-partition materializations of a step),
but the stock SQLite storage stores a batch one event at a time. This one stores it in one transaction per
database, about 1 ms an event; everything it stores is what the stock storage would have stored.

orchestration/dagster.yaml selects it for $DAGSTER_HOME; runs on an ephemeral instance (the tests) keep
Dagster's in-memory storage.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import dagster as dg
import sqlalchemy as db
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

# Events per batch Dagster hands to store_event_batch: a backfill's planned events of one asset, one
# step's per-partition materializations. Bounded so a batch's transaction stays short for readers.
EVENT_BATCH_SIZE = 1000
BATCH_SIZE_VARIABLE = "DAGSTER_EVENT_BATCH_SIZE"


def default_base_dir() -> str:
    """Where Dagster's default instance keeps its event logs ($DAGSTER_HOME/history/runs), so an instance
    that switches to this storage keeps its history."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise dg.DagsterInvariantViolationError(
            "BatchedSqliteEventLogStorage without a base_dir needs DAGSTER_HOME (its event logs go to "
            "$DAGSTER_HOME/history/runs)"
        )
    return os.path.join(home, "history", "runs", "")


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage whose store_event_batch uses one transaction per database it writes."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        # Before the stock constructor, which already reads through _connect and has_table.
        self._batch = threading.local()
        self._tables_seen: set[str] = set()
        super().__init__(base_dir, inst_data)
        # Dagster reads the variable on every event, in every process that holds the instance (the CLI,
        # the UI's server, the daemon, a run's worker): a process using this storage batches its events.
        os.environ.setdefault(BATCH_SIZE_VARIABLE, str(EVENT_BATCH_SIZE))

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {"base_dir": dg.Field(dg.StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: dict[str, Any]):
        return cls(config_value.get("base_dir") or default_base_dir(), inst_data=inst_data)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        # The stock storage's lock, held for the whole batch: the watcher threads of the UI's server read
        # through _connect too. On any error every open transaction rolls back, and Dagster then stores the
        # batch event by event.
        with self._db_lock, ExitStack() as transactions:
            self._batch.connections = {}
            self._batch.transactions = transactions
            try:
                for event in events:
                    self.store_event(event)
            finally:
                self._batch.connections = None

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        connections = getattr(self._batch, "connections", None)
        if connections is None:
            with super()._connect(shard) as connection:
                yield connection
            return
        if shard not in connections:
            connections[shard] = self._batch.transactions.enter_context(self._open_transaction(shard))
        yield connections[shard]

    @contextmanager
    def _open_transaction(self, shard: str) -> Iterator[Connection]:
        """What the stock _connect does, without its (non-reentrant) lock, which the batch already holds."""
        engine = db.create_engine(
            self.conn_string_for_shard(shard),
            poolclass=NullPool,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        )
        try:
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as connection, connection.begin():
                yield connection
        finally:
            engine.dispose()

    def has_table(self, table_name: str) -> bool:
        # Asked once per stored event with tags (a partition's materialization), each time opening the
        # index database anew; a table, once there, stays.
        if table_name in self._tables_seen:
            return True
        if super().has_table(table_name):
            self._tables_seen.add(table_name)
            return True
        return False

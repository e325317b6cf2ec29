"""Dagster's SQLite event log, writing a batch of events in one transaction per database.

Dagster's stock SQLite event log opens, writes, commits and closes its databases once per event (the run's
and the cross-run index): some 8 ms an event on a plain disk. A backfill of the demo's 593 days stores one
planned and one materialization event per partition of each of the five raw assets, about 6,000 events,
which took some 45 s of its 160 s. Dagster hands a storage its events in batches when
DAGSTER_EVENT_BATCH_SIZE is set (the planned events of a run, the per-partition materializations of a step),
but the stock SQLite storage stores a batch one event at a time. This one stores it in one transaction per
database, about 1 ms an event; everything it stores is what the stock storage would have stored.

orchestration/dagster.yaml selects it for $DAGSTER_HOME; an ephemeral instance (most tests) keeps Dagster's
in-memory storage.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg
import sqlalchemy as db
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine, RootTransaction
from sqlalchemy.pool import NullPool

# At most this many events per batch Dagster hands to store_event_batch (a run's planned events, one step's
# per-partition materializations): a batch holds the databases' write locks, which other writers wait for.
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

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None, *, from_home: bool = False):
        # Before the stock constructor, which already reads through _connect and has_table.
        self._batch = threading.local()
        self._tables_seen: set[str] = set()
        self._from_home = from_home
        super().__init__(base_dir, inst_data)
        # Dagster reads the variable on every event, in every process that holds the instance (the CLI,
        # the UI's server, the daemon, a run's worker; their child processes inherit it): a process using
        # this storage batches its events, the whole process (an ephemeral instance opened later in it too).
        os.environ.setdefault(BATCH_SIZE_VARIABLE, str(EVENT_BATCH_SIZE))

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {"base_dir": dg.Field(dg.StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: dict[str, Any]):
        if config_value.get("base_dir"):
            return cls(config_value["base_dir"], inst_data=inst_data)
        return cls(default_base_dir(), inst_data=inst_data, from_home=True)

    def register_instance(self, instance) -> None:
        super().register_instance(instance)
        # DagsterInstance.from_config(folder) does not set DAGSTER_HOME: with another folder there, runs
        # would be recorded in one instance and their events in the other.
        expected = os.path.join(instance.root_directory, "history", "runs", "")
        if self._from_home and os.path.realpath(expected) != os.path.realpath(self._base_dir):
            raise dg.DagsterInvariantViolationError(
                f"this instance is in {instance.root_directory} but DAGSTER_HOME is {os.environ.get('DAGSTER_HOME')}:"
                " BatchedSqliteEventLogStorage keeps its events under $DAGSTER_HOME/history/runs. Set"
                " DAGSTER_HOME to the instance's folder, or give the storage a base_dir."
            )

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        # The stock storage's lock, held for the whole batch: the watcher threads of the UI's server read
        # through _connect too. Nothing is committed until every event is written; then the run's database
        # commits before the cross-run index (the order each event writes them), so a failure at commit
        # time leaves the index without the batch, and Dagster's fallback (storing the batch event by
        # event) duplicates nothing there. Only a failure between the two commits would leave the run's
        # log with the batch twice.
        with self._db_lock:
            opened: dict[str, tuple[Engine, Connection, RootTransaction]] = {}
            self._batch.opened = opened
            try:
                for event in events:
                    self.store_event(event)
                for shard, (_, _, transaction) in opened.items():
                    self._commit(shard, transaction)
            finally:
                self._batch.opened = None
                # Closing a connection rolls back what it has not committed.
                for engine, connection, _ in reversed(opened.values()):
                    connection.close()
                    engine.dispose()

    def _commit(self, shard: str, transaction: RootTransaction) -> None:
        transaction.commit()

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        opened = getattr(self._batch, "opened", None)
        if opened is None:
            with super()._connect(shard) as connection:
                yield connection
            return
        if shard not in opened:
            opened[shard] = self._open_transaction(shard)
        yield opened[shard][1]

    def _open_transaction(self, shard: str) -> tuple[Engine, Connection, RootTransaction]:
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
            connection = engine.connect()
        except BaseException:
            engine.dispose()
            raise
        return engine, connection, connection.begin()

    def has_table(self, table_name: str) -> bool:
        # Asked once per stored event with tags (a partition's materialization), each time opening the
        # index database anew; a table, once there, stays.
        if table_name in self._tables_seen:
            return True
        if super().has_table(table_name):
            self._tables_seen.add(table_name)
            return True
        return False

"""The event log of orchestration/dagster.yaml: a backfill's per-partition events stored in one transaction per
database, the same events the stock SQLite storage stores, and a batch that fails leaves nothing behind."""

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest

from orchestration.event_log_storage import BATCH_SIZE_VARIABLE, BatchedSqliteEventLogStorage
from retention.settings import project_root

DAYS = dg.DailyPartitionsDefinition(start_date="2025-01-01", end_date="2025-03-02")  # 60 days


@dg.asset(partitions_def=DAYS)
def per_day(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    # The day of the month, per partition: what a raw asset's per-day row counts look like to storage.
    for day in context.partition_keys:
        context.add_asset_metadata({"rows_loaded": int(day[-2:])}, partition_key=day)
    return dg.MaterializeResult()


def backfill(instance: dg.DagsterInstance) -> str:
    """All 60 days in one run, as `retention run` and the UI's single-run backfill do."""
    job = dg.Definitions(assets=[per_day], jobs=[dg.define_asset_job("days", [per_day])]).resolve_job_def("days")
    result = job.execute_in_process(
        instance=instance,
        tags={"dagster/asset_partition_range_start": "2025-01-01", "dagster/asset_partition_range_end": "2025-03-01"},
    )
    assert result.success
    return result.run_id


def stored(instance: dg.DagsterInstance, run_id: str) -> tuple[Counter, set[str], dict]:
    kinds = Counter(e.dagster_event.event_type_value for e in instance.all_logs(run_id) if e.dagster_event)
    key = dg.AssetKey("per_day")
    partitions = instance.get_materialized_partitions(key)
    event = instance.get_latest_materialization_event(key)
    record = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=["2025-02-14"]), limit=1
    ).records[0]
    return kinds, partitions, {"latest": event.dagster_event.partition, "feb14": record.asset_materialization.metadata}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(project_root() / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv(BATCH_SIZE_VARIABLE, "1000")  # what the storage sets; restored after the test
    return home


def test_a_backfill_stores_what_the_stock_storage_stores_in_a_few_transactions(home, tmp_path, monkeypatch):
    batches, transactions = [], []
    store_batch = BatchedSqliteEventLogStorage.store_event_batch
    open_transaction = BatchedSqliteEventLogStorage._open_transaction

    def spy_batch(self, events):
        batches.append(Counter(e.dagster_event.event_type_value for e in events))
        return store_batch(self, events)

    def spy_transaction(self, shard):
        transactions.append(shard)
        return open_transaction(self, shard)

    monkeypatch.setattr(BatchedSqliteEventLogStorage, "store_event_batch", spy_batch)
    monkeypatch.setattr(BatchedSqliteEventLogStorage, "_open_transaction", spy_transaction)
    with dg.DagsterInstance.get() as ours:
        assert isinstance(ours.event_log_storage, BatchedSqliteEventLogStorage)
        ours_run = backfill(ours)
        ours_stored = stored(ours, ours_run)
    # Two batches of 60 (the planned events, then the step's materializations), each in two transactions:
    # the run's database and the cross-run index.
    assert batches == [Counter(ASSET_MATERIALIZATION_PLANNED=60), Counter(ASSET_MATERIALIZATION=60)]
    assert sorted(transactions) == sorted([ours_run, "index"] * 2)
    assert (home / "history" / "runs" / f"{ours_run}.db").is_file()  # Dagster's default layout

    stock_home = tmp_path / "stock_home"
    stock_home.mkdir()
    with dg.DagsterInstance.from_config(str(stock_home)) as stock:
        assert type(stock.event_log_storage).__name__ == "SqliteEventLogStorage"
        stock_stored = stored(stock, backfill(stock))

    kinds, partitions, metadata = ours_stored
    assert ours_stored == stock_stored
    assert kinds["ASSET_MATERIALIZATION"] == 60 and kinds["ASSET_MATERIALIZATION_PLANNED"] == 60
    assert len(partitions) == 60 and {"2025-01-01", "2025-03-01"} <= partitions
    assert metadata["latest"] == "2025-03-01"
    assert metadata["feb14"]["rows_loaded"].value == 14


def test_a_batch_that_fails_midway_leaves_nothing_and_stores_once_when_retried(home, monkeypatch):
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        events = []

        class Collect:
            def store_event_batch(self, batch):
                events.extend(batch)

        # The 60 materialization events of a real backfill, captured instead of stored.
        real = BatchedSqliteEventLogStorage.store_event_batch
        monkeypatch.setattr(
            BatchedSqliteEventLogStorage,
            "store_event_batch",
            lambda self, batch: (
                Collect().store_event_batch(batch)
                if batch[0].dagster_event.event_type_value == "ASSET_MATERIALIZATION"
                else real(self, batch)
            ),
        )
        monkeypatch.setenv(BATCH_SIZE_VARIABLE, "1000")
        run_id = backfill(instance)
        monkeypatch.setattr(BatchedSqliteEventLogStorage, "store_event_batch", real)
        assert len(events) == 60
        assert instance.get_materialized_partitions(dg.AssetKey("per_day")) == set()

        original = BatchedSqliteEventLogStorage._store_asset_event
        calls = []

        def fail_on_the_31st(self, conn, event, event_id):
            calls.append(event.dagster_event.partition)
            if len(calls) == 31:
                raise OSError("disk full")
            return original(self, conn, event, event_id)

        monkeypatch.setattr(BatchedSqliteEventLogStorage, "_store_asset_event", fail_on_the_31st)
        with pytest.raises(OSError, match="disk full"):
            storage.store_event_batch(events)
        monkeypatch.setattr(BatchedSqliteEventLogStorage, "_store_asset_event", original)
        # The 30 events before the failure were rolled back in both databases.
        assert instance.get_materialized_partitions(dg.AssetKey("per_day")) == set()
        logged = Counter(e.dagster_event.event_type_value for e in instance.all_logs(run_id) if e.dagster_event)
        assert logged["ASSET_MATERIALIZATION"] == 0

        storage.store_event_batch(events)
        assert len(instance.get_materialized_partitions(dg.AssetKey("per_day"))) == 60
        logged = Counter(e.dagster_event.event_type_value for e in instance.all_logs(run_id) if e.dagster_event)
        assert logged["ASSET_MATERIALIZATION"] == 60
        # After a batch, single events go through Dagster's own connection handling again.
        storage.store_event(events[0])
        logged = Counter(e.dagster_event.event_type_value for e in instance.all_logs(run_id) if e.dagster_event)
        assert logged["ASSET_MATERIALIZATION"] == 61


def test_an_instance_with_this_storage_turns_batching_on_and_needs_dagster_home(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(project_root() / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    environment = {k: v for k, v in os.environ.items() if k != BATCH_SIZE_VARIABLE}
    probe = "import dagster as dg, os; dg.DagsterInstance.get(); print(os.environ.get('DAGSTER_EVENT_BATCH_SIZE'))"
    shown = subprocess.run(
        [sys.executable, "-c", probe], env={**environment, "DAGSTER_HOME": str(home)}, capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "1000"

    without_home = {k: v for k, v in environment.items() if k != "DAGSTER_HOME"}
    probe = f"import dagster as dg; dg.DagsterInstance.from_config({str(home)!r})"
    failed = subprocess.run([sys.executable, "-c", probe], env=without_home, capture_output=True, text=True)
    assert failed.returncode != 0
    assert "needs DAGSTER_HOME" in failed.stderr

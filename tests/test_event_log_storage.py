"""The event log of orchestration/dagster.yaml: a backfill's per-partition events stored in one transaction per
database, the same events the stock SQLite storage stores; a batch that fails, while writing or at commit,
leaves nothing behind and Dagster's fallback stores it once."""

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
from tests.conftest import project_dagster_home

DAYS = dg.DailyPartitionsDefinition(start_date="2025-01-01", end_date="2025-03-02")  # 60 days
KEY = dg.AssetKey("per_day")


@dg.asset(partitions_def=DAYS)
def per_day(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    # The day of the month, per partition: what a raw asset's per-day row counts look like to storage.
    for day in context.partition_keys:
        context.add_asset_metadata({"rows_loaded": int(day[-2:])}, partition_key=day)
    return dg.MaterializeResult()


@dg.asset_check(asset=per_day)
def rows_present() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True, metadata={"rows": 60})


def backfill(instance: dg.DagsterInstance) -> str:
    """All 60 days in one run, as `retention run` and the UI's single-run backfill do."""
    definitions = dg.Definitions(
        assets=[per_day], asset_checks=[rows_present], jobs=[dg.define_asset_job("days", [per_day])]
    )
    result = definitions.resolve_job_def("days").execute_in_process(
        instance=instance,
        tags={"dagster/asset_partition_range_start": "2025-01-01", "dagster/asset_partition_range_end": "2025-03-01"},
    )
    assert result.success
    return result.run_id


def stored(instance: dg.DagsterInstance, run_id: str) -> dict:
    """What the UI reads back: the run's log, the materialized days, the latest and one day's materialization,
    the asset's record, and the check's executions."""
    record = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=KEY, asset_partitions=["2025-02-14"]), 5)
    executions = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(KEY, "rows_present"), limit=100
    )
    return {
        "log": Counter(e.dagster_event.event_type_value for e in instance.all_logs(run_id) if e.dagster_event),
        "partitions": instance.get_materialized_partitions(KEY),
        "materializations": len(instance.fetch_materializations(KEY, limit=1000).records),
        "latest": instance.get_latest_materialization_event(KEY).dagster_event.partition,
        "feb14": [r.asset_materialization.metadata["rows_loaded"].value for r in record.records],
        "asset_records": len(instance.get_asset_records([KEY])),
        "checks": Counter(e.status.value for e in executions),
    }


EXPECTED = {
    "partitions": {f"2025-{month:02d}-{day:02d}" for month, days in ((1, 31), (2, 28)) for day in range(1, days + 1)}
    | {"2025-03-01"},
    "materializations": 60,
    "latest": "2025-03-01",
    "feb14": [14],
    "asset_records": 1,
    # One planned execution per day of the range; the check, evaluated once for the asset, is a row of its own.
    "checks": Counter(PLANNED=60, SUCCEEDED=1),
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return project_dagster_home(tmp_path, monkeypatch)


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
    assert BATCH_SIZE_VARIABLE not in os.environ
    with dg.DagsterInstance.get() as ours:
        assert isinstance(ours.event_log_storage, BatchedSqliteEventLogStorage)
        assert os.environ[BATCH_SIZE_VARIABLE] == "1000"  # the storage turned Dagster's batching on
        ours_run = backfill(ours)
        ours_stored = stored(ours, ours_run)
    # Two batches of events (the run's planned events, then the step's 60 materializations), each in two
    # transactions: the run's database and the cross-run index.
    assert batches == [
        Counter(ASSET_MATERIALIZATION_PLANNED=60, ASSET_CHECK_EVALUATION_PLANNED=1),
        Counter(ASSET_MATERIALIZATION=60),
    ]
    assert sorted(transactions) == sorted([ours_run, "index"] * 2)
    assert (home / "history" / "runs" / f"{ours_run}.db").is_file()  # Dagster's default layout

    stock_home = tmp_path / "stock_home"
    stock_home.mkdir()
    with dg.DagsterInstance.from_config(str(stock_home)) as stock:
        assert type(stock.event_log_storage).__name__ == "SqliteEventLogStorage"
        stock_stored = stored(stock, backfill(stock))

    assert ours_stored == stock_stored
    assert {key: ours_stored[key] for key in EXPECTED} == EXPECTED
    assert ours_stored["log"]["ASSET_MATERIALIZATION"] == 60
    assert ours_stored["log"]["ASSET_MATERIALIZATION_PLANNED"] == 60
    assert ours_stored["log"]["ASSET_CHECK_EVALUATION"] == 1


@pytest.mark.parametrize("failure", ["writing the 31st event", "committing the run's database"])
def test_a_batch_that_fails_is_rolled_back_and_dagster_stores_it_once_event_by_event(home, monkeypatch, failure):
    failed = []
    store_asset_event, commit = BatchedSqliteEventLogStorage._store_asset_event, BatchedSqliteEventLogStorage._commit

    def fail_on_the_31st(self, conn, event, event_id):
        if self._batch.opened is not None and event.dagster_event.partition == "2025-01-31" and not failed:
            failed.append(event_id)
            raise OSError("disk full")
        return store_asset_event(self, conn, event, event_id)

    def fail_the_run_commit(self, shard, transaction):
        if shard != "index" and not failed and len(self._batch.opened) == 2:
            failed.append(shard)
            raise OSError("disk I/O error")
        return commit(self, shard, transaction)

    if failure == "writing the 31st event":
        monkeypatch.setattr(BatchedSqliteEventLogStorage, "_store_asset_event", fail_on_the_31st)
    else:
        monkeypatch.setattr(BatchedSqliteEventLogStorage, "_commit", fail_the_run_commit)
    with dg.DagsterInstance.get() as instance:
        run_id = backfill(instance)  # Dagster falls back to storing the failed batch event by event
        assert len(failed) == 1
        result = stored(instance, run_id)
    assert {key: result[key] for key in EXPECTED} == EXPECTED
    assert result["log"]["ASSET_MATERIALIZATION"] == 60  # once each, in the run's log and in the index


def test_an_instance_elsewhere_than_dagster_home_is_refused(home, tmp_path):
    other = tmp_path / "other_home"
    other.mkdir()
    shutil.copy(home / "dagster.yaml", other / "dagster.yaml")
    # Runs would be recorded under `other` and their events under $DAGSTER_HOME.
    with pytest.raises(dg.DagsterInvariantViolationError, match="DAGSTER_HOME is .*history/runs"):
        dg.DagsterInstance.from_config(str(other))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.event_log_storage, BatchedSqliteEventLogStorage)


def test_without_dagster_home_the_storage_says_what_it_needs(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(project_root() / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    environment = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", BATCH_SIZE_VARIABLE)}
    probe = f"import dagster as dg; dg.DagsterInstance.from_config({str(home)!r})"
    failed = subprocess.run([sys.executable, "-c", probe], env=environment, capture_output=True, text=True)
    assert failed.returncode != 0
    assert "needs DAGSTER_HOME" in failed.stderr

"""The dbt command line each materialization runs."""

import os
import re
import subprocess
from datetime import date
from pathlib import Path

from assets.dbt_command import NO_UNIT_TESTS, DbtBuild, dbt_build, prune_build_targets
from assets.history_chunks import (
    UPSTREAM_OF_HISTORY,
    HistoryRequest,
    chunk_build,
    days_per_chunk,
    history_days_at_most,
    split_days,
)
from assets.transformation import dbt_executable, dbt_resource, history_start


def test_plain_build_computes_as_of_the_latest_landed_day():
    assert dbt_build() == DbtBuild(["build", *NO_UNIT_TESTS], {})


def test_the_as_of_day_reaches_dbt_as_an_environment_variable_not_a_var():
    # A changed --vars makes dbt re-parse the whole project; a changed environment variable, only its files.
    assert dbt_build(date(2025, 8, 15)) == DbtBuild(
        ["build", *NO_UNIT_TESTS], {"RETENTION_DBT_AS_OF_DATE": "2025-08-15"}
    )


def test_full_refresh_rebuilds_the_incremental_history():
    assert dbt_build(full_refresh=True) == DbtBuild(["build", *NO_UNIT_TESTS, "--full-refresh"], {})
    assert dbt_build(date(2025, 8, 15), True).args[-1] == "--full-refresh"


def test_a_range_computes_the_history_of_every_day_in_it():
    assert dbt_build(date(2025, 8, 31), history_from=date(2025, 8, 1)) == DbtBuild(
        ["build", *NO_UNIT_TESTS],
        {"RETENTION_DBT_AS_OF_DATE": "2025-08-31", "RETENTION_DBT_HISTORY_FROM": "2025-08-01"},
    )


def test_full_refresh_recomputes_every_landed_day_whatever_the_range():
    assert dbt_build(date(2025, 8, 31), True, date(2025, 8, 1)) == DbtBuild(
        ["build", *NO_UNIT_TESTS, "--full-refresh"], {"RETENTION_DBT_AS_OF_DATE": "2025-08-31"}
    )


def test_the_day_range_is_in_the_environment_only_while_dbt_starts(monkeypatch):
    monkeypatch.setenv("RETENTION_DBT_HISTORY_FROM", "2020-01-01")  # left over in a shell: never leaks in
    monkeypatch.delenv("RETENTION_DBT_AS_OF_DATE", raising=False)
    with dbt_build(date(2025, 8, 15)).environment():
        assert os.environ["RETENTION_DBT_AS_OF_DATE"] == "2025-08-15"
        assert "RETENTION_DBT_HISTORY_FROM" not in os.environ
    assert "RETENTION_DBT_AS_OF_DATE" not in os.environ
    assert os.environ["RETENTION_DBT_HISTORY_FROM"] == "2020-01-01"


def test_history_starts_at_the_configured_day_else_at_the_first_partition_of_the_run():
    assert history_start("2025-08-01", {"dagster/asset_partition_range_start": "2025-07-01"}) == date(2025, 8, 1)
    assert history_start("", {"dagster/asset_partition_range_start": "2025-07-01"}) == date(2025, 7, 1)
    assert history_start("", {"dagster/partition": "2025-07-05"}) == date(2025, 7, 5)
    assert history_start("", {}) is None


def test_a_long_history_is_cut_into_even_chunks_oldest_first():
    # 92 days in chunks of at most 25: four chunks of 23 days.
    chunks = split_days(date(2025, 7, 1), date(2025, 9, 30), 25)
    assert chunks == [
        (date(2025, 7, 1), date(2025, 7, 23)),
        (date(2025, 7, 24), date(2025, 8, 15)),
        (date(2025, 8, 16), date(2025, 9, 7)),
        (date(2025, 9, 8), date(2025, 9, 30)),
    ]
    # 5 days in chunks of 2: sizes 2, 2, 1; one day fits one chunk.
    assert split_days(date(2025, 3, 1), date(2025, 3, 5), 2) == [
        (date(2025, 3, 1), date(2025, 3, 2)),
        (date(2025, 3, 3), date(2025, 3, 4)),
        (date(2025, 3, 5), date(2025, 3, 5)),
    ]
    assert split_days(date(2025, 3, 1), date(2025, 3, 1), 30) == [(date(2025, 3, 1), date(2025, 3, 1))]


def test_days_per_chunk_keep_member_days_within_the_budget():
    assert days_per_chunk(1_000_000, 25_000_000) == 25
    assert days_per_chunk(100_000, 25_000_000) == 250
    assert days_per_chunk(30_000_000, 25_000_000) == 1  # never less than a day
    assert days_per_chunk(0, 10) == 10


def test_the_history_bound_follows_the_request_and_the_cap():
    first, last = date(2024, 1, 1), date(2025, 9, 30)
    daily = HistoryRequest(date(2025, 9, 30), date(2025, 9, 30), False)
    assert history_days_at_most(daily, first, last, 92) == 1
    # A full refresh asks for every landed day (639), capped at 92.
    assert history_days_at_most(HistoryRequest(None, None, True), first, last, 92) == 92
    assert history_days_at_most(HistoryRequest(None, None, True), first, last, 0) == 639
    # A range from before the first delivery starts at the first delivery.
    assert history_days_at_most(HistoryRequest(date(2024, 1, 10), date(2023, 1, 1), False), first, last, 0) == 10


def test_a_chunk_builds_only_the_history_models_for_its_days():
    assert chunk_build(date(2025, 9, 30), date(2025, 7, 1), date(2025, 7, 23), True) == DbtBuild(
        [
            "build",
            *NO_UNIT_TESTS,
            "--select",
            "int_as_of_dates int_member_measures_daily int_member_state_daily member_churn_risk member_kpis_daily",
            "--indirect-selection",
            "cautious",
            "--full-refresh",
        ],
        {
            "RETENTION_DBT_AS_OF_DATE": "2025-09-30",
            "RETENTION_DBT_HISTORY_FROM": "2025-07-01",
            "RETENTION_DBT_HISTORY_THROUGH": "2025-07-23",
        },
    )


def test_what_the_history_reads_is_built_for_the_requested_day():
    assert dbt_build(date(2025, 9, 30), True, date(2025, 7, 1), UPSTREAM_OF_HISTORY) == DbtBuild(
        [
            "build",
            *NO_UNIT_TESTS,
            "--select",
            "+member_kpis_daily resource_type:seed",
            "--exclude",
            "int_member_measures_daily+",
            "--indirect-selection",
            "cautious",
            "--full-refresh",
        ],
        {"RETENTION_DBT_AS_OF_DATE": "2025-09-30"},
    )


def test_only_the_newest_build_folders_of_an_asset_are_kept(tmp_path):
    target = tmp_path / "target"
    for n in range(13):
        folder = target / f"retention_dbt_models-run{n:04d}-abc{n:04d}"
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text("{}")
        os.utime(folder, ns=(n * 10**9, n * 10**9))  # build n finished at second n
    other = target / "retention_dbt_retrospective-run0000-abc0000"
    other.mkdir()
    os.utime(other, ns=(0, 0))
    (target / "partial_parse.msgpack").write_bytes(b"x")

    deleted = prune_build_targets(target, "retention_dbt_models", keep=10)

    assert sorted(p.name for p in deleted) == [f"retention_dbt_models-run{n:04d}-abc{n:04d}" for n in (0, 1, 2)]
    assert sorted(p.name for p in target.iterdir()) == sorted(
        [f"retention_dbt_models-run{n:04d}-abc{n:04d}" for n in range(3, 13)]
        + ["retention_dbt_retrospective-run0000-abc0000", "partial_parse.msgpack"]
    )


def test_the_dbt_version_read_in_process_is_what_the_dbt_executable_reports(monkeypatch):
    # The resource skips dagster-dbt's `dbt --version` process (3.5 s a run); it must still be the truth.
    printed = subprocess.run([dbt_executable(), "--version"], capture_output=True, text=True, check=True).stdout
    core = re.search(r"(\d+\.\d+\.\d+)", printed).group(1)

    def no_process(*args, **kwargs):
        raise AssertionError(f"dagster-dbt started a process: {args}")

    monkeypatch.setattr("dagster_dbt.core.resource.check_output", no_process)
    assert str(dbt_resource()._cli_version) == core


def test_the_resource_opens_no_dbt_adapter_and_no_fetch_relies_on_one():
    # The override replaces a private method of dagster-dbt: if it is renamed, the adapter (1.5-3 s a build)
    # comes back silently. `fetch_row_counts` / `fetch_column_metadata` would attach nothing without it.
    from dagster_dbt import DbtCliResource

    assert callable(getattr(DbtCliResource, "_initialize_dbt_core_adapter", None))
    assert dbt_resource()._initialize_dbt_core_adapter(["build"]) is None
    root = Path(__file__).parents[1]
    code = [path for folder in ("assets", "orchestration") for path in (root / folder).rglob("*.py")]
    assert [path for path in code if re.search(r"\.fetch_(row_counts|column_metadata)\(", path.read_text())] == []

"""The dbt command line each materialization runs."""

from datetime import date

from assets.transformation import dbt_build_args, history_start


def test_plain_build_computes_as_of_the_latest_landed_day():
    assert dbt_build_args() == ["build"]


def test_as_of_date_becomes_a_dbt_var():
    assert dbt_build_args(date(2025, 8, 15)) == ["build", "--vars", '{"as_of_date": "2025-08-15"}']


def test_full_refresh_rebuilds_the_incremental_history():
    assert dbt_build_args(full_refresh=True) == ["build", "--full-refresh"]
    assert dbt_build_args(date(2025, 8, 15), True)[-1] == "--full-refresh"


def test_a_range_computes_the_history_of_every_day_in_it():
    assert dbt_build_args(date(2025, 8, 31), history_from=date(2025, 8, 1)) == [
        "build",
        "--vars",
        '{"as_of_date": "2025-08-31", "history_from": "2025-08-01"}',
    ]


def test_full_refresh_recomputes_every_landed_day_whatever_the_range():
    assert dbt_build_args(date(2025, 8, 31), True, date(2025, 8, 1)) == [
        "build",
        "--vars",
        '{"as_of_date": "2025-08-31"}',
        "--full-refresh",
    ]


def test_history_starts_at_the_configured_day_else_at_the_first_partition_of_the_run():
    assert history_start("2025-08-01", {"dagster/asset_partition_range_start": "2025-07-01"}) == date(2025, 8, 1)
    assert history_start("", {"dagster/asset_partition_range_start": "2025-07-01"}) == date(2025, 7, 1)
    assert history_start("", {"dagster/partition": "2025-07-05"}) == date(2025, 7, 5)
    assert history_start("", {}) is None

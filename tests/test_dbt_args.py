"""The dbt command line each materialization runs."""

from datetime import date

from assets.transformation import dbt_build_args


def test_plain_build_computes_as_of_the_latest_landed_day():
    assert dbt_build_args() == ["build"]


def test_as_of_date_becomes_a_dbt_var():
    assert dbt_build_args(date(2025, 8, 15)) == ["build", "--vars", '{"as_of_date": "2025-08-15"}']


def test_full_refresh_rebuilds_the_incremental_history():
    assert dbt_build_args(full_refresh=True) == ["build", "--full-refresh"]
    assert dbt_build_args(date(2025, 8, 15), True)[-1] == "--full-refresh"

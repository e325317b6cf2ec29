"""dbt's connection to the warehouse, as our profile opens it (dbt-duckdb's own code, no dbt process).

A medium-scale build spilled to DuckDB's temp directory in its first model, then every later node failed
with "Cannot switch temporary directory after the current one has been used": the profile gave the DuckDB
limits as `settings`, which dbt-duckdb sets again on each new cursor (one per node)."""

import os
from argparse import Namespace

import pytest
from dbt.adapters.duckdb import environments
from dbt.config.runtime import load_profile
from dbt.flags import set_from_args
from dbt_common.context import set_invocation_context

from assets.transformation import dbt_project_dir

# Grouping this many distinct strings needs more than the memory limit below: DuckDB spills.
SPILLING_QUERY = "SELECT md5(range::VARCHAR) AS h, count(*) FROM range(3000000) GROUP BY h ORDER BY h LIMIT 1"


def _credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("RETENTION_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("RETENTION_DUCKDB_MEMORY_LIMIT", "100MB")
    monkeypatch.setenv("RETENTION_DUCKDB_THREADS", "1")
    monkeypatch.setenv("RETENTION_DUCKDB_TEMP_DIRECTORY", str(tmp_path / "spill"))
    set_invocation_context(dict(os.environ))
    set_from_args(Namespace(profiles_dir=str(dbt_project_dir())), None)
    return load_profile(str(dbt_project_dir()), {}).credentials


def _spill_then_open_the_next_cursor(credentials):
    """What dbt-duckdb does for two nodes of one build: a handle (a new cursor, set up) per node."""
    environment = environments.create(credentials)
    try:
        first_node = environment.handle().cursor()
        first_node.execute(SPILLING_QUERY).fetchall()
        next_node = environment.handle().cursor()
        return next_node.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    finally:
        environment.close()


def test_the_next_node_opens_its_cursor_after_a_build_spilled(tmp_path, monkeypatch):
    credentials = _credentials(tmp_path, monkeypatch)
    assert credentials.config_options["memory_limit"] == "100MB"
    assert _spill_then_open_the_next_cursor(credentials) == str(tmp_path / "spill")


def test_the_limits_given_as_cursor_settings_would_fail_there(tmp_path, monkeypatch):
    # The control: the same query does spill, and the old profile's `settings` break the next cursor.
    credentials = _credentials(tmp_path, monkeypatch)
    credentials.settings = {"temp_directory": credentials.config_options["temp_directory"]}
    with pytest.raises(Exception, match="Cannot switch temporary directory"):
        _spill_then_open_the_next_cursor(credentials)

"""Shared fixtures: a landing folder and a DuckDB warehouse under tmp_path, and dbt's manifest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from assets.transformation import dbt_project
from orchestration.event_log_storage import BATCH_SIZE_VARIABLE
from retention.settings import Settings, project_root

# Test files that take the longest (minutes: whole Dagster runs with dbt builds), slowest first. They are
# collected first, so that under pytest-xdist (`--dist loadfile`: a file's tests stay on one worker, and its
# module fixtures are built once) each worker starts on a long one and the short files fill in the end.
# Only the order changes; a file missing from this list just runs after these.
SLOW_FILES_FIRST = (
    "test_marts_point_in_time.py",
    "test_incremental_orders.py",
    "test_versions_and_history.py",
    "test_campaign_timeline.py",
    "test_incremental_events.py",
    "test_ui_browser.py",
    "test_overlapping_runs.py",
    "test_pipeline.py",
    "test_ticket_churn_intent.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOW_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file keeps its order


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, DuckDB gets the cores divided between the workers (unless RETENTION_DUCKDB_THREADS
    is set): at its default of one thread per core, two workers on two cores ran four busy threads. Each
    connection's memory limit stays RETENTION_DUCKDB_MEMORY_LIMIT (4GB)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)
    if workers > 1 and not os.environ.get("RETENTION_DUCKDB_THREADS"):
        os.environ["RETENTION_DUCKDB_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Parse the dbt project once per session (the Dagster dbt assets read its manifest) into a dbt target
    folder of the session's own (DBT_TARGET_PATH, DBT_LOG_PATH): the manifest, the partial parse state and
    dagster-dbt's build folders are then never shared with another pytest-xdist worker or another session, whose
    parse would rewrite the manifest while this one reads it, or whose pruning would delete a build under way.
    The state of `make manifest` is copied in, so the parse is a partial one."""
    project_dir = project_root() / "dbt_project"
    target = tmp_path_factory.getbasetemp() / "dbt_target"
    target.mkdir(exist_ok=True)
    shared_state = project_dir / "target" / "partial_parse.msgpack"
    if shared_state.is_file():
        shutil.copyfile(shared_state, target / shared_state.name)
    os.environ["DBT_TARGET_PATH"] = os.environ["DBT_LOG_PATH"] = str(target)
    dbt_project.cache_clear()  # in case anything read the project before the variable was set
    dbt = Path(sys.executable).parent / "dbt"
    subprocess.run([str(dbt), "parse", "--quiet", "--profiles-dir", "."], cwd=project_dir, check=True)
    assert dbt_project().manifest_path == target / "manifest.json"
    return target / "manifest.json"


def settings_under(root: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings whose every folder and file lies under `root`, also set as RETENTION_* variables."""
    landing = root / "landing"
    landing.mkdir(exist_ok=True)
    env = {
        "RETENTION_LANDING_DIR": str(landing),
        "RETENTION_WAREHOUSE": str(root / "warehouse.duckdb"),
        "RETENTION_EXPORT_DIR": str(root / "exports"),
        "RETENTION_GROUND_TRUTH_DIR": str(root / "ground_truth"),
        "RETENTION_DUCKDB_TEMP_DIRECTORY": str(root / "duckdb_tmp"),
        "RETENTION_SERVING_FILE": str(root / "serving" / "serving.duckdb"),
        "RETENTION_SERVING_PARQUET_DIR": str(root / "serving" / "parquet"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return Settings.from_env(env)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    return settings_under(tmp_path, monkeypatch)


def project_dagster_home(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Dagster home under `root` configured by orchestration/dagster.yaml, as `make setup` makes one, set as
    DAGSTER_HOME. Its event log storage turns on DAGSTER_EVENT_BATCH_SIZE in this process when an instance
    opens: the variable is restored with the others after the test, so later tests of the worker run as before."""
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(project_root() / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv(BATCH_SIZE_VARIABLE, "0")  # recorded, so that undoing the next line removes it again
    monkeypatch.delenv(BATCH_SIZE_VARIABLE)
    return home


def built_once(tmp_path_factory, name: str, build: Callable[[Settings, pytest.MonkeyPatch], None]) -> Iterator[Path]:
    """For a module fixture: a folder where `build(settings, monkeypatch)` loaded and built a warehouse once,
    removed when the module ends. Tests take their own copy (copy_built): a build costs ~25 s."""
    root = tmp_path_factory.mktemp(name)
    with pytest.MonkeyPatch.context() as monkeypatch:
        build(settings_under(root, monkeypatch), monkeypatch)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def copy_built(built: Path, settings: Settings) -> Settings:
    """A copy, under the test's own folder, of a landing folder and warehouse a module fixture built once
    (every path in them is below that folder, so the copy stands on its own). Not the BI serving copy: its
    `current` link points into the original, and the next run publishes a new one anyway."""
    ignored = shutil.ignore_patterns("*.lock", "serving", "duckdb_tmp")
    shutil.copytree(built, settings.landing_dir.parent, dirs_exist_ok=True, ignore=ignored)
    return settings


class Landing:
    """Writes landing files the way a source system would deliver them."""

    def __init__(self, root: Path):
        self.root = root

    def write(self, relative: str, text: str, encoding: str = "utf-8") -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode(encoding))
        return path


@pytest.fixture
def landing(settings: Settings) -> Landing:
    return Landing(settings.landing_dir)


@pytest.fixture
def warehouse(settings: Settings):
    con = duckdb.connect(str(settings.warehouse))
    yield con
    con.close()


def warehouse_rows(settings: Settings, sql: str) -> list[tuple]:
    """The rows of a query, read through a short read-only connection (none outlives the check)."""
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


MEMBERS_HEADER = "member_id,name,mobile,registered_at,consent_sms,updated_at\n"


def members_csv(*ids: str, day: str = "2025-03-01") -> str:
    rows = "".join(f"{m},测试{m},1380000{i:04d},2024-01-02 10:00:00,1,{day} 08:00:00\n" for i, m in enumerate(ids))
    return MEMBERS_HEADER + rows

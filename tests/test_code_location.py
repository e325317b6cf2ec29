"""The code location loads as `dagster dev` loads it, without the virtualenv on PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from retention.settings import project_root

LOAD = "from orchestration.definitions import build_definitions; print(len(build_definitions().assets))"


def test_dagster_dev_parses_the_dbt_project_without_the_venv_on_path(tmp_path, dbt_manifest):
    system_path = os.pathsep.join(["/usr/bin", "/bin"])
    assert shutil.which("dbt", path=system_path) is None  # the venv's dbt is not reachable by PATH
    manifest = dbt_manifest  # in the session's dbt target folder (DBT_TARGET_PATH), shared with no other worker
    before = manifest.stat().st_mtime_ns if manifest.exists() else 0
    env = {
        "PATH": system_path,
        "HOME": str(tmp_path),
        "DAGSTER_IS_DEV_CLI": "1",  # what `dagster dev` sets: dagster-dbt then parses the project on load
        "RETENTION_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
        "DBT_TARGET_PATH": os.environ["DBT_TARGET_PATH"],
        "DBT_LOG_PATH": os.environ["DBT_LOG_PATH"],
    }
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD], cwd=project_root(), env=env, capture_output=True, text=True, timeout=300
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert int(loaded.stdout.strip().splitlines()[-1]) > 10
    assert Path(manifest).stat().st_mtime_ns > before  # parsed again, by the venv's dbt
    # Loads without a warning (Dagster's own warning categories are shown to `dagster dev` users).
    assert "Warning" not in loaded.stderr, loaded.stderr[-3000:]

"""Two runs of `daily_refresh` launched together never write the warehouse at the same time.

The runs go the way the schedule, the landing sensor and a person in the UI launch theirs, on an instance
configured by orchestration/dagster.yaml: submitted to the instance's run coordinator (`dagster job launch`,
queued) and started by a real `dagster-daemon`, both talking to one code server as under `dagster dev`.
The second run waits in the queue until the first has finished; both succeed, and each day is loaded
exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
from click.testing import CliRunner
from dagster._cli import cli as dagster_cli

from orchestration.jobs import DAILY_REFRESH
from orchestration.runner import RANGE_END_TAG, RANGE_START_TAG
from retention.generator.generation import generate
from retention.resources import WAREHOUSE_POOL
from retention.settings import project_root
from tests.conftest import project_dagster_home

LOCATION = "retention"  # as in workspace.yaml
FIRST_RANGE = ("2025-03-01", "2025-03-03")
SECOND_RANGE = ("2025-03-04", "2025-03-06")
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
# The steps of daily_refresh in pool duckdb_warehouse (assets/*: every one that writes the warehouse).
POOL_STEPS = {
    "raw__members",
    "raw__orders",
    "raw__events",
    "raw__tickets",
    "raw__outreach_feedback",
    "signals__ticket_churn_intent",
    "retention_dbt_models",
    "outreach__winback_batches",
    "retention_dbt_retrospective",
    "retrospective__campaign_report",
    "serving__bi_snapshot",
}
# Counted by hand in the generated files (members=40, seed=11, no defects): per landing day, the files
# of all five sources (day 1 has a full and a delta members file), and the order lines (POS csv rows
# below the header plus online jsonl lines).
FILES_PER_DAY = {
    "2025-03-01": 7,
    "2025-03-02": 6,
    "2025-03-03": 6,
    "2025-03-04": 6,
    "2025-03-05": 6,
    "2025-03-06": 6,
}
ORDERS_PER_DAY = {"2025-03-01": 4, "2025-03-03": 1, "2025-03-04": 4, "2025-03-05": 1}
# What a step refused by the warehouse lock (retention/run_lock.py) or by DuckDB's own file lock says, and
# what one waiting for the warehouse lock logs.
LOCK_TRACES = (
    "the warehouse is being written by another process",
    "Could not set lock on file",
    "for the warehouse writer lock",
)


def _bin(tool: str) -> str:
    return str(Path(sys.executable).parent / tool)


@contextmanager
def _service(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A long-running Dagster process, in a session of its own so that stopping it also stops what it
    started (a code server's run workers); its output goes to `log`, shown when something fails."""
    with log.open("w") as out:
        process = subprocess.Popen(
            args, cwd=project_root(), env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def _code_server(env: dict[str, str], folder: Path) -> Iterator[Path]:
    """The code location served over a socket, as `dagster dev` serves it to its webserver and daemon;
    yields a workspace file pointing at it. Loading the code once saves CI a minute."""
    socket, log = folder / "code.sock", folder / "code_server.log"
    args = [_bin("dagster"), "api", "grpc", "-m", "orchestration.definitions", "-a", "defs"]
    args += ["-d", str(project_root()), "--location-name", LOCATION, "--socket", str(socket)]
    with _service(args, env, log) as server:
        deadline = time.monotonic() + 300
        while not socket.exists():
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        workspace = folder / "workspace.yaml"
        spec = {"location_name": LOCATION, "socket": str(socket), "host": "localhost"}
        workspace.write_text(json.dumps({"load_from": [{"grpc_server": spec}]}))  # JSON is YAML
        yield workspace


def _launch(workspace: Path, run_id: str, first: str, last: str) -> None:
    """`dagster job launch` of daily_refresh over [first, last], as a backfill of that range submits it:
    queued. Run in this process (click's runner), which has Dagster imported already: a CLI process
    would spend 20 s on imports."""
    tags = {RANGE_START_TAG: first, RANGE_END_TAG: last, "retention/trigger": "test"}
    args = ["job", "launch", "-w", str(workspace), "-j", DAILY_REFRESH, "--run-id", run_id, "--tags", json.dumps(tags)]
    launched = CliRunner().invoke(dagster_cli, args)
    assert launched.exit_code == 0, f"{launched.output[-3000:]}\n{launched.exception!r}"


def _wait_until_finished(instance: dg.DagsterInstance, run_ids: list[str], daemon: subprocess.Popen, log: Path):
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        runs = [instance.get_run_by_id(run_id) for run_id in run_ids]
        if all(run.status in FINISHED for run in runs):
            return runs
        assert daemon.poll() is None, f"dagster-daemon exited: {log.read_text()[-3000:]}"
        time.sleep(1)
    raise AssertionError(f"runs not finished after 900s: {[run.status for run in runs]}")


def _events(instance: dg.DagsterInstance, run_id: str) -> list[dg.EventLogEntry]:
    return [entry for entry in instance.all_logs(run_id) if entry.dagster_event is not None]


def _step_intervals(events: list[dg.EventLogEntry]) -> dict[str, tuple[float, float]]:
    """(first start, last end) of each step that ran, from its STEP_START and STEP_SUCCESS/FAILURE events."""
    starts, ends = {}, {}
    for entry in events:
        kind, step = entry.dagster_event.event_type, entry.dagster_event.step_key
        if kind == dg.DagsterEventType.STEP_START:
            starts.setdefault(step, entry.timestamp)
        elif kind in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            ends[step] = entry.timestamp
    return {step: (start, ends[step]) for step, start in starts.items()}


def _timestamp(events: list[dg.EventLogEntry], kind: dg.DagsterEventType) -> float:
    return next(entry.timestamp for entry in events if entry.dagster_event.event_type == kind)


def test_two_runs_launched_together_take_turns_and_load_each_day_once(settings, tmp_path, monkeypatch):
    generate(
        settings.landing_dir,
        members=40,
        start=date(2025, 3, 1),
        end=date(2025, 3, 6),
        seed=11,
        defect_rate=0.0,
        truth_dir=tmp_path / "answer_key",  # not the pipeline's ground-truth folder: no evaluation step
    )
    home = project_dagster_home(tmp_path, monkeypatch)
    env = dict(os.environ)
    instance = dg.DagsterInstance.from_config(str(home))
    first_id, second_id = str(uuid.uuid4()), str(uuid.uuid4())

    with _code_server(env, tmp_path) as workspace:
        # Both runs are in the queue before the daemon first looks at it: it must choose to start only one.
        _launch(workspace, first_id, *FIRST_RANGE)
        _launch(workspace, second_id, *SECOND_RANGE)
        queued = [instance.get_run_by_id(run_id).status for run_id in (first_id, second_id)]
        assert queued == [dg.DagsterRunStatus.QUEUED] * 2
        log = tmp_path / "daemon.log"
        with _service([_bin("dagster-daemon"), "run", "-w", str(workspace)], env, log) as daemon:
            first, second = _wait_until_finished(instance, [first_id, second_id], daemon, log)

    first_events, second_events = _events(instance, first_id), _events(instance, second_id)
    failures = [
        f"{entry.dagster_event.step_key}: {entry.dagster_event.step_failure_data.error.to_string()[-2000:]}"
        for entry in first_events + second_events
        if entry.dagster_event.event_type == dg.DagsterEventType.STEP_FAILURE
    ]
    assert failures == []  # not even one retried: a step refused by a lock fails at once (timeout 0)
    assert [first.status, second.status] == [dg.DagsterRunStatus.SUCCESS] * 2
    # The run workers write to the code server's output: no step met a lock, nor waited for one.
    worker_output = (tmp_path / "code_server.log").read_text()
    for trace in LOCK_TRACES:
        assert trace not in worker_output

    # Each run's writing steps are the pool's, and every step of the first ended before any of the second began.
    for run in (first, second):
        plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
        assert {step.key for step in plan.steps if step.pool == WAREHOUSE_POOL} == POOL_STEPS
    first_steps, second_steps = _step_intervals(first_events), _step_intervals(second_events)
    assert set(first_steps) >= POOL_STEPS and set(second_steps) >= POOL_STEPS
    first_end = max(end for _, end in first_steps.values())
    second_start = min(start for start, _ in second_steps.values())
    assert first_end <= second_start
    # The second run was queued before the first started and was launched only once the first had succeeded.
    event = dg.DagsterEventType
    assert _timestamp(second_events, event.RUN_ENQUEUED) < _timestamp(first_events, event.RUN_START)
    assert _timestamp(second_events, event.RUN_STARTING) >= _timestamp(first_events, event.RUN_SUCCESS)

    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        files = con.execute(
            "SELECT strftime(landing_date, '%Y-%m-%d'), count(*), count(DISTINCT (source, source_file)), "
            "list_distinct(list(run_id)) FROM raw.landed_files GROUP BY 1 ORDER BY 1"
        ).fetchall()
        orders = con.execute(
            "SELECT strftime(_landing_date, '%Y-%m-%d'), count(*) FROM raw.orders GROUP BY 1 ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    assert {day: (n, distinct) for day, n, distinct, _ in files} == {day: (n, n) for day, n in FILES_PER_DAY.items()}
    assert {day: run_ids for day, _, _, run_ids in files} == {
        **{day: [first_id] for day in ("2025-03-01", "2025-03-02", "2025-03-03")},
        **{day: [second_id] for day in ("2025-03-04", "2025-03-05", "2025-03-06")},
    }
    assert dict(orders) == ORDERS_PER_DAY

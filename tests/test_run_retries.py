"""Run retries, on an instance loaded from orchestration/dagster.yaml: a run whose worker was killed is
retried once by the daemon's own function, a run failed by an asset is not."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import InProcessTestWorkspaceLoadTarget
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._daemon.auto_run_reexecution.auto_run_reexecution import consume_new_runs_for_automatic_reexecution
from dagster._grpc.types import ExecuteRunArgs

from orchestration.definitions import build_definitions
from orchestration.runner import run_pipeline
from retention.settings import project_root
from tests.conftest import project_dagster_home

DAY = "2025-03-01"
NOT_RETRIED = (
    "Not retrying run since it failed due to an asset or op failure and run retries are configured with "
    "retry_on_asset_or_op_failure set to false."
)


@pytest.fixture
def instance(settings, tmp_path, monkeypatch) -> Iterator[dg.DagsterInstance]:
    home = project_dagster_home(tmp_path, monkeypatch)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


@pytest.fixture
def workspace(instance) -> Iterator[WorkspaceProcessContext]:
    """The code location as the daemon sees it, loaded in this process."""
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            executable_path=sys.executable,
            module_name="orchestration.definitions",
            working_directory=str(project_root()),
        ),
        location_name="retention",
    )
    with WorkspaceProcessContext(instance, InProcessTestWorkspaceLoadTarget(origin)) as context:
        yield context


def _daemon_pass(workspace: WorkspaceProcessContext, run_id: str) -> None:
    """One pass of the auto-reexecution daemon over a run that has just failed."""
    record = workspace.instance.get_run_record_by_id(run_id)
    list(consume_new_runs_for_automatic_reexecution(workspace, [record], logging.getLogger("test_run_retries")))


def _engine_messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT).records
    return [record.event_log_entry.message for record in records]


def test_our_dagster_yaml_retries_crashes_once_and_never_asset_failures(instance):
    assert instance.run_retries_enabled
    assert instance.run_retries_max_retries == 1
    assert instance.run_retries_retry_on_asset_or_op_failure is False


def test_a_run_failed_by_an_asset_is_not_retried(settings, landing, instance, workspace):
    # The loader refuses the members file (no registered_at column): the raw/members asset fails.
    landing.write(f"members/{DAY}/crm.csv", "member_id,consent_sms,updated_at\nM1,1,2025-03-01 08:00:00\n")
    outcome = run_pipeline(settings, date(2025, 3, 1), date(2025, 3, 1), instance=instance)
    assert not outcome.success

    run = instance.get_run_by_id(outcome.run_id)
    assert run.tags["dagster/failure_reason"] == "STEP_FAILURE"
    assert run.tags["dagster/will_retry"] == "false"
    _daemon_pass(workspace, outcome.run_id)
    assert [r.run_id for r in instance.get_runs()] == [outcome.run_id]
    assert NOT_RETRIED in _engine_messages(instance, outcome.run_id)


def _launch_worker(instance: dg.DagsterInstance, run: dg.DagsterRun) -> subprocess.Popen:
    """The run worker as the run launcher starts it: `dagster api execute_run <args>`."""
    args = ExecuteRunArgs(job_origin=run.job_code_origin, run_id=run.run_id, instance_ref=instance.get_ref())
    # The venv's tools first on PATH, as `make ui` puts them: the command starts with `dagster`.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.Popen(
        args.get_command_args(),
        cwd=project_root(),
        env={**os.environ, "PATH": path},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for_a_step(instance: dg.DagsterInstance, run_id: str, worker: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while not instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_START).records:
        assert worker.poll() is None, "the worker ended before its first step"
        assert time.monotonic() < deadline, "no step started in 120 s"
        time.sleep(0.2)


def test_a_run_whose_worker_was_killed_is_retried_once(settings, instance, workspace):
    location = next(iter(workspace.create_request_context().get_code_location_entries().values())).code_location
    remote_job = location.get_repository("__repository__").get_full_job("daily_refresh")
    run = instance.create_run_for_job(
        build_definitions(settings).resolve_job_def("daily_refresh"),
        tags={"dagster/partition": DAY},
        remote_job_origin=remote_job.get_remote_origin(),
        job_code_origin=remote_job.get_python_origin(),
    )

    # Killed mid-run (out of memory, say): no failure is written, the run stays STARTED.
    worker = _launch_worker(instance, run)
    try:
        _wait_for_a_step(instance, run.run_id, worker)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
    # A worker started again for that run (as a cluster restarts a dead pod) marks it failed.
    _launch_worker(instance, instance.get_run_by_id(run.run_id)).wait(timeout=300)
    crashed = instance.get_run_by_id(run.run_id)
    assert crashed.status == dg.DagsterRunStatus.FAILURE
    assert crashed.tags["dagster/failure_reason"] == "RUN_WORKER_RESTART"
    assert crashed.tags["dagster/will_retry"] == "true"

    _daemon_pass(workspace, run.run_id)
    retries = [r for r in instance.get_runs() if r.run_id != run.run_id]
    assert len(retries) == 1
    retry = retries[0]
    assert retry.parent_run_id == run.run_id
    assert retry.tags["dagster/retry_number"] == "1"
    assert retry.tags["dagster/partition"] == DAY  # the same day again
    assert retry.status == dg.DagsterRunStatus.QUEUED  # for the queue daemon to launch
    assert instance.get_run_by_id(run.run_id).tags["dagster/auto_retry_run_id"] == retry.run_id

    # The retry crashing as well is not retried again: max_retries is 1.
    instance.report_run_failed(retry, "the run worker of the retry died too")
    assert instance.get_run_by_id(retry.run_id).tags["dagster/will_retry"] == "false"
    _daemon_pass(workspace, retry.run_id)
    assert len(instance.get_runs()) == 2

"""The Dagster UI as a person starts it (`dagster dev`, as `make ui` does) on a free loopback port, its
GraphQL API (the same one the UI's buttons call) and headless Chromium pointed at its pages."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from orchestration.runner import RANGE_END_TAG, RANGE_START_TAG
from retention.landing.safe_text import printable
from retention.settings import project_root

FINISHED = ("SUCCESS", "FAILURE", "CANCELED")


@dataclass(frozen=True)
class DagsterUI:
    url: str  # http://127.0.0.1:<port>, no trailing slash
    process: subprocess.Popen
    log_file: Path  # stdout and stderr of `dagster dev` (webserver, daemon, code server, run workers)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")[-chars:]


def free_port() -> int:
    # The kernel picks an unused port; it stays free for the moment between close and the server's bind.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_dagster_dev(env: dict[str, str], log_file: Path, timeout: float = 120.0) -> DagsterUI:
    """`dagster dev -w workspace.yaml` from the venv, in the repository root, in its own process group (so
    the webserver, the daemon, the code server and any run worker are stopped together); returns once
    `/server_info` answers. The daemon matters: the instance queues launched runs and the daemon starts them."""
    port = free_port()
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=project_root(), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    ui = DagsterUI(f"http://127.0.0.1:{port}", process, log_file)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stop(ui)
            raise RuntimeError(f"dagster dev exited with code {process.returncode}:\n{ui.log_tail()}")
        try:
            with urllib.request.urlopen(f"{ui.url}/server_info", timeout=5) as answer:
                if answer.status == 200:
                    return ui
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1.0)
    stop(ui)
    raise TimeoutError(f"dagster dev did not answer /server_info within {timeout:.0f} s:\n{ui.log_tail()}")


def stop(ui: DagsterUI, grace: float = 30.0) -> None:
    """Stop `dagster dev` as Ctrl-C does, then kill whatever is left of its process group (a code server, a
    run worker). The interrupt goes to `dagster dev` alone: it tells the webserver and the daemon to shut down
    and waits for them; signalled directly as well, they left it waiting for ever."""
    if ui.process.poll() is None:
        ui.process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            ui.process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(ui.process.pid, signal.SIGKILL)
    ui.process.wait(timeout=grace)


def graphql(ui: DagsterUI, query: str, variables: dict | None = None) -> dict:
    """The `data` of a GraphQL answer; a GraphQL error (a mistyped field, a bad variable) raises."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode("utf-8")
    request = urllib.request.Request(f"{ui.url}/graphql", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        payload = json.loads(answer.read())
    if payload.get("errors"):
        raise RuntimeError(f"GraphQL errors: {json.dumps(payload['errors'])[:3000]}")
    return payload["data"]


WORKSPACE = """
query Workspace {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        locationOrLoadError {
          __typename
          ... on RepositoryLocation { repositories { name jobs { name } } }
          ... on PythonError { message }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""


def repository_of_job(ui: DagsterUI, job_name: str) -> tuple[str, str]:
    """(code location, repository) that holds the job; a code location that failed to load raises with
    its error (say, a broken vocabulary file), so the test fails on the cause, not on a missing job."""
    workspace = graphql(ui, WORKSPACE)["workspaceOrError"]
    if workspace["__typename"] != "Workspace":
        raise RuntimeError(f"the workspace did not load: {workspace.get('message')}")
    for entry in workspace["locationEntries"]:
        loaded = entry["locationOrLoadError"]
        if loaded is None or loaded["__typename"] == "PythonError":
            message = (loaded or {}).get("message", "still loading")
            raise RuntimeError(f"code location {entry['name']} did not load: {message}")
        for repository in loaded["repositories"]:
            if job_name in {job["name"] for job in repository["jobs"]}:
                return entry["name"], repository["name"]
    raise LookupError(f"no code location has a job named {job_name}")


LAUNCH_RUN = """
mutation Launch($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
    ... on PipelineNotFoundError { message }
    ... on RunConflict { message }
    ... on UnauthorizedError { message }
  }
}
"""


def launch_range(ui: DagsterUI, job_name: str, start: date, end: date) -> str:
    """Launch one run of the job over the days [start, end], as `retention run` does (the partition range
    tags), through the API the UI's launchpad calls; returns the run id."""
    location, repository = repository_of_job(ui, job_name)
    params = {
        "selector": {"repositoryLocationName": location, "repositoryName": repository, "jobName": job_name},
        "executionMetadata": {
            "tags": [
                {"key": RANGE_START_TAG, "value": start.isoformat()},
                {"key": RANGE_END_TAG, "value": end.isoformat()},
            ]
        },
    }
    launched = graphql(ui, LAUNCH_RUN, {"executionParams": params})["launchRun"]
    if launched["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(f"launchRun answered {launched['__typename']}: {json.dumps(launched)[:3000]}")
    return launched["run"]["runId"]


SET_NUX_SEEN = "mutation SetNuxSeen { setNuxSeen }"


def dismiss_community_dialog(ui: DagsterUI) -> None:
    """A first visit on localhost opens a "Join the Dagster community" dialog over every page until someone
    answers it; its Skip button sends this mutation, which the instance remembers (in the test's DAGSTER_HOME)."""
    assert graphql(ui, SET_NUX_SEEN)["setNuxSeen"] is True


RUN_STATUS = """
query RunStatus($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { status }
    ... on PythonError { message }
  }
}
"""


def wait_for_run(ui: DagsterUI, run_id: str, timeout: float = 600.0) -> str:
    """The run's final status (SUCCESS, FAILURE or CANCELED), polled every 2 s."""
    deadline = time.monotonic() + timeout
    status = "unknown"
    while time.monotonic() < deadline:
        run = graphql(ui, RUN_STATUS, {"runId": run_id})["runOrError"]
        if run["__typename"] != "Run":
            raise RuntimeError(f"runOrError answered {run['__typename']}: {run.get('message')}")
        status = run["status"]
        if status in FINISHED:
            return status
        time.sleep(2.0)
    raise TimeoutError(f"run {run_id} still {status} after {timeout:.0f} s:\n{ui.log_tail()}")


RUN_LOGS = """
query RunLogs($runId: ID!, $cursor: String) {
  logsForRun(runId: $runId, afterCursor: $cursor, limit: 1000) {
    __typename
    ... on EventConnection {
      cursor
      hasMore
      events {
        __typename
        ... on MessageEvent { message level stepKey }
        ... on ErrorEvent { error { className message errorChain { error { className message } } } }
        ... on DisplayableEvent { label description metadataEntries { ...MetadataText } }
        ... on AssetCheckEvaluationEvent {
          evaluation { checkName success severity assetKey { path } description metadataEntries { ...MetadataText } }
        }
      }
    }
    ... on PythonError { message }
  }
}

fragment MetadataText on MetadataEntry {
  label
  description
  ... on TextMetadataEntry { text }
  ... on JsonMetadataEntry { jsonString }
  ... on MarkdownMetadataEntry { mdStr }
  ... on PathMetadataEntry { path }
  ... on UrlMetadataEntry { url }
  ... on TableMetadataEntry { table { records } }
}
"""


def run_events(ui: DagsterUI, run_id: str) -> list[dict]:
    """Every event of the run's log with its message, error and the texts of its metadata: what the run page
    can show, not only the rows it has drawn."""
    events, cursor = [], None
    while True:
        logs = graphql(ui, RUN_LOGS, {"runId": run_id, "cursor": cursor})["logsForRun"]
        if logs["__typename"] != "EventConnection":
            raise RuntimeError(f"logsForRun answered {logs['__typename']}: {logs.get('message')}")
        events += logs["events"]
        if not logs["hasMore"]:
            return events
        cursor = logs["cursor"]


def run_event_messages(ui: DagsterUI, run_id: str) -> list[str]:
    return [json.dumps(event, ensure_ascii=False) for event in run_events(ui, run_id)]


def run_error_events(ui: DagsterUI, run_id: str) -> list[str]:
    """What made the run fail, one escaped text per event: step and run failures with the chain of errors
    behind them (the asset's own error, such as a landing file's, sits under Dagster's wrapper), and the
    blocking checks that failed."""
    lines = []
    for event in run_events(ui, run_id):
        error, evaluation = event.get("error"), event.get("evaluation")
        if error:
            text = [f"{event['__typename']} {event.get('stepKey') or ''}: {event.get('message', '')}"]
            for link in [error, *(link["error"] for link in error.get("errorChain") or [])]:
                text += [f"    {link['className']}: {line}" for line in link["message"].splitlines() if line.strip()]
        elif evaluation and not evaluation["success"] and evaluation["severity"] == "ERROR":
            key = "/".join(evaluation["assetKey"]["path"])
            text = [f"check {key}:{evaluation['checkName']} failed: {evaluation.get('description') or ''}"]
        else:
            continue
        lines.append("\n".join(printable(line, 1000, escape_backslash=False) for line in text))
    return lines

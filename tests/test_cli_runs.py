"""`retention run` as an operator meets it: a failure summary that says what broke, and one writer of
the warehouse at a time, whatever the Dagster instance is configured to allow."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time

import duckdb
import pytest

from orchestration.cli import EXIT_BUSY, main
from retention.resources import RetentionResource
from retention.run_lock import WarehouseBusy, lock_path, warehouse_lock
from retention.settings import project_root
from tests.conftest import members_csv, warehouse_rows

DAY = "2025-03-01"


def _retention(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        cwd=project_root(),
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


def _summary(stderr: str) -> str:
    assert "\nThe run failed:\n" in stderr, stderr[-3000:]
    return stderr.split("\nThe run failed:\n", 1)[1]


def test_an_unreadable_file_is_named_in_the_summary_without_its_values(settings, landing, tmp_path):
    # The members file lacks the required registered_at column; its rows hold names and mobiles.
    landing.write(
        f"members/{DAY}/crm.csv",
        "member_id,name,mobile,consent_sms,updated_at\n"
        f"M1,王小明,13912345678,1,{DAY} 08:00:00\nM2,李小红,13787654321,0,{DAY} 08:00:00\n",
    )
    # DAGSTER_HOME without the project's dagster.yaml (the setup of the reported collision), and a lock
    # file left by a process that no longer exists: neither stops the run.
    home = tmp_path / "dagster_home"
    home.mkdir()
    lock_path(settings).write_text("pid=999999\nsince=2025-03-01T00:00:00+08:00\ncommand=killed\n")

    run = _retention("run", "--from", DAY, "--through", DAY, env={"DAGSTER_HOME": str(home)})

    assert run.returncode == 1, run.stderr[-3000:]
    assert "has no dagster.yaml" in run.stderr
    summary = _summary(run.stderr)
    assert summary.startswith("  - step raw__members failed: LandingError\n")
    assert f"members/{DAY}/crm.csv: missing required column(s) registered_at" in summary
    assert "nothing was loaded or changed for the requested days" in summary
    assert "Error occurred while executing op" not in summary
    for value in ("王小明", "李小红", "13912345678", "13787654321"):
        assert value not in run.stderr and value not in run.stdout
    assert lock_path(settings).read_text() == ""  # released: no holder named any more


def test_a_failed_quarantine_rate_check_lists_the_top_reasons_with_counts(settings, landing, capsys):
    landing.write(f"members/{DAY}/crm.csv", members_csv("M1", "M2", "M3"))
    events = [
        # 20 of an event type the contract does not know (held by 3 members, so it is named), 3 of an
        # unknown member, 2 fine: 23 of 25 rows quarantined, a rate of 0.92 against the blocking limit of 0.05.
        *(
            f'{{"event_id": "S{i}", "member_id": "M{i % 3 + 1}", "event_time": "{DAY} 08:00:00", '
            '"event_type": "screenshot"}'
            for i in range(20)
        ),
        *(
            f'{{"event_id": "U{i}", "member_id": "M404", "event_time": "{DAY} 08:00:00", "event_type": "login"}}'
            for i in range(3)
        ),
        *(
            f'{{"event_id": "E{i}", "member_id": "M1", "event_time": "{DAY} 08:00:00", "event_type": "login"}}'
            for i in range(2)
        ),
    ]
    landing.write(f"events/{DAY}/app.jsonl", "\n".join(events) + "\n")

    code = main(["run", "--from", DAY, "--through", DAY])

    assert code == 1
    summary = _summary(capsys.readouterr().err)
    check = summary.split("  - check raw/events:gx_quarantine_rate failed\n", 1)[1].split("\n  - ", 1)[0]
    assert (
        "top quarantine reasons (raw.quarantine, exact duplicates excluded): "
        "unknown_code on event_type 20, unknown_member on member_id 3" in check
    )
    assert f"worst days by quarantine rate (max 0.05): {DAY} 0.92" in check
    assert "ERROR expect_column_values_to_be_between on quarantine_rate: 1 unexpected (100.0%)" in check
    # The unmapped code value is named with the file that maps it; no other value of a row (the member id).
    assert 'event_type "screenshot" 20 rows — map it in config/vocabulary.yaml (events.event_type)' in check
    assert "M404" not in summary
    assert "check raw/members" not in summary  # the members delivery was fine
    assert "DagsterAssetCheckFailedError" not in summary  # the step's own failure says no more than the check


def _warehouse_fingerprint(settings) -> str:
    return hashlib.sha256(settings.warehouse.read_bytes()).hexdigest()


def test_a_second_run_is_refused_while_the_warehouse_is_being_written(settings, landing):
    landing.write(f"members/{DAY}/crm.csv", members_csv("M1"))
    con = duckdb.connect(str(settings.warehouse))
    con.execute("CREATE SCHEMA marts; CREATE TABLE marts.dim_members AS SELECT 'M1' AS member_id")
    con.close()
    before = _warehouse_fingerprint(settings)

    with warehouse_lock(settings):  # this test process is the writer now
        run = _retention("run", "--from", DAY, "--through", DAY)

    assert run.returncode == EXIT_BUSY, run.stderr[-3000:]
    message = run.stderr.strip()
    assert message.startswith("retention run: the warehouse is being written by another process; refusing")
    assert f"holder: pid {os.getpid()} since " in message
    assert "RETENTION_RUN_LOCK_TIMEOUT" in message
    assert "Materializing" not in run.stdout  # refused before anything started
    assert _warehouse_fingerprint(settings) == before
    assert warehouse_rows(settings, "SELECT * FROM marts.dim_members") == [("M1",)]


HOLDER = """
import sys, time
from retention.run_lock import warehouse_lock
from retention.settings import Settings
with warehouse_lock(Settings.from_env()):
    print("holding", flush=True)
    time.sleep(float(sys.argv[1]))
"""


def _holder(seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(seconds)], cwd=project_root(), stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "holding"
    return holder


def test_the_lock_names_its_holder_and_dies_with_it(settings):
    holder = _holder(600)
    try:
        with pytest.raises(WarehouseBusy) as refused, warehouse_lock(settings, timeout=0):
            pass
        assert f"holder: pid {holder.pid} since " in str(refused.value)
        # The ingestion assets' writing connection takes the same lock (a run launched from the UI).
        with pytest.raises(WarehouseBusy), RetentionResource.from_settings(settings).connect():
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # Killed: the file still names it, but the OS released its lock.
    assert f"pid={holder.pid}\n" in lock_path(settings).read_text()
    with warehouse_lock(settings, timeout=0):
        assert lock_path(settings).read_text().startswith(f"pid={os.getpid()}\n")


def test_a_waiting_run_starts_when_the_holder_finishes(settings):
    holder = _holder(1.5)
    began = time.monotonic()
    with warehouse_lock(settings, timeout=30):
        waited = time.monotonic() - began
    holder.wait()
    assert 0.5 < waited < 30


def test_the_lock_is_reentrant_in_its_thread_and_exclusive_between_threads(settings):
    refused = []

    def other_thread():
        try:
            with warehouse_lock(settings, timeout=0):
                pass
        except WarehouseBusy as exc:
            refused.append(str(exc))

    with warehouse_lock(settings, timeout=0):
        with RetentionResource.from_settings(settings).connect() as con:  # what a step of this run does
            con.execute("CREATE TABLE t AS SELECT 1 AS x")
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert len(refused) == 1 and f"another thread of this process (pid {os.getpid()})" in refused[0]
    with warehouse_lock(settings, timeout=0):  # released by the outermost block
        pass


# dagster-dbt's error of a real failed build (fct_orders casting order_id to an integer), as logged.
DBT_FAILURE = (
    "The dbt CLI process with command\n\n`dbt build --select fqn:*`\n\nfailed with exit code `1`. Check the stdout in "
    "the Dagster compute logs for the full information about the error.\n\nErrors parsed from dbt logs:\n\n"
    "143 of 228 ERROR creating sql table model marts.fct_orders ..... [\x1b[31mERROR\x1b[0m in 0.17s]\n\n"
    "\x1b[31mFailure in model fct_orders (models/marts/fct_orders.sql)\x1b[0m\n\n"
    "  Runtime Error in model fct_orders (models/marts/fct_orders.sql)\n"
    "  Conversion Error: Could not convert string 'O1' to INT32 when casting from source column order_id\n"
    "  > in macro statement (macros/etc/statement.sql)\n"
)


def test_a_dbt_failure_names_the_failing_model_and_masks_values():
    from dagster._core.errors import DagsterExecutionStepExecutionError
    from dagster._utils.error import serializable_error_info_from_exc_info
    from dagster_dbt.errors import DagsterDbtCliRuntimeError

    from orchestration.runner import step_failure_summary

    try:
        try:
            raise DagsterDbtCliRuntimeError(DBT_FAILURE)
        except DagsterDbtCliRuntimeError as dbt_error:
            raise DagsterExecutionStepExecutionError(
                'Error occurred while executing op "retention_dbt_models"',
                step_key="retention_dbt_models",
                op_name="retention_dbt_models",
                op_def_name="retention_dbt_models",
                user_exception=dbt_error,
                original_exc_info=sys.exc_info(),
            ) from dbt_error
    except DagsterExecutionStepExecutionError:
        error = serializable_error_info_from_exc_info(sys.exc_info())

    assert step_failure_summary("retention_dbt_models", error).splitlines() == [
        "step retention_dbt_models failed: dbt build (failing: fct_orders)",
        "    143 of 228 ERROR creating sql table model marts.fct_orders ..... [ERROR in 0.17s]",
        "    Failure in model fct_orders (models/marts/fct_orders.sql)",
        "      Runtime Error in model fct_orders (models/marts/fct_orders.sql)",
        "      Conversion Error: Could not convert string '…' to INT32 when casting from source column order_id",
    ]

"""A failed run leaves one JSON line in the alerts file and one log line naming the job, the run, its
days, the failed step, its assets and the error, and never a name, a mobile or an e-mail address."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime

import dagster as dg
import pytest

from orchestration.alerts import ALERT_SENSOR, failure_alert, mask_values
from orchestration.definitions import build_definitions
from orchestration.runner import run_pipeline
from tests.conftest import members_csv

DAY = "2025-03-01"
PERSONAL = ("王小明", "李小红", "13912345678", "13787654321")


def _failure_event(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterEvent:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    assert len(records) == 1
    return records[0].event_log_entry.dagster_event


def _evaluate_alert(settings, instance: dg.DagsterInstance, run_id: str) -> None:
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def(ALERT_SENSOR)
    context = dg.build_run_status_sensor_context(
        sensor_name=ALERT_SENSOR,
        dagster_event=_failure_event(instance, run_id),
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run_id),
        repository_def=defs.get_repository_def(),
    )
    sensor(context)


def test_the_alert_sensor_is_on_by_default_and_watches_failed_runs(settings):
    sensor = build_definitions(settings).resolve_sensor_def(ALERT_SENSOR)
    assert isinstance(sensor, dg.RunStatusSensorDefinition)  # of runs that failed: @run_failure_sensor
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_a_refused_members_file_alerts_with_step_asset_and_days_but_no_personal_data(
    settings, landing, tmp_path, capfd
):
    settings = replace(settings, alerts_file=tmp_path / "alerts" / "run_failures.jsonl")
    # No registered_at column: the loader refuses the file. Its rows hold names and mobiles.
    landing.write(
        f"members/{DAY}/crm.csv",
        "member_id,name,mobile,consent_sms,updated_at\n"
        f"M1,王小明,13912345678,1,{DAY} 08:00:00\nM2,李小红,13787654321,0,{DAY} 08:00:00\n",
    )
    instance = dg.DagsterInstance.ephemeral()
    before = datetime.now(UTC).replace(microsecond=0)
    outcome = run_pipeline(settings, date(2025, 3, 1), date(2025, 3, 1), instance=instance)
    after = datetime.now(UTC)
    assert not outcome.success
    capfd.readouterr()  # the run's own log is not the alert's

    _evaluate_alert(settings, instance, outcome.run_id)

    lines = settings.alerts_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    alert = json.loads(lines[0])
    assert before <= datetime.fromisoformat(alert.pop("time")) <= after
    message = (
        "1 members file(s) could not be read; nothing was loaded or changed for the requested days: | "
        "- members/2025-03-01/crm.csv: missing required column(s) registered_at; the header (line 1) has 5 "
        "field(s), recognised: member_id, name, mobile, consent_sms, updated_at"
    )
    run_id = outcome.run_id
    assert alert == {
        "job": "daily_refresh",
        "run_id": run_id,
        "partition": None,
        "partition_range": ["2025-03-01", "2025-03-01"],
        "failed_steps": [
            {"step": "raw__members", "asset_keys": ["raw/members"], "error_class": "LandingError", "message": message}
        ],
        "failed_checks": [],
        "will_retry": False,
        "hint": f"open /runs/{run_id} in the Dagster UI",
    }
    logged = capfd.readouterr().err
    time = json.loads(lines[0])["time"]
    assert logged.count("run failed") == 1
    assert (
        f"{time} run failed: job daily_refresh, run {run_id}, 2025-03-01..2025-03-01: step raw__members "
        f"(raw/members) LandingError: {message}; open /runs/{run_id} in the Dagster UI\n"
    ) in logged
    for value in PERSONAL:
        assert value not in lines[0] and value not in logged

    # A second failure appends a second line; the first stays as it was.
    outcome = run_pipeline(settings, date(2025, 3, 1), date(2025, 3, 1), instance=instance)
    _evaluate_alert(settings, instance, outcome.run_id)
    again = settings.alerts_file.read_text(encoding="utf-8").splitlines()
    assert again[0] == lines[0]
    assert [json.loads(line)["run_id"] for line in again] == [run_id, outcome.run_id]


def test_a_day_run_stopped_by_a_blocking_check_names_its_partition_and_the_check(settings, landing, tmp_path):
    settings = replace(settings, alerts_file=tmp_path / "alerts.jsonl")
    landing.write(f"members/{DAY}/crm.csv", members_csv("M1"))
    # 20 of 25 orders name a member the master does not know: 80% quarantined, over the 5% limit.
    rows = [f"O{i},{'M1' if i < 5 else 'M404'},{DAY} 10:00:00,store,10,paid" for i in range(25)]
    landing.write(
        f"orders/{DAY}/pos.csv", "order_id,member_id,order_time,channel,gross_amount,status\n" + "\n".join(rows) + "\n"
    )
    instance = dg.DagsterInstance.ephemeral()
    # As the schedule and the landing sensor start it: one day, tagged dagster/partition.
    job = build_definitions(settings).resolve_job_def("daily_refresh")
    result = job.execute_in_process(partition_key=DAY, instance=instance, raise_on_error=False)
    assert not result.success

    _evaluate_alert(settings, instance, result.run_id)

    alert = json.loads(settings.alerts_file.read_text(encoding="utf-8"))
    assert alert["partition"] == DAY and alert["partition_range"] is None
    assert alert["failed_checks"] == ["raw/orders:gx_quarantine_rate"]
    # raw/orders was written, then its blocking check failed the step: the step still names it.
    assert [(s["step"], s["asset_keys"], s["error_class"]) for s in alert["failed_steps"]] == [
        ("raw__orders", ["raw/orders"], "DagsterAssetCheckFailedError")
    ]


# Errors of other libraries, each with a value in a shape no mask recognises (found in review): Polars quotes
# with backticks, DuckDB repeats the value alone on a line, an apostrophe pairs with the wrong quote.
LEAKY_ERRORS = [
    ValueError("cannot parse member row: name '王小明', mobile 138 1234 5678, mail wang.xm@example.com"),
    ValueError("could not parse `王小明` as dtype `i64` at column 'age' (column number 3)"),
    ValueError('Could not parse string "王小明" according to format specifier "%Y"\n王小明\n^'),
    ValueError("the member's row doesn't parse: 'Zhang San'"),
]


@pytest.mark.parametrize("raised", LEAKY_ERRORS, ids=["quoted", "backticks", "echoed", "apostrophe"])
def test_another_librarys_error_message_is_withheld(raised):
    @dg.op
    def parse_member_row():
        raise raised

    @dg.job
    def parse_members():
        parse_member_row()

    instance = dg.DagsterInstance.ephemeral()
    result = parse_members.execute_in_process(instance=instance, raise_on_error=False)

    alert = failure_alert(instance, instance.get_run_by_id(result.run_id))

    assert [(s.step, s.asset_keys, s.error_class, s.message) for s in alert.failed_steps] == [
        (
            "parse_member_row",
            (),
            "ValueError",
            "ValueError (message withheld, it may quote data: the run's log in the Dagster UI has it)",
        )
    ]
    for value in ("王小明", "Zhang", "1234", "wang.xm", "example.com"):
        assert value not in alert.json_line() and value not in alert.log_line()


def test_masking_keeps_dates_and_short_numbers():
    assert mask_values("orders/20250302/pos.csv line 12: 2025-03-01 10:00:00") == (
        "orders/20250302/pos.csv line 12: 2025-03-01 10:00:00"
    )
    assert mask_values("ID 110101199003071234, tel 010-1234567, order 123456") == (
        "ID [number], tel [number], order 123456"
    )
    assert mask_values('dbt: column "mobile" = "13912345678"') == 'dbt: column "…" = "…"'

"""The run-failure alert: one JSON line per failed run in RETENTION_ALERTS_FILE, and one log line.

Each alert says when the run failed, which job, run, day or range of days, which steps failed, the
assets they were to update, the error's class and a short message. Messages come from
`orchestration.runner.step_failure_summary` (the error the asset code raised, not Dagster's wrapper;
dbt's quoted literals masked; control characters escaped), and then lose every quoted literal and
anything shaped like a mobile, an ID number or an e-mail address: the alerts file is read by whatever
forwards it (a mail script, a chat bot), so it must hold no personal data even if an error message
quotes a value. A name written unquoted in an error cannot be recognised: the loader's errors name
files, lines and columns and never a value (tests/test_hostile_records.py), and dbt's are masked.

The sensor ships running, unlike the schedule and the landing sensor: it only appends to a local
file, starting nothing, and an alert that someone has to remember to switch on is an alert that is
missing the day it is needed. It reports runs that fail from the moment the daemon starts it; earlier
failures stay in the UI's run list. Runs of `retention run` have no code location of origin, so the
sensor does not see them: that command prints its own failure summary and exits non-zero.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from orchestration.runner import RANGE_END_TAG, RANGE_START_TAG, asset_code_error, step_failure_summary
from retention.landing.safe_text import printable
from retention.settings import Settings

ALERT_SENSOR = "run_failure_alert"
PARTITION_TAG = "dagster/partition"
MESSAGE_CHARS = 300
# Any at sign with the text around it (an e-mail address, or half of one), and 7 digits or more
# separated by at most one space, dash, dot or slash (a mobile "138 1234 5678", an ID card number, a
# landline): the shapes retention/landing/unmapped.py never shows either. A calendar date (2025-03-01,
# 20250301: landing folders are named so) is kept: it says which delivery failed and is nobody's data.
# Quoted literals too, in every message, as the runner masks dbt's: Python's own messages quote the
# value they choke on ("invalid literal for int(): '王小明'"), and a name has no shape to recognise.
_QUOTED = re.compile(r"'(?:[^'\n]|'')*'|\"(?:[^\"\n]|\"\")*\"")
_EMAIL = re.compile(r"[^\s@＠﹫]*[@＠﹫][^\s@＠﹫]*")
_DATE_OR_NUMBER = re.compile(
    r"(?P<date>(?<!\d)(?:19|20)\d\d([-/.]?)(?:0[1-9]|1[0-2])\2(?:0[1-9]|[12]\d|3[01])(?!\d))"
    r"|(?P<number>\d(?:[ \-./]?\d){6,})"
)


@dataclass(frozen=True)
class FailedStep:
    step: str
    asset_keys: tuple[str, ...]  # what the step was to update and did not, e.g. ("raw/members",)
    error_class: str
    message: str  # masked, one line, at most MESSAGE_CHARS characters


@dataclass(frozen=True)
class RunFailureAlert:
    time: str  # when the run ended, ISO 8601 in UTC
    job: str
    run_id: str
    partition: str | None  # dagster/partition: a run of one day (schedule, landing sensor, UI)
    partition_range: tuple[str, str] | None  # a range of days (`retention run`, a backfill)
    failed_steps: tuple[FailedStep, ...]
    failed_checks: tuple[str, ...]  # blocking checks that failed ("raw/orders:gx_quarantine_rate")
    will_retry: bool  # a crashed run worker is retried (dagster.yaml run_retries); a failed step is not
    hint: str

    def json_line(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    def log_line(self) -> str:
        days = self.partition or ("..".join(self.partition_range) if self.partition_range else "no partition")
        steps = "; ".join(
            f"step {s.step} ({', '.join(s.asset_keys) or 'no asset'}) {s.error_class}: {s.message}"
            for s in self.failed_steps
        )
        checks = f"; blocking checks failed: {', '.join(self.failed_checks)}" if self.failed_checks else ""
        retry = " (a retry run follows)" if self.will_retry else ""
        return (
            f"{self.time} run failed{retry}: job {self.job}, run {self.run_id}, {days}: "
            f"{steps or 'no step failed (the run itself failed)'}{checks}; {self.hint}"
        )


def mask_values(text: str) -> str:
    """`text` without quoted literals ('…'), e-mail addresses ([email]) and long numbers ([number])."""
    without_email = _EMAIL.sub("[email]", _QUOTED.sub(lambda m: f"{m[0][0]}…{m[0][0]}", text))
    return _DATE_OR_NUMBER.sub(lambda m: m["date"] or "[number]", without_email)


def failure_alert(instance: dg.DagsterInstance, run: dg.DagsterRun) -> RunFailureAlert:
    """The alert for a failed run, read from the run's events in the instance."""
    events = [
        record.event_log_entry.dagster_event
        for record in instance.get_records_for_run(
            run.run_id,
            of_type={
                dg.DagsterEventType.STEP_FAILURE,
                dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
                dg.DagsterEventType.ASSET_MATERIALIZATION,
                dg.DagsterEventType.ASSET_CHECK_EVALUATION,
            },
        ).records
    ]
    planned: dict[str, list[str]] = {}
    done: set[str] = set()
    for event in events:
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED:
            planned.setdefault(event.step_key, []).append(event.asset_key.to_user_string())
        elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            done.add(event.asset_key.to_user_string())
    steps = tuple(
        _failed_step(event.step_key, event.event_specific_data.error, planned.get(event.step_key, []), done)
        for event in events
        if event.event_type == dg.DagsterEventType.STEP_FAILURE
    )
    checks = tuple(
        dict.fromkeys(
            f"{e.event_specific_data.asset_key.to_user_string()}:{e.event_specific_data.check_name}"
            for e in events
            if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
            and not e.event_specific_data.passed
            and e.event_specific_data.severity == dg.AssetCheckSeverity.ERROR
        )
    )
    record = instance.get_run_record_by_id(run.run_id)
    ended = record.end_time if record and record.end_time else datetime.now(UTC).timestamp()
    start, end = run.tags.get(RANGE_START_TAG), run.tags.get(RANGE_END_TAG)
    return RunFailureAlert(
        time=datetime.fromtimestamp(ended, UTC).isoformat(timespec="seconds"),
        job=printable(run.job_name, 100),
        run_id=run.run_id,
        partition=printable(run.tags[PARTITION_TAG], 40) if PARTITION_TAG in run.tags else None,
        partition_range=(printable(start, 40), printable(end, 40)) if start and end else None,
        failed_steps=steps,
        failed_checks=checks,
        will_retry=run.tags.get("dagster/will_retry") == "true",
        hint=f"open /runs/{run.run_id} in the Dagster UI",
    )


def _failed_step(step_key: str, error, planned: list[str], done: set[str]) -> FailedStep:
    # The assets the step did not update (dbt stops at the failing model: those built before it are
    # fine); all of them when each was written and a blocking check failed the step afterwards.
    keys = tuple(dict.fromkeys(planned))
    headline, *details = step_failure_summary(step_key, error).splitlines()
    user_error = asset_code_error(error)
    # The summary's headline says "failed: <class>" for every error but dbt's, whose details are the point.
    message = " | ".join(line.strip() for line in details) or headline.partition(" failed: ")[2]
    return FailedStep(
        step=printable(step_key, 100),
        asset_keys=tuple(key for key in keys if key not in done) or keys,
        error_class=user_error.cls_name if user_error is not None else "unknown",
        message=printable(mask_values(message), MESSAGE_CHARS, escape_backslash=False),
    )


def append_alert(path: Path, alert: RunFailureAlert) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # One write of one line: readers tailing the file never see half an alert.
    with path.open("a", encoding="utf-8") as file:
        file.write(alert.json_line() + "\n")


def build_run_failure_alert(settings: Settings) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name=ALERT_SENSOR,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Appends one JSON line per failed run (time, job, run, days, failed steps with their "
        "assets, error class and a message without personal data) to RETENTION_ALERTS_FILE, and logs it.",
    )
    def run_failure_alert(context: dg.RunFailureSensorContext) -> None:
        alert = failure_alert(context.instance, context.dagster_run)
        append_alert(settings.alerts_file, alert)
        context.log.error(alert.log_line())

    return run_failure_alert

"""The daily schedule asks for the day that has just ended in the retailer's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import dagster as dg

from orchestration.definitions import build_definitions
from orchestration.schedules import DAILY_SCHEDULE

SHANGHAI = ZoneInfo("Asia/Shanghai")


def evaluate(defs: dg.Definitions, schedule: dg.ScheduleDefinition, when: datetime) -> dg.RunRequest:
    repository = defs.get_repository_def()
    with dg.build_schedule_context(scheduled_execution_time=when, repository_def=repository) as context:
        (request,) = schedule.evaluate_tick(context).run_requests
    return request


def test_runs_at_two_in_shanghai_for_the_previous_day(settings):
    defs = build_definitions(settings)
    schedule = defs.resolve_schedule_def(DAILY_SCHEDULE)
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *", "Asia/Shanghai")
    assert schedule.job_name == "daily_refresh"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED

    request = evaluate(defs, schedule, datetime(2025, 3, 2, 2, 0, tzinfo=SHANGHAI))
    assert (request.partition_key, request.run_key) == ("2025-03-01", "daily-2025-03-01")
    # 02:00 in Shanghai is 18:00 UTC the evening before: still the Shanghai day that just ended.
    request = evaluate(defs, schedule, datetime(2025, 3, 1, 18, 0, tzinfo=UTC))
    assert request.partition_key == "2025-03-01"
    # The partition exists in the job's partitions, so the run can start.
    job = defs.resolve_job_def("daily_refresh")
    assert "2025-03-01" in job.partitions_def.get_partition_keys(
        current_time=datetime(2025, 3, 2, 2, 0, tzinfo=SHANGHAI)
    )

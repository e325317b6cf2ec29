"""The daily schedule: at 02:00 in the retailer's time zone, load the previous day and refresh downstream."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from orchestration.jobs import DAILY_REFRESH
from retention.settings import Settings

DAILY_SCHEDULE = "daily_refresh_at_2am"
RUN_HOUR = 2


def build_daily_schedule(settings: Settings) -> dg.ScheduleDefinition:
    zone = ZoneInfo(settings.timezone)

    @dg.schedule(
        name=DAILY_SCHEDULE,
        job_name=DAILY_REFRESH,
        cron_schedule=f"0 {RUN_HOUR} * * *",
        execution_timezone=settings.timezone,
        # Off until someone turns it on in the UI (Automation tab): a laptop running `dagster dev` should
        # not start loading at 2 am by surprise.
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Every day at {RUN_HOUR:02d}:00 {settings.timezone}: load the previous day's landing "
        "partition and refresh everything downstream (marts, checks, outreach, the BI serving copy).",
    )
    def daily_refresh_at_2am(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        # The day that has just ended in the retailer's time zone, whatever the machine's own zone.
        day = (context.scheduled_execution_time.astimezone(zone) - timedelta(days=1)).date().isoformat()
        return dg.RunRequest(run_key=f"daily-{day}", partition_key=day, tags={"retention/trigger": "schedule"})

    return daily_refresh_at_2am

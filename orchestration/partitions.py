"""Daily partitions by landing date, in the retailer's time zone."""

from __future__ import annotations

import dagster as dg

from retention.settings import Settings


def daily_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(
        start_date=settings.start_date.isoformat(), timezone=settings.timezone, end_offset=1
    )

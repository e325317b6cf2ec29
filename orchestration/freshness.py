"""Freshness: a WARN check per raw source and key mart saying whether it was updated in the last
RETENTION_FRESHNESS_HOURS, and a sensor that re-evaluates those checks as they can turn stale.

Last-update checks, not time-partition ones: the raw assets' daily partitions end tomorrow
(`end_offset=1`, for deliveries stamped after midnight), so "the last partition" is one no run has
loaded yet and a time-partition check would always fail; the marts are not partitioned at all. What
an operator wants to know is the same for both: did a run update this in the last day? Every
`daily_refresh` run materializes every raw asset of its days, with or without files, so a source
that delivered nothing still counts as updated; a silent source shows in the load metadata instead.

WARN, never blocking: a run catching up on a week of backlog starts from stale data by definition,
and must not be stopped by it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import dagster as dg

from assets.ingestion.raw_assets import raw_key
from assets.outreach.winback import WINBACK_BATCHES
from retention.landing.contract import SOURCES
from retention.settings import Settings

FRESHNESS_SENSOR = "freshness_checks_sensor"
KEY_MARTS = ("member_rfm", "member_tier_history", "member_churn_risk")
# How often the sensor looks: it launches a run only for a check that may have turned stale since it
# last passed, so a short interval costs nothing between those moments.
SENSOR_INTERVAL_SECONDS = 600


def freshness_watched() -> list[dg.AssetKey]:
    """The assets whose age matters to the people reading the marts: every raw source, the member RFM,
    tier and risk marts, and the win-back batches."""
    return [
        *(raw_key(source) for source in SOURCES.values()),
        *(dg.AssetKey(["marts", mart]) for mart in KEY_MARTS),
        WINBACK_BATCHES,
    ]


def build_freshness_checks(settings: Settings) -> list[dg.AssetChecksDefinition]:
    if not settings.freshness_hours > 0:  # NaN too: every check would be stale, or never
        raise ValueError(f"RETENTION_FRESHNESS_HOURS={settings.freshness_hours:g} must be a number of hours above 0")
    with _superseded_quietly():
        return list(
            dg.build_last_update_freshness_checks(
                assets=freshness_watched(),
                lower_bound_delta=timedelta(hours=settings.freshness_hours),
                timezone=settings.timezone,
                severity=dg.AssetCheckSeverity.WARN,
                blocking=False,
            )
        )


def build_freshness_sensor(checks: list[dg.AssetChecksDefinition]) -> dg.SensorDefinition:
    with _superseded_quietly():
        # Off until someone turns it on in the UI, like the schedule and the landing sensor.
        return dg.build_sensor_for_freshness_checks(
            freshness_checks=checks,
            name=FRESHNESS_SENSOR,
            minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
            default_status=dg.DefaultSensorStatus.STOPPED,
        )


@contextmanager
def _superseded_quietly() -> Iterator[None]:
    """Dagster 1.13 marks these factories superseded by `FreshnessPolicy`, which reports a freshness
    state rather than an asset check result: no check with metadata to test or to see in the Checks tab.
    The warning would be printed on every code-location load, so it is silenced here, for these calls only."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        yield

"""Jobs: the whole pipeline, for schedules, backfills and `retention run`."""

from __future__ import annotations

import dagster as dg

DAILY_REFRESH = "daily_refresh"


def build_jobs() -> list[dg.UnresolvedAssetJobDefinition]:
    everything = dg.AssetSelection.all() - dg.AssetSelection.groups("landing")
    return [
        dg.define_asset_job(
            DAILY_REFRESH,
            selection=everything,
            description="Load the landed files of the selected days into raw, then rebuild every dbt model "
            "downstream. Select a range of days to backfill them in one run.",
        )
    ]

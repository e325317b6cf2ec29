"""Jobs: the whole pipeline, for schedules, backfills and `retention run`."""

from __future__ import annotations

import dagster as dg

from assets.evaluation.risk_recovery import EVALUATION_GROUP, has_answer_key
from retention.settings import Settings

DAILY_REFRESH = "daily_refresh"


def build_jobs(settings: Settings) -> list[dg.UnresolvedAssetJobDefinition]:
    everything = dg.AssetSelection.all() - dg.AssetSelection.groups("landing")
    if not has_answer_key(settings.ground_truth_dir):
        # A retailer's own data has no answer key to score the risk list against.
        everything -= dg.AssetSelection.groups(EVALUATION_GROUP)
    return [
        dg.define_asset_job(
            DAILY_REFRESH,
            selection=everything,
            description="Load the landed files of the selected days into raw, then rebuild every dbt model "
            "downstream. Select a range of days to backfill them in one run.",
        )
    ]

"""The one Definitions object of the pipeline, assembled from settings when the code location loads."""

from __future__ import annotations

import dagster as dg

from assets.evaluation.risk_recovery import risk_recovery_evaluation
from assets.ingestion.raw_assets import build_raw_assets, landing_specs
from assets.ingestion.ticket_churn_intent import ticket_churn_intent
from assets.outreach.winback import WINBACK_BATCHES, winback_batches
from assets.retrospective.campaign_report import build_campaign_report
from assets.serving.bi_snapshot import build_bi_snapshot
from assets.transformation import build_dbt_assets, build_retrospective_dbt_assets, dbt_resource
from orchestration.alerts import build_run_failure_alert
from orchestration.freshness import build_freshness_checks, build_freshness_sensor
from orchestration.jobs import build_jobs
from orchestration.partitions import daily_partitions
from orchestration.schedules import build_daily_schedule
from orchestration.sensors import build_landing_sensor
from quality.mart_checks import build_mart_checks
from quality.outreach_checks import build_outreach_checks
from retention.landing.vocabulary import load_vocabulary
from retention.resources import RetentionResource
from retention.settings import Settings


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    # A broken vocabulary file fails here, naming its line, when the code location loads: not mid-run.
    load_vocabulary(settings.vocabulary_file)
    partitions = daily_partitions(settings)
    dbt_models = build_dbt_assets()
    retrospective = build_retrospective_dbt_assets()
    marts = [key for key in dbt_models.keys if key.path[0] == "marts"]
    retrospective_models = [key for key in retrospective.keys if key.path[0] == "retrospective"]
    published = [*marts, WINBACK_BATCHES, *retrospective_models]
    freshness = build_freshness_checks(settings)
    return dg.Definitions(
        assets=[
            *landing_specs(),
            *build_raw_assets(partitions),
            ticket_churn_intent,
            dbt_models,
            risk_recovery_evaluation,
            winback_batches,
            retrospective,
            build_campaign_report(retrospective_models),
            build_bi_snapshot(published),
        ],
        asset_checks=[*build_mart_checks(), *build_outreach_checks(), *freshness],
        jobs=build_jobs(settings),
        schedules=[build_daily_schedule(settings)],
        sensors=[build_landing_sensor(settings), build_freshness_sensor(freshness), build_run_failure_alert(settings)],
        resources={"retention": RetentionResource.from_settings(settings), "dbt": dbt_resource()},
        # One process writes the DuckDB file at a time: steps of a run execute one after another.
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()

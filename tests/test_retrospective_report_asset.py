"""The report asset: materialized against a warehouse file with hand-made retrospective tables, its metadata
carries the headline numbers, the report path and the weekly trend (table and chart) for the UI."""

from __future__ import annotations

import base64

import dagster as dg
import duckdb

from assets.retrospective.campaign_report import CAMPAIGN_REPORT, build_campaign_report
from assets.transformation import build_retrospective_dbt_assets
from orchestration.definitions import build_definitions
from retention.resources import RetentionResource
from tests.retrospective_fixture import CAMPAIGN, build_retrospective

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_materialized_report_shows_the_headline_and_weekly_trend(settings):
    con = duckdb.connect(str(settings.warehouse))
    build_retrospective(con)
    con.close()
    result = dg.materialize(
        [build_campaign_report([])], resources={"retention": RetentionResource.from_settings(settings)}
    )
    assert result.success
    (materialization,) = result.asset_materializations_for_node("retrospective__campaign_report")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    report_path = settings.export_dir / "retrospective" / CAMPAIGN / "report.html"
    assert metadata["report_path"] == str(report_path) and report_path.exists()
    assert (metadata["treated_rate"], metadata["holdout_rate"], metadata["target_rate"]) == (0.325, 0.2, 0.25)
    assert (metadata["lift"], metadata["lift_ci_low"], metadata["lift_ci_high"]) == (0.125, 0.031, 0.184)
    assert (metadata["budget_spent"], metadata["budget_cny"], metadata["cost_per_member_won_back"]) == (
        4567.8,
        60000.0,
        35.14,
    )
    assert (metadata["treated_members"], metadata["holdout_members"], metadata["treated_won_back"]) == (400, 40, 130)
    assert metadata["weekly_reports"] == 4 and metadata["not_available_yet"] == {}
    chart, table = metadata["weekly_trend"].split("\n\n", 1)
    assert chart.startswith("![weekly trend](data:image/png;base64,") and chart.endswith(")")
    assert base64.b64decode(chart.removeprefix("![weekly trend](data:image/png;base64,")[:-1]).startswith(PNG_SIGNATURE)
    assert table.splitlines()[-1] == "| 2025-W36 | 0 | 0 | 0 | 15 | 9 | 50 | 21 | 130 | 32.5% | ¥4,567.80 |"


def test_before_the_retrospective_is_built_the_asset_still_materializes(settings):
    duckdb.connect(str(settings.warehouse)).close()
    result = dg.materialize(
        [build_campaign_report([])], resources={"retention": RetentionResource.from_settings(settings)}
    )
    (materialization,) = result.asset_materializations_for_node("retrospective__campaign_report")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["not_available_yet"]["campaign_retrospective_summary"] == "not built yet"
    assert "treated_rate" not in metadata and "weekly_trend" not in metadata


def test_the_code_location_wires_the_report_after_the_retrospective_models(settings):
    definitions = build_definitions(settings)
    spec = definitions.get_assets_def(CAMPAIGN_REPORT).specs_by_key[CAMPAIGN_REPORT]
    assert spec.group_name == "retrospective"
    assert {tag for tag in spec.tags if tag.startswith("dagster/kind/")} == {
        "dagster/kind/html", "dagster/kind/duckdb", "dagster/kind/parquet",
    }  # fmt: skip
    models = {key for key in build_retrospective_dbt_assets().keys if key.path[0] == "retrospective"}
    assert {dep.asset_key for dep in spec.deps} == models

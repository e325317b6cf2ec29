"""The campaign retrospective report as a Dagster asset: rendered after the retrospective marts, every run.

The headline numbers are asset metadata, so the UI shows them without opening the report. Dagster renders
Markdown metadata with react-markdown and rehype-sanitize configured to allow `data:` image sources
(ui-core MarkdownWithPlugins.tsx), so the weekly trend chart is embedded in the Markdown as a data URI.
"""

import base64

import dagster as dg

from assets.owners import owners
from retention.landing.safe_text import printable
from retention.outreach.campaign import load_campaign
from retention.resources import WAREHOUSE_POOL, RetentionResource
from retention.retrospective.report import CampaignReport, render_campaign_report

CAMPAIGN_REPORT = dg.AssetKey(["retrospective", "campaign_report"])


def build_campaign_report(upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:
    """The report asset, downstream of the retrospective models (their asset keys `retrospective/<model>`)."""

    @dg.asset(
        key=CAMPAIGN_REPORT,
        deps=upstream,
        group_name="retrospective",
        owners=owners("retrospective"),
        kinds={"html", "duckdb", "parquet"},
        pool=WAREHOUSE_POOL,
        description="The retrospective of the campaign in RETENTION_CAMPAIGN_FILE, under "
        "RETENTION_EXPORT_DIR/retrospective/<campaign_id>: report.html (self-contained: headline, win-back "
        "rates, lift with its 95% interval, phone vs SMS vs push, benefit usage, weekly trend, KPIs vs the "
        "period before), weekly/<ISO week>.html (挽回进度周报) and tables/<table>.parquet|.csv for BI. "
        "Aggregates only; a table not built yet is named in the report as not available yet.",
    )
    def campaign_report(context: dg.AssetExecutionContext, retention: RetentionResource) -> dg.MaterializeResult:
        settings = retention.settings()
        campaign = load_campaign(settings.campaign_file)
        with retention.connect(read_only=True) as con:
            report = render_campaign_report(
                con, campaign.campaign_id, settings.export_dir, campaign_name=campaign.name, warn=context.log.warning
            )
        context.log.info(
            f"retrospective report of {printable(report.campaign_id)}: {report.report_path}, "
            f"{len(report.weekly_paths)} weekly pages, {len(report.table_files)} BI files"
        )
        return dg.MaterializeResult(metadata=report_metadata(report))

    return campaign_report


def report_metadata(report: CampaignReport) -> dict:
    metadata: dict = {
        "campaign_id": report.campaign_id,
        "report_path": dg.MetadataValue.path(str(report.report_path)),
        "weekly_reports": len(report.weekly_paths),
        "chinese_chart_labels": report.chinese_charts,
        "not_available_yet": dg.MetadataValue.json(report.missing),
    }
    if report.headline is not None:
        metadata |= report.headline.metadata()
    if report.weekly_markdown is not None:
        chart = ""
        if report.weekly_chart_png is not None:
            encoded = base64.b64encode(report.weekly_chart_png).decode("ascii")
            chart = f"![weekly trend](data:image/png;base64,{encoded})\n\n"
        metadata["weekly_trend"] = dg.MetadataValue.md(chart + report.weekly_markdown)
    return metadata

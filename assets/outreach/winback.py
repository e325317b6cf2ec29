"""The win-back outreach batches as a Dagster asset: the campaign's due waves, logged and exported.

Runs after the marts. Each materialization builds every wave of the campaign whose date the marts have
reached and that is not logged yet, and re-writes the files of the logged ones (the same files: a wave
is never sent twice). The campaign file is validated first, so a wrong field stops the step before
anything is written.
"""

import dagster as dg

from assets.owners import owners
from retention.landing.safe_text import printable
from retention.outreach.campaign import load_campaign
from retention.outreach.review import load_review
from retention.outreach.waves import OutreachReport, WaveResult, build_due_waves
from retention.resources import WAREHOUSE_POOL, RetentionResource

WINBACK_BATCHES = dg.AssetKey(["outreach", "winback_batches"])
MARTS_READ = ("member_churn_risk", "dim_members", "fct_orders", "fct_member_events")
REPORTED_OUTCOMES = (
    "treated", "holdout", "deferred_by_cap", "cut_by_budget", "cut_by_sms_quota", "cut_by_target_size",
    "excluded_by_review", "not_recoverable", "below_min_spend", "reason_not_targeted", "not_high_risk",
    "no_consent", "responded",
)  # fmt: skip


@dg.asset(
    key=WINBACK_BATCHES,
    deps=[dg.AssetKey(["marts", mart]) for mart in MARTS_READ],
    group_name="outreach",
    owners=owners("outreach"),
    kinds={"duckdb", "polars", "parquet"},
    pool=WAREHOUSE_POOL,
    description="Win-back outreach batches of the campaign in RETENTION_CAMPAIGN_FILE (docs/outreach.md): "
    "for every wave the marts have reached, the eligible high-risk members ranked by value at risk, a "
    "stable holdout, offers by reason, channels by consent within call capacity, SMS quota, monthly caps "
    "and budget; logged in outreach.targets / outreach.touches and exported per channel (sms, push, "
    "call_list) as CSV (Excel-safe, UTF-8 with BOM) and Parquet under RETENTION_EXPORT_DIR/outreach.",
)
def winback_batches(context: dg.AssetExecutionContext, retention: RetentionResource) -> dg.MaterializeResult:
    settings = retention.settings()
    campaign = load_campaign(settings.campaign_file)
    review = load_review(settings.review_file, [wave.wave_id for wave in campaign.waves])
    with retention.connect() as con:
        report = build_due_waves(
            con, campaign, review, settings.export_dir, log=context.log.info, warn=context.log.warning
        )
    return dg.MaterializeResult(metadata=report_metadata(report))


def report_metadata(report: OutreachReport) -> dict:
    campaign = report.campaign
    built = [result for result in report.waves if result.outcomes]
    metadata = {
        "campaign_id": campaign.campaign_id,
        "campaign_file": dg.MetadataValue.path(str(campaign.source)),
        "marts_as_of": str(report.marts_as_of),
        "waves": dg.MetadataValue.md(_waves_table(report)),
        "budget_cny": campaign.budget_cny,
        "expected_cost_logged": round(sum(result.expected_cost for result in built), 2),
        "sms_quota": campaign.sms_quota,
        "review_problems": dg.MetadataValue.json(list(report.review_problems)),
    }
    for result in built:
        prefix = result.wave.wave_id
        metadata[f"{prefix}_breakdown"] = dg.MetadataValue.json(result.breakdown)
        metadata[f"{prefix}_adjustments"] = dg.MetadataValue.json(result.adjustments)
        metadata[f"{prefix}_files"] = dg.MetadataValue.json(
            [f"{file.csv_path.name} ({file.rows} rows)" for file in result.files]
        )
        if result.minimum_detectable_lift is not None:
            metadata[f"{prefix}_minimum_detectable_lift"] = round(result.minimum_detectable_lift, 4)
        if result.ignored_review_includes:
            metadata[f"{prefix}_ignored_review_includes"] = dg.MetadataValue.json(list(result.ignored_review_includes))
        if result.unknown_review_keys:
            metadata[f"{prefix}_unknown_review_keys"] = dg.MetadataValue.json(list(result.unknown_review_keys))
    first = next(iter(built), None)
    if first is not None:
        metadata["targeted_first_wave"] = first.outcomes.get("treated", 0) + first.outcomes.get("holdout", 0)
        # Member keys shortened, no contact data: the head of the first wave's priority list.
        metadata["first_wave_preview"] = dg.MetadataValue.md(_preview_table(first.preview))
    return metadata


def _waves_table(report: OutreachReport) -> str:
    header = ["wave", "date", "status", *REPORTED_OUTCOMES, "expected cost", "budget left before", "detectable lift"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for result in report.waves:
        lines.append("| " + " | ".join(_wave_row(result)) + " |")
    return "\n".join(lines)


def _wave_row(result: WaveResult) -> list[str]:
    lift = result.minimum_detectable_lift
    return [
        printable(result.wave.wave_id, 40),
        str(result.wave.wave_date),
        result.status,
        *[f"{result.outcomes.get(outcome, 0):,}" for outcome in REPORTED_OUTCOMES],
        f"{result.expected_cost:,.2f}",
        f"{result.budget_remaining_before:,.2f}",
        f"{lift:.1%}" if lift is not None else "-",
    ]


def _preview_table(rows: tuple[dict, ...]) -> str:
    if not rows:
        return "no member ranked"
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(printable(str(row[column]), 60) for column in header) + " |" for row in rows]
    return "\n".join(lines)

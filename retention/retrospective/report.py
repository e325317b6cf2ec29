"""The campaign retrospective rendered for people and BI tools, from the aggregate tables of the warehouse's
`retrospective` schema, into `<export_dir>/retrospective/<campaign_id>/`:

- `report.html`: one self-contained page (inline CSS, charts as embedded PNG): the headline numbers, win-back
  rates by reason, tier, channel, wave and offer, the lift by channel with its interval, phone vs SMS vs push,
  the benefit usage ranking, the weekly trend and the KPIs against the period before;
- `weekly/<ISO week>.html`: the weekly progress report (挽回进度周报), one small page per campaign week;
- `tables/<table>.parquet|.csv`: every table the report reads, the campaign's rows, for BI.

A table not built yet, or without rows for the campaign, is named in the report as not available yet. Only
aggregates are read: no member key or contact detail can reach these files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from retention.landing.safe_text import printable
from retention.retrospective import html
from retention.retrospective.files import export_table, plain_name, write_atomically
from retention.retrospective.fonts import CJK_FAMILIES, FONT_HINT, find_cjk_family
from retention.retrospective.headline import Headline
from retention.retrospective.labels import Labels
from retention.retrospective.sections import benefit_section, channel_section, kpi_section, lift_section, rates_section
from retention.retrospective.tables import RetrospectiveTables, read_retrospective
from retention.retrospective.weekly import weekly_chart, weekly_markdown, weekly_pages, weekly_table

REPORT_FILE = "report.html"
DEFAULT_TARGET_RATE = 0.25

# (table, section title): the report's sections in order, after the headline.
SECTIONS = (
    ("campaign_winback_rates", "挽回率: 按流失原因、会员等级、渠道、批次与权益 (win-back rate)"),
    ("campaign_lift", "增量提升: 触达组 vs 对照组 (lift, 95% interval)"),
    ("campaign_channel_comparison", "渠道对比: 电话 vs 短信 vs 推送 (phone vs SMS vs push)"),
    ("campaign_benefit_usage", "权益使用排名 (benefit usage by tier)"),
    ("campaign_weekly_progress", "挽回进度周报: 每周趋势 (weekly trend)"),
    ("campaign_kpis", "核心指标: 活动期 vs 活动前同期 (KPIs, campaign vs before)"),
)


@dataclass(frozen=True)
class CampaignReport:
    """What was written for one campaign, and the numbers the Dagster asset shows."""

    campaign_id: str
    directory: Path
    report_path: Path
    weekly_paths: tuple[Path, ...]
    table_files: tuple[Path, ...]
    headline: Headline | None
    missing: dict[str, str] = field(default_factory=dict)
    chinese_charts: bool = True
    weekly_markdown: str | None = None
    weekly_chart_png: bytes | None = None


def render_campaign_report(
    con: duckdb.DuckDBPyConnection,
    campaign_id: str,
    export_dir: Path,
    *,
    campaign_name: str | None = None,
    warn: Callable[[str], None] | None = None,
    font_families: tuple[str, ...] = CJK_FAMILIES,
) -> CampaignReport:
    """Render the report, the weekly pages and the BI files of `campaign_id` from the warehouse `con`.

    `font_families`: the CJK fonts the charts may use, best first; when none is installed the charts are
    labelled in English and `warn` is told once (the HTML text stays Chinese: the browser has its own fonts)."""
    warn = warn or (lambda message: None)
    directory = Path(export_dir) / "retrospective" / plain_name(campaign_id, "campaign id")
    tables = read_retrospective(con, campaign_id)
    if tables.dropped_columns:
        warn(f"retrospective report: member-level column(s) left out: {printable(', '.join(tables.dropped_columns))}")
    family = find_cjk_family(font_families)
    if family is None:
        warn(
            f"retrospective report: no Chinese font found (looked for {', '.join(font_families)}); "
            f"charts use English labels: {FONT_HINT}"
        )

    labels = Labels(chinese=True, tier_names_zh=tables.tier_names_zh, offer_names=tables.offer_names)
    chart_labels = Labels(
        chinese=family is not None, tier_names_zh=tables.tier_names_zh, offer_names=tables.offer_names
    )
    summary = tables.get("campaign_retrospective_summary")
    headline = Headline.from_summary(summary) if summary is not None else None
    name = (headline.campaign_name if headline else "") or campaign_name or campaign_id
    target = _target_rate(tables, headline)
    weekly = tables.get("campaign_weekly_progress")
    trend_png = weekly_chart(weekly, chart_labels, target, family) if weekly is not None else None

    body = _headline_section(headline, tables) + "".join(
        f"<h2>{html.text(title)}</h2>" + _section(table, tables, labels, chart_labels, target, family, trend_png)
        for table, title in SECTIONS
    )
    footer = (
        f"Campaign {campaign_id} · tables retrospective.* · data as of "
        f"{html.day(headline.as_of_date) if headline else '–'} · aggregates only, no member-level data"
    )
    report_path = write_atomically(
        directory / REPORT_FILE,
        html.page(
            f"活动复盘 · {name}", headline.status() if headline else "复盘尚未生成 (not available yet)", body, footer
        ).encode(),
    )
    weekly_paths = []
    if weekly is not None:
        for iso_week, page in weekly_pages(weekly, name, campaign_id, footer).items():
            weekly_paths.append(
                write_atomically(directory / "weekly" / f"{plain_name(iso_week, 'ISO week')}.html", page.encode())
            )
    _remove_stale_weekly_pages(directory / "weekly", weekly_paths)
    table_files = [
        path for table, frame in tables.frames.items() for path in export_table(frame, directory / "tables", table)
    ]
    return CampaignReport(
        campaign_id=campaign_id,
        directory=directory,
        report_path=report_path,
        weekly_paths=tuple(weekly_paths),
        table_files=tuple(table_files),
        headline=headline,
        missing=dict(tables.missing),
        chinese_charts=family is not None,
        weekly_markdown=weekly_markdown(weekly) if weekly is not None else None,
        weekly_chart_png=weekly_chart(weekly, chart_labels, target, family, small=True) if weekly is not None else None,
    )


def _remove_stale_weekly_pages(folder: Path, current: list[Path]) -> None:
    """A week the campaign no longer has (a run as of an earlier day, a campaign moved) must not leave its
    page behind, where it would read as today's numbers."""
    if not folder.is_dir():
        return
    for page in folder.glob("*.html"):
        if page not in current:
            page.unlink()


def _headline_section(headline: Headline | None, tables: RetrospectiveTables) -> str:
    title = "<h2>核心结论 (headline)</h2>"
    if headline is None:
        return title + html.not_available(
            "活动复盘摘要 (campaign_retrospective_summary)", tables.missing["campaign_retrospective_summary"]
        )
    return title + headline.cards()


def _section(
    table: str,
    tables: RetrospectiveTables,
    labels: Labels,
    chart_labels: Labels,
    target: float | None,
    family: str | None,
    trend_png: bytes | None,
) -> str:
    frame = tables.get(table)
    if frame is None:
        return html.not_available(table, tables.missing[table])
    if table == "campaign_winback_rates":
        return rates_section(frame, labels, chart_labels, target, family)
    if table == "campaign_lift":
        return lift_section(frame, labels, chart_labels, family)
    if table == "campaign_channel_comparison":
        return channel_section(frame, labels)
    if table == "campaign_benefit_usage":
        return benefit_section(frame, labels)
    if table == "campaign_weekly_progress":
        return html.png_img(trend_png, "weekly trend") + weekly_table(frame)
    return kpi_section(frame, labels)


def _target_rate(tables: RetrospectiveTables, headline: Headline | None) -> float | None:
    if headline is not None and headline.target_rate is not None:
        return headline.target_rate
    rates = tables.get("campaign_winback_rates")
    targets = [] if rates is None else rates["target_rate"].drop_nulls()
    return float(targets[0]) if len(targets) else DEFAULT_TARGET_RATE

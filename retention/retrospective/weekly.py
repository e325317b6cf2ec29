"""The weekly progress report (挽回进度周报): the campaign week by week, as a section of the report, as one small
page per ISO week (that week and the campaign to date) and as a Markdown table for the Dagster UI."""

from __future__ import annotations

import re

import polars as pl

from retention.landing.safe_text import printable
from retention.retrospective import html
from retention.retrospective.charts import trend_chart
from retention.retrospective.labels import Labels

ISO_WEEK = re.compile(r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$")
# Counted per week; the page of a week shows each as "this week" and "to date".
WEEKLY_COUNTS = (
    ("touches_exported", "发送触达"),
    ("touches_delivered", "送达"),
    ("touches_opened", "打开"),
    ("unsubscribes", "退订"),
    ("coupons_redeemed", "优惠券核销"),
    ("benefits_redeemed", "权益使用"),
    ("app_logins", "App 登录"),
    ("repurchase_orders", "复购订单"),
)


def weekly_to_date(weekly: pl.DataFrame) -> pl.DataFrame:
    """The weeks in order, each count with its running total beside it (`<count>_to_date`)."""
    for number, iso_week in enumerate(weekly["iso_week"], start=1):
        if iso_week is None or not ISO_WEEK.fullmatch(iso_week):
            raise ValueError(
                f"retrospective.campaign_weekly_progress row {number}: iso_week '{printable(iso_week, 40)}' "
                "is not an ISO week like 2025-W34"
            )
    return weekly.sort("week_start").with_columns(
        pl.col(name).cum_sum().alias(f"{name}_to_date") for name, _ in WEEKLY_COUNTS
    )


def weekly_chart(
    weekly: pl.DataFrame, labels: Labels, target: float | None, family: str | None, small: bool = False
) -> bytes:
    ordered = weekly.sort("week_start")
    return trend_chart(
        weeks=list(ordered["iso_week"]),
        bars=[float(value or 0) for value in ordered["touches_exported"]],
        bar_label=labels.text("每周发送触达", "touches sent per week"),
        line=[None if value is None else float(value) for value in ordered["win_back_rate_to_date"]],
        line_label=labels.text("累计挽回率", "win-back rate to date"),
        title=labels.text("挽回进度周报: 每周触达与累计挽回率", "Weekly progress: touches and win-back rate to date"),
        target=target,
        target_label=labels.text("目标", "target"),
        family=family,
        size=(7.0, 3.2) if small else (9.0, 4.2),
    )


def weekly_table(weekly: pl.DataFrame) -> str:
    ordered = weekly_to_date(weekly)
    rows = [
        [
            row["iso_week"],
            f"{html.day(row['week_start'])} – {html.day(row['week_end'])}",
            *(html.count(row[name]) for name, _ in WEEKLY_COUNTS),
            html.count(row["members_won_back_to_date"]),
            html.pct(row["win_back_rate_to_date"]),
            html.cny(row["budget_spent_week"]),
            html.cny(row["budget_spent_to_date"]),
        ]
        for row in ordered.iter_rows(named=True)
    ]
    headers = [
        "ISO 周",
        "日期",
        *(label for _, label in WEEKLY_COUNTS),
        "累计挽回会员",
        "累计挽回率",
        "本周花费",
        "累计花费",
    ]
    return html.table(headers, rows, numeric=tuple(range(2, len(headers))))


def weekly_pages(weekly: pl.DataFrame, campaign_name: str, campaign_id: str, generated: str) -> dict[str, str]:
    """One page per ISO week: that week's numbers and the campaign's to date. Keyed by ISO week."""
    pages = {}
    for row in weekly_to_date(weekly).iter_rows(named=True):
        counts = [[label, html.count(row[name]), html.count(row[f"{name}_to_date"])] for name, label in WEEKLY_COUNTS]
        budget = row["budget_cny"]
        spent = row["budget_spent_to_date"]
        cards = (
            '<div class="cards">'
            + "".join(
                [
                    html.card("累计挽回会员 (触达组)", html.count(row["members_won_back_to_date"])),
                    html.card("累计挽回率", html.pct(row["win_back_rate_to_date"])),
                    html.card("本周花费", html.cny(row["budget_spent_week"])),
                    html.card(
                        "累计花费",
                        html.cny(spent),
                        f"预算 {html.cny(budget)}"
                        + (f" 的 {html.pct(float(spent) / float(budget))}" if spent is not None and budget else ""),
                    ),
                ]
            )
            + "</div>"
        )
        body = (
            cards
            + "<h2>本周与累计 (this week and to date)</h2>"
            + html.table(["指标", "本周", "累计"], counts, numeric=(1, 2))
        )
        pages[row["iso_week"]] = html.page(
            title=f"挽回进度周报 {row['iso_week']} · {campaign_name}",
            subtitle=f"{html.day(row['week_start'])} – {html.day(row['week_end'])} · {campaign_id}",
            body=body,
            footer=generated,
        )
    return pages


def weekly_markdown(weekly: pl.DataFrame) -> str:
    """The weekly trend as a Markdown table (Dagster metadata)."""
    columns = (
        "ISO week", "touches", "delivered", "opened", "coupons", "benefits", "logins", "orders",
        "won back to date", "rate to date", "spent to date",
    )  # fmt: skip
    lines = ["| " + " | ".join(columns) + " |", "|---|" + "---:|" * (len(columns) - 1)]
    for row in weekly_to_date(weekly).iter_rows(named=True):
        cells = [
            row["iso_week"],
            *(
                html.count(row[name])
                for name in (
                    "touches_exported",
                    "touches_delivered",
                    "touches_opened",
                    "coupons_redeemed",
                    "benefits_redeemed",
                    "app_logins",
                    "repurchase_orders",
                    "members_won_back_to_date",
                )
            ),  # fmt: skip
            html.pct(row["win_back_rate_to_date"]),
            html.cny(row["budget_spent_to_date"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)

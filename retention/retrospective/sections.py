"""The sections of the campaign report, each from one retrospective table: an HTML fragment (tables and charts).

Every function gets a table that has rows (the report says "not available yet" for the others). The tables are
small aggregates (a few rows per dimension), so their rows are formatted one by one.
"""

from __future__ import annotations

import polars as pl

from retention.retrospective import html
from retention.retrospective.charts import Panel, interval_chart, rate_panels
from retention.retrospective.labels import Labels

FIRST_BATCH = "first_batch"
RATE_DIMENSIONS = ("reason", "tier", "channel", "channel_group", "offer")
CHART_DIMENSIONS = ("reason", "tier", "channel", "offer", "wave")
LIFT_DIMENSIONS = ("overall", "channel", "channel_group", "tier")
_RATE_KEYS = ("dimension", "dimension_value")
_ARM_COLUMNS = ("members", "won_back", "win_back_rate", "meets_target")


def rates_by_arm(rates: pl.DataFrame, tier_rank: dict[str, int] | None = None) -> pl.DataFrame:
    """One row per (dimension, value): the first batch's dimensions, then each wave's overall rate as dimension
    'wave', with the treated and the holdout arm side by side (treated_members, holdout_rate, ...)."""
    scoped = pl.concat(
        [
            rates.filter(pl.col("scope") == FIRST_BATCH, pl.col("dimension").is_in(["overall", *RATE_DIMENSIONS])),
            rates.filter(pl.col("scope") != FIRST_BATCH, pl.col("dimension") == "overall").with_columns(
                dimension=pl.lit("wave"), dimension_value=pl.col("scope")
            ),
        ]
    )
    arms = [
        scoped.filter(pl.col("arm") == arm).select(
            *_RATE_KEYS, *(pl.col(name).alias(f"{arm}_{name}") for name in _ARM_COLUMNS)
        )
        for arm in ("treated", "holdout")
    ]
    order = {name: rank for rank, name in enumerate(["overall", *RATE_DIMENSIONS, "wave"])}
    return (
        arms[0]
        .join(arms[1], on=list(_RATE_KEYS), how="full", coalesce=True, nulls_equal=True)
        .with_columns(pl.col("dimension").replace_strict(order, default=len(order)).alias("_order"))
        .with_columns(_value_rank(tier_rank or {}))
        .sort("_order", "_value_rank", "dimension_value", nulls_last=True)
        .drop("_order", "_value_rank")
    )


def rates_section(
    rates: pl.DataFrame, labels: Labels, chart_labels: Labels, target: float | None, family: str | None
) -> str:
    by_arm = rates_by_arm(rates, labels.tier_rank())
    rows = [
        [
            labels.dimension(row["dimension"]),
            labels.dimension("overall")
            if row["dimension"] == "overall"
            else labels.value(row["dimension"], row["dimension_value"]),
            html.count(row["treated_members"]),
            html.count(row["treated_won_back"]),
            html.pct(row["treated_win_back_rate"]),
            {True: "达标", False: "未达标", None: "–"}[row["treated_meets_target"]],
            html.count(row["holdout_members"]),
            html.count(row["holdout_won_back"]),
            html.pct(row["holdout_win_back_rate"]),
        ]
        for row in by_arm.iter_rows(named=True)
    ]
    headers = [
        "维度",
        "分组",
        "触达会员",
        "挽回",
        "挽回率",
        f"目标 {html.pct(target)}",
        "对照会员",
        "挽回",
        "对照挽回率",
    ]
    chart = _rates_chart(by_arm, chart_labels, target, family)
    return html.png_img(chart, "win-back rate by reason, tier, channel, offer and wave") + html.table(
        headers, rows, numeric=(2, 3, 4, 6, 7, 8)
    )


def _rates_chart(by_arm: pl.DataFrame, labels: Labels, target: float | None, family: str | None) -> bytes:
    panels = []
    for dimension in CHART_DIMENSIONS:
        part = by_arm.filter(pl.col("dimension") == dimension)
        if part.is_empty():
            continue
        panels.append(
            Panel(
                title=labels.text(f"按{labels.dimension(dimension)}", f"by {labels.dimension(dimension)}"),
                categories=tuple(labels.value(dimension, value) for value in part["dimension_value"]),
                series=(
                    (labels.arm("treated"), tuple(part["treated_win_back_rate"])),
                    (labels.arm("holdout"), tuple(part["holdout_win_back_rate"])),
                ),
            )
        )
    title = labels.text("首批会员挽回率 (触达组 vs 对照组)", "First-batch win-back rate (treated vs holdout)")
    return rate_panels(panels, title, target, labels.text("目标", "target"), family)


def lift_section(lift: pl.DataFrame, labels: Labels, chart_labels: Labels, family: str | None) -> str:
    first = lift.filter(pl.col("scope") == FIRST_BATCH, pl.col("dimension").is_in(LIFT_DIMENSIONS))
    order = {name: rank for rank, name in enumerate(LIFT_DIMENSIONS)}
    first = first.sort(
        pl.col("dimension").replace_strict(order, default=len(order)),
        _value_rank(labels.tier_rank()),
        "dimension_value",
        nulls_last=True,
    )
    rows = [
        [
            labels.dimension(row["dimension"]),
            labels.dimension("overall")
            if row["dimension"] == "overall"
            else labels.value(row["dimension"], row["dimension_value"]),
            f"{html.count(row['treated_won_back'])} / {html.count(row['treated_members'])}",
            html.pct(row["treated_rate"]),
            f"{html.count(row['holdout_won_back'])} / {html.count(row['holdout_members'])}",
            html.pct(row["holdout_rate"]),
            html.signed_pct(row["lift"]),
            html.interval(row["lift_ci_low"], row["lift_ci_high"]),
            "–" if row["incremental_won_back"] is None else f"{float(row['incremental_won_back']):,.1f}",
        ]
        for row in first.iter_rows(named=True)
    ]
    methods = sorted(set(first["ci_method"].drop_nulls()))
    headers = [
        "维度",
        "分组",
        "触达组挽回",
        "触达组挽回率",
        "对照组挽回",
        "对照组挽回率",
        "lift",
        "95% CI",
        "增量挽回会员",
    ]
    charted = first.filter(pl.col("dimension").is_in(["overall", "channel"]))
    chart = interval_chart(
        categories=[
            chart_labels.dimension("overall") if d == "overall" else chart_labels.channel(v)
            for d, v in zip(charted["dimension"], charted["dimension_value"], strict=True)
        ],
        estimates=_floats(charted["lift"]),
        intervals=list(zip(_floats(charted["lift_ci_low"]), _floats(charted["lift_ci_high"]), strict=True)),
        title=chart_labels.text(
            "增量提升 (触达组 − 对照组) 按渠道, 95% 置信区间", "Lift (treated − holdout) by channel, 95% CI"
        ),
        axis_label=chart_labels.text("挽回率差 (百分点)", "difference in win-back rate (percentage points)"),
        family=family,
    )
    method_note = f"<p>区间方法 (method): {html.text('; '.join(methods) or 'not recorded')}</p>"
    return (
        html.png_img(chart, "lift by channel with 95% intervals")
        + method_note
        + html.table(headers, rows, numeric=(2, 3, 4, 5, 6, 8))
    )


def channel_section(channels: pl.DataFrame, labels: Labels) -> str:
    rows = [
        [
            labels.channel(row["channel"]),
            html.count(row["members_contacted"]),
            html.count(row["touches_exported"]),
            html.pct(row["delivery_rate"]),
            html.pct(row["open_rate"]),
            html.pct(row["unsubscribe_rate"]),
            html.count(row["members_won_back"]),
            html.pct(row["conversion_rate"]),
            html.cny(row["total_cost"]),
            html.cny(row["cost_per_member_won_back"]),
            f"{html.signed_pct(row['lift'])} {html.interval(row['lift_ci_low'], row['lift_ci_high'])}",
        ]
        for row in channels.sort("channel").iter_rows(named=True)
    ]
    headers = [
        "渠道", "触达会员", "发送", "送达率", "打开率", "退订率", "挽回会员", "转化率 (conversion)",
        "总成本", "每挽回一位会员成本", "lift [95% CI]",
    ]  # fmt: skip
    return html.table(headers, rows, numeric=tuple(range(1, 11)))


def benefit_section(benefits: pl.DataFrame, labels: Labels) -> str:
    ranked = benefits.sort(
        pl.col("tier").replace_strict(labels.tier_rank(), default=None, return_dtype=pl.Int64),
        "tier",
        pl.col("arm") != "treated",
        "rank_in_tier",
        "benefit_code",
        nulls_last=True,
    )
    rows = [
        [
            labels.tier(row["tier"]),
            labels.arm(row["arm"]),
            html.count(row["rank_in_tier"]),
            row["benefit_code"],
            html.count(row["members_used"]),
            html.count(row["uses"]),
        ]
        for row in ranked.iter_rows(named=True)
    ]
    return html.table(["会员等级", "组别", "排名", "权益", "使用会员数", "使用次数"], rows, numeric=(2, 4, 5))


def kpi_section(kpis: pl.DataFrame, labels: Labels) -> str:
    periods = {
        period: kpis.filter(pl.col("period") == period).select(
            "kpi",
            pl.col("value").alias(f"{period}_value"),
            pl.col("period_start").alias(f"{period}_start"),
            pl.col("period_end").alias(f"{period}_end"),
            *([pl.col("target"), pl.col("target_direction"), pl.col("meets_target")] if period == "campaign" else []),
        )
        for period in ("campaign", "before")
    }
    both = periods["campaign"].join(periods["before"], on="kpi", how="full", coalesce=True)
    order = {name: rank for rank, name in enumerate(_KPI_ORDER)}
    both = both.sort(pl.col("kpi").replace_strict(order, default=len(order)), "kpi")
    rows = [
        [
            labels.kpi(row["kpi"]),
            html.pct(row["before_value"]),
            html.pct(row["campaign_value"]),
            _change(row["campaign_value"], row["before_value"]),
            _target(row["target"], row["target_direction"]),
            {True: "达标", False: "未达标", None: "–"}[row["meets_target"]],
        ]
        for row in both.iter_rows(named=True)
    ]
    first = both.row(0, named=True)
    span = (
        f"<p>活动期 (campaign) {html.day(first['campaign_start'])} – {html.day(first['campaign_end'])} · "
        f"活动前同期 (before) {html.day(first['before_start'])} – {html.day(first['before_end'])}</p>"
    )
    headers = ["指标 KPI", "活动前同期", "活动期", "变化 (百分点)", "目标", "是否达标"]
    return span + html.table(headers, rows, numeric=(1, 2, 3))


_KPI_ORDER = (
    "core_repurchase_rate", "dormant_wake_up_rate", "touch_open_rate", "unsubscribe_rate", "churn_rate",
    "top_member_revenue_share", "tier_share_basic", "tier_share_advanced", "tier_share_premium",
)  # fmt: skip


def _change(campaign: float | None, before: float | None) -> str:
    if campaign is None or before is None:
        return "–"
    return html.signed_pct(campaign - before)


def _target(target: float | None, direction: str | None) -> str:
    if target is None:
        return "–"
    return {"at_least": "≥ ", "at_most": "≤ "}.get(direction or "", "") + html.pct(target)


def _value_rank(tier_rank: dict[str, int]) -> pl.Expr:
    """Tiers in rank order (basic, advanced, premium); other values keep their alphabetical order."""
    return (
        pl.when(pl.col("dimension") == "tier")
        .then(pl.col("dimension_value").replace_strict(tier_rank, default=None, return_dtype=pl.Int64))
        .alias("_value_rank")
    )


def _floats(series: pl.Series) -> list[float | None]:
    return [None if value is None else float(value) for value in series]

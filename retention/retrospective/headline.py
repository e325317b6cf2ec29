"""The retrospective's headline: the first batch's win-back rate against the target, the holdout's, the
incremental lift with its interval, and the money."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import polars as pl

from retention.retrospective import html


@dataclass(frozen=True)
class Headline:
    campaign_name: str
    as_of_date: date | None
    measurement_end: date | None
    is_final: bool
    first_batch_members: int
    treated_members: int
    holdout_members: int
    treated_won_back: int
    treated_rate: float | None
    holdout_rate: float | None
    target_rate: float | None
    meets_target: bool | None
    lift: float | None
    lift_ci_low: float | None
    lift_ci_high: float | None
    ci_method: str
    budget_cny: float | None
    budget_spent: float | None
    cost_per_member_won_back: float | None

    @classmethod
    def from_summary(cls, summary: pl.DataFrame) -> Headline:
        row = summary.row(0, named=True)
        return cls(
            campaign_name=row["campaign_name"] or "",
            as_of_date=row["as_of_date"],
            measurement_end=row["measurement_end"],
            is_final=bool(row["is_final"]),
            **{name: int(row[name] or 0) for name in _COUNTS},
            **{name: _float(row[name]) for name in _AMOUNTS},
            meets_target=row["meets_target"],
            ci_method=row["ci_method"] or "",
        )

    def metadata(self) -> dict[str, float | int | bool | str]:
        """The headline as Dagster metadata values (floats and ints; missing numbers left out)."""
        values: dict[str, float | int | bool | str] = {name: getattr(self, name) for name in _COUNTS}
        values |= {name: round(getattr(self, name), 6) for name in _AMOUNTS if getattr(self, name) is not None}
        values["is_final"] = self.is_final
        if self.ci_method:
            values["ci_method"] = self.ci_method
        return values

    def cards(self) -> str:
        target_note = f"目标 ≥ {html.pct(self.target_rate)}" if self.target_rate is not None else "无目标"
        tone = "" if self.meets_target is None else ("good" if self.meets_target else "bad")
        verdict = {True: " · 达标", False: " · 未达标", None: ""}[self.meets_target]
        spent_share = (
            f"预算 {html.cny(self.budget_cny)} 的 {html.pct(self.budget_spent / self.budget_cny)}"
            if self.budget_spent is not None and self.budget_cny
            else f"预算 {html.cny(self.budget_cny)}"
        )
        return (
            '<div class="cards">'
            + "".join(
                [
                    html.card("首批挽回率 (触达组)", html.pct(self.treated_rate), target_note + verdict, tone),
                    html.card(
                        "对照组挽回率", html.pct(self.holdout_rate), f"{html.count(self.holdout_members)} 位对照会员"
                    ),
                    html.card(
                        "增量提升 lift (95% CI)",
                        html.signed_pct(self.lift),
                        f"{html.interval(self.lift_ci_low, self.lift_ci_high)} · "
                        f"{self.ci_method or 'method not recorded'}",
                    ),
                    html.card(
                        "挽回会员 (触达组)",
                        html.count(self.treated_won_back),
                        f"共 {html.count(self.treated_members)} 位触达会员 / "
                        f"首批 {html.count(self.first_batch_members)} 位",
                    ),
                    html.card("已用预算", html.cny(self.budget_spent), spent_share),
                    html.card("每挽回一位会员成本", html.cny(self.cost_per_member_won_back), "已用预算 ÷ 挽回会员"),
                ]
            )
            + "</div>"
        )

    def status(self) -> str:
        state = (
            "最终结果 (final)" if self.is_final else "阶段性结果 (provisional: the measurement window is still open)"
        )
        return f"数据截至 {html.day(self.as_of_date)} · 测量窗口截至 {html.day(self.measurement_end)} · {state}"


_COUNTS = ("first_batch_members", "treated_members", "holdout_members", "treated_won_back")
_AMOUNTS = (
    "treated_rate", "holdout_rate", "target_rate", "lift", "lift_ci_low", "lift_ci_high",
    "budget_cny", "budget_spent", "cost_per_member_won_back",
)  # fmt: skip


def _float(value: float | Decimal | None) -> float | None:
    return None if value is None else float(value)

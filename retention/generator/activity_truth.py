"""Ground truth of what members did, day by day, from the clean rows (before any defect is planted).

The campaign simulator needs to know whether a member would have come back without being contacted
(organic success): a purchase, or a login plus a benefit use. The pipeline sees the same activity
through defects and quarantine; this file is the answer key. Only days from `first_day` on are kept,
so memory stays bounded by the campaign period, not the generated range.

File: `<truth_dir>/member_activity.parquet`, one row per member and day with any of the three
activities (a member-day that is absent had none): member_id, activity_date, purchased, logged_in,
used_benefit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from retention.generator.common import day_date

ACTIVITY_FILE = "member_activity.parquet"
ACTIVITY_SCHEMA = {
    "member_id": pl.String,
    "activity_date": pl.Date,
    "purchased": pl.Boolean,
    "logged_in": pl.Boolean,
    "used_benefit": pl.Boolean,
}


class ActivityTruth:
    """Collects one aggregated frame per day from `first_day` on and writes them once at the end."""

    def __init__(self, first_day: int):
        self.first_day = first_day
        self._days: list[pl.DataFrame] = []

    def record(self, day: int, orders: pl.DataFrame, refunds: pl.DataFrame, refund_day, last_day: int, events):
        """The day's purchases and app activity.

        `orders` are the orders placed on `day`, `refunds` the refund records drawn for them with their
        delivery days: a full refund delivered by `last_day` means the order is no purchase as known at the
        end of generation (the pipeline's `is_purchase`); one due later never happens. The generator never
        cancels an order, and a partial refund leaves a purchase."""
        if day < self.first_day:
            return
        refunded_in_full = refunds.filter(
            (pl.col("status") == "refunded") & pl.Series(np.asarray(refund_day) <= last_day)
        )["order_id"]
        purchases = orders.filter(~pl.col("order_id").is_in(refunded_in_full.implode())).select(
            "member_id", purchased=pl.lit(True), logged_in=pl.lit(False), used_benefit=pl.lit(False)
        )
        app = events.filter(pl.col("event_type").is_in(["login", "benefit_use"])).select(
            "member_id",
            purchased=pl.lit(False),
            logged_in=pl.col("event_type") == "login",
            used_benefit=pl.col("event_type") == "benefit_use",
        )
        self._days.append(
            pl.concat([purchases, app])
            .group_by("member_id")
            .agg(pl.col("purchased").any(), pl.col("logged_in").any(), pl.col("used_benefit").any())
            .with_columns(activity_date=pl.lit(day_date(day)))
            .select(list(ACTIVITY_SCHEMA))
            .sort("member_id")
        )

    def write(self, path: Path) -> None:
        frame = pl.concat(self._days) if self._days else pl.DataFrame(schema=ACTIVITY_SCHEMA)
        frame.cast(ACTIVITY_SCHEMA).write_parquet(path)

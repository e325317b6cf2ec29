"""A wave's simulated responses as landing files, beside the base generator's and never replacing them.

- outreach_feedback/<day after the event>/sms_receipts_|push_report_|call_log_<YYYYMMDD>_<wave_id>.csv:
  each gateway delivers yesterday's receipts (the call centre with Chinese headers and codes);
- orders/<day>/online_orders_<YYYYMMDD>_winback_<wave_id>.jsonl: coupon redemptions;
- events/<day>/events_<YYYYMMDD>_winback_<wave_id>.jsonl: logins and benefit use.

Written with the generator's renderers and the contract's columns, without defects. Writing a wave
first removes every file an earlier simulation of the same wave wrote, so a replay never duplicates.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from retention.generator.common import SECONDS_PER_DAY, constant, day_date
from retention.generator.formats import JSON_LINES, PLAIN_CSV, SERVICE_CSV, FileStyle, render
from retention.landing.contract import EVENTS, ORDERS, OUTREACH_FEEDBACK, Source
from retention.outreach.campaign import Campaign

FEEDBACK_FILES: dict[str, tuple[str, FileStyle]] = {
    "sms": ("sms_receipts", PLAIN_CSV),
    "push": ("push_report", PLAIN_CSV),
    "phone": ("call_log", SERVICE_CSV),  # the call centre's export: BOM, Chinese headers and codes
}
ORDER_STEM, EVENT_STEM = "online_orders", "events"
ONLINE_CHANNELS = (("app", 0.40), ("mini_program", 0.35), ("online", 0.25))
APP_SHARE = 0.6  # of logins; the rest in the mini program
COUPON_THRESHOLD = re.compile(r"满\s*(\d+(?:\.\d+)?)\s*减")
THRESHOLD_PER_FACE_VALUE = 4.0  # when the offer's name states no threshold (满X减Y)


def simulated_names(wave_id: str) -> dict[str, re.Pattern]:
    """Per source folder, the names of the files a simulation of `wave_id` writes."""
    wave = re.escape(wave_id)
    stems = "|".join(stem for stem, _ in FEEDBACK_FILES.values())
    return {
        OUTREACH_FEEDBACK.name: re.compile(rf"^(?:{stems})_\d{{8}}_{wave}\.csv$"),
        ORDERS.name: re.compile(rf"^{ORDER_STEM}_\d{{8}}_winback_{wave}\.jsonl$"),
        EVENTS.name: re.compile(rf"^{EVENT_STEM}_\d{{8}}_winback_{wave}\.jsonl$"),
    }


def wave_file_days(landing_dir: Path, wave_id: str) -> list[date]:
    """The landing days (folders) holding files of an earlier simulation of the wave."""
    days = set()
    for source, pattern in simulated_names(wave_id).items():
        for path in (Path(landing_dir) / source).glob("*/*"):
            if pattern.match(path.name):
                days.add(date.fromisoformat(path.parent.name))
    return sorted(days)


def remove_wave_files(landing_dir: Path, wave_id: str) -> int:
    removed = 0
    for source, pattern in simulated_names(wave_id).items():
        for path in sorted((Path(landing_dir) / source).glob("*/*")):
            if pattern.match(path.name):
                path.unlink()
                removed += 1
    return removed


def coupon_threshold(offer_name: str, face_value: float) -> float:
    """The minimum order amount of a coupon offer, as its name states it (满100减30), else 4x its value."""
    match = COUPON_THRESHOLD.search(offer_name)
    return float(match[1]) if match else face_value * THRESHOLD_PER_FACE_VALUE


def success_orders(members: pl.DataFrame, campaign: Campaign, wave_id: str, params) -> pl.DataFrame:
    """An online order per converted member whose offer is redeemed by an order (coupon, or untracked)."""
    offers = campaign.offers
    buyers = members.filter(
        pl.col("converted") & ~pl.col("offer_id").is_in([o for o, offer in offers.items() if offer.benefit_code])
    ).sort("success_on", "success_second", "member_id")
    n = buyers.height
    offer = buyers["offer_id"]
    threshold = offer.replace_strict(
        {o: _threshold(offers[o]) for o in offers}, default=0.0, return_dtype=pl.Float64
    ).to_numpy()
    face = offer.replace_strict(
        {o: offers[o].face_value for o in offers}, default=0.0, return_dtype=pl.Float64
    ).to_numpy()
    extra = params.extra_spend_median * np.exp(params.extra_spend_sigma * buyers["extra_spend_draw"].to_numpy())
    gross = np.round(threshold + extra, 1)
    time = buyers["success_on"].to_numpy() * SECONDS_PER_DAY + buyers["success_second"].to_numpy()
    return pl.DataFrame(
        {
            "order_id": _ids("OWB", wave_id, buyers["success_on"].to_numpy()),
            "member_id": buyers["member_id"],
            "order_time": pl.Series(time, dtype=pl.Int64),
            "channel": _online_channel(buyers["platform_draw"]),
            "store_id": constant(None, n, pl.String),
            "store_name": constant(None, n, pl.String),
            "city": constant(None, n, pl.String),
            "gross_amount": pl.Series(gross, dtype=pl.Float64),
            "discount_amount": pl.Series(np.minimum(face, gross), dtype=pl.Float64),
            "coupon_code": offer.replace_strict(
                {o: offers[o].coupon_code for o in offers}, default=None, return_dtype=pl.String
            ),
            "status": constant("completed", n, pl.String),  # the e-commerce system's word for paid
            "refund_amount": constant(None, n, pl.Float64),
            "updated_at": pl.Series(time, dtype=pl.Int64),
        }
    )


def _threshold(offer) -> float:
    return coupon_threshold(offer.name, offer.face_value) if offer.coupon_code else 0.0


def success_events(members: pl.DataFrame, campaign: Campaign, wave_id: str) -> pl.DataFrame:
    """Converted members with a benefit offer log in and use it (seconds apart); engaged members who did
    not convert sometimes log in and leave (no benefit use)."""
    benefit = {o: offer.benefit_code for o, offer in campaign.offers.items() if offer.benefit_code}
    users = members.filter(pl.col("converted") & pl.col("offer_id").is_in(list(benefit)))
    visitors = members.filter(pl.col("login_on").is_not_null())
    platform = _platform("platform_draw")
    login = pl.col("day") * SECONDS_PER_DAY + pl.col("second")
    logins = pl.concat(
        [
            users.select("member_id", day="success_on", second="success_second", platform=platform),
            visitors.select(
                "member_id", day="login_on", second="login_second", platform=_platform("login_platform_draw")
            ),
        ]
    ).select(
        "member_id",
        "day",
        event_time=login,
        event_type=pl.lit("login"),
        platform="platform",
        page=pl.lit("login"),
        benefit_code=pl.lit(None, pl.String),
        dwell_seconds=pl.lit(3, pl.Int64),
    )
    uses = users.select(
        "member_id",
        day="success_on",
        event_time=pl.col("success_on") * SECONDS_PER_DAY + pl.col("success_second") + 45,
        event_type=pl.lit("benefit_use"),
        platform=platform,
        page=pl.lit("benefit_center"),
        benefit_code=pl.col("offer_id").replace_strict(benefit, default=None),
        dwell_seconds=pl.lit(40, pl.Int64),
    )
    events = pl.concat([logins, uses]).sort("event_time", "member_id", "event_type")
    return events.select(
        event_id=_ids("EWB", wave_id, events["day"].to_numpy()),
        member_id="member_id",
        event_time="event_time",
        event_type="event_type",
        platform="platform",
        page="page",
        benefit_code="benefit_code",
        dwell_seconds="dwell_seconds",
    )


def _platform(draw: str) -> pl.Expr:
    return pl.when(pl.col(draw) < APP_SHARE).then(pl.lit("app")).otherwise(pl.lit("mini_program"))


def _online_channel(draw: pl.Series) -> pl.Series:
    edges = np.cumsum([weight for _, weight in ONLINE_CHANNELS])
    index = np.minimum(np.searchsorted(edges, draw.to_numpy(), side="right"), len(ONLINE_CHANNELS) - 1)
    return pl.Series("channel", [name for name, _ in ONLINE_CHANNELS], dtype=pl.String).gather(index)


def _ids(prefix: str, wave_id: str, day: np.ndarray) -> pl.Series:
    """Ids that never meet the base generator's (O2025..., E2025...): <prefix>-<wave>-<YYYYMMDD>-<n>."""
    days = pl.Series(day, dtype=pl.Int64)
    text = pl.select(pl.from_epoch(days, "d").dt.strftime("%Y%m%d")).to_series()
    number = pl.int_range(1, len(day) + 1, eager=True).cast(pl.String).str.zfill(6)
    return (f"{prefix}-{wave_id}-" + text + "-" + number).alias("id")


def write_wave_files(landing_dir: Path, wave_id: str, feedback, orders, events) -> list[str]:
    """Write the wave's files (after removing an earlier simulation's); returns their relative paths."""
    remove_wave_files(landing_dir, wave_id)
    written = []
    feedback = feedback.with_columns(_folder=pl.col("event_time") // SECONDS_PER_DAY + 1)
    for code, (stem, style) in FEEDBACK_FILES.items():
        rows = feedback.filter(pl.col("channel") == code)
        written += _by_day(landing_dir, OUTREACH_FEEDBACK, rows, f"{stem}_{{day}}_{wave_id}.csv", style)
    orders = orders.with_columns(_folder=pl.col("order_time") // SECONDS_PER_DAY)
    written += _by_day(landing_dir, ORDERS, orders, f"{ORDER_STEM}_{{day}}_winback_{wave_id}.jsonl", JSON_LINES)
    events = events.with_columns(_folder=pl.col("event_time") // SECONDS_PER_DAY)
    written += _by_day(landing_dir, EVENTS, events, f"{EVENT_STEM}_{{day}}_winback_{wave_id}.jsonl", JSON_LINES)
    return written


def _by_day(landing_dir: Path, source: Source, rows: pl.DataFrame, name: str, style: FileStyle) -> list[str]:
    written = []
    for (folder_day,), part in sorted(rows.partition_by("_folder", as_dict=True).items()):
        day = day_date(folder_day)
        relative = f"{source.name}/{day.isoformat()}/{name.format(day=day.strftime('%Y%m%d'))}"
        path = Path(landing_dir) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(render(part.drop("_folder"), source, style))
        written.append(relative)
    return written

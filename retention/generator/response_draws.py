"""What each contacted member does after a wave's touches, drawn for all touches at once.

Every touch gets its own fixed row of uniform draws (one column per decision), in touch_id order, so
the outcome of a touch depends only on (seed, wave, touch) and changing one probability never shifts
another decision's draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from retention.generator.common import SECONDS_PER_DAY, day_number
from retention.generator.response_parameters import UNKNOWN, ResponseParameters

# Columns of the per-touch uniform draws.
_REACH, _OPEN, _CLICK, _UNSUBSCRIBE, _CONVERT, _SEND, _DELAY, _OPEN_DELAY, _SUCCESS_DAY, _LOGIN = range(10)
_SUCCESS_TIME, _PLATFORM, _DRAWS = 10, 11, 12
SEND_HOUR, SEND_SPREAD_HOURS = 10, 2  # SMS and push go out from 10:00 over two hours
CALL_HOUR, CALL_SPREAD_HOURS = 9.5, 8  # calls between 9:30 and 17:30
MEAN_OPEN_DELAY_SECONDS = 3 * 3600
FEEDBACK_CHANNEL = {"sms": "sms", "push": "push", "call": "phone"}  # touch channel -> feedback contract code


@dataclass(frozen=True)
class Responses:
    feedback: pl.DataFrame  # message_id, batch_id, member_id, channel (feedback code), status, event_time (s)
    # One row per contacted member: member_id, channels, offer_id, tier, persona, p_convert, converted,
    # success_on (day number), success_second, platform_draw, extra_spend_draw; for an engaged member who
    # did not convert but logs in: login_on (day number), login_second, login_platform_draw.
    members: pl.DataFrame


def draw_responses(
    touches: pl.DataFrame,
    params: ResponseParameters,
    window_end: date,
    rng: np.random.Generator,
) -> Responses:
    """`touches`: touch_id, batch_id, member_id, channel (sms|push|call), touch_date, offer_id, tier, persona.

    A success happens on a day after the member engaged and at most `window_end` (the wave's attribution
    window end), front-loaded: most members act within days of the touch."""
    touches = touches.sort("touch_id")
    n = touches.height
    u = rng.random((n, _DRAWS))
    extra_spend_normal = rng.standard_normal(n)
    channels = touches["channel"]
    channel = channels.to_numpy()
    is_call = channel == "call"
    day = touches["touch_date"].cast(pl.Int64).to_numpy()  # day numbers

    reach_p = np.where(is_call, params.answered, _by(channels, params.delivered, 1.0))
    reached = u[:, _REACH] < reach_p
    opened = reached & (is_call | (u[:, _OPEN] < _by(channels, params.opened, 0.0)))
    unsubscribe_p = _by(channels, params.unsubscribed, 0.0)
    unsubscribed = reached & (u[:, _UNSUBSCRIBE] < unsubscribe_p)
    engaged = opened & ~unsubscribed
    clicked = engaged & ~is_call & (u[:, _CLICK] < params.clicked_given_opened)

    start = np.where(
        is_call,
        day * SECONDS_PER_DAY + (CALL_HOUR + u[:, _SEND] * CALL_SPREAD_HOURS) * 3600,
        day * SECONDS_PER_DAY + (SEND_HOUR + u[:, _SEND] * SEND_SPREAD_HOURS) * 3600,
    ).astype(np.int64)
    receipt = start + np.where(is_call, 0, 5 + (u[:, _DELAY] * 115).astype(np.int64))
    open_time = receipt + np.where(
        is_call, 0, (-np.log1p(-u[:, _OPEN_DELAY]) * MEAN_OPEN_DELAY_SECONDS).astype(np.int64)
    )
    engaged_day = open_time // SECONDS_PER_DAY

    p_convert = np.minimum(
        _by(touches["offer_id"], params.conversion, params.default_conversion)
        * _by(channels, params.channel_factor, 1.0)
        * _by(touches["tier"], params.tier_factor, params.tier_factor.get(UNKNOWN, 1.0))
        * _by(touches["persona"], params.persona_factor, params.persona_factor.get(UNKNOWN, 1.0)),
        1.0,
    )
    p_engaged = reach_p * np.where(is_call, 1.0, _by(channels, params.opened, 0.0)) * (1 - unsubscribe_p)
    last = day_number(window_end)
    first = engaged_day + 1
    in_window = first <= last
    action_day = first + np.floor(u[:, _SUCCESS_DAY] ** 2 * np.maximum(last - first + 1, 0)).astype(np.int64)
    converts = engaged & in_window & (u[:, _CONVERT] < p_convert)
    logs_in = engaged & in_window & ~converts & (u[:, _LOGIN] < params.login_without_conversion)

    feedback = _feedback(touches, channel, reached, opened, clicked, unsubscribed, start, receipt, open_time, u)
    per_touch = touches.select("touch_id", "member_id", "channel", "offer_id", "tier", "persona").with_columns(
        p_touch=pl.Series(p_engaged * p_convert),
        converts=pl.Series(converts),
        logs_in=pl.Series(logs_in),
        action_day=pl.Series(action_day),
        success_second=pl.Series((8 + u[:, _SUCCESS_TIME] * 14) * 3600).cast(pl.Int64),
        platform_draw=pl.Series(u[:, _PLATFORM]),
        extra_spend_draw=pl.Series(extra_spend_normal),
    )
    return Responses(feedback, _members(per_touch))


def _by(keys: pl.Series, values: dict[str, float], default: float) -> np.ndarray:
    """values[key] for every key (missing or unknown keys: default), without a Python loop over rows."""
    return keys.replace_strict(values, default=default, return_dtype=pl.Float64).fill_null(default).to_numpy()


def _feedback(touches, channel, reached, opened, clicked, unsubscribed, start, receipt, open_time, u):
    """Receipts as the gateways report them: sms/push sent, then delivered or failed, opened, clicked,
    unsubscribed; calls answered or no_answer, then unsubscribed (asked not to be called again)."""
    is_call = channel == "call"
    unsubscribe_time = np.where(is_call, start + 60 + (u[:, _CLICK] * 540).astype(np.int64), open_time + 30)
    unsubscribe_time = np.where(opened, unsubscribe_time, receipt + 600)
    statuses = [
        ("sent", ~is_call, start),
        ("delivered", ~is_call & reached, receipt),
        ("failed", ~is_call & ~reached, receipt),
        ("opened", ~is_call & opened, open_time),
        ("clicked", clicked, open_time + 10 + (u[:, _CLICK] * 290).astype(np.int64)),
        ("answered", is_call & reached, start),
        ("no_answer", is_call & ~reached, start),
        ("unsubscribed", unsubscribed, unsubscribe_time),
    ]
    base = touches.select(
        pl.col("touch_id").alias("message_id"),
        "batch_id",
        "member_id",
        pl.col("channel").replace_strict(FEEDBACK_CHANNEL).alias("channel"),
    )
    frames = [
        base.with_columns(status=pl.lit(status), event_time=pl.Series(time, dtype=pl.Int64)).filter(pl.Series(mask))
        for status, mask, time in statuses
    ]
    return pl.concat(frames).sort("event_time", "message_id", "status")


def _members(per_touch: pl.DataFrame) -> pl.DataFrame:
    """One row per member: converted when any touch converts, on the earliest such day (ties: touch_id)."""
    first_success = (
        per_touch.filter("converts")
        .sort("action_day", "touch_id")
        .group_by("member_id", maintain_order=True)
        .first()
        .select(
            "member_id",
            pl.col("action_day").alias("success_on"),
            "success_second",
            "platform_draw",
            "extra_spend_draw",
        )
    )
    first_login = (
        per_touch.filter("logs_in")
        .sort("action_day", "touch_id")
        .group_by("member_id", maintain_order=True)
        .first()
        .select(
            "member_id",
            pl.col("action_day").alias("login_on"),
            pl.col("success_second").alias("login_second"),
            pl.col("platform_draw").alias("login_platform_draw"),
        )
    )
    members = per_touch.group_by("member_id").agg(
        pl.col("channel").unique().sort().str.join("+").alias("channels"),
        pl.col("offer_id").first(),
        pl.col("tier").drop_nulls().first().fill_null(UNKNOWN),
        pl.col("persona").first(),
        (1 - (1 - pl.col("p_touch")).product()).alias("p_convert"),
    )
    return (
        members.join(first_success, on="member_id", how="left")
        .join(first_login, on="member_id", how="left")
        .with_columns(
            converted=pl.col("success_on").is_not_null(),
            # A converted member's success already includes what a login alone would show.
            login_on=pl.when(pl.col("success_on").is_null()).then(pl.col("login_on")),
        )
        .sort("member_id")
    )

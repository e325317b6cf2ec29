"""Who a wave targets, with which offer and channels: pure functions over one Polars frame per wave.

`plan_wave` takes the wave's pool (one row per member, as of the wave date, see POOL_SCHEMA) and what
the touch log says about earlier waves, and gives every member of the pool exactly one outcome:

    excluded_by_review, not_high_risk, not_recoverable (the reactivation list), below_min_spend,
    reason_not_targeted, responded, no_consent, cut_by_target_size, deferred_by_cap,
    cut_by_sms_quota, cut_by_budget, holdout, treated

in that order of precedence. Treated members get one touch per channel. The constraints are applied in
priority order, so what is cut is always the bottom of the list.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from retention.outreach.campaign import Campaign, Wave

POOL_SCHEMA = {
    "member_key": pl.Utf8,
    "risk_level": pl.Utf8,
    "reasons": pl.List(pl.Utf8),
    "flag_count": pl.Int64,
    "tier": pl.Utf8,
    "is_high_value": pl.Boolean,
    "spend_12m": pl.Float64,
    "days_inactive": pl.Int64,
    "consent_sms": pl.Boolean,
    "consent_push": pl.Boolean,
    "consent_phone": pl.Boolean,
    # The member's latest CRM delivery has a mobile number: SMS and calls need one.
    "has_mobile": pl.Boolean,
    # non_responders waves: the member bought, or logged in and used a benefit, since the previous wave.
    "responded": pl.Boolean,
}

CONSENT_OF = {"sms": "consent_sms", "push": "consent_push", "call": "consent_phone"}
NEEDS_MOBILE = ("sms", "call")
# Unknown consent is no consent.
NO_UNLESS_KNOWN = ("consent_sms", "consent_push", "consent_phone", "has_mobile")
FLAGS_TOTAL = 5
TARGETED = ("holdout", "treated")


@dataclass(frozen=True)
class LoggedTouches:
    """What earlier waves of the campaign did, from the durable log."""

    holdout_keys: frozenset[str]  # control for the whole campaign
    treated_keys: frozenset[str]  # contacted by an earlier wave: never drawn into the control later
    touches_this_month: dict[str, int]  # member_key -> exported touches in the wave date's calendar month
    sms_used: int
    budget_used: float

    @classmethod
    def none(cls) -> LoggedTouches:
        return cls(frozenset(), frozenset(), {}, 0, 0.0)


@dataclass(frozen=True)
class WavePlan:
    members: pl.DataFrame  # one row per pool member: outcome, rank, score, band, offer, channels, costs
    touches: pl.DataFrame  # one row per treated member and channel (and per holdout member's would-be channel)
    sms_remaining_before: int
    budget_remaining_before: float

    def outcome_counts(self) -> dict[str, int]:
        return outcome_counts(self.members)

    @property
    def expected_cost(self) -> float:
        return treated_cost(self.members)


def outcome_counts(members: pl.DataFrame) -> dict[str, int]:
    """Members per outcome, in outcome order."""
    counts = members.group_by("outcome").len().sort("outcome")
    return dict(zip(counts["outcome"].to_list(), counts["len"].to_list(), strict=True))


def treated_cost(members: pl.DataFrame) -> float:
    """Expected offer cost of the treated members."""
    return round(float(members.filter(pl.col("outcome") == "treated")["expected_cost"].sum()), 2)


def stable_fraction(*parts: str) -> float:
    """A number in [0, 1) fixed by its inputs: the campaign's holdout draw is reproducible anywhere."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def plan_wave(
    campaign: Campaign,
    wave: Wave,
    pool: pl.DataFrame,
    logged: LoggedTouches,
    *,
    excluded: frozenset[str] = frozenset(),
    included: frozenset[str] = frozenset(),
) -> WavePlan:
    pool = pool.select([pl.col(name).cast(dtype) for name, dtype in POOL_SCHEMA.items()]).with_columns(
        pl.col(NO_UNLESS_KNOWN).fill_null(False)
    )
    members = _screen(campaign, wave, pool, excluded, included)
    members = _rank(campaign, members)
    members = _offer(wave, members)
    members = _route(campaign, members)
    members = _cut_by_target_size(campaign, members)
    members = _apply_caps(campaign, wave, members, logged.touches_this_month)
    # Drawn among the members who can be contacted now, so control and treated are alike.
    members = _assign_holdout(campaign, members, logged)
    members = _schedule_calls(campaign, wave, members)
    sms_remaining = _sms_remaining(campaign, wave, logged.sms_used)
    members = _apply_sms_quota(members, sms_remaining)
    budget_remaining = round(campaign.budget_cny - logged.budget_used, 2)
    members = _apply_budget(campaign, members, budget_remaining)
    members = members.with_columns(
        pl.when(pl.col("outcome") == "treated").then(pl.col("offer_cost")).otherwise(0.0).alias("expected_cost"),
        pl.when(pl.col("outcome") == "treated")
        .then(pl.col("channels").list.eval(pl.element().replace_strict(_unit_costs(campaign))).list.sum())
        .otherwise(0.0)
        .alias("channel_cost"),
    ).sort("priority_rank", "member_key", nulls_last=True)
    return WavePlan(members, _touches(campaign, wave, members), sms_remaining, budget_remaining)


def _screen(campaign: Campaign, wave: Wave, pool: pl.DataFrame, excluded, included) -> pl.DataFrame:
    rules = campaign.eligibility
    forced = pl.col("member_key").is_in(list(included))
    reason_match = (
        pl.col("reasons").list.set_intersection(list(rules.reasons_any)).list.len() > 0
        if rules.reasons_any
        else pl.lit(True)
    )
    any_consent = pl.any_horizontal(pl.col(column) for column in CONSENT_OF.values())
    if wave.audience == "eligible":
        outcome = (
            pl.when(pl.col("member_key").is_in(list(excluded)))
            .then(pl.lit("excluded_by_review"))
            .when(forced)
            .then(pl.lit(None, pl.Utf8))
            .when(~pl.col("risk_level").is_in(list(rules.risk_levels)))
            .then(pl.lit("not_high_risk"))
            # An unknown inactivity or spend fails its screen: never contact on missing evidence.
            .when((pl.col("days_inactive") > rules.recoverable_within_days).fill_null(True))
            .then(pl.lit("not_recoverable"))
            .when((pl.col("spend_12m") < rules.min_spend_12m).fill_null(True))
            .then(pl.lit("below_min_spend"))
            .when(~reason_match)
            .then(pl.lit("reason_not_targeted"))
        )
    else:
        outcome = (
            pl.when(pl.col("member_key").is_in(list(excluded)))
            .then(pl.lit("excluded_by_review"))
            .when(pl.col("responded").fill_null(False))
            .then(pl.lit("responded"))
        )
    outcome = outcome.when(~any_consent).then(pl.lit("no_consent")).otherwise(pl.lit(None, pl.Utf8))
    return pool.with_columns(outcome.alias("outcome"), forced.alias("force_included"))


def _rank(campaign: Campaign, members: pl.DataFrame) -> pl.DataFrame:
    """Priority score = spend_12m × flag_count / 5 (value at risk) + reason points + tier points."""
    priority = campaign.priority
    reason_points = pl.col("reasons").list.eval(
        pl.element().replace_strict(priority.reason_points, default=0.0, return_dtype=pl.Float64)
    )
    score = (
        pl.col("spend_12m").fill_null(0.0) * pl.col("flag_count").fill_null(0) / FLAGS_TOTAL
        + reason_points.list.sum().fill_null(0.0)
        + pl.col("tier").replace_strict(priority.tier_points, default=0.0, return_dtype=pl.Float64)
    ).round(2)
    band = pl.lit(priority.bands[-1].name if priority.bands else "all")
    for item in reversed(priority.bands[:-1]):
        band = pl.when(score >= item.min_score).then(pl.lit(item.name)).otherwise(band)
    members = members.with_columns(score.alias("priority_score"), band.alias("priority_band"))
    candidates = members.filter(pl.col("outcome").is_null()).sort(
        ["force_included", "priority_score", "flag_count", "member_key"], descending=[True, True, True, False]
    )
    ranks = candidates.select("member_key").with_row_index("priority_rank", offset=1)
    return members.join(ranks, on="member_key", how="left")


def _assign_holdout(campaign: Campaign, members: pl.DataFrame, logged: LoggedTouches) -> pl.DataFrame:
    """Control members. Those held out by an earlier wave stay control, those treated stay treated. Members
    targeted for the first time are drawn by systematic
    sampling from the list sorted by priority band, tier and a hash of campaign and member key, from a
    start fixed by the campaign id: every 1/share-th member, so each band × tier stratum gives its share
    (implicit stratification) and the total is share × list size at any list size, even a small one."""
    share = campaign.holdout.share
    ranked = members.filter(pl.col("outcome").is_null())
    fresh = (
        ranked.filter(~pl.col("member_key").is_in(list(logged.holdout_keys | logged.treated_keys)))
        .with_columns(
            pl.col("member_key")
            .map_elements(lambda key: stable_fraction(campaign.campaign_id, key), return_dtype=pl.Float64)
            .alias("_draw")
        )
        .sort("priority_band", "tier", "_draw")
        .with_row_index("_position")
    )
    start = stable_fraction(campaign.campaign_id, "holdout start")
    position = pl.col("_position").cast(pl.Float64)
    drawn = fresh.filter(((position + 1) * share + start).floor() > (position * share + start).floor())
    holdout = set(drawn["member_key"].to_list()) | (set(ranked["member_key"].to_list()) & logged.holdout_keys)
    return members.with_columns(pl.col("member_key").is_in(list(holdout)).alias("is_holdout"))


def _offer(wave: Wave, members: pl.DataFrame) -> pl.DataFrame:
    offer = pl.lit(None, pl.Utf8)
    for rule in reversed(wave.offers):
        condition = pl.lit(True)
        if rule.reasons_any:
            condition = condition & (pl.col("reasons").list.set_intersection(list(rule.reasons_any)).list.len() > 0)
        if rule.high_value is not None:
            condition = condition & (pl.col("is_high_value") == rule.high_value)
        offer = pl.when(condition).then(pl.lit(rule.offer)).otherwise(offer)
    return members.with_columns(offer.alias("offer_id"))


def _consented(channels: tuple[str, ...]) -> pl.Expr:
    """The channels of a routing list the member consented to (and, for SMS and calls, has a mobile
    for), in the list's order."""
    picked = [
        pl.when(pl.col(CONSENT_OF[channel]) & (pl.col("has_mobile") if channel in NEEDS_MOBILE else True)).then(
            pl.lit(channel)
        )
        for channel in channels
    ]
    return pl.concat_list(picked).list.drop_nulls() if picked else pl.lit([], pl.List(pl.Utf8))


def _route(campaign: Campaign, members: pl.DataFrame) -> pl.DataFrame:
    routing = campaign.routing
    channels = (
        pl.when(pl.col("is_high_value")).then(_consented(routing.high_value)).otherwise(_consented(routing.others))
    )
    members = members.with_columns(channels.alias("channels"))
    # A member the routing cannot reach (e.g. only phone consent, not high value) has no channel.
    unreachable = pl.col("outcome").is_null() & (pl.col("channels").list.len() == 0)
    members = members.with_columns(
        pl.when(unreachable).then(pl.lit("no_consent")).otherwise(pl.col("outcome")).alias("outcome")
    )
    # Ranks count the members who can be reached, without gaps, so every cut by rank means what it says.
    open_rank = pl.when(pl.col("outcome").is_null()).then(pl.col("priority_rank")).rank("ordinal")
    return members.with_columns(open_rank.cast(pl.UInt32).alias("priority_rank"))


def _cut_by_target_size(campaign: Campaign, members: pl.DataFrame) -> pl.DataFrame:
    limit = campaign.priority.max_targets
    if limit is None:
        return members
    return members.with_columns(
        pl.when(pl.col("outcome").is_null() & (pl.col("priority_rank") > limit))
        .then(pl.lit("cut_by_target_size"))
        .otherwise(pl.col("outcome"))
        .alias("outcome")
    )


def _apply_caps(campaign: Campaign, wave: Wave, members: pl.DataFrame, used: dict[str, int]) -> pl.DataFrame:
    """At most caps.<kind> touches per member per calendar month: keep the first channels that fit;
    a member with no room left is deferred to the first day of the next month."""
    used_frame = pl.DataFrame(
        {"member_key": list(used), "touches_this_month": list(used.values())},
        schema={"member_key": pl.Utf8, "touches_this_month": pl.Int64},
    )
    caps = campaign.caps
    members = members.join(used_frame, on="member_key", how="left").with_columns(
        pl.col("touches_this_month").fill_null(0)
    )
    room = (
        pl.when(pl.col("is_high_value")).then(pl.lit(caps.high_value)).otherwise(pl.lit(caps.others))
        - pl.col("touches_this_month")
    ).clip(lower_bound=0)
    # Would-be control members too: the holdout is drawn after this, among members with room.
    contacted = pl.col("outcome").is_null()
    next_month = next_month_start(wave.wave_date)
    return members.with_columns(room.alias("cap_room")).with_columns(
        pl.when(contacted & (pl.col("cap_room") == 0))
        .then(pl.lit("deferred_by_cap"))
        .otherwise(pl.col("outcome"))
        .alias("outcome"),
        pl.when(contacted & (pl.col("cap_room") == 0))
        .then(pl.lit(next_month))
        .otherwise(pl.lit(None, pl.Date))
        .alias("deferred_until"),
        (contacted & (pl.col("channels").list.len() > pl.col("cap_room")) & (pl.col("cap_room") > 0)).alias(
            "trimmed_by_cap"
        ),
        pl.when(contacted & (pl.col("cap_room") > 0))
        .then(pl.col("channels").list.head(pl.col("cap_room")))
        .otherwise(pl.col("channels"))
        .alias("channels"),
    )


def _schedule_calls(campaign: Campaign, wave: Wave, members: pl.DataFrame) -> pl.DataFrame:
    """Calls go to the highest-priority members within the wave's call capacity (agents × calls a day
    × days); the rest fall back to routing.call_overflow, within their consent and cap."""
    call = campaign.channels["call"]
    capacity = call.capacity_per_day * call.days
    wants_call_at_all = pl.col("outcome").is_null() & pl.col("channels").list.contains("call")
    wants_call = wants_call_at_all & ~pl.col("is_holdout")
    members = members.with_columns(
        pl.when(wants_call).then(pl.col("priority_rank")).otherwise(None).rank("ordinal").alias("_call_order")
    )
    overflow = wants_call & (pl.col("_call_order") > capacity)
    # A control member's channels are what they would have got: no call below the last treated member called.
    holdout_overflow = wants_call_at_all & pl.col("is_holdout") & _below_last_served(members, wants_call, overflow)
    fallback = _consented(campaign.routing.call_overflow)
    rerouted = (
        pl.concat_list(pl.col("channels").list.set_difference(["call"]), fallback).list.unique(maintain_order=True)
    ).list.head(pl.col("cap_room"))
    per_day = max(call.capacity_per_day, 1)
    members = members.with_columns(
        overflow.alias("call_overflow"),
        pl.when(overflow | holdout_overflow).then(rerouted).otherwise(pl.col("channels")).alias("channels"),
        pl.when(wants_call & ~overflow)
        .then(pl.lit(wave.wave_date) + pl.duration(days=((pl.col("_call_order") - 1) // per_day)))
        .otherwise(None)
        .cast(pl.Date)
        .alias("call_date"),
    ).drop("_call_order")
    # Control members stay control whatever their would-be channels (the holdout is drawn before).
    stranded = pl.col("outcome").is_null() & ~pl.col("is_holdout") & (pl.col("channels").list.len() == 0)
    return members.with_columns(
        pl.when(stranded).then(pl.lit("no_consent")).otherwise(pl.col("outcome")).alias("outcome")
    )


def _below_last_served(members: pl.DataFrame, wanted: pl.Expr, over: pl.Expr) -> pl.Expr:
    """Ranked after the last treated member a limited channel (call capacity, SMS quota) still served, when it
    ran out: where a control member would have fallen had they been treated. False when it did not run out."""
    if members.filter(over).height == 0:
        return pl.lit(False)
    served = members.filter(wanted & ~over)["priority_rank"]
    return pl.lit(True) if served.len() == 0 else pl.col("priority_rank") > served.max()


def _sms_remaining(campaign: Campaign, wave: Wave, sms_used: int) -> int:
    remaining = max(campaign.sms_quota - sms_used, 0)
    return min(remaining, wave.sms_quota) if wave.sms_quota is not None else remaining


def _apply_sms_quota(members: pl.DataFrame, remaining: int) -> pl.DataFrame:
    """SMS go to the highest-priority members within the quota; others keep their other channels, and
    a member left with none is cut by the quota."""
    wants_sms_at_all = pl.col("outcome").is_null() & pl.col("channels").list.contains("sms")
    wants_sms = wants_sms_at_all & ~pl.col("is_holdout")
    members = members.with_columns(
        pl.when(wants_sms).then(pl.col("priority_rank")).otherwise(None).rank("ordinal").alias("_sms_order")
    )
    over = wants_sms & (pl.col("_sms_order") > remaining)
    holdout_over = wants_sms_at_all & pl.col("is_holdout") & _below_last_served(members, wants_sms, over)
    members = members.with_columns(
        over.alias("sms_over_quota"),
        pl.when(over | holdout_over)
        .then(pl.col("channels").list.set_difference(["sms"]))
        .otherwise(pl.col("channels"))
        .alias("channels"),
    ).drop("_sms_order")
    return members.with_columns(
        pl.when(pl.col("sms_over_quota") & (pl.col("channels").list.len() == 0))
        .then(pl.lit("cut_by_sms_quota"))
        .otherwise(pl.col("outcome"))
        .alias("outcome")
    )


def _apply_budget(campaign: Campaign, members: pl.DataFrame, remaining: float) -> pl.DataFrame:
    """The batch is the longest head of the priority list whose treated members' expected offer cost
    fits the remaining budget; everyone from the first member that does not fit is cut by budget."""
    costs = {offer_id: offer.expected_cost for offer_id, offer in campaign.offers.items()}
    members = members.with_columns(
        pl.col("offer_id").replace_strict(costs, default=0.0, return_dtype=pl.Float64).alias("offer_cost")
    )
    open_rows = pl.col("outcome").is_null()
    ordered = members.filter(open_rows).sort("priority_rank")
    ordered = ordered.with_columns(
        pl.when(pl.col("is_holdout")).then(0.0).otherwise(pl.col("offer_cost")).cum_sum().alias("_spent")
    )
    first_over = ordered.filter(pl.col("_spent") > remaining + 1e-9)["priority_rank"].min()
    limit = first_over if first_over is not None else math.inf
    return members.with_columns(
        pl.when(open_rows & (pl.col("priority_rank") >= limit))
        .then(pl.lit("cut_by_budget"))
        .when(open_rows & pl.col("is_holdout"))
        .then(pl.lit("holdout"))
        .when(open_rows)
        .then(pl.lit("treated"))
        .otherwise(pl.col("outcome"))
        .alias("outcome")
    )


def _unit_costs(campaign: Campaign) -> dict[str, float]:
    return {name: channel.unit_cost for name, channel in campaign.channels.items()}


def _touches(campaign: Campaign, wave: Wave, members: pl.DataFrame) -> pl.DataFrame:
    batch_id = campaign.batch_id(wave)
    targeted = members.filter(pl.col("outcome").is_in(TARGETED)).select(
        "member_key", "outcome", "is_holdout", "offer_id", "channels", "call_date", "priority_rank", "is_high_value"
    )
    touches = targeted.explode("channels").rename({"channels": "channel"}).filter(pl.col("channel").is_not_null())
    touch_id = pl.concat_str([pl.lit(batch_id), pl.col("member_key"), pl.col("channel")], separator="|").map_elements(
        lambda text: hashlib.sha256(text.encode()).hexdigest()[:20], return_dtype=pl.Utf8
    )
    return touches.select(
        touch_id.alias("touch_id"),
        pl.lit(campaign.campaign_id).alias("campaign_id"),
        pl.lit(wave.wave_id).alias("wave_id"),
        pl.lit(batch_id).alias("batch_id"),
        pl.lit(wave.wave_date).alias("wave_date"),
        pl.when(pl.col("channel") == "call")
        .then(pl.col("call_date"))
        .otherwise(pl.lit(wave.wave_date))
        .fill_null(pl.lit(wave.wave_date))
        .alias("send_date"),
        "member_key",
        "channel",
        "offer_id",
        (pl.col("offer_id") + "." + pl.col("channel")).alias("template_key"),
        "is_holdout",
        pl.when(pl.col("is_holdout")).then(pl.lit("holdout")).otherwise(pl.lit("exported")).alias("status"),
        "priority_rank",
        pl.when(pl.col("is_high_value"))
        .then(pl.lit(campaign.caps.high_value))
        .otherwise(pl.lit(campaign.caps.others))
        .alias("monthly_cap"),
    ).sort("priority_rank", "channel")


def minimum_detectable_lift(treated: int, control: int, baseline: float) -> float | None:
    """Smallest difference in response rate a two-sided 5% test detects with 80% power at these sizes
    (normal approximation, equal variance at the baseline rate)."""
    if treated == 0 or control == 0:
        return None
    z_alpha, z_power = 1.959964, 0.841621
    return (z_alpha + z_power) * math.sqrt(baseline * (1 - baseline) * (1 / treated + 1 / control))


def next_month_start(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)

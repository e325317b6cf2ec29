"""The true response model of the simulated win-back campaign: every probability in one place.

A touch is first reached (an SMS or push delivered, a call answered), then engaged (the push or the
SMS link opened; an answered call counts as engaged), unless the member unsubscribes. Each engaged
touch converts the member with probability

    conversion[offer] x channel_factor[channel] x tier_factor[tier] x persona_factor[persona]

(capped at 1); a member converts when any of their touches does. The defaults are chosen so that the
demo's first batch shows a clearly positive true lift (about 0.10-0.20) next to a holdout that no touch
ever reaches, so its true effect is zero by construction. truth.json records the values used.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

UNKNOWN = "unknown"


def _frozen(**values: float):
    return field(default_factory=lambda: dict(values))


@dataclass(frozen=True)
class ResponseParameters:
    # sms / push: share of messages the gateway or push service delivers (the rest fail).
    delivered: dict[str, float] = _frozen(sms=0.97, push=0.92)
    # sms / push: share of delivered messages opened (push tapped; for an SMS, its link's page opened:
    # the only open a gateway can see).
    opened: dict[str, float] = _frozen(sms=0.25, push=0.20)
    # Share of opened messages whose offer button is clicked (a feedback row; no effect on conversion).
    clicked_given_opened: float = 0.5
    # Calls: share answered (the rest no_answer). An answered call is engaged.
    answered: float = 0.6
    # Share of reached touches (delivered or answered) that end in unsubscribing: no engagement, no conversion.
    unsubscribed: dict[str, float] = _frozen(sms=0.02, push=0.005, call=0.03)
    # Conversion of an engaged touch by offer (offers not listed: default_conversion).
    conversion: dict[str, float] = _frozen(
        repurchase_coupon=0.45,
        login_gift=0.45,
        advanced_trial=0.45,
        basic_coupon=0.35,
        premium_trial_week=0.45,
        points_gift=0.35,
        final_discount=0.35,
    )
    default_conversion: float = 0.35
    channel_factor: dict[str, float] = _frozen(call=1.2, sms=1.0, push=0.9)
    # Tier from the channel files' tier_name_zh ("unknown" where a file has none).
    tier_factor: dict[str, float] = _frozen(basic=0.9, advanced=1.0, premium=1.15, unknown=1.0)
    # By the generator's persona (ground truth): habits that broke for good respond least.
    persona_factor: dict[str, float] = _frozen(
        loyal=1.3,
        growing=1.2,
        declining=1.0,
        dormant=0.6,
        churned=0.4,
        switching=0.7,
        new=1.0,
        occasional=0.8,
        unknown=1.0,
    )
    # An engaged member who does not convert logs in once anyway with this probability (no benefit use).
    login_without_conversion: float = 0.3
    # Coupon orders: gross amount = the coupon's threshold plus a lognormal extra of this median (CNY).
    extra_spend_median: float = 80.0
    extra_spend_sigma: float = 0.8

    def as_json(self) -> dict:
        return dataclasses.asdict(self)

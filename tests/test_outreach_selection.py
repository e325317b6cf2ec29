"""The wave planner on hand-made pools: every expected outcome, channel and cut is written out here.

Scores of the default campaign (priority: spend_12m x flag_count / 5 + reason points + tier points):
reasons frequency_drop (100) + overdue (50) and tier advanced (200) give spend x 2/5 + 350.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import polars as pl
import pytest

from retention.outreach.campaign import Caps, Channel, load_campaign
from retention.outreach.selection import LoggedTouches, minimum_detectable_lift, plan_wave
from retention.settings import project_root

DEFAULT = load_campaign(project_root() / "campaigns" / "winback_2025_autumn.yaml")
WAVE_1, WAVE_2 = DEFAULT.waves[0], DEFAULT.waves[1]


def key(n: int) -> str:
    return f"{n:064x}"


def member(n: int, **overrides) -> dict:
    row = {
        "member_key": key(n),
        "risk_level": "high",
        "reasons": ["frequency_drop", "overdue"],
        "flag_count": 2,
        "tier": "advanced",
        "is_high_value": False,
        "spend_12m": 2000.0,
        "days_inactive": 10,
        "consent_sms": True,
        "consent_push": True,
        "consent_phone": True,
        "has_mobile": True,
        "responded": None,
    }
    return {**row, **overrides}


def campaign(**changes):
    """The default campaign without a holdout (so channels and cuts are exact), with changes."""
    base = dataclasses.replace(DEFAULT, holdout=dataclasses.replace(DEFAULT.holdout, share=0.0))
    return dataclasses.replace(base, **changes)


def plan(pool_rows, wave=WAVE_1, logged=None, the_campaign=None, **review):
    the_campaign = the_campaign or campaign()
    return plan_wave(the_campaign, wave, pl.DataFrame(pool_rows), logged or LoggedTouches.none(), **review)


def decisions(result) -> dict[str, tuple]:
    rows = result.members.select("member_key", "outcome", "channels").iter_rows()
    return {member_key[-2:]: (outcome, tuple(channels or ())) for member_key, outcome, channels in rows}


def test_channels_follow_each_members_consent_and_value():
    result = plan(
        [
            member(1, consent_push=False, consent_phone=False),  # SMS only
            member(2, consent_sms=False, consent_phone=False),  # push only
            member(3, consent_sms=False, consent_push=False, consent_phone=False),  # nothing
            member(4, consent_sms=False, consent_push=False),  # phone only, not high value: no call
            member(5, consent_sms=False, consent_push=False, is_high_value=True, spend_12m=6000.0),  # call
            member(6, is_high_value=True, spend_12m=6000.0),  # everything, high value: call + push, no SMS
            member(7),  # everything, not high value: SMS + push
        ]
    )
    assert decisions(result) == {
        "01": ("treated", ("sms",)),
        "02": ("treated", ("push",)),
        "03": ("no_consent", ()),
        "04": ("no_consent", ()),
        "05": ("treated", ("call",)),
        "06": ("treated", ("call", "push")),
        "07": ("treated", ("sms", "push")),
    }
    touches = result.touches
    assert touches.filter(pl.col("member_key") == key(3)).height == 0
    assert sorted(touches.filter(pl.col("member_key") == key(6))["channel"].to_list()) == ["call", "push"]


def test_offers_follow_the_first_matching_rule():
    result = plan(
        [
            member(1, reasons=["frequency_drop", "competitor"]),  # switching intent beats the frequency drop
            member(2, reasons=["frequency_drop", "no_login"]),
            member(3, reasons=["no_login", "overdue"]),
            member(4, reasons=["overdue", "open_complaint"]),  # no rule of its own: the catch-all
        ]
    )
    offers = dict(result.members.select(pl.col("member_key").str.slice(62), "offer_id").iter_rows())
    assert offers == {"01": "advanced_trial", "02": "repurchase_coupon", "03": "login_gift", "04": "basic_coupon"}
    wave_2 = plan([member(1, is_high_value=True, spend_12m=9000.0), member(2)], wave=WAVE_2)
    offers = dict(wave_2.members.select(pl.col("member_key").str.slice(62), "offer_id").iter_rows())
    assert offers == {"01": "premium_trial_week", "02": "points_gift"}


def test_eligibility_recoverable_window_and_value_line():
    result = plan(
        [
            member(1, days_inactive=60),  # at the recoverable line: in
            member(2, days_inactive=61),  # beyond it: the reactivation list
            member(3, spend_12m=999.99),  # under the value line
            member(4, risk_level="medium"),
        ]
    )
    assert {k: v[0] for k, v in decisions(result).items()} == {
        "01": "treated",
        "02": "not_recoverable",
        "03": "below_min_spend",
        "04": "not_high_risk",
    }


def test_priority_order_and_budget_cut_from_the_bottom():
    # Scores 2350, 1950, 1550, 1150, 750 (spend x 2/5 + 350); every offer is the 7.50 repurchase coupon.
    pool = [member(n, spend_12m=spend) for n, spend in enumerate([3000.0, 1000.0, 5000.0, 2000.0, 4000.0], 1)]
    result = plan(pool, the_campaign=campaign(budget_cny=20.0))
    ranked = result.members.sort("priority_rank").select(
        pl.col("member_key").str.slice(62), "priority_rank", "priority_score", "outcome"
    )
    assert ranked.rows() == [
        ("03", 1, 2350.0, "treated"),
        ("05", 2, 1950.0, "treated"),  # 15.00 spent
        ("01", 3, 1550.0, "cut_by_budget"),  # 22.50 would exceed 20.00
        ("04", 4, 1150.0, "cut_by_budget"),
        ("02", 5, 750.0, "cut_by_budget"),
    ]
    assert result.expected_cost == 15.0
    # What earlier waves spent comes off the budget: 10.00 left buys one coupon.
    spent = LoggedTouches(frozenset(), frozenset(), {}, 0, 10.0)
    again = plan(pool, the_campaign=campaign(budget_cny=20.0), logged=spent)
    assert again.outcome_counts() == {"cut_by_budget": 4, "treated": 1}
    assert again.budget_remaining_before == 10.0


def test_call_capacity_overflow_falls_back_to_sms_and_push():
    one_agent = Channel("call", 3.0, agents=1, calls_per_agent_per_day=1, days=2)  # two calls per wave
    the_campaign = campaign(channels={**DEFAULT.channels, "call": one_agent})
    pool = [member(n, is_high_value=True, spend_12m=spend) for n, spend in [(1, 9000.0), (2, 8000.0), (3, 7000.0)]]
    result = plan(pool, the_campaign=the_campaign)
    rows = result.members.sort("priority_rank").select(
        pl.col("member_key").str.slice(62), "channels", "call_date", "call_overflow"
    )
    assert rows.rows() == [
        ("01", ["call", "push"], date(2025, 8, 15), False),
        ("02", ["call", "push"], date(2025, 8, 16), False),  # one call a day: the second on day two
        ("03", ["push", "sms"], None, True),  # beyond capacity: call_overflow channels, with consent
    ]
    calls = result.touches.filter(pl.col("channel") == "call").sort("priority_rank")
    assert calls["send_date"].to_list() == [date(2025, 8, 15), date(2025, 8, 16)]


def test_sms_quota_keeps_other_channels_and_cuts_members_left_with_none():
    pool = [
        member(1, spend_12m=5000.0, consent_push=False),
        member(2, spend_12m=4000.0, consent_push=False),
        member(3, spend_12m=3000.0),  # over the quota, but push remains
        member(4, spend_12m=2000.0, consent_push=False),  # over the quota, nothing remains
    ]
    result = plan(pool, the_campaign=campaign(sms_quota=2))
    assert decisions(result) == {
        "01": ("treated", ("sms",)),
        "02": ("treated", ("sms",)),
        "03": ("treated", ("push",)),
        "04": ("cut_by_sms_quota", ()),
    }
    used = LoggedTouches(frozenset(), frozenset(), {}, 2, 0.0)  # earlier waves used the whole quota
    assert plan(pool, the_campaign=campaign(sms_quota=2), logged=used).outcome_counts() == {
        "cut_by_sms_quota": 3,
        "treated": 1,
    }


def test_monthly_cap_trims_channels_then_defers_to_next_month():
    pool = [
        member(1, is_high_value=True, spend_12m=9000.0),  # call + push planned; 3 touches this month
        member(2, is_high_value=True, spend_12m=8000.0),  # 4 touches already: deferred
        member(3, spend_12m=3000.0),  # not high value, cap 6, 5 used: SMS only
    ]
    used = LoggedTouches(frozenset(), frozenset(), {key(1): 3, key(2): 4, key(3): 5}, 0, 0.0)
    result = plan(pool, logged=used, the_campaign=campaign(caps=Caps(high_value=4, others=6)))
    rows = result.members.sort("member_key").select(
        pl.col("member_key").str.slice(62), "outcome", "channels", "trimmed_by_cap", "deferred_until"
    )
    assert rows.rows() == [
        ("01", "treated", ["call"], True, None),
        ("02", "deferred_by_cap", ["call", "push"], False, date(2025, 9, 1)),
        ("03", "treated", ["sms"], True, None),
    ]
    assert result.touches.filter(pl.col("member_key") == key(2)).height == 0
    assert result.expected_cost == 15.0  # the deferred member costs nothing yet


def test_review_excludes_and_force_includes():
    pool = [member(1), member(2), member(3, risk_level="low", spend_12m=0.0, days_inactive=400)]
    result = plan(pool, excluded=frozenset({key(1)}), included=frozenset({key(3)}))
    ranked = result.members.sort("priority_rank", nulls_last=True).select(
        pl.col("member_key").str.slice(62), "outcome", "priority_rank", "force_included"
    )
    assert ranked.rows() == [
        ("03", "treated", 1, True),  # forced in: ranked first, whatever its risk and value
        ("02", "treated", 2, False),
        ("01", "excluded_by_review", None, False),
    ]


def test_target_size_cap():
    pool = [member(n, spend_12m=1000.0 * (10 - n)) for n in range(1, 6)]
    the_campaign = campaign(priority=dataclasses.replace(DEFAULT.priority, max_targets=3))
    result = plan(pool, the_campaign=the_campaign)
    assert result.members.sort("priority_rank")["outcome"].to_list() == [
        "treated",
        "treated",
        "treated",
        "cut_by_target_size",
        "cut_by_target_size",
    ]


def test_holdout_share_is_exact_per_list_stable_and_kept_across_waves():
    half = dataclasses.replace(DEFAULT.holdout, share=0.5)
    the_campaign = campaign(holdout=half)
    pool = [member(n) for n in range(1, 11)]  # one stratum (band B, tier advanced) of 10
    first = plan(pool, the_campaign=the_campaign)
    held = set(first.members.filter(pl.col("outcome") == "holdout")["member_key"])
    assert len(held) == 5
    assert first.touches.filter(pl.col("is_holdout"))["status"].unique().to_list() == ["holdout"]
    again = plan(list(reversed(pool)), the_campaign=the_campaign)  # row order changes nothing
    assert set(again.members.filter(pl.col("outcome") == "holdout")["member_key"]) == held
    # A later wave: earlier control stays control, earlier treated stay treated, whatever the new draw.
    treated = frozenset(key(n) for n in range(1, 11)) - held
    logged = LoggedTouches(frozenset(held), treated, {}, 0, 0.0)
    later = plan(pool[:6], wave=WAVE_2, logged=logged, the_campaign=the_campaign)
    later_held = set(later.members.filter(pl.col("outcome") == "holdout")["member_key"])
    assert later_held == held & {key(n) for n in range(1, 7)}


def test_holdout_is_drawn_per_band_and_tier():
    tenth = dataclasses.replace(DEFAULT.holdout, share=0.1)
    pool = [member(n, tier="premium", spend_12m=10000.0) for n in range(1, 31)]  # band A, premium
    pool += [member(n, tier="advanced", spend_12m=2000.0) for n in range(31, 101)]  # band B (1150), advanced
    result = plan(pool, the_campaign=campaign(holdout=tenth))
    held = result.members.filter(pl.col("outcome") == "holdout")
    assert held.height == 10
    assert held.group_by("priority_band", "tier").len().sort("priority_band").rows() == [
        ("A", "premium", 3),
        ("B", "advanced", 7),
    ]


def test_non_responders_wave_skips_members_who_responded():
    pool = [member(1, responded=True), member(2, responded=False), member(3, responded=None)]
    result = plan(pool, wave=WAVE_2)
    assert {k: v[0] for k, v in decisions(result).items()} == {"01": "responded", "02": "treated", "03": "treated"}


def test_minimum_detectable_lift():
    # (1.959964 + 0.841621) x sqrt(0.15 x 0.85 x (1/1000 + 1/1000)) = 2.801585 x 0.0159687
    assert minimum_detectable_lift(1000, 1000, 0.15) == pytest.approx(0.044738, abs=1e-6)
    assert minimum_detectable_lift(100, 0, 0.15) is None


def test_unknown_spend_or_inactivity_fails_its_screen():
    result = plan([member(1, spend_12m=None), member(2, days_inactive=None), member(3)])
    assert {k: v[0] for k, v in decisions(result).items()} == {
        "01": "below_min_spend",
        "02": "not_recoverable",
        "03": "treated",
    }


def test_sms_and_calls_need_a_mobile_number():
    result = plan(
        [
            member(1, has_mobile=False),  # push remains
            member(2, has_mobile=False, consent_push=False),  # nothing remains
            member(3, has_mobile=False, is_high_value=True, spend_12m=9000.0),  # no call: push only
        ]
    )
    assert decisions(result) == {"01": ("treated", ("push",)), "02": ("no_consent", ()), "03": ("treated", ("push",))}


def test_target_size_counts_reachable_members_only():
    pool = [
        member(1, spend_12m=9000.0),
        member(2, spend_12m=8000.0, consent_sms=False, consent_push=False),  # phone only, not high value
        member(3, spend_12m=7000.0),
        member(4, spend_12m=6000.0),
    ]
    the_campaign = campaign(priority=dataclasses.replace(DEFAULT.priority, max_targets=2))
    result = plan(pool, the_campaign=the_campaign)
    assert {k: v[0] for k, v in decisions(result).items()} == {
        "01": "treated",
        "02": "no_consent",
        "03": "treated",  # rank 2 among the reachable
        "04": "cut_by_target_size",
    }


def test_holdout_is_drawn_among_members_with_room_under_the_cap():
    half = dataclasses.replace(DEFAULT.holdout, share=0.5)
    pool = [member(n) for n in range(1, 21)]
    full = {key(n): 4 for n in range(1, 11)}  # members 1-10 used their month's touches already
    result = plan(pool, the_campaign=campaign(holdout=half), logged=LoggedTouches(frozenset(), frozenset(), full, 0, 0))
    assert result.outcome_counts() == {"deferred_by_cap": 10, "holdout": 5, "treated": 5}
    held = set(result.members.filter(pl.col("outcome") == "holdout")["member_key"])
    assert held <= {key(n) for n in range(11, 21)}


def test_a_control_members_channels_are_what_they_would_have_got_under_the_capacity_and_quota():
    # Ten high-value members in priority order; every other one is held out (share 0.5). Two calls a wave:
    # the first two treated members are called, so control members ranked after the second treated
    # caller would have overflowed to SMS + push, and those before it keep the call.
    two_calls = Channel("call", 3.0, agents=1, calls_per_agent_per_day=1, days=2)
    half_held_out = dataclasses.replace(DEFAULT.holdout, share=0.5)
    the_campaign = campaign(channels={**DEFAULT.channels, "call": two_calls}, holdout=half_held_out)
    pool = [member(n, is_high_value=True, spend_12m=10_000.0 - 100 * n) for n in range(1, 11)]
    rows = plan(pool, the_campaign=the_campaign).members.sort("priority_rank")
    held_out = rows.filter(pl.col("is_holdout"))
    treated = rows.filter(~pl.col("is_holdout"))
    assert held_out.height == 5 and (held_out["outcome"] == "holdout").all()

    last_called = treated.filter(pl.col("channels").list.contains("call"))["priority_rank"].to_list()
    assert len(last_called) == 2
    for rank, channels in held_out.select("priority_rank", "channels").iter_rows():
        expected = ["call", "push"] if rank < last_called[-1] else ["push", "sms"]
        assert channels == expected, rank
    assert treated.filter(pl.col("call_overflow")).height == 3 and not held_out["call_overflow"].any()


def test_a_control_member_ranked_after_the_sms_quota_ran_out_would_not_have_got_an_sms():
    half_held_out = dataclasses.replace(DEFAULT.holdout, share=0.5)
    pool = [member(n, spend_12m=5000.0 - 100 * n, consent_push=False) for n in range(1, 9)]
    rows = plan(pool, the_campaign=campaign(sms_quota=2, holdout=half_held_out)).members.sort("priority_rank")
    treated_sms = rows.filter(~pl.col("is_holdout") & pl.col("channels").list.contains("sms"))["priority_rank"]
    assert treated_sms.len() == 2
    for rank, outcome, channels in (
        rows.filter(pl.col("is_holdout")).select("priority_rank", "outcome", "channels").iter_rows()
    ):
        # Stays control even when nothing is left: the holdout was drawn before the quota.
        assert outcome == "holdout"
        assert channels == (["sms"] if rank < treated_sms.max() else []), rank

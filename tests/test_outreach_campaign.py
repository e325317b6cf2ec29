"""The win-back campaign file is refused before anything is written when a field is missing or wrong,
waves overlap, the budget is negative or the holdout share is outside 0–0.5, each problem naming its
field. Every case is the shipped campaign file with one textual edit, so a case fails for its own
reason and no other."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from retention.outreach.campaign import CampaignError, load_campaign

DEFAULT = Path(__file__).resolve().parents[1] / "campaigns" / "winback_2025_autumn.yaml"
TOP_FIELDS = (
    "campaign_id, name, window, attribution_days, eligibility, priority, holdout, budget_cny, sms_quota, caps, "
    "channels, routing, offers, waves"
)
REASONS = "frequency_drop, no_login, competitor, no_longer_needed, overdue, open_complaint"


def _edited(tmp_path: Path, *edits: tuple[str, str], name: str = "campaign.yaml") -> Path:
    """The default campaign file with each `old` text (which must occur exactly once) replaced by `new`."""
    text = DEFAULT.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, f"{old!r} must occur exactly once in the default file"
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    return caught.value.problems


# ---------------------------------------------------------------- the shipped file


def test_the_default_campaign_file_loads_with_its_waves_offers_and_capacity():
    campaign = load_campaign(DEFAULT)

    assert [(wave.wave_id, wave.wave_date) for wave in campaign.waves] == [
        ("wave_1", date(2025, 8, 15)),
        ("wave_2", date(2025, 8, 29)),
        ("wave_3", date(2025, 9, 15)),
    ]
    assert [wave.audience for wave in campaign.waves] == ["eligible", "non_responders", "non_responders"]
    assert len(campaign.offers) == 7
    assert campaign.offers["repurchase_coupon"].expected_cost == 7.5  # 30 × 0.25
    assert (campaign.offers["repurchase_coupon"].coupon_code, campaign.offers["repurchase_coupon"].benefit_code) == (
        "WB25-RC30",
        None,
    )
    assert campaign.offers["advanced_trial"].benefit_code == "BNF_WB_ADVANCED_TRIAL"
    assert campaign.channels["call"].capacity_per_day == 60  # 2 agents × 30 calls
    assert campaign.channels["call"].days == 2
    assert campaign.batch_id(campaign.wave("wave_1")) == "winback-2025-08-wave_1-20250815"
    assert campaign.previous_wave(campaign.wave("wave_2")) == campaign.wave("wave_1")
    assert campaign.previous_wave(campaign.wave("wave_1")) is None
    assert (campaign.window_start, campaign.window_end) == (date(2025, 8, 1), date(2025, 9, 30))
    assert (campaign.budget_cny, campaign.sms_quota, campaign.holdout.share) == (60000.0, 1000, 0.1)
    assert [(band.name, band.min_score) for band in campaign.priority.bands] == [("A", 3000), ("B", 1000), ("C", 0)]
    assert [rule.offer for rule in campaign.wave("wave_1").offers] == [
        "advanced_trial",
        "repurchase_coupon",
        "login_gift",
        "basic_coupon",
    ]
    assert campaign.source == DEFAULT


# ---------------------------------------------------------------- one bad field, one problem

REFUSED = [
    pytest.param([("campaign_id: winback-2025-08\n", "")], "`campaign_id`: missing", id="campaign_id-missing"),
    pytest.param([("budget_cny: 60000\n", "")], "`budget_cny`: missing", id="budget-missing"),
    pytest.param(
        [("budget_cny: 60000", "budget_cny: -1")], "`budget_cny`: must be at least 0 (got -1)", id="budget-negative"
    ),
    pytest.param(
        [("budget_cny: 60000", 'budget_cny: "lots"')], "`budget_cny`: must be a number (got 'lots')", id="budget-text"
    ),
    pytest.param(
        [("budget_cny: 60000", "budget_cny: true")],
        "`budget_cny`: must be a number, not a true/false value",
        id="budget-boolean",
    ),
    pytest.param(
        [("budget_cny: 60000", "budget_cny: .inf")], "`budget_cny`: must be at least 0 (got inf)", id="budget-infinite"
    ),
    pytest.param(
        [("share: 0.10", "share: 0.6")], "`holdout.share`: must be between 0 and 0.5 (got 0.6)", id="holdout-0.6"
    ),
    pytest.param(
        [("share: 0.10", "share: -0.1")], "`holdout.share`: must be between 0 and 0.5 (got -0.1)", id="holdout-negative"
    ),
    pytest.param(
        [("share: 0.10", "share: .nan")], "`holdout.share`: must be between 0 and 0.5 (got nan)", id="holdout-nan"
    ),
    pytest.param(
        [("expected_redemption: 0.25", "expected_redemption: 1.5")],
        # Only the offer itself: the wave rule naming it is not also told the offer does not exist.
        "`offers.repurchase_coupon.expected_redemption`: must be between 0 and 1 (got 1.5)",
        id="redemption-above-1",
    ),
    pytest.param(
        [("  - id: wave_2\n", "  - id: wave_2\n    chanel: sms\n")],
        "`waves[1].chanel`: unknown field (expected one of id, date, audience, offers, sms_quota)",
        id="wave-unknown-field",
    ),
    pytest.param(
        [("date: 2025-08-29", "date: 2025-08-15")],
        "`waves[1].date`: 2025-08-15 overlaps wave_1 (2025-08-15, calls through 2025-08-16): "
        "waves must follow one another",
        id="wave-same-day",
    ),
    pytest.param(
        [("date: 2025-08-29", "date: 2025-08-16")],  # wave_1's calls run 2 days: 08-15 and 08-16
        "`waves[1].date`: 2025-08-16 overlaps wave_1 (2025-08-15, calls through 2025-08-16): "
        "waves must follow one another",
        id="wave-during-calls",
    ),
    pytest.param(
        [("date: 2025-09-15", "date: 2025-08-20")],
        "`waves[2].date`: 2025-08-20 overlaps wave_2 (2025-08-29, calls through 2025-08-30): "
        "waves must follow one another",
        id="wave-out-of-order",
    ),
    pytest.param(
        [("date: 2025-09-15", "date: 2025-10-01")],
        "`waves[2].date`: 2025-10-01 is outside the campaign window 2025-08-01 .. 2025-09-30",
        id="wave-outside-window",
    ),
    pytest.param(
        [("date: 2025-08-29", "date: 2025-02-30")], "`waves[1].date`: must be a date YYYY-MM-DD", id="date-impossible"
    ),
    pytest.param(
        [("date: 2025-08-29", "date: 2025-08-29 10:00:00")],
        "`waves[1].date`: must be a date YYYY-MM-DD",
        id="date-with-time",
    ),
    pytest.param(
        [("id: wave_3", "id: wave_2")], "`waves[2].id`: wave_2 is used by an earlier wave", id="wave-duplicate-id"
    ),
    pytest.param(
        [("audience: eligible", "audience: non_responders")],
        "`waves[0].audience`: the first wave has no earlier wave to follow up: use eligible",
        id="first-wave-non-responders",
    ),
    pytest.param(
        [("audience: eligible", "audience: everyone")],
        "`waves[0].audience`: must be one of eligible, non_responders",
        id="audience-unknown",
    ),
    pytest.param(
        [("{offer: final_discount}", "{offer: final_discont}")],
        "`waves[2].offers[0].offer`: final_discont is not one of the campaign's offers",
        id="offer-unknown",
    ),
    pytest.param(
        [("{offer: basic_coupon}", "{reasons_any: [overdue], offer: basic_coupon}")],
        "`waves[0].offers`: the last rule must have no condition, so every member gets an offer",
        id="offer-no-catch-all",
    ),
    pytest.param(
        [("    offers:\n      - {offer: final_discount}\n", "    offers: []\n")],
        "`waves[2].offers`: must list at least one offer rule",
        id="offer-rules-empty",
    ),
    pytest.param(
        [("  reasons_any: []", "  reasons_any: [competitor, price]")],
        f"`eligibility.reasons_any`: unknown value 'price' (expected one of {REASONS})",
        id="eligibility-unknown-reason",
    ),
    pytest.param(
        [("call_overflow: [sms, push]", "call_overflow: [call, sms]")],
        "`routing.call_overflow`: cannot contain call (it is where calls beyond capacity go)",
        id="call-overflow-call",
    ),
    pytest.param(
        [
            ("    date: 2025-08-15\n", "    date: 2025-08-15\n    sms_quota: 600\n"),
            ("    date: 2025-08-29\n", "    date: 2025-08-29\n    sms_quota: 401\n"),
        ],
        "`waves[].sms_quota`: add up to 1001, more than sms_quota (1000)",
        id="wave-sms-quotas-over",
    ),
    pytest.param(
        [("{name: C, min_score: 0}", "{name: C, min_score: 500}")],
        "`priority.bands`: the lowest band must start at min_score 0, so every member has a band",
        id="bands-no-floor",
    ),
    pytest.param([("high_value: 4", "high_value: 0")], "`caps.high_value`: must be at least 1 (got 0)", id="cap-zero"),
    pytest.param(
        [("end: 2025-09-30", "end: 2025-07-31")],
        # Only the window: the waves are not also reported as outside an impossible window.
        "`window.end`: is before window.start (2025-08-01)",
        id="window-reversed",
    ),
    pytest.param(
        [("    coupon_code: WB25-RC30\n", "    coupon_code: WB25-RC30\n    benefit_code: BNF_X\n")],
        "`offers.repurchase_coupon`: set coupon_code or benefit_code, not both (a redemption is one or the other)",
        id="offer-two-codes",
    ),
    pytest.param(
        [("coupon_code: WB25-FD20", "coupon_code: WB25-RC30")],
        "`offers.final_discount`: redemption code WB25-RC30 is also repurchase_coupon's",
        id="offer-code-twice",
    ),
    pytest.param(
        [("coupon_code: WB25-FD20", "coupon_code: WB25 FD20")],
        "`offers.final_discount.coupon_code`: codes use letters, digits, '-' and '_' only",
        id="offer-code-space",
    ),
]


@pytest.mark.parametrize(("edits", "problem"), REFUSED)
def test_a_bad_field_is_refused_with_one_problem_naming_it(tmp_path, edits, problem):
    assert _problems(_edited(tmp_path, *edits)) == [problem]


def test_a_misspelt_top_level_field_is_named_with_the_expected_fields(tmp_path):
    path = _edited(tmp_path, ("budget_cny: 60000", "budjet_cny: 60000"))
    assert _problems(path) == [
        f"`(file).budjet_cny`: unknown field (expected one of {TOP_FIELDS})",
        "`budget_cny`: missing",
    ]


def test_every_problem_is_reported_at_once_in_the_order_the_fields_are_read(tmp_path):
    path = _edited(
        tmp_path,
        ("budget_cny: 60000", "budget_cny: -1"),
        ("share: 0.10", "share: 0.9"),
        ("{offer: final_discount}", "{offer: final_discont}"),
    )
    # Waves are read with the offers they name, before holdout and budget.
    assert _problems(path) == [
        "`waves[2].offers[0].offer`: final_discont is not one of the campaign's offers",
        "`holdout.share`: must be between 0 and 0.5 (got 0.9)",
        "`budget_cny`: must be at least 0 (got -1)",
    ]


# ---------------------------------------------------------------- the edges that are allowed


@pytest.mark.parametrize(
    ("share", "expected"), [pytest.param("0.5", 0.5, id="half"), pytest.param("0", 0.0, id="zero")]
)
def test_holdout_shares_at_the_ends_of_0_to_half_are_accepted(tmp_path, share, expected):
    campaign = load_campaign(_edited(tmp_path, ("share: 0.10", f"share: {share}")))
    assert campaign.holdout.share == expected


def test_a_wave_on_the_day_after_the_previous_waves_calls_is_accepted(tmp_path):
    campaign = load_campaign(_edited(tmp_path, ("date: 2025-08-29", "date: 2025-08-17")))
    assert campaign.wave("wave_2").wave_date == date(2025, 8, 17)


def test_wave_sms_quotas_adding_up_to_exactly_the_campaigns_are_accepted(tmp_path):
    path = _edited(
        tmp_path,
        ("    date: 2025-08-15\n", "    date: 2025-08-15\n    sms_quota: 600\n"),
        ("    date: 2025-08-29\n", "    date: 2025-08-29\n    sms_quota: 400\n"),
    )
    assert [wave.sms_quota for wave in load_campaign(path).waves] == [600, 400, None]


def test_a_quoted_date_is_read_as_a_date(tmp_path):
    campaign = load_campaign(_edited(tmp_path, ("date: 2025-08-29", 'date: "2025-08-29"')))
    assert campaign.wave("wave_2").wave_date == date(2025, 8, 29)


# ---------------------------------------------------------------- files that cannot be read


def test_a_tab_indented_line_is_not_yaml_and_the_problem_names_its_line(tmp_path):
    assert DEFAULT.read_text(encoding="utf-8").splitlines()[46] == "  share: 0.10"  # line 47
    path = _edited(tmp_path, ("  share: 0.10", "\tshare: 0.10"))
    assert _problems(path) == ["not readable as UTF-8 YAML at line 47: ScannerError"]


def test_garbage_is_not_yaml_and_the_problem_names_its_line(tmp_path):
    path = tmp_path / "garbage.yaml"
    path.write_text("campaign_id: x\nwindow:\n\tstart: 2025-08-01\n", encoding="utf-8")
    assert _problems(path) == ["not readable as UTF-8 YAML at line 3: ScannerError"]


def test_a_file_not_in_utf8_is_refused(tmp_path):
    path = tmp_path / "gbk.yaml"
    path.write_bytes("name: 挽回\n".encode("gb18030"))
    assert _problems(path) == ["not readable as UTF-8 YAML: UnicodeDecodeError"]


def test_a_missing_file_is_refused_naming_the_setting(tmp_path):
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert caught.value.problems == ["the file does not exist (set RETENTION_CAMPAIGN_FILE)"]
    assert str(caught.value) == (
        f"campaign file {path} is not valid (1 problem):\n  - the file does not exist (set RETENTION_CAMPAIGN_FILE)"
    )


# ---------------------------------------------------------------- the message


def test_the_message_names_the_escaped_file_and_counts_the_problems(tmp_path):
    path = _edited(
        tmp_path, ("budget_cny: 60000", "budget_cny: -1"), ("share: 0.10", "share: 0.9"), name="autumn\n.yaml"
    )
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert caught.value.path == path
    assert str(caught.value) == (
        f"campaign file {tmp_path}/autumn\\n.yaml is not valid (2 problems):\n"
        "  - `holdout.share`: must be between 0 and 0.5 (got 0.9)\n"
        "  - `budget_cny`: must be at least 0 (got -1)"
    )


def test_control_characters_in_an_unknown_field_name_are_escaped(tmp_path):
    path = _edited(tmp_path, ("budget_cny: 60000", 'budget_cny: 60000\n"bad\\x1bkey": 1'))
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    problem = f"`(file).bad\\x1bkey`: unknown field (expected one of {TOP_FIELDS})"
    assert caught.value.problems == [problem]
    assert str(caught.value) == f"campaign file {path} is not valid (1 problem):\n  - {problem}"
    assert "\x1b" not in str(caught.value)

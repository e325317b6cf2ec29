"""The campaign response simulator on hand-made wave exports: files the real loader accepts, the true lift.

The fixture: the shipped campaign (wave_1 on 2025-08-15, wave_2 on 2025-08-29, attribution 14 days, window
end 2025-09-30). Treated in wave_1: M1 sms+push (repurchase_coupon), M2 call+push (advanced_trial, tier 尊享),
M3 push (login_gift), M4 sms+push (basic_coupon). M5 and M6 are the holdout: in no file. wave_2: M3 and M4
by push (points_gift). Base activity (the generator's clean truth): M1 buys on 08-20 (organic in every
window); M2 logs in on 08-15 (the wave date: outside the window, which starts the day after) and uses a
benefit on 08-16 (alone: no success); M3 logs in on 08-18 (no benefit use: no success); M4 buys on 09-10
(outside wave_1's window (08-15, 08-29], inside the first batch's (08-15, 09-29]); M5 buys on 08-25.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import polars as pl
import pytest

from retention.generator import generate
from retention.generator.activity_truth import ACTIVITY_FILE, ACTIVITY_SCHEMA
from retention.generator.campaign_response import SimulationRefused, simulate_wave
from retention.generator.response_parameters import ResponseParameters
from retention.landing.contract import EVENTS, MEMBERS, ORDERS, OUTREACH_FEEDBACK
from retention.landing.loader import load_range
from retention.outreach.campaign import load_campaign
from retention.outreach.exports import write_channel_files
from retention.settings import project_root
from tests.conftest import members_csv

MOBILES = {"M1": "13900000001", "M2": "13900000002", "M4": "13900000004"}
PERSONAS = {"M1": "loyal", "M2": "declining", "M3": "dormant", "M4": "new", "M5": "loyal", "M6": "churned"}
WAVE_1_TOUCHES = [  # member, channel, offer
    ("M1", "sms", "repurchase_coupon"),
    ("M1", "push", "repurchase_coupon"),
    ("M2", "call", "advanced_trial"),
    ("M2", "push", "advanced_trial"),
    ("M3", "push", "login_gift"),
    ("M4", "sms", "basic_coupon"),
    ("M4", "push", "basic_coupon"),
]
WAVE_2_TOUCHES = [("M3", "push", "points_gift"), ("M4", "push", "points_gift")]
BASE_ACTIVITY = [  # member, day, purchased, logged_in, used_benefit
    ("M1", date(2025, 8, 20), True, False, False),
    ("M2", date(2025, 8, 15), False, True, False),
    ("M2", date(2025, 8, 16), False, False, True),
    ("M3", date(2025, 8, 18), False, True, False),
    ("M4", date(2025, 9, 10), True, False, False),
    ("M5", date(2025, 8, 25), True, False, False),
]
SIMULATED = (OUTREACH_FEEDBACK, ORDERS, EVENTS)


def certain(**conversion: float) -> ResponseParameters:
    """Every touch reached and engaged, no unsubscription, neutral factors; conversion as given (default 1)."""
    defaults = ResponseParameters()
    return dataclasses.replace(
        defaults,
        delivered={"sms": 1.0, "push": 1.0},
        opened={"sms": 1.0, "push": 1.0},
        clicked_given_opened=1.0,
        answered=1.0,
        unsubscribed={},
        conversion={offer: conversion.get(offer, 1.0) for offer in defaults.conversion},
        channel_factor={},
        tier_factor={},
        persona_factor={},
        login_without_conversion=0.0,
    )


@pytest.fixture
def campaign():
    return load_campaign(project_root() / "campaigns" / "winback_2025_autumn.yaml")


@dataclasses.dataclass
class Folders:
    landing: object
    truth: object
    exports: object


def _export(folders: Folders, campaign, wave_id: str, touches) -> None:
    wave = campaign.wave(wave_id)
    batch_id = campaign.batch_id(wave)
    frame = pl.DataFrame(
        {
            "batch_id": batch_id,
            "touch_id": [f"T{wave_id[-1]}{i}" for i in range(len(touches))],
            "send_date": wave.wave_date,
            "member_id": [m for m, _, _ in touches],
            "mobile": [MOBILES.get(m) for m, _, _ in touches],
            "channel": [c for _, c, _ in touches],
            "offer_id": [o for _, _, o in touches],
            "offer_name": [campaign.offers[o].name for _, _, o in touches],
            "template_key": [f"{o}.{c}" for _, c, o in touches],
            "unsubscribe_text": "拒收请回复R",
            "priority_rank": list(range(1, len(touches) + 1)),
            "tier_name_zh": ["尊享" if c == "call" else None for _, c, _ in touches],
            "reasons": "competitor",
            "last_order_date": date(2025, 7, 1),
            "last_order_amount": 100.0,
            "spend_12m": 2000.0,
        }
    )
    folder = folders.exports / "outreach" / campaign.campaign_id / wave_id
    write_channel_files(frame, folder, batch_id)  # the pipeline's own writer: the files as exported


@pytest.fixture
def folders(tmp_path, settings, campaign) -> Folders:
    result = Folders(settings.landing_dir, settings.ground_truth_dir, settings.export_dir)
    result.truth.mkdir(parents=True)
    pl.DataFrame({"member_id": list(PERSONAS), "persona": list(PERSONAS.values())}).write_csv(
        result.truth / "member_personas.csv"
    )
    pl.DataFrame(BASE_ACTIVITY, schema=list(ACTIVITY_SCHEMA), orient="row").write_parquet(result.truth / ACTIVITY_FILE)
    _export(result, campaign, "wave_1", WAVE_1_TOUCHES)
    _export(result, campaign, "wave_2", WAVE_2_TOUCHES)
    return result


def _simulate(folders, campaign, wave_id, seed=3, parameters=None):
    return simulate_wave(
        folders.landing, folders.truth, folders.exports, campaign, campaign.wave(wave_id), seed, parameters
    )


def _load(settings, warehouse, landing):
    """The simulated files through the real loader, after the members (the unknown-member check needs them)."""
    landing.write("members/2025-08-01/crm.csv", members_csv(*PERSONAS, day="2025-08-01"))
    load_range(warehouse, MEMBERS, date(2025, 8, 1), date(2025, 8, 1), settings)
    return {s.name: load_range(warehouse, s, date(2025, 8, 1), date(2025, 10, 31), settings) for s in SIMULATED}


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_landing_loader_accepts_every_simulated_row(folders, campaign, settings, warehouse, landing):
    simulation = _simulate(folders, campaign, "wave_1", parameters=certain())
    reports = _load(settings, warehouse, landing)

    # sms and push: sent, delivered, opened, clicked (4 rows a touch, 6 touches); the call: answered.
    assert {name: (r.rows_read, r.rows_quarantined) for name, r in reports.items()} == {
        "outreach_feedback": (25, 0),
        "orders": (2, 0),  # the coupon offers: M1 and M4
        "events": (4, 0),  # the benefit offers: M2 and M3 log in and use it
    }
    assert simulation.touches == {"call": 1, "push": 4, "sms": 2}
    assert (simulation.members, simulation.converted, simulation.delivered) == (4, 4, 7)
    assert warehouse.execute(
        "SELECT member_id, coupon_code, status, discount_amount FROM raw.orders ORDER BY member_id"
    ).fetchall() == [("M1", "WB25-RC30", "paid", 30), ("M4", "WB25-BC10", "paid", 10)]
    assert warehouse.execute(
        "SELECT min(gross_amount) >= 100 FROM raw.orders WHERE coupon_code = 'WB25-RC30'"
    ).fetchone() == (True,)
    assert warehouse.execute(
        "SELECT member_id, event_type, benefit_code FROM raw.events ORDER BY member_id, event_type"
    ).fetchall() == [
        ("M2", "benefit_use", "BNF_WB_ADVANCED_TRIAL"),
        ("M2", "login", None),
        ("M3", "benefit_use", "BNF_WB_LOGIN_GIFT"),
        ("M3", "login", None),
    ]
    # The call centre's log (Chinese headers and codes) is read as the phone channel; message_id = touch_id.
    assert warehouse.execute(
        "SELECT message_id, member_id, status FROM raw.outreach_feedback WHERE channel = 'phone'"
    ).fetchall() == [("T12", "M2", "answered")]
    # Feedback of day X arrives in the folder of day X+1; nothing lands on or before the wave date.
    assert warehouse.execute(
        "SELECT count(*) FROM raw.outreach_feedback WHERE _landing_date <> CAST(event_time AS DATE) + 1"
    ).fetchone() == (0,)
    landed = [name.split("/")[1] for name in simulation.files]
    assert min(landed) > "2025-08-15"


def test_with_certain_conversion_every_treated_member_succeeds_inside_the_window(folders, campaign):
    simulation = _simulate(folders, campaign, "wave_1", parameters=certain())
    success = {}
    for relative in simulation.files:
        if relative.startswith(("orders/", "events/")):
            for row in pl.read_ndjson(folders.landing / relative).iter_rows(named=True):
                time = row.get("order_time") or row["event_time"]
                success.setdefault(row["member_id"], []).append(time[:10])
    assert sorted(success) == ["M1", "M2", "M3", "M4"]
    days = [day for member_days in success.values() for day in member_days]
    assert min(days) >= "2025-08-16" and max(days) <= "2025-08-29"  # (wave date, wave date + 14]


def test_with_zero_conversion_nobody_converts(folders, campaign):
    never = dataclasses.replace(certain(**dict.fromkeys(ResponseParameters().conversion, 0.0)))
    simulation = _simulate(folders, campaign, "wave_1", parameters=dataclasses.replace(never, default_conversion=0))
    assert simulation.converted == 0
    assert not [f for f in simulation.files if f.startswith(("orders/", "events/"))]
    truth = json.loads((folders.truth / "campaign" / campaign.campaign_id / "truth.json").read_text("utf-8"))
    assert truth["first_batch_final"]["induced_n"] == 0
    assert truth["first_batch_final"]["realised_lift"] == 0

    # Engaged members who do not convert sometimes log in anyway: a login without benefit use is no success.
    visiting = dataclasses.replace(never, default_conversion=0, login_without_conversion=1.0)
    simulation = _simulate(folders, campaign, "wave_1", parameters=visiting)
    events = pl.concat([pl.read_ndjson(folders.landing / f) for f in simulation.files if f.startswith("events/")])
    assert sorted(events["member_id"]) == ["M1", "M2", "M3", "M4"]
    assert set(events["event_type"]) == {"login"}
    assert (simulation.converted, simulation.logins_only) == (0, 4)


def test_the_holdout_and_contact_details_never_appear(folders, campaign):
    simulation = _simulate(folders, campaign, "wave_1", parameters=certain())
    written = _files(folders.landing) | _files(folders.truth / "campaign")
    text = b"\n".join(written.values())
    assert simulation.files and all(f in written for f in simulation.files)
    assert b"M5" not in text and b"M6" not in text
    assert not any(mobile.encode() in text for mobile in MOBILES.values())


def test_the_same_seed_gives_the_same_files_and_a_replay_never_duplicates(folders, campaign, tmp_path):
    first = _simulate(folders, campaign, "wave_1", seed=5)
    before = _files(folders.landing) | _files(folders.truth)
    again = _simulate(folders, campaign, "wave_1", seed=5)
    assert again == first
    assert _files(folders.landing) | _files(folders.truth) == before

    # Another seed replaces the wave's files: only the new simulation's files are left.
    other = _simulate(folders, campaign, "wave_1", seed=6, parameters=certain())
    simulated = set(_files(folders.landing))
    assert simulated == set(other.files)
    members = pl.read_csv(folders.truth / "campaign" / campaign.campaign_id / "members.csv")
    assert members["member_id"].to_list() == ["M1", "M2", "M3", "M4"]


def test_truth_realised_lift_is_induced_and_not_organic_over_the_treated(folders, campaign):
    # Only the coupon for frequency drop and the advanced trial convert: M1 (organic anyway) and M2.
    parameters = dataclasses.replace(
        certain(**dict.fromkeys(ResponseParameters().conversion, 0.0) | {"repurchase_coupon": 1.0}),
    )
    parameters = dataclasses.replace(parameters, conversion=parameters.conversion | {"advanced_trial": 1.0})
    _simulate(folders, campaign, "wave_1", parameters=parameters)
    folder = folders.truth / "campaign" / campaign.campaign_id
    truth = json.loads((folder / "truth.json").read_text("utf-8"))

    wave_1 = truth["waves"]["wave_1"]
    assert wave_1["window"] == {"after": "2025-08-15", "through": "2025-08-29"}
    assert (wave_1["treated_n"], wave_1["induced_n"], wave_1["organic_n"]) == (4, 2, 1)  # organic: M1 only
    assert wave_1["realised_lift"] == 1 / 4
    final = truth["first_batch_final"]
    assert final["window"] == {"after": "2025-08-15", "through": "2025-09-29"}
    assert (final["treated_n"], final["induced_n"], final["organic_n"], final["induced_not_organic_n"]) == (4, 2, 2, 1)
    assert final["realised_lift"] == 1 / 4
    lifts = {name: (s["treated_n"], s["realised_lift"]) for name, s in final["by_channel"].items()}
    assert lifts == {"call": (1, 1.0), "push": (4, 0.25), "sms": (2, 0.0)}
    groups = {name: (s["treated_n"], s["realised_lift"]) for name, s in final["by_channel_group"].items()}
    assert groups == {"call+push": (1, 1.0), "push": (1, 0.0), "push+sms": (2, 0.0)}

    members = pl.read_csv(folder / "members.csv", try_parse_dates=True)
    assert members.drop("induced_on").rows() == [
        ("M1", "push+sms", "repurchase_coupon", "unknown", "loyal", 1.0, True, True, date(2025, 8, 20)),
        ("M2", "call+push", "advanced_trial", "premium", "declining", 1.0, True, False, None),
        ("M3", "push", "login_gift", "unknown", "dormant", 0.0, False, False, None),
        ("M4", "push+sms", "basic_coupon", "unknown", "new", 0.0, False, True, date(2025, 9, 10)),
    ]

    # wave_2 converts M3 and M4: the first batch's final numbers include it (M4 was organic already).
    _simulate(folders, campaign, "wave_2", parameters=certain())
    truth = json.loads((folder / "truth.json").read_text("utf-8"))
    final = truth["first_batch_final"]
    assert (final["induced_n"], final["induced_not_organic_n"], final["realised_lift"]) == (4, 2, 2 / 4)
    assert truth["waves"]["wave_2"]["window"] == {"after": "2025-08-29", "through": "2025-09-12"}
    assert (truth["waves"]["wave_2"]["treated_n"], truth["waves"]["wave_2"]["realised_lift"]) == (2, 1 / 2)


def test_without_the_base_activity_truth_nothing_is_written(folders, campaign):
    (folders.truth / ACTIVITY_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="member_activity.parquet: no base activity truth"):
        _simulate(folders, campaign, "wave_1")
    assert not any(folders.landing.rglob("*.*"))


def test_a_wave_without_exported_files_is_not_simulated(folders, campaign):
    simulation = _simulate(folders, campaign, "wave_3")
    assert not simulation.built
    assert simulation.describe() == "wave_3: not simulated (no channel file exported for it)"


def test_generating_again_removes_the_answer_key_of_the_responses_it_replaces(folders, campaign):
    _simulate(folders, campaign, "wave_1")
    assert (folders.truth / "campaign" / campaign.campaign_id / "truth.json").is_file()
    generate(folders.landing, members=20, start=date(2025, 8, 1), end=date(2025, 8, 3), truth_dir=folders.truth)
    assert not (folders.truth / "campaign").exists()


def test_a_simulation_into_days_already_loaded_is_refused_before_writing(folders, campaign):
    # Wave 1 is dated 2025-08-15: its first receipts land on 08-16 at the earliest.
    with pytest.raises(SimulationRefused, match="would land on 2025-08-1[6-9].*loaded every day through 2025-08-31"):
        simulate_wave(
            folders.landing, folders.truth, folders.exports, campaign, campaign.wave("wave_1"), 3,
            certain(), loaded_through=date(2025, 8, 31),
        )  # fmt: skip
    assert _files(folders.landing) == {}

    # Right after the run that built the wave (loaded through its date) it goes ahead; a replay once the next
    # days are loaded would replace files already read, and is refused too.
    first = simulate_wave(
        folders.landing, folders.truth, folders.exports, campaign, campaign.wave("wave_1"), 3,
        certain(), loaded_through=date(2025, 8, 15),
    )  # fmt: skip
    assert first.files
    with pytest.raises(SimulationRefused):
        simulate_wave(
            folders.landing, folders.truth, folders.exports, campaign, campaign.wave("wave_1"), 4,
            certain(**dict.fromkeys(ResponseParameters().conversion, 0.0)), loaded_through=date(2025, 8, 16),
        )  # fmt: skip
    assert set(_files(folders.landing)) == set(first.files)

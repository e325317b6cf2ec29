"""The simulated campaign's answer key: what really happened, for the tests and the coverage benchmark.

Rebuilt from every simulated wave's record after each wave (so the first batch's final numbers include
the later waves), and written whole each time:

- `<truth_dir>/campaign/<campaign_id>/truth.json`: the parameters and, per wave and for the first batch
  final, the treated members and the realised true lift = mean over the treated of (induced AND NOT
  organic), overall, per channel and per channel group (issue 10's shared design);
- `<truth_dir>/campaign/<campaign_id>/members.csv`: one row per member treated in the first wave.

Organic success comes from the generator's clean activity (member_activity.parquet): a purchase, or the
day by which the member has both logged in and used a benefit within the window (start exclusive).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from retention.generator.activity_truth import ACTIVITY_FILE
from retention.generator.generation import CAMPAIGN_TRUTH_FOLDER
from retention.landing.safe_text import printable
from retention.outreach.campaign import Campaign, Wave

TRUTH_FILE, MEMBERS_FILE, WAVES_FOLDER = "truth.json", "members.csv", "waves"
MEMBER_COLUMNS = (
    "member_id", "channels", "offer_id", "tier", "persona", "p_convert",
    "induced", "induced_on", "organic", "organic_on",
)  # fmt: skip


@dataclass(frozen=True)
class Window:
    """(after, last]: the day after `after` through `last`."""

    after: date
    last: date

    def as_json(self) -> dict:
        return {"after": self.after.isoformat(), "through": self.last.isoformat()}


def campaign_truth_dir(truth_dir: Path, campaign: Campaign) -> Path:
    return Path(truth_dir) / CAMPAIGN_TRUTH_FOLDER / campaign.campaign_id


def wave_window(campaign: Campaign, wave: Wave) -> Window:
    return Window(wave.wave_date, min(wave.wave_date + timedelta(days=campaign.attribution_days), campaign.window_end))


def first_batch_window(campaign: Campaign) -> Window:
    last_wave = campaign.waves[-1].wave_date
    return Window(
        campaign.waves[0].wave_date,
        min(last_wave + timedelta(days=campaign.attribution_days), campaign.window_end),
    )


def organic_successes(activity: pl.DataFrame, window: Window) -> pl.DataFrame:
    """member_id, organic_on: each member's first success day in the window from the base activity."""
    inside = activity.filter(pl.col("activity_date").is_between(window.after + timedelta(days=1), window.last))
    first = inside.group_by("member_id").agg(
        pl.col("activity_date").filter("purchased").min().alias("bought"),
        pl.col("activity_date").filter("logged_in").min().alias("login"),
        pl.col("activity_date").filter("used_benefit").min().alias("benefit"),
    )
    both = pl.when(pl.col("login").is_not_null() & pl.col("benefit").is_not_null())
    return first.select(
        "member_id", organic_on=pl.min_horizontal("bought", both.then(pl.max_horizontal("login", "benefit")))
    ).filter(pl.col("organic_on").is_not_null())


def read_activity(truth_dir: Path) -> pl.DataFrame:
    path = Path(truth_dir) / ACTIVITY_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{printable(str(path))}: no base activity truth; generate with activity_truth_from on or before the "
            "first wave's date (retention generate --activity-truth-from, or retention demo)"
        )
    return pl.read_parquet(path)


def outcomes(treated: pl.DataFrame, successes: pl.DataFrame, organic: pl.DataFrame, window: Window) -> pl.DataFrame:
    """Per treated member: induced (a simulated success in the window), organic, and their first days."""
    induced = (
        successes.filter(pl.col("success_on").is_between(window.after + timedelta(days=1), window.last))
        .group_by("member_id")
        .agg(pl.col("success_on").min().alias("induced_on"))
    )
    return (
        treated.join(induced, on="member_id", how="left")
        .join(organic, on="member_id", how="left")
        .with_columns(induced=pl.col("induced_on").is_not_null(), organic=pl.col("organic_on").is_not_null())
    )


def lift_summary(members: pl.DataFrame) -> dict:
    """Counts and the realised lift (induced and not organic, over the treated) of a set of members."""
    n = members.height
    counts = {
        "treated_n": n,
        "induced_n": int(members["induced"].sum()),
        "organic_n": int(members["organic"].sum()),
        "induced_not_organic_n": int((members["induced"] & ~members["organic"]).sum()),
    }
    return counts | {"realised_lift": counts["induced_not_organic_n"] / n if n else None}


def breakdowns(members: pl.DataFrame) -> dict:
    channels = sorted({c for group in members["channels"].unique().to_list() for c in group.split("+")})
    return {
        "by_channel": {
            c: lift_summary(members.filter(pl.col("channels").str.split("+").list.contains(c))) for c in channels
        },
        "by_channel_group": {
            g: lift_summary(members.filter(pl.col("channels") == g)) for g in sorted(members["channels"].unique())
        },
    }


def write_truth(truth_dir: Path, campaign: Campaign, parameters: dict, seed: int) -> dict:
    """Recompute truth.json and members.csv from every simulated wave's record; returns the truth."""
    folder = campaign_truth_dir(truth_dir, campaign)
    activity = read_activity(truth_dir)
    records = {
        wave.wave_id: pl.read_parquet(folder / WAVES_FOLDER / f"{wave.wave_id}.parquet")
        for wave in campaign.waves
        if (folder / WAVES_FOLDER / f"{wave.wave_id}.parquet").is_file()
    }
    successes = pl.concat(
        [record.select("member_id", pl.col("success_on").cast(pl.Date)) for record in records.values()]
        or [pl.DataFrame(schema={"member_id": pl.String, "success_on": pl.Date})]
    ).drop_nulls()
    waves = {}
    for wave in campaign.waves:
        if wave.wave_id not in records:
            continue
        window = wave_window(campaign, wave)
        record = records[wave.wave_id]
        own = record.select("member_id", pl.col("success_on").cast(pl.Date)).drop_nulls()
        members = outcomes(record, own, organic_successes(activity, window), window)
        summary = json.loads((folder / WAVES_FOLDER / f"{wave.wave_id}.json").read_text(encoding="utf-8"))
        waves[wave.wave_id] = summary | {"window": window.as_json()} | lift_summary(members) | breakdowns(members)

    truth = {
        "campaign_id": campaign.campaign_id,
        "seed": seed,
        "parameters": parameters,
        "definitions": {
            "realised_lift": "mean over the treated of (induced and not organic)",
            "organic": "a success in the window in the base data (clean rows, before any simulated response)",
            "induced": "the simulator generated a success (coupon order, or login and benefit use) in the window",
            "window": "(after, through]: the day after `after` through `through`",
        },
        "waves": waves,
    }
    first = campaign.waves[0].wave_id
    if first in records:
        window = first_batch_window(campaign)
        members = outcomes(records[first], successes, organic_successes(activity, window), window)
        truth["first_batch_final"] = {"window": window.as_json()} | lift_summary(members) | breakdowns(members)
        members.select(MEMBER_COLUMNS).sort("member_id").write_csv(folder / MEMBERS_FILE, float_precision=6)
    (folder / TRUTH_FILE).write_text(json.dumps(truth, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return truth

"""The campaign response simulator: what members do after a wave's messages and calls.

    simulate_wave(landing_dir, truth_dir, export_dir, campaign, wave, seed)

reads the channel files the pipeline exported for the wave (`<export_dir>/outreach/<campaign_id>/<wave_id>/
<batch_id>_sms|push|call_list.parquet`) and the generator's personas, draws each touch's delivery, opening,
answer, unsubscription and the member's conversion (response_draws.py, with the true parameters of
response_parameters.py), and writes what the channels and the shop would deliver as landing files
(response_files.py): feedback receipts, coupon orders, logins and benefit use, all on days after the wave
date. Members never in the files (the holdout) are never touched: their true effect is zero.

Tier: every channel file carries it (tier_name_zh), so a member's tier is the same on each touch; files of
an older version without it give tier "unknown".

The same seed gives the same files; simulating a wave again replaces its files and its record, so the
answer key (campaign_truth.py) is rebuilt without duplicates.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from retention.generator.campaign_truth import (
    WAVES_FOLDER,
    campaign_truth_dir,
    read_activity,
    wave_window,
    write_truth,
)
from retention.generator.common import SECONDS_PER_DAY, day_date
from retention.generator.generation import PERSONAS_FILE
from retention.generator.response_draws import draw_responses
from retention.generator.response_files import success_events, success_orders, wave_file_days, write_wave_files
from retention.generator.response_parameters import UNKNOWN, ResponseParameters
from retention.landing.safe_text import printable
from retention.outreach.campaign import Campaign, Wave
from retention.outreach.exports import CHANNEL_FILES
from retention.settings import project_root

TOUCH_COLUMNS = ("touch_id", "batch_id", "member_id", "channel", "touch_date", "offer_id", "tier")
_SIMULATOR_STREAM = 0x5157  # keeps the simulator's random numbers apart from the base generator's


@dataclass(frozen=True)
class WaveSimulation:
    wave_id: str
    built: bool  # False: the pipeline exported no channel file for the wave (nothing simulated)
    touches: dict[str, int] = field(default_factory=dict)  # per channel
    feedback: dict[str, int] = field(default_factory=dict)  # rows per status
    members: int = 0
    converted: int = 0
    logins_only: int = 0
    files: tuple[str, ...] = ()  # landing files written, relative to the landing folder
    note: str = ""

    @property
    def delivered(self) -> int:
        """Messages delivered and calls answered."""
        return self.feedback.get("delivered", 0) + self.feedback.get("answered", 0)

    def describe(self) -> str:
        if not self.built:
            return f"{self.wave_id}: not simulated ({self.note})"
        per_channel = ", ".join(f"{channel} {n:,}" for channel, n in self.touches.items())
        return (
            f"{self.wave_id}: {sum(self.touches.values()):,} touches ({per_channel}), {self.delivered:,} delivered"
            f" or answered, {self.members:,} members, {self.converted:,} converted, {self.logins_only:,} logged in"
            f" only; {len(self.files)} landing files"
        )


def wave_touches(export_dir: Path, campaign: Campaign, wave: Wave) -> pl.DataFrame | None:
    """The wave's touches from its channel files (Parquet), or None when the pipeline exported none."""
    batch_id = campaign.batch_id(wave)
    folder = Path(export_dir) / "outreach" / campaign.campaign_id / wave.wave_id
    frames = []
    for channel, kind in CHANNEL_FILES.items():
        path = folder / f"{batch_id}_{kind}.parquet"
        if not path.is_file():
            continue
        rows = pl.read_parquet(path)
        missing = [c for c in ("touch_id", "batch_id", "member_id", "offer_id") if c not in rows.columns]
        if missing:
            raise ValueError(f"{printable(str(path))}: no column(s) {', '.join(missing)}")
        # Files written before the SMS and push files carried the tier: unknown there.
        tier = (
            pl.col("tier_name_zh").cast(pl.String).replace_strict(_tier_codes(), default=None, return_dtype=pl.String)
            if "tier_name_zh" in rows
            else None
        )
        frames.append(
            rows.select(
                "touch_id",
                "batch_id",
                "member_id",
                channel=pl.lit(channel),
                touch_date=pl.col("call_date" if channel == "call" else "send_date").cast(pl.Date),
                offer_id="offer_id",
                tier=tier if tier is not None else pl.lit(None, pl.String),
            )
        )
    return pl.concat(frames) if frames else None


class SimulationRefused(ValueError):
    """The simulation would write into landing days the warehouse has already loaded."""


def _refuse_loaded_days(landing_dir, wave_id, feedback, orders, events, loaded_through: date) -> None:
    first_new = [
        frame.select((pl.col(column) // SECONDS_PER_DAY + shift).min()).item()
        for frame, column, shift in ((feedback, "event_time", 1), (orders, "order_time", 0), (events, "event_time", 0))
        if frame.height
    ]
    days = [day_date(day) for day in first_new] + wave_file_days(landing_dir, wave_id)
    loaded = sorted(day for day in days if day <= loaded_through)
    if loaded:
        raise SimulationRefused(
            f"{wave_id}: the responses would land on {loaded[0]}, but the warehouse has loaded every day through"
            f" {loaded_through}: files written there would never be read. Simulate a wave right after the run"
            " that built it (as `retention demo` does), on a warehouse whose last day is the wave's build day."
        )


def _tier_codes() -> dict[str, str]:
    """tier_name_zh -> tier code, from the dbt seed that names the tiers."""
    with open(project_root() / "dbt_project" / "seeds" / "tiers.csv", encoding="utf-8") as handle:
        return {row["tier_name_zh"]: row["tier"] for row in csv.DictReader(handle)}


def personas(truth_dir: Path) -> pl.DataFrame:
    path = Path(truth_dir) / PERSONAS_FILE
    if not path.is_file():
        return pl.DataFrame(schema={"member_id": pl.String, "persona": pl.String})
    return pl.read_csv(path, columns=["member_id", "persona"], schema_overrides={"member_id": pl.String})


def simulate_wave(
    landing_dir: Path,
    truth_dir: Path,
    export_dir: Path,
    campaign: Campaign,
    wave: Wave,
    seed: int,
    parameters: ResponseParameters | None = None,
    loaded_through: date | None = None,
) -> WaveSimulation:
    """Simulate the responses to one exported wave, write them as landing files and rebuild the answer key.

    `loaded_through`: the last landing day the warehouse has loaded. Responses land on later days only; a
    simulation that would write into (or replace files of) a loaded day is refused before anything is
    written, as those files would never be read (or would no longer be what was loaded)."""
    params = parameters or ResponseParameters()
    touches = wave_touches(export_dir, campaign, wave)
    if touches is None or touches.height == 0:
        return WaveSimulation(wave.wave_id, built=False, note="no channel file exported for it")
    read_activity(truth_dir)  # the answer key needs it: fail before writing anything
    folder = campaign_truth_dir(truth_dir, campaign) / WAVES_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    touches = touches.join(personas(truth_dir), on="member_id", how="left").with_columns(
        pl.col("persona").fill_null(UNKNOWN)
    )
    rng = np.random.default_rng([seed, _SIMULATOR_STREAM, campaign.waves.index(wave)])
    responses = draw_responses(touches, params, wave_window(campaign, wave).last, rng)
    members = responses.members
    orders = success_orders(members, campaign, wave.wave_id, params)
    events = success_events(members, campaign, wave.wave_id)
    if loaded_through is not None:
        _refuse_loaded_days(landing_dir, wave.wave_id, responses.feedback, orders, events, loaded_through)
    files = write_wave_files(landing_dir, wave.wave_id, responses.feedback, orders, events)

    record = members.select(
        "member_id", "channels", "offer_id", "tier", "persona", "p_convert", "converted",
        pl.col("success_on").cast(pl.Date), pl.col("login_on").cast(pl.Date),
    )  # fmt: skip
    record.write_parquet(folder / f"{wave.wave_id}.parquet")
    simulation = WaveSimulation(
        wave.wave_id,
        built=True,
        touches=_counts(touches, "channel"),
        feedback=_counts(responses.feedback, "status"),
        members=members.height,
        converted=int(members["converted"].sum()),
        logins_only=int(members["login_on"].is_not_null().sum()),
        files=tuple(files),
    )
    summary = {
        "wave_date": wave.wave_date.isoformat(),
        "seed": seed,
        "touches": simulation.touches,
        "feedback": simulation.feedback,
        "members": simulation.members,
        "converted": simulation.converted,
        "logins_only": simulation.logins_only,
        "orders": orders.height,
        "events": events.height,
    }
    (folder / f"{wave.wave_id}.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    write_truth(truth_dir, campaign, params.as_json(), seed)
    return simulation


def _counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    return {key: int(n) for key, n in frame[column].value_counts().sort(column).iter_rows()}

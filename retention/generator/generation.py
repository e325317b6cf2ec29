"""The day loop: build the population once, then generate and deliver every source day by day.

Memory stays bounded by the population arrays, one day's rows and the pending refunds / ticket
updates; nothing is kept for days already written.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from retention.generator.activity_truth import ACTIVITY_FILE, ActivityTruth
from retention.generator.common import ONLINE_HOURS, SECONDS_PER_DAY, day_date, day_number, rng_for, seconds_in_day
from retention.generator.defects import DefectConfig
from retention.generator.events import day_events
from retention.generator.members import (
    MemberChangeRates,
    Population,
    apply_daily_changes,
    build_population,
    member_rows,
)
from retention.generator.orders import new_orders, refunds_of
from retention.generator.pending import PendingRows
from retention.generator.personas import DEFAULT_PERSONA_SHARES, activity_factors
from retention.generator.seasons import day_pattern
from retention.generator.tickets import open_tickets
from retention.generator.writer import (
    APP_EVENTS,
    MEMBERS_DELTA,
    MEMBERS_FULL,
    ONLINE_ORDERS,
    OUTREACH,
    POS_ORDERS,
    SERVICE_TICKETS,
    LandingWriter,
    write_personas,
)
from retention.landing.contract import SOURCES

PERSONAS_FILE = "member_personas.csv"
DEFECTS_FILE = "defects.csv"
CAMPAIGN_TRUTH_FOLDER = "campaign"  # written by campaign_response.py


@dataclass
class GenerationSummary:
    out_dir: Path
    truth_dir: Path
    files_per_source: dict[str, int]
    rows_per_source: dict[str, int]  # data rows in all files written, re-sent copies included
    defects: dict[str, int]  # per defect kind: rows for row-level kinds, files for file-level kinds
    members_per_persona: dict[str, int]
    elapsed_seconds: float

    def describe(self) -> str:
        lines = [f"landing files in {self.out_dir} ({self.elapsed_seconds:.1f} s); ground truth in {self.truth_dir}"]
        lines += [
            f"  {s:<18} {self.files_per_source[s]:>6,} files {self.rows_per_source[s]:>12,} rows"
            for s in self.files_per_source
        ]
        lines.append("  personas: " + ", ".join(f"{p} {n:,}" for p, n in self.members_per_persona.items()))
        lines.append("  defects:  " + ", ".join(f"{k} {n:,}" for k, n in self.defects.items()))
        return "\n".join(lines)


def generate(
    out_dir: Path,
    *,
    members: int = 10_000,
    start: date = date(2024, 1, 1),
    end: date = date(2025, 9, 30),
    seed: int = 7,
    defect_rate: float = 0.01,
    truth_dir: Path | None = None,
    persona_shares: dict[str, float] | None = None,
    defects: DefectConfig | None = None,
    member_changes: MemberChangeRates | None = None,
    activity: float = 1.0,
    activity_truth_from: date | None = None,
) -> GenerationSummary:
    """Write demo landing files for `members` members over [start, end] into `out_dir`.

    The generator's own source folders under `out_dir` are replaced, so files of an earlier run
    never mix with this one; nothing else in `out_dir` is touched. The same arguments give
    byte-identical files. `activity` scales every member's orders and app sessions (the benchmark's
    largest scale uses fewer per member, as a retailer with a million members has many occasional ones).
    `activity_truth_from` also writes each member's clean daily activity from that day on to
    `<truth_dir>/member_activity.parquet` (see activity_truth.py); the landing files do not change.
    """
    began = time.perf_counter()
    out_dir = Path(out_dir)
    truth_dir = Path(truth_dir) if truth_dir is not None else out_dir.parent / "ground_truth"
    _check_arguments(out_dir, truth_dir, members, start, end, defect_rate)
    if activity <= 0:
        raise ValueError("activity must be above 0")
    _prepare_folders(out_dir, truth_dir)

    start_day, end_day = day_number(start), day_number(end)
    population = build_population(
        members, start_day, end_day, persona_shares or DEFAULT_PERSONA_SHARES, rng_for(seed, "population")
    )
    write_personas(population, truth_dir / PERSONAS_FILE)
    writer = LandingWriter(out_dir, seed, defect_rate, defects or DefectConfig(), unknown_member_floor=members)
    truth = ActivityTruth(day_number(activity_truth_from)) if activity_truth_from is not None else None
    loop = _DayLoop(
        population, writer, seed, start_day, end_day, member_changes or MemberChangeRates(), activity, truth
    )
    for day in range(start_day, end_day + 1):
        loop.run_day(day)
    writer.log.write(truth_dir / DEFECTS_FILE)
    if truth is not None:
        truth.write(truth_dir / ACTIVITY_FILE)
    else:  # an answer key of an earlier run would not match these files
        (truth_dir / ACTIVITY_FILE).unlink(missing_ok=True)

    return GenerationSummary(
        out_dir=out_dir,
        truth_dir=truth_dir,
        files_per_source={s: writer.files.get(s, 0) for s in SOURCES},
        rows_per_source={s: writer.rows.get(s, 0) for s in SOURCES},
        defects=writer.log.totals(),
        members_per_persona=population.members_per_persona(),
        elapsed_seconds=time.perf_counter() - began,
    )


def _check_arguments(out_dir: Path, truth_dir: Path, members: int, start: date, end: date, defect_rate: float) -> None:
    if members < 1:
        raise ValueError("members must be at least 1")
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if not 0 <= defect_rate <= 1:
        raise ValueError("defect_rate must be between 0 and 1")
    # Ground truth must never be picked up as landing data.
    if truth_dir.resolve().is_relative_to(out_dir.resolve()):
        raise ValueError(f"truth_dir {truth_dir} must not lie inside out_dir {out_dir}")


def _prepare_folders(out_dir: Path, truth_dir: Path) -> None:
    for source in SOURCES:
        shutil.rmtree(out_dir / source, ignore_errors=True)
    # The simulated campaign's answer key describes responses written into the folders just removed.
    shutil.rmtree(truth_dir / CAMPAIGN_TRUTH_FOLDER, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)


class _DayLoop:
    """Per-day generation; holds the state that carries over between days."""

    def __init__(
        self,
        population: Population,
        writer: LandingWriter,
        seed: int,
        start_day: int,
        end_day: int,
        member_changes: MemberChangeRates,
        activity: float = 1.0,
        truth: ActivityTruth | None = None,
    ):
        self.population = population
        self.writer = writer
        self.seed = seed
        self.start_day = start_day
        self.end_day = end_day
        self.member_changes = member_changes
        self.activity = activity
        self.truth = truth
        self.pending_refunds = PendingRows(end_day)
        self.pending_ticket_updates = PendingRows(end_day)

    def run_day(self, day: int) -> None:
        self._members(day)
        p = self.population
        active = p.registered_before(day)  # members act from the day after they register
        factors = activity_factors(p.persona[:active], p.change_day[:active], day, self.start_day, self.end_day)
        pattern = day_pattern(day_date(day))

        orders = new_orders(p, day, pattern, factors.orders * self.activity, rng_for(self.seed, "orders", day))
        refunds, refund_day = refunds_of(orders, day, rng_for(self.seed, "orders", day, 1))
        self.pending_refunds.add(refunds, refund_day)
        placed = orders
        orders = _by_update_time([orders, *self.pending_refunds.pop(day)], "order_id")
        in_store = orders["channel"] == "store"
        self.writer.deliver(POS_ORDERS, day, orders.filter(in_store))
        self.writer.deliver(ONLINE_ORDERS, day, orders.filter(~in_store))

        events = day_events(
            p, day, pattern.sessions, factors.sessions * self.activity, rng_for(self.seed, "events", day)
        )
        self.writer.deliver(APP_EVENTS, day, events)
        if self.truth is not None:
            self.truth.record(day, placed, refunds, refund_day, self.end_day, events)

        tickets = open_tickets(p, day, factors.tickets, factors.after_change, rng_for(self.seed, "tickets", day))
        self.pending_ticket_updates.add(tickets.updates, tickets.update_day)
        self.writer.deliver(
            SERVICE_TICKETS, day, _by_update_time([tickets.opened, *self.pending_ticket_updates.pop(day)], "ticket_id")
        )

        # No outreach has happened in the demo yet; the feed still delivers a (header-only) file daily.
        self.writer.deliver_header_only(OUTREACH, day)

    def _members(self, day: int) -> None:
        """The CRM delivers a full snapshot on the first day, then the day's new and changed members."""
        p = self.population
        if day == self.start_day:
            existing = np.arange(p.registered_before(day))
            self.writer.deliver(
                MEMBERS_FULL, day, member_rows(p, existing, np.full(len(existing), day * SECONDS_PER_DAY))
            )
        rng = rng_for(self.seed, "member_changes", day)
        changed = apply_daily_changes(p, day, rng, self.member_changes)
        registered = p.registered_on(day)
        change_time = day * SECONDS_PER_DAY + seconds_in_day(rng, ONLINE_HOURS, len(changed))
        index = np.concatenate([registered, changed])
        updated_at = np.concatenate([p.registered_at[registered], change_time])
        rows = member_rows(p, index, updated_at).sort(["updated_at", "member_id"])
        self.writer.deliver(MEMBERS_DELTA, day, rows)


def _by_update_time(frames: list[pl.DataFrame], key: str) -> pl.DataFrame:
    return pl.concat(frames).sort(["updated_at", key])

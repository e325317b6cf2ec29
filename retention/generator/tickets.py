"""Customer-service tickets: opened on a day, re-delivered whenever their status changes.

Most tickets are resolved or closed within five days. Some complaints go to `in_progress` and stay
unresolved for weeks, which is what the "complaint unresolved beyond 48 hours" flag looks for.
Members whose persona breaks write themed text (competitor, no longer needed) after their change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from retention.generator.common import (
    SECONDS_PER_DAY,
    SERVICE_HOURS,
    constant,
    day_date,
    flatten_tables,
    member_ids,
    pick,
    prefixed_ids,
    seconds_in_day,
    weighted_choice,
)
from retention.generator.members import Population
from retention.generator.personas import PERSONAS, PROFILES, TICKETS_PER_DAY
from retention.generator.texts import THEMED_TEXTS, TICKET_TEXTS

TICKET_TYPES = tuple(TICKET_TEXTS)
_TICKET_TYPE_WEIGHTS = (0.5, 0.25, 0.25)
_THEMES = tuple(THEMED_TEXTS)
LONG_OPEN_COMPLAINT_SHARE = 0.15
CLOSED_SHARE = 0.3  # resolutions reported as `closed` rather than `resolved`
_SATISFACTION_WEIGHTS = {
    "complaint": (0.20, 0.25, 0.25, 0.20, 0.10),
    "other": (0.03, 0.07, 0.20, 0.35, 0.35),
}
_MIN_RESOLUTION_SECONDS = 15 * 60
_MAX_RESOLUTION_SECONDS = 5 * SECONDS_PER_DAY
_MEAN_RESOLUTION_SECONDS = 20 * 3600
_LONG_OPEN_DAYS = (20, 90)
SERVICE_OPENING_HOUR, SERVICE_CLOSING_HOUR = 9, 22

# Per persona: theme code (-1 none) and share of post-change tickets carrying it.
_THEME_CODE = np.array(
    [_THEMES.index(PROFILES[p].theme_after_change) if PROFILES[p].theme_after_change else -1 for p in PERSONAS]
)
_THEME_SHARE = np.array([PROFILES[p].theme_share for p in PERSONAS])


# Ordinary texts by ticket type, then themed texts, as one lookup table.
_TEXTS, _TEXT_OFFSET, _TEXT_COUNT = flatten_tables(
    [TICKET_TEXTS[t] for t in TICKET_TYPES] + [THEMED_TEXTS[t] for t in _THEMES]
)


@dataclass(frozen=True)
class TicketDay:
    opened: pl.DataFrame  # rows delivered today with status open
    updates: pl.DataFrame  # later status changes of these tickets
    update_day: np.ndarray  # delivery day of each update row


def open_tickets(
    population: Population,
    day: int,
    ticket_factor: np.ndarray,
    after_change: np.ndarray,
    rng: np.random.Generator,
) -> TicketDay:
    n = len(ticket_factor)
    persona = population.persona[:n]
    member = np.repeat(np.arange(n), rng.poisson(TICKETS_PER_DAY[persona] * ticket_factor))
    k = len(member)
    opened_at = day * SECONDS_PER_DAY + np.sort(seconds_in_day(rng, SERVICE_HOURS, k))
    ticket_type = weighted_choice(rng, _TICKET_TYPE_WEIGHTS, k)
    themed = (
        after_change[member] & (_THEME_CODE[persona[member]] >= 0) & (rng.random(k) < _THEME_SHARE[persona[member]])
    )
    # A themed message is raised as a consultation or a complaint.
    ticket_type = np.where(themed, np.where(rng.random(k) < 0.5, 0, 1), ticket_type)
    table = np.where(themed, len(TICKET_TYPES) + _THEME_CODE[persona[member]], ticket_type)
    text = _TEXT_OFFSET[table] + (rng.random(k) * _TEXT_COUNT[table]).astype(np.int64)

    opened = pl.DataFrame(
        {
            "ticket_id": prefixed_ids("T" + day_date(day).strftime("%Y%m%d"), np.arange(1, k + 1), 6),
            "member_id": member_ids(member),
            "opened_at": pl.Series(opened_at, dtype=pl.Int64),
            "closed_at": constant(None, k, pl.Int64),
            "ticket_type": pick(TICKET_TYPES, ticket_type),
            "status": constant("open", k, pl.String),
            "content": pick(_TEXTS, text),
            "satisfaction": constant(None, k, pl.Int64),
            "updated_at": pl.Series(opened_at, dtype=pl.Int64),
        }
    )
    updates, update_time = _status_changes(opened, ticket_type, rng)
    return TicketDay(opened, updates, update_time // SECONDS_PER_DAY)


def _status_changes(
    opened: pl.DataFrame, ticket_type: np.ndarray, rng: np.random.Generator
) -> tuple[pl.DataFrame, np.ndarray]:
    """The later deliveries of the day's tickets: a resolution, or for long-open complaints
    an `in_progress` update first and a resolution weeks later (often beyond the range)."""
    k = opened.height
    opened_at = opened["opened_at"].to_numpy()
    complaint = ticket_type == TICKET_TYPES.index("complaint")
    long_open = complaint & (rng.random(k) < LONG_OPEN_COMPLAINT_SHARE)

    quick = np.clip(rng.exponential(_MEAN_RESOLUTION_SECONDS, k), _MIN_RESOLUTION_SECONDS, _MAX_RESOLUTION_SECONDS)
    slow = rng.uniform(_LONG_OPEN_DAYS[0], _LONG_OPEN_DAYS[1], k) * SECONDS_PER_DAY
    resolved_at = _within_service_hours(opened_at + np.where(long_open, slow, quick).astype(np.int64), rng)
    satisfaction = np.where(
        complaint,
        1 + weighted_choice(rng, _SATISFACTION_WEIGHTS["complaint"], k),
        1 + weighted_choice(rng, _SATISFACTION_WEIGHTS["other"], k),
    )
    resolution = opened.with_columns(
        status=pl.Series(np.where(rng.random(k) < CLOSED_SHARE, "closed", "resolved"), dtype=pl.String),
        closed_at=pl.Series(resolved_at, dtype=pl.Int64),
        satisfaction=pl.Series(satisfaction, dtype=pl.Int64),
        updated_at=pl.Series(resolved_at, dtype=pl.Int64),
    )
    progress_at = _within_service_hours(opened_at + rng.integers(2 * 3600, 2 * SECONDS_PER_DAY, k), rng)
    in_progress = opened.with_columns(
        status=pl.lit("in_progress"), updated_at=pl.Series(progress_at, dtype=pl.Int64)
    ).filter(pl.Series(long_open))
    rows = pl.concat([in_progress, resolution])
    return rows, np.concatenate([progress_at[long_open], resolved_at])


def _within_service_hours(moment: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Moments outside the service desk's hours move to the next opening (plus up to an hour):
    agents do not close tickets at 3 a.m."""
    day, second = moment // SECONDS_PER_DAY, moment % SECONDS_PER_DAY
    opening, closing = SERVICE_OPENING_HOUR * 3600, SERVICE_CLOSING_HOUR * 3600
    next_opening_day = np.where(second >= closing, day + 1, day)
    moved = next_opening_day * SECONDS_PER_DAY + opening + rng.integers(0, 3600, len(moment))
    return np.where((second < opening) | (second >= closing), moved, moment)

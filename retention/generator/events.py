"""One day of app / mini-program behaviour events, built session by session but vectorized.

A member's sessions for the day are a Poisson draw; each session is a login followed by a
geometric number of further events whose times advance by the dwell time on each page.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from retention.generator import reference as ref
from retention.generator.common import (
    ONLINE_HOURS,
    SECONDS_PER_DAY,
    day_date,
    flatten_tables,
    member_ids,
    pick,
    prefixed_ids,
    seconds_in_day,
)
from retention.generator.members import Population
from retention.generator.personas import SESSIONS_PER_DAY

EVENT_TYPES = ("login", *ref.SESSION_EVENT_WEIGHTS)
_LOGIN = 0
_PLATFORMS = ("mini_program", "app")  # indexed by "session is in the app"
_MEAN_EVENTS_AFTER_LOGIN = 4.0
_MAX_EVENTS_AFTER_LOGIN = 40
_MAX_DWELL_SECONDS = 1800


_PAGES, _PAGE_OFFSET, _PAGE_COUNT = flatten_tables([ref.PAGES_BY_EVENT_TYPE[t] for t in EVENT_TYPES])
_CODES, _CODE_OFFSET, _CODE_COUNT = flatten_tables(
    [ref.BENEFIT_CATALOGUE_BY_EVENT_TYPE.get(t, ()) for t in EVENT_TYPES]
)


def day_events(
    population: Population, day: int, session_pattern: float, session_factor: np.ndarray, rng: np.random.Generator
) -> pl.DataFrame:
    n = len(session_factor)
    rate = SESSIONS_PER_DAY[population.persona[:n]] * population.session_scale[:n] * session_factor * session_pattern
    session_member = np.repeat(np.arange(n), rng.poisson(rate))
    sessions = len(session_member)
    session_start = seconds_in_day(rng, ONLINE_HOURS, sessions)
    on_app = rng.random(sessions) < population.app_share[session_member]

    after_login = np.minimum(rng.geometric(1.0 / _MEAN_EVENTS_AFTER_LOGIN, sessions), _MAX_EVENTS_AFTER_LOGIN)
    size = 1 + after_login
    session = np.repeat(np.arange(sessions), size)
    first_event = np.cumsum(size) - size
    position = np.arange(len(session)) - first_event[session]

    event_type = _event_types(position, rng)
    dwell = _dwell_seconds(event_type, rng)
    # An event starts when the previous pages of its session were left (dwell plus a short gap).
    step = dwell + rng.integers(1, 6, len(dwell))
    elapsed = np.cumsum(step) - step
    offset = elapsed - elapsed[first_event[session]]
    seconds = np.minimum(session_start[session] + offset, SECONDS_PER_DAY - 1)

    order = np.lexsort((position, session, seconds))
    event_type, session, seconds = event_type[order], session[order], seconds[order]
    page = _PAGE_OFFSET[event_type] + (rng.random(len(order)) * _PAGE_COUNT[event_type]).astype(np.int64)
    has_code = _CODE_COUNT[event_type] > 0
    code = np.where(
        has_code, _CODE_OFFSET[event_type] + (rng.random(len(order)) * _CODE_COUNT[event_type]).astype(np.int64), -1
    )
    return pl.DataFrame(
        {
            "event_id": prefixed_ids("E" + day_date(day).strftime("%Y%m%d"), np.arange(1, len(order) + 1), 8),
            "member_id": member_ids(session_member[session]),
            "event_time": pl.Series(day * SECONDS_PER_DAY + seconds, dtype=pl.Int64),
            "event_type": pick(EVENT_TYPES, event_type),
            "platform": pick(_PLATFORMS, on_app[session].astype(np.int64)),
            "page": pick(_PAGES, page),
            "benefit_code": pick(_CODES, code),
            "dwell_seconds": pl.Series(dwell[order], dtype=pl.Int64),
        }
    )


def _event_types(position: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    weights = np.array(list(ref.SESSION_EVENT_WEIGHTS.values()))
    later = 1 + rng.choice(len(weights), size=len(position), p=weights / weights.sum())
    return np.where(position == 0, _LOGIN, later)


def _dwell_seconds(event_type: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    page_dwell = np.clip(np.round(rng.lognormal(np.log(18.0), 0.9, len(event_type))), 1, _MAX_DWELL_SECONDS)
    login_dwell = rng.integers(1, 8, len(event_type))
    return np.where(event_type == _LOGIN, login_dwell, page_dwell).astype(np.int64)

"""Small helpers shared by the generator modules: day numbers, random streams, id columns.

Times are carried as integer seconds since 1970-01-01 of local wall-clock time (no time zone:
the landing contract wants local time) and days as integer day numbers, so that whole columns
can be computed with numpy and only turned into text when a file is written.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

EPOCH = date(1970, 1, 1)
SECONDS_PER_DAY = 86_400

# One random stream per concern, so that e.g. changing the defect rate leaves the clean data as it was.
_STREAMS = {
    "population": 1,
    "member_changes": 2,
    "orders": 3,
    "events": 4,
    "tickets": 5,
    "defects": 6,
}


def day_number(day: date) -> int:
    return (day - EPOCH).days


def day_date(number: int) -> date:
    return EPOCH + timedelta(days=int(number))


def rng_for(seed: int, stream: str, *parts: int) -> np.random.Generator:
    """A generator that depends only on (seed, stream, parts), e.g. parts=(day,) for one day's draws."""
    return np.random.default_rng([seed, _STREAMS[stream], *(int(p) for p in parts)])


def prefixed_ids(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    """`prefix` + zero-padded numbers, e.g. M00000042."""
    digits = pl.Series(np.asarray(numbers, dtype=np.int64)).cast(pl.String).str.zfill(width)
    return (prefix + digits).alias("id") if len(digits) else pl.Series("id", [], dtype=pl.String)


def member_ids(member_index: np.ndarray) -> pl.Series:
    """Member ids follow registration order: index 0 is M00000001."""
    return prefixed_ids("M", np.asarray(member_index, dtype=np.int64) + 1, 8)


def constant(value, n: int, dtype: pl.DataType) -> pl.Series:
    """A column of n equal values (None for an all-missing column), built without a Python list."""
    return pl.repeat(value, n, dtype=dtype, eager=True)


def pick(values: tuple[str, ...], index: np.ndarray) -> pl.Series:
    """values[index] for a whole array of indices, as a string column; a negative index gives null."""
    index = np.asarray(index, dtype=np.int64)
    positions = pl.Series(index)
    if len(index) and index.min() < 0:
        positions = pl.select(pl.when(positions >= 0).then(positions)).to_series()
    return pl.Series(values, dtype=pl.String).gather(positions)


def weighted_choice(rng: np.random.Generator, weights, size: int) -> np.ndarray:
    """Indices drawn with probability proportional to `weights`."""
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(p), size=size, p=p / p.sum())


def flatten_tables(tables) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Several small lookup tables as one tuple plus each table's offset and length, so that
    "a random entry of table t[i]" can be drawn for a whole array of t at once."""
    lengths = np.array([len(t) for t in tables], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return tuple(v for t in tables for v in t), offsets, lengths


def seconds_in_day(rng: np.random.Generator, hour_weights, size: int) -> np.ndarray:
    """Random seconds after midnight, hours drawn from 24 weights, uniform within the hour."""
    hours = weighted_choice(rng, hour_weights, size)
    return hours * 3600 + rng.integers(0, 3600, size)


# Relative traffic by hour of day.
STORE_HOURS = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 6, 7, 6, 5, 6, 7, 8, 9, 9, 8, 5, 0, 0)
ONLINE_HOURS = (2, 1, 0.5, 0.3, 0.3, 0.5, 1, 2, 3, 4, 5, 5, 6, 5, 4, 4, 4, 5, 6, 7, 9, 10, 8, 4)
SERVICE_HOURS = (0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 8, 8, 6, 6, 8, 8, 7, 6, 5, 5, 4, 3, 0, 0)

"""Rows decided on one day but delivered on a later one (refunds, ticket status changes).

Only the rows still to come are held, so memory is bounded by the longest delay, not the range.
"""

from __future__ import annotations

import numpy as np
import polars as pl

_DAY = "_deliver_day"


class PendingRows:
    def __init__(self, last_day: int):
        self._last_day = last_day
        self._by_day: dict[int, list[pl.DataFrame]] = {}

    def add(self, rows: pl.DataFrame, deliver_day: np.ndarray) -> None:
        """Hold `rows` until their delivery day; rows due after the last generated day are dropped."""
        if rows.height == 0:
            return
        keep = np.asarray(deliver_day) <= self._last_day
        rows = rows.with_columns(pl.Series(_DAY, np.asarray(deliver_day, dtype=np.int64))).filter(pl.Series(keep))
        for (day,), part in rows.partition_by(_DAY, as_dict=True, maintain_order=True).items():
            self._by_day.setdefault(int(day), []).append(part.drop(_DAY))

    def pop(self, day: int) -> list[pl.DataFrame]:
        return self._by_day.pop(day, [])

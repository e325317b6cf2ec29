"""How busy a calendar day is: Chinese retail seasons and the weekly rhythm.

Multipliers are relative to an ordinary weekday-averaged day (about 1.0), one per activity kind,
because the peaks differ: Double 11 is an online event, Spring Festival empties the stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# Spring Festival (春节) moves with the lunar calendar.
SPRING_FESTIVAL = {
    2019: date(2019, 2, 5),
    2020: date(2020, 1, 25),
    2021: date(2021, 2, 12),
    2022: date(2022, 2, 1),
    2023: date(2023, 1, 22),
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
}

# Monday .. Sunday. Stores fill up at the weekend; online shopping and app use are flatter.
# Each tuple averages to 1.0 over a week.
_STORE_WEEKDAY = (0.82, 0.82, 0.84, 0.86, 1.02, 1.40, 1.24)
_ONLINE_WEEKDAY = (0.98, 0.97, 0.97, 0.98, 0.95, 1.05, 1.10)
_SESSION_WEEKDAY = (0.95, 0.95, 0.95, 0.95, 0.97, 1.10, 1.13)


@dataclass(frozen=True)
class DayPattern:
    store: float  # store orders
    online: float  # online / app / mini-program orders
    sessions: float  # app and mini-program sessions


def day_pattern(day: date) -> DayPattern:
    weekday = day.weekday()
    store, online, sessions = _STORE_WEEKDAY[weekday], _ONLINE_WEEKDAY[weekday], _SESSION_WEEKDAY[weekday]
    for s, o, e in (_spring_festival(day), _mid_year_618(day), _double_11(day), _year_end(day)):
        store, online, sessions = store * s, online * o, sessions * e
    return DayPattern(store, online, sessions)


def _spring_festival(day: date) -> tuple[float, float, float]:
    festival = SPRING_FESTIVAL.get(day.year)
    if festival is None:
        return 1.0, 1.0, 1.0
    offset = (day - festival).days
    if -21 <= offset <= -1:  # new-year shopping (年货)
        return 1.45, 1.25, 1.05
    if 0 <= offset <= 6:  # the holiday week: stores and couriers quiet, phones busy (red envelopes)
        return 0.55, 0.45, 1.15
    return 1.0, 1.0, 1.0


def _mid_year_618(day: date) -> tuple[float, float, float]:
    if day.month != 6 or day.day > 20:
        return 1.0, 1.0, 1.0
    if day.day == 18:
        return 1.25, 2.6, 1.6
    if day.day < 18:  # pre-sales and coupon hunting
        return 1.05, 1.3, 1.25
    return 1.0, 1.2, 1.05


def _double_11(day: date) -> tuple[float, float, float]:
    if (day.month, day.day) == (11, 11):
        return 1.3, 3.5, 2.0
    if (day.month == 10 and day.day >= 20) or (day.month == 11 and day.day < 11):
        return 1.0, 1.2, 1.25
    if (day.month, day.day) in ((11, 12), (11, 13)):
        return 1.0, 1.4, 1.1
    return 1.0, 1.0, 1.0


def _year_end(day: date) -> tuple[float, float, float]:
    if (day.month, day.day) == (12, 12):  # 双12
        return 1.1, 1.5, 1.2
    if day.month == 12 and day.day >= 20:
        return 1.3, 1.15, 1.05
    return 1.0, 1.0, 1.0

"""Member personas: who buys how often, and how that changes over the generated range.

Each member gets one persona (kept as ground truth) and, for the personas whose behaviour breaks,
a change date. A persona is a set of rates plus a trajectory; `activity_factors` turns them into
one multiplier per member for a given day, computed for all members at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PersonaProfile:
    name: str
    orders_per_month: float
    sessions_per_month: float  # app / mini-program sessions, each opened by a login
    tickets_per_year: float
    store_share: float  # share of the member's orders placed in a store (rest online/app/mini program)
    basket_factor: float = 1.0  # multiplies the member's typical order amount
    # Change date drawn within [end - window[0], end - window[1]] days; None = no change date.
    change_window: tuple[int, int] | None = None
    # After the change date activity decays towards these levels (1.0 = unchanged).
    orders_after_change: float = 1.0
    sessions_after_change: float = 1.0
    decay_days: float = 0.0  # 0 = a step change; otherwise the e-folding time of the decline
    tickets_after_change: float = 1.0  # ticket-rate multiplier after the change date
    # Ticket text theme after the change date, and the share of tickets carrying it.
    theme_after_change: str | None = None
    theme_share: float = 0.0
    # Linear trend over the range: factor runs from 1 - growth/2 to 1 + growth/2.
    growth: float = 0.0
    registered_in_range: bool = False


PROFILES: dict[str, PersonaProfile] = {
    p.name: p
    for p in (
        PersonaProfile("loyal", 3.2, 4.0, 0.4, 0.55, basket_factor=1.4),
        PersonaProfile("growing", 1.8, 3.0, 0.4, 0.45, growth=1.2),
        PersonaProfile(
            "declining",
            2.4,
            3.5,
            0.5,
            0.5,
            change_window=(182, 21),
            orders_after_change=0.1,
            sessions_after_change=0.1,
            decay_days=40,
            tickets_after_change=2.0,
            theme_after_change="no_longer_needed",
            theme_share=0.35,
        ),
        PersonaProfile("dormant", 0.08, 0.3, 0.05, 0.6, basket_factor=0.8),
        PersonaProfile(
            "churned",
            1.8,
            2.5,
            0.3,
            0.5,
            change_window=(365, 30),
            orders_after_change=0.0,
            sessions_after_change=0.0,
            tickets_after_change=0.0,
        ),
        PersonaProfile(
            "switching",
            2.4,
            3.5,
            0.5,
            0.45,
            change_window=(182, 21),
            orders_after_change=0.15,
            sessions_after_change=0.3,
            decay_days=7,
            tickets_after_change=3.0,
            theme_after_change="competitor",
            theme_share=0.6,
        ),
        PersonaProfile("new", 1.6, 3.2, 0.4, 0.4, registered_in_range=True),
        PersonaProfile("occasional", 0.5, 1.2, 0.2, 0.6, basket_factor=0.9),
    )
}
PERSONAS = tuple(PROFILES)
NEW_PERSONA = "new"
# Personas whose members drift away during the range: what the churn-risk flags should find.
AT_RISK_PERSONAS = ("declining", "churned", "switching")

DEFAULT_PERSONA_SHARES: dict[str, float] = {
    "loyal": 0.15,
    "growing": 0.10,
    "declining": 0.12,
    "dormant": 0.12,
    "churned": 0.08,
    "switching": 0.05,
    "new": 0.15,
    "occasional": 0.23,
}


# Profile fields as arrays indexed by persona code, so per-member values are a single gather.
def _column(field: str) -> np.ndarray:
    return np.array([getattr(PROFILES[p], field) for p in PERSONAS], dtype=np.float64)


ORDERS_PER_DAY = _column("orders_per_month") / 30.4
SESSIONS_PER_DAY = _column("sessions_per_month") / 30.4
TICKETS_PER_DAY = _column("tickets_per_year") / 365.25
STORE_SHARE = _column("store_share")
BASKET_FACTOR = _column("basket_factor")
_ORDERS_AFTER = _column("orders_after_change")
_SESSIONS_AFTER = _column("sessions_after_change")
_TICKETS_AFTER = _column("tickets_after_change")
_DECAY_DAYS = _column("decay_days")
_GROWTH = _column("growth")


def persona_counts(members: int, shares: dict[str, float]) -> dict[str, int]:
    """Members per persona from shares, rounded so the counts add up to `members` exactly.

    Largest-remainder rounding, ties broken by the fixed persona order, so it is deterministic.
    """
    unknown = set(shares) - set(PERSONAS)
    if unknown:
        raise ValueError(f"unknown persona(s) {sorted(unknown)}; known: {', '.join(PERSONAS)}")
    weights = np.array([max(float(shares.get(p, 0.0)), 0.0) for p in PERSONAS])
    if weights.sum() <= 0:
        raise ValueError("persona shares must contain a positive share")
    exact = weights / weights.sum() * members
    counts = np.floor(exact).astype(np.int64)
    remainder_order = np.argsort(-(exact - counts), kind="stable")
    counts[remainder_order[: members - counts.sum()]] += 1
    return {p: int(c) for p, c in zip(PERSONAS, counts, strict=True)}


def change_days(persona: np.ndarray, start_day: int, end_day: int, rng: np.random.Generator) -> np.ndarray:
    """Per-member change day number, -1 for personas without one.

    Windows are counted back from the end of the range; on short ranges they are clamped into it.
    """
    result = np.full(len(persona), -1, dtype=np.int32)
    for code, name in enumerate(PERSONAS):
        window = PROFILES[name].change_window
        members = np.flatnonzero(persona == code)
        if window is None or len(members) == 0:
            continue
        low = min(max(end_day - window[0], start_day), end_day)
        high = min(max(end_day - window[1], low), end_day)
        result[members] = rng.integers(low, high + 1, len(members))
    return result


@dataclass(frozen=True)
class ActivityFactors:
    orders: np.ndarray
    sessions: np.ndarray
    tickets: np.ndarray
    after_change: np.ndarray  # bool: the member's change date has passed


def activity_factors(
    persona: np.ndarray, change_day: np.ndarray, day: int, start_day: int, end_day: int
) -> ActivityFactors:
    """Multipliers of each member's base rates on `day` (arrays cover the members given)."""
    after = (change_day >= 0) & (day >= change_day)
    days_after = np.where(after, day - change_day, 0).astype(np.float64)
    decay = _DECAY_DAYS[persona]
    # exp(-t/decay) falls from 1 to 0; a zero decay time means an immediate step.
    remaining = np.where(decay > 0, np.exp(-days_after / np.maximum(decay, 1e-9)), 0.0)

    def towards(level: np.ndarray) -> np.ndarray:
        return np.where(after, level + (1.0 - level) * remaining, 1.0)

    progress = (day - start_day) / max(end_day - start_day, 1)
    growth = _GROWTH[persona]
    trend = 1.0 - growth / 2 + growth * progress
    return ActivityFactors(
        orders=towards(_ORDERS_AFTER[persona]) * trend,
        sessions=towards(_SESSIONS_AFTER[persona]) * trend,
        tickets=np.where(after, _TICKETS_AFTER[persona], 1.0),
        after_change=after,
    )

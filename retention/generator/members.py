"""The member population: static attributes drawn once, mutable CRM state changed day by day.

Member arrays are ordered by registration time, so member index i is id M{i+1:08d} and the members
registered before a day are always a prefix of the arrays. Memory is a few dozen bytes a member;
text (names, e-mails) is only built for the rows of a file being written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from retention.generator import reference as ref
from retention.generator.common import SECONDS_PER_DAY, constant, member_ids, pick, seconds_in_day, weighted_choice
from retention.generator.personas import (
    BASKET_FACTOR,
    NEW_PERSONA,
    PERSONAS,
    STORE_SHARE,
    change_days,
    persona_counts,
)

REGISTRATION_CHANNELS = ("store", "online", "app", "mini_program")
_REGISTRATION_CHANNEL_WEIGHTS = (0.45, 0.10, 0.20, 0.25)
GENDERS = ("F", "M", "U")
_GENDER_WEIGHTS = (0.56, 0.41, 0.03)
_PAID_LEVEL_WEIGHTS = (0.82, 0.10, 0.05, 0.03)
_LOYAL_PAID_LEVEL_WEIGHTS = (0.55, 0.22, 0.14, 0.09)
_EMAIL_DOMAIN_WEIGHTS = (0.40, 0.20, 0.10, 0.05, 0.10, 0.08, 0.07)
_REGISTRATION_HOURS = (0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 6, 7, 7, 6, 6, 7, 7, 8, 8, 8, 7, 5, 3, 1)
# Members registered before the range spread over this many days, more of them recently.
_HISTORY_DAYS = 4 * 365


@dataclass(frozen=True)
class MemberChangeRates:
    """Daily probability that a registered member changes state (drives the CRM delta files)."""

    sms_opt_out: float = 0.00025
    push_opt_out: float = 0.0003
    phone_opt_out: float = 0.00015
    paid_level_change: float = 0.0002


@dataclass
class Population:
    persona: np.ndarray  # int8 code into PERSONAS
    change_day: np.ndarray  # int32 day number, -1 = none
    registered_at: np.ndarray  # int64 seconds
    registration_day: np.ndarray  # int32 day number (sorted ascending)
    registration_channel: np.ndarray
    home_store: np.ndarray
    gender: np.ndarray
    birthday: np.ndarray  # int32 day number
    surname: np.ndarray
    given_first: np.ndarray
    given_second: np.ndarray  # -1 = one-character given name
    email_handle: np.ndarray  # -1 = no e-mail on file
    email_number: np.ndarray
    email_domain: np.ndarray
    mobile_second_digit: np.ndarray
    mobile_rest: np.ndarray
    basket_median: np.ndarray  # typical gross amount of the member's orders, CNY
    store_share: np.ndarray  # probability an order of the member is placed in a store
    app_share: np.ndarray  # probability a session is in the app rather than the mini program
    order_scale: np.ndarray  # member-level heterogeneity around the persona's rates (mean 1)
    session_scale: np.ndarray
    # Mutable CRM state.
    paid_level: np.ndarray
    consent_sms: np.ndarray
    consent_push: np.ndarray
    consent_phone: np.ndarray

    @property
    def size(self) -> int:
        return len(self.persona)

    def registered_before(self, day: int) -> int:
        """How many members registered before `day` (they are indices 0 .. n-1)."""
        return int(np.searchsorted(self.registration_day, day, side="left"))

    def registered_on(self, day: int) -> np.ndarray:
        return np.arange(self.registered_before(day), self.registered_before(day + 1))

    def members_per_persona(self) -> dict[str, int]:
        counts = np.bincount(self.persona, minlength=len(PERSONAS))
        return {name: int(n) for name, n in zip(PERSONAS, counts, strict=True)}


def build_population(
    members: int, start_day: int, end_day: int, shares: dict[str, float], rng: np.random.Generator
) -> Population:
    counts = persona_counts(members, shares)
    registered_at, persona = _registrations_and_personas(counts, start_day, end_day, rng)
    n = len(persona)
    paid_level = weighted_choice(rng, _PAID_LEVEL_WEIGHTS, n).astype(np.int8)
    loyal = persona == PERSONAS.index("loyal")
    paid_level[loyal] = weighted_choice(rng, _LOYAL_PAID_LEVEL_WEIGHTS, int(loyal.sum()))
    heterogeneity = 0.5  # lognormal sigma; mean-one scale keeps the persona averages
    return Population(
        persona=persona,
        change_day=change_days(persona, start_day, end_day, rng),
        registered_at=registered_at,
        registration_day=(registered_at // SECONDS_PER_DAY).astype(np.int32),
        registration_channel=weighted_choice(rng, _REGISTRATION_CHANNEL_WEIGHTS, n).astype(np.int8),
        home_store=rng.integers(0, len(ref.STORES), n).astype(np.int16),
        gender=weighted_choice(rng, _GENDER_WEIGHTS, n).astype(np.int8),
        birthday=_birthdays(start_day, n, rng),
        surname=rng.integers(0, len(ref.SURNAMES), n).astype(np.int16),
        given_first=rng.integers(0, len(ref.GIVEN_NAME_CHARS), n).astype(np.int16),
        given_second=np.where(rng.random(n) < 0.7, rng.integers(0, len(ref.GIVEN_NAME_CHARS), n), -1).astype(np.int16),
        email_handle=np.where(rng.random(n) < 0.75, rng.integers(0, len(ref.EMAIL_HANDLES), n), -1).astype(np.int16),
        email_number=rng.integers(1, 100_000, n).astype(np.int32),
        email_domain=weighted_choice(rng, _EMAIL_DOMAIN_WEIGHTS, n).astype(np.int8),
        mobile_second_digit=rng.integers(3, 10, n).astype(np.int8),
        mobile_rest=rng.integers(0, 1_000_000_000, n).astype(np.int64),
        basket_median=(rng.lognormal(np.log(150.0), 0.55, n) * BASKET_FACTOR[persona]).astype(np.float32),
        store_share=np.clip(STORE_SHARE[persona] + rng.normal(0, 0.2, n), 0.02, 0.98).astype(np.float32),
        app_share=rng.uniform(0.1, 0.9, n).astype(np.float32),
        order_scale=rng.lognormal(-(heterogeneity**2) / 2, heterogeneity, n).astype(np.float32),
        session_scale=rng.lognormal(-(heterogeneity**2) / 2, heterogeneity, n).astype(np.float32),
        paid_level=paid_level,
        consent_sms=rng.random(n) < 0.85,
        consent_push=rng.random(n) < 0.72,
        consent_phone=rng.random(n) < 0.65,
    )


def _registrations_and_personas(
    counts: dict[str, int], start_day: int, end_day: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Registration times (sorted) and persona codes; only the `new` persona registers in the range."""
    new_code = PERSONAS.index(NEW_PERSONA)
    existing_codes = np.repeat(
        [code for code, name in enumerate(PERSONAS) if name != NEW_PERSONA],
        [counts[name] for name in PERSONAS if name != NEW_PERSONA],
    )
    n_existing, n_new = len(existing_codes), counts[NEW_PERSONA]
    # Membership grew over time: u**1.6 puts more registrations close to the start of the range.
    days_before = 1 + np.floor(_HISTORY_DAYS * rng.random(n_existing) ** 1.6).astype(np.int64)
    existing_days = start_day - days_before
    new_days = rng.integers(start_day, end_day + 1, n_new)
    days = np.concatenate([existing_days, new_days])
    seconds = days * SECONDS_PER_DAY + seconds_in_day(rng, _REGISTRATION_HOURS, len(days))
    persona = np.concatenate([rng.permutation(existing_codes), np.full(n_new, new_code)]).astype(np.int8)
    # Existing members first, then new ones; each group in time order (groups do not overlap).
    order = np.concatenate(
        [np.argsort(seconds[:n_existing], kind="stable"), n_existing + np.argsort(seconds[n_existing:], kind="stable")]
    )
    return seconds[order].astype(np.int64), persona[order]


def _birthdays(start_day: int, n: int, rng: np.random.Generator) -> np.ndarray:
    age_years = np.clip(rng.normal(36, 11, n), 18, 75)
    return (start_day - np.floor(age_years * 365.25)).astype(np.int32)


def apply_daily_changes(
    population: Population, day: int, rng: np.random.Generator, rates: MemberChangeRates
) -> np.ndarray:
    """Change the CRM state of some members registered before `day`; returns their indices (sorted)."""
    eligible = population.registered_before(day)
    changed = [np.empty(0, dtype=np.int64)]
    for consent, rate in (
        (population.consent_sms, rates.sms_opt_out),
        (population.consent_push, rates.push_opt_out),
        (population.consent_phone, rates.phone_opt_out),
    ):
        candidates = _sample(rng, eligible, rate)
        opting_out = candidates[consent[candidates]]  # only a member who consented can opt out
        consent[opting_out] = False
        changed.append(opting_out)
    level_changes = _sample(rng, eligible, rates.paid_level_change)
    shift = rng.integers(1, 4, len(level_changes))  # always a different level among 0..3
    population.paid_level[level_changes] = (population.paid_level[level_changes] + shift) % 4
    changed.append(level_changes)
    return np.unique(np.concatenate(changed))


def _sample(rng: np.random.Generator, population_size: int, rate: float) -> np.ndarray:
    """A Bernoulli(rate) sample of indices 0..size-1 without drawing one number per member."""
    k = rng.binomial(population_size, rate) if population_size else 0
    return np.sort(rng.choice(population_size, size=k, replace=False)) if k else np.empty(0, dtype=np.int64)


NO_MOBILE_EVERY = 40


def member_rows(population: Population, index: np.ndarray, updated_at: np.ndarray) -> pl.DataFrame:
    """Full CRM state of the given members, typed (times in seconds, days as day numbers)."""
    p = population
    given_second = pick(("", *ref.GIVEN_NAME_CHARS), p.given_second[index] + 1)
    handle = p.email_handle[index]
    email = (
        pick(ref.EMAIL_HANDLES, np.maximum(handle, 0))
        + pl.Series(p.email_number[index]).cast(pl.String)
        + "@"
        + pick(ref.EMAIL_DOMAINS, p.email_domain[index])
    )
    mobile = (
        "1"
        + pl.Series(p.mobile_second_digit[index]).cast(pl.String)
        + pl.Series(p.mobile_rest[index]).cast(pl.String).str.zfill(9)
    )
    # About 1 in 40 members gave no number (registered at a till without one): SMS and calls must skip
    # them whatever their consent. Derived from the number's digits, so no random draw shifts.
    no_mobile = pl.Series(p.mobile_rest[index] % NO_MOBILE_EVERY == 0)
    mobile = mobile.zip_with(~no_mobile, constant(None, len(index), pl.String))
    store = p.home_store[index]
    return pl.DataFrame(
        {
            "member_id": member_ids(index),
            "name": pick(ref.SURNAMES, p.surname[index])
            + pick(ref.GIVEN_NAME_CHARS, p.given_first[index])
            + given_second,
            "mobile": mobile,
            "email": email.zip_with(pl.Series(handle >= 0), constant(None, len(index), pl.String)),
            "gender": pick(GENDERS, p.gender[index]),
            "birthday": pl.Series(p.birthday[index], dtype=pl.Int32),
            "registered_at": pl.Series(p.registered_at[index], dtype=pl.Int64),
            "registration_channel": pick(REGISTRATION_CHANNELS, p.registration_channel[index]),
            "home_store_id": pick(ref.STORE_IDS, store),
            "city": pick(ref.STORE_CITIES, store),
            "paid_level": pl.Series(p.paid_level[index], dtype=pl.Int64),
            "consent_sms": pl.Series(p.consent_sms[index], dtype=pl.Boolean),
            "consent_push": pl.Series(p.consent_push[index], dtype=pl.Boolean),
            "consent_phone": pl.Series(p.consent_phone[index], dtype=pl.Boolean),
            "updated_at": pl.Series(np.asarray(updated_at, dtype=np.int64), dtype=pl.Int64),
        }
    )

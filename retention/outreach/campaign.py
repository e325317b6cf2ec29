"""A win-back campaign as configuration: a versioned YAML file, validated before anything is written.

Every problem of the file is collected and reported at once, each naming its field (`waves[1].date`),
so operations fix a campaign file in one pass rather than one error per run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from retention.landing.safe_text import printable

RISK_LEVELS = ("high", "medium", "low")
REASONS = ("frequency_drop", "no_login", "competitor", "no_longer_needed", "overdue", "open_complaint")
TIERS = ("basic", "advanced", "premium")
CHANNELS = ("sms", "push", "call")
AUDIENCES = ("eligible", "non_responders")
MAX_HOLDOUT_SHARE = 0.5


class CampaignError(ValueError):
    """The campaign file cannot be used; the message lists every problem with its field."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        count = f"{len(problems)} problem{'' if len(problems) == 1 else 's'}"
        super().__init__(f"campaign file {printable(str(path))} is not valid ({count}):\n{lines}")


@dataclass(frozen=True)
class Eligibility:
    risk_levels: tuple[str, ...]
    reasons_any: tuple[str, ...]
    recoverable_within_days: int
    min_spend_12m: float


@dataclass(frozen=True)
class PriorityBand:
    name: str
    min_score: float


@dataclass(frozen=True)
class Priority:
    reason_points: Mapping[str, float]
    tier_points: Mapping[str, float]
    bands: tuple[PriorityBand, ...]  # highest min_score first
    max_targets: int | None


@dataclass(frozen=True)
class Holdout:
    share: float
    baseline_response_rate: float


@dataclass(frozen=True)
class Caps:
    high_value: int
    others: int


@dataclass(frozen=True)
class Channel:
    name: str
    unit_cost: float
    unsubscribe_text: str = ""
    # Calls only: the customer-service capacity of one wave.
    agents: int = 0
    calls_per_agent_per_day: int = 0
    days: int = 0

    @property
    def capacity_per_day(self) -> int:
        return self.agents * self.calls_per_agent_per_day


@dataclass(frozen=True)
class Routing:
    high_value: tuple[str, ...]
    others: tuple[str, ...]
    call_overflow: tuple[str, ...]


@dataclass(frozen=True)
class Offer:
    offer_id: str
    name: str
    face_value: float
    expected_redemption: float
    # How a redemption shows in the data: an order with this coupon code, or a `benefit_use` event with
    # this benefit code (the retrospective counts redemptions and spend from them). Neither: not tracked.
    coupon_code: str | None = None
    benefit_code: str | None = None

    @property
    def expected_cost(self) -> float:
        return round(self.face_value * self.expected_redemption, 2)


@dataclass(frozen=True)
class OfferRule:
    """Gives `offer` to a member matching every condition set (unset conditions match anyone)."""

    offer: str
    reasons_any: tuple[str, ...] = ()
    high_value: bool | None = None


@dataclass(frozen=True)
class Wave:
    wave_id: str
    wave_date: date
    audience: str
    offers: tuple[OfferRule, ...]
    sms_quota: int | None


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    name: str
    window_start: date
    window_end: date
    attribution_days: int
    eligibility: Eligibility
    priority: Priority
    holdout: Holdout
    budget_cny: float
    sms_quota: int
    caps: Caps
    channels: Mapping[str, Channel]
    routing: Routing
    offers: Mapping[str, Offer]
    waves: tuple[Wave, ...]
    source: Path

    def wave(self, wave_id: str) -> Wave:
        return next(wave for wave in self.waves if wave.wave_id == wave_id)

    def previous_wave(self, wave: Wave) -> Wave | None:
        index = self.waves.index(wave)
        return self.waves[index - 1] if index else None

    def batch_id(self, wave: Wave) -> str:
        return f"{self.campaign_id}-{wave.wave_id}-{wave.wave_date:%Y%m%d}"


def load_campaign(path: Path) -> Campaign:
    """Read and validate a campaign file; raises CampaignError listing every problem."""
    path = Path(path)
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_DatesAsText)
    except FileNotFoundError:
        raise CampaignError(path, ["the file does not exist (set RETENTION_CAMPAIGN_FILE)"]) from None
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise CampaignError(path, [f"not readable as UTF-8 YAML{at}: {printable(type(exc).__name__)}"]) from None
    reader = _Reader(path)
    campaign = reader.campaign(document)
    if reader.problems:
        raise CampaignError(path, reader.problems)
    return campaign


class _DatesAsText(yaml.SafeLoader):
    """SafeLoader leaving dates as text for `_Reader.day`, which names the field: SafeLoader itself raises a
    bare ValueError on 2025-02-30 and gives a datetime (not comparable with a date) for 2025-08-15 10:00."""


_DatesAsText.add_constructor("tag:yaml.org,2002:timestamp", _DatesAsText.construct_yaml_str)


class _Reader:
    """Reads fields out of the parsed YAML, recording a problem per bad field instead of stopping."""

    def __init__(self, path: Path):
        self.path = path
        self.problems: list[str] = []
        self.offer_ids: set[str] = set()  # every offer the file declares, valid or not

    def problem(self, field: str, message: str) -> None:
        self.problems.append(f"`{field}`: {message}")

    def section(self, parent: Any, key: str, field: str, *, allowed: tuple[str, ...], optional: tuple[str, ...] = ()):
        value = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(value, dict):
            self.problem(field, "missing" if value is None else "must be a mapping of fields")
            return {}
        self.known_keys(value, field, allowed + optional)
        return value

    def known_keys(self, mapping: dict, field: str, allowed: tuple[str, ...]) -> None:
        for key in mapping:
            if key not in allowed:
                expected = ", ".join(allowed)
                self.problem(f"{field}.{printable(str(key), 40)}", f"unknown field (expected one of {expected})")

    def value(self, mapping: dict, key: str, field: str, kind: type | tuple[type, ...], default: Any = ...):
        if key not in mapping or mapping[key] is None:
            if default is ...:
                self.problem(field, "missing")
                return None
            return default
        value = mapping[key]
        # YAML reads 1 as int: accept it where a number is expected, but never a bool as a number.
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and bool not in kinds:
            self.problem(field, f"must be {_kind_name(kinds)}, not a true/false value")
            return None
        if not isinstance(value, kinds):
            self.problem(field, f"must be {_kind_name(kinds)} (got {printable(repr(value), 40)})")
            return None
        return value

    def number(self, mapping: dict, key: str, field: str, *, low: float, high: float | None = None, default: Any = ...):
        value = self.value(mapping, key, field, float, default)
        if value is None or value is default:
            return value
        if not math.isfinite(value) or value < low or (high is not None and value > high):
            bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
            self.problem(field, f"must be {bound} (got {value:g})")
            return None
        return value

    def integer(self, mapping: dict, key: str, field: str, *, low: int, default: Any = ...):
        value = self.value(mapping, key, field, int, default)
        if value is None or value is default:
            return value
        if value < low:
            self.problem(field, f"must be at least {low} (got {value})")
            return None
        return value

    def day(self, mapping: dict, key: str, field: str) -> date | None:
        value = mapping.get(key)
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        self.problem(field, "missing" if value is None else "must be a date YYYY-MM-DD")
        return None

    def codes(self, mapping: dict, key: str, field: str, allowed: tuple[str, ...], *, default: Any = ...) -> tuple:
        value = self.value(mapping, key, field, list, default)
        if value is None:
            return ()
        bad = [item for item in value if item not in allowed]
        for item in bad:
            self.problem(field, f"unknown value {printable(repr(item), 40)} (expected one of {', '.join(allowed)})")
        return tuple(item for item in value if item in allowed)

    def campaign(self, document: Any) -> Campaign:
        top_fields = (
            "campaign_id", "name", "window", "attribution_days", "eligibility", "priority", "holdout",
            "budget_cny", "sms_quota", "caps", "channels", "routing", "offers", "waves",
        )  # fmt: skip
        if not isinstance(document, dict):
            self.problem("(file)", "must be a YAML mapping of the campaign's fields")
            document = {}
        self.known_keys(document, "(file)", top_fields)
        campaign_id = self.value(document, "campaign_id", "campaign_id", str)
        if campaign_id is not None and not _is_slug(campaign_id):
            self.problem("campaign_id", "use letters, digits, '-' and '_' only (it names files and batches)")
        window = self.section(document, "window", "window", allowed=("start", "end"))
        start, end = self.day(window, "start", "window.start"), self.day(window, "end", "window.end")
        if start and end and end < start:
            self.problem("window.end", f"is before window.start ({start})")
            end = None  # reported once here, not again as every wave being outside the window
        offers = self.offers(document)
        channels = self.channels(document)
        waves = self.waves(document, start, end, offers, channels)
        sms_quota = self.integer(document, "sms_quota", "sms_quota", low=0)
        wave_quotas = sum(wave.sms_quota or 0 for wave in waves)
        if sms_quota is not None and wave_quotas > sms_quota:
            self.problem("waves[].sms_quota", f"add up to {wave_quotas}, more than sms_quota ({sms_quota})")
        return Campaign(
            campaign_id=campaign_id or "",
            name=self.value(document, "name", "name", str, default=campaign_id or ""),
            window_start=start or date.min,
            window_end=end or date.max,
            attribution_days=self.integer(document, "attribution_days", "attribution_days", low=1) or 1,
            eligibility=self.eligibility(document),
            priority=self.priority(document),
            holdout=self.holdout(document),
            budget_cny=self.number(document, "budget_cny", "budget_cny", low=0) or 0.0,
            sms_quota=sms_quota or 0,
            caps=self.caps(document),
            channels=channels,
            routing=self.routing(document, channels),
            offers=offers,
            waves=waves,
            source=self.path,
        )

    def eligibility(self, document: dict) -> Eligibility:
        section = self.section(
            document,
            "eligibility",
            "eligibility",
            allowed=("risk_levels", "recoverable_within_days", "min_spend_12m"),
            optional=("reasons_any",),
        )
        levels = self.codes(section, "risk_levels", "eligibility.risk_levels", RISK_LEVELS)
        if "risk_levels" in section and not levels:
            self.problem("eligibility.risk_levels", "must name at least one risk level")
        return Eligibility(
            risk_levels=levels,
            reasons_any=self.codes(section, "reasons_any", "eligibility.reasons_any", REASONS, default=[]),
            recoverable_within_days=self.integer(
                section, "recoverable_within_days", "eligibility.recoverable_within_days", low=0
            )
            or 0,
            min_spend_12m=self.number(section, "min_spend_12m", "eligibility.min_spend_12m", low=0) or 0.0,
        )

    def priority(self, document: dict) -> Priority:
        section = self.section(
            document,
            "priority",
            "priority",
            allowed=("bands",),
            optional=("reason_points", "tier_points", "max_targets"),
        )
        reason_points = self.points(section, "reason_points", REASONS)
        tier_points = self.points(section, "tier_points", TIERS)
        bands = []
        raw_bands = self.value(section, "bands", "priority.bands", list) or []
        for index, raw in enumerate(raw_bands):
            field = f"priority.bands[{index}]"
            if not isinstance(raw, dict):
                self.problem(field, "must be a mapping with name and min_score")
                continue
            self.known_keys(raw, field, ("name", "min_score"))
            name = self.value(raw, "name", f"{field}.name", str)
            min_score = self.value(raw, "min_score", f"{field}.min_score", float)
            if name is not None and min_score is not None:
                bands.append(PriorityBand(name, min_score))
        ordered = tuple(sorted(bands, key=lambda band: -band.min_score))
        if raw_bands and bands and ordered[-1].min_score > 0:
            self.problem("priority.bands", "the lowest band must start at min_score 0, so every member has a band")
        if len({band.name for band in bands}) < len(bands):
            self.problem("priority.bands", "band names must be unique")
        max_targets = self.integer(section, "max_targets", "priority.max_targets", low=1, default=None)
        return Priority(reason_points, tier_points, ordered, max_targets)

    def points(self, section: dict, key: str, allowed: tuple[str, ...]) -> dict[str, float]:
        raw = section.get(key) or {}
        if not isinstance(raw, dict):
            self.problem(f"priority.{key}", "must be a mapping of code: points")
            return {}
        points = {}
        for code in raw:
            field = f"priority.{key}.{printable(str(code), 40)}"
            if code not in allowed:
                self.problem(field, f"unknown code (expected one of {', '.join(allowed)})")
                continue
            number = self.number(raw, code, field, low=0)
            if number is not None:
                points[code] = number
        return points

    def holdout(self, document: dict) -> Holdout:
        section = self.section(document, "holdout", "holdout", allowed=("share", "baseline_response_rate"))
        return Holdout(
            share=self.number(section, "share", "holdout.share", low=0, high=MAX_HOLDOUT_SHARE) or 0.0,
            baseline_response_rate=self.number(
                section, "baseline_response_rate", "holdout.baseline_response_rate", low=0.001, high=0.999
            )
            or 0.5,
        )

    def caps(self, document: dict) -> Caps:
        section = self.section(document, "caps", "caps", allowed=("high_value", "others"))
        return Caps(
            high_value=self.integer(section, "high_value", "caps.high_value", low=1) or 1,
            others=self.integer(section, "others", "caps.others", low=1) or 1,
        )

    def channels(self, document: dict) -> dict[str, Channel]:
        section = self.section(document, "channels", "channels", allowed=CHANNELS)
        channels = {}
        for name in CHANNELS:
            field = f"channels.{name}"
            raw = section.get(name)
            if raw is None:
                self.problem(field, "missing (every channel needs at least its unit_cost)")
                continue
            if not isinstance(raw, dict):
                self.problem(field, "must be a mapping of fields")
                continue
            extra = {"sms": ("unsubscribe_text",), "call": ("agents", "calls_per_agent_per_day", "days")}.get(name, ())
            self.known_keys(raw, field, ("unit_cost", *extra))
            channel = Channel(name, self.number(raw, "unit_cost", f"{field}.unit_cost", low=0) or 0.0)
            if name == "sms":
                text = self.value(raw, "unsubscribe_text", f"{field}.unsubscribe_text", str)
                if text is not None and not text.strip():
                    self.problem(f"{field}.unsubscribe_text", "must say how to unsubscribe (the law requires it)")
                channel = Channel(name, channel.unit_cost, unsubscribe_text=text or "")
            if name == "call":
                channel = Channel(
                    name,
                    channel.unit_cost,
                    agents=self.integer(raw, "agents", f"{field}.agents", low=0) or 0,
                    calls_per_agent_per_day=self.integer(
                        raw, "calls_per_agent_per_day", f"{field}.calls_per_agent_per_day", low=0
                    )
                    or 0,
                    days=self.integer(raw, "days", f"{field}.days", low=1) or 1,
                )
            channels[name] = channel
        return channels

    def routing(self, document: dict, channels: Mapping[str, Channel]) -> Routing:
        section = self.section(document, "routing", "routing", allowed=("high_value", "others", "call_overflow"))
        lists = {}
        for key in ("high_value", "others", "call_overflow"):
            field = f"routing.{key}"
            lists[key] = self.codes(section, key, field, CHANNELS)
            if key in section and not lists[key]:
                self.problem(field, "must name at least one channel")
            if len(set(lists[key])) < len(lists[key]):
                self.problem(field, "names a channel twice")
        if "call" in lists["call_overflow"]:
            self.problem("routing.call_overflow", "cannot contain call (it is where calls beyond capacity go)")
        return Routing(**lists)

    def offers(self, document: dict) -> dict[str, Offer]:
        section = document.get("offers")
        if not isinstance(section, dict) or not section:
            self.problem("offers", "missing" if section is None else "must be a mapping of offer id: fields")
            return {}
        offers = {}
        for offer_id, raw in section.items():
            field = f"offers.{printable(str(offer_id), 40)}"
            self.offer_ids.add(offer_id)
            if not isinstance(offer_id, str) or not _is_slug(offer_id):
                self.problem(field, "offer ids use letters, digits, '-' and '_' only")
                continue
            if not isinstance(raw, dict):
                self.problem(field, "must be a mapping with name, face_value and expected_redemption")
                continue
            self.known_keys(raw, field, ("name", "face_value", "expected_redemption", "coupon_code", "benefit_code"))
            name = self.value(raw, "name", f"{field}.name", str)
            face = self.number(raw, "face_value", f"{field}.face_value", low=0)
            redemption = self.number(raw, "expected_redemption", f"{field}.expected_redemption", low=0, high=1)
            codes = self.redemption_codes(raw, field)
            if name is not None and face is not None and redemption is not None:
                offers[offer_id] = Offer(offer_id, name, face, redemption, *codes)
        seen: dict[str, str] = {}
        for offer in offers.values():
            for code in (offer.coupon_code, offer.benefit_code):
                if code is None:
                    continue
                if code in seen:
                    self.problem(
                        f"offers.{offer.offer_id}", f"redemption code {printable(code, 40)} is also {seen[code]}'s"
                    )
                seen[code] = offer.offer_id
        return offers

    def redemption_codes(self, raw: dict, field: str) -> tuple[str | None, str | None]:
        codes = []
        for key in ("coupon_code", "benefit_code"):
            code = self.value(raw, key, f"{field}.{key}", str, default=None)
            if code is not None and not _is_slug(code):
                self.problem(f"{field}.{key}", "codes use letters, digits, '-' and '_' only")
                code = None
            codes.append(code)
        if all(codes):
            self.problem(field, "set coupon_code or benefit_code, not both (a redemption is one or the other)")
        return codes[0], codes[1]

    def waves(
        self, document: dict, start: date | None, end: date | None, offers: Mapping[str, Offer], channels
    ) -> tuple[Wave, ...]:
        raw_waves = self.value(document, "waves", "waves", list) or []
        if "waves" in document and not raw_waves:
            self.problem("waves", "must list at least one wave")
        waves: list[Wave] = []
        call_days = channels["call"].days if "call" in channels else 1
        for index, raw in enumerate(raw_waves):
            field = f"waves[{index}]"
            if not isinstance(raw, dict):
                self.problem(field, "must be a mapping with id, date, audience and offers")
                continue
            self.known_keys(raw, field, ("id", "date", "audience", "offers", "sms_quota"))
            wave_id = self.value(raw, "id", f"{field}.id", str)
            if wave_id is not None and not _is_slug(wave_id):
                self.problem(f"{field}.id", "use letters, digits, '-' and '_' only")
            if wave_id is not None and any(wave.wave_id == wave_id for wave in waves):
                self.problem(f"{field}.id", f"{printable(wave_id, 40)} is used by an earlier wave")
            wave_date = self.day(raw, "date", f"{field}.date")
            audience = self.value(raw, "audience", f"{field}.audience", str)
            if audience is not None and audience not in AUDIENCES:
                self.problem(f"{field}.audience", f"must be one of {', '.join(AUDIENCES)}")
            if index == 0 and audience == "non_responders":
                self.problem(f"{field}.audience", "the first wave has no earlier wave to follow up: use eligible")
            if wave_date and start and end and not start <= wave_date <= end:
                self.problem(f"{field}.date", f"{wave_date} is outside the campaign window {start} .. {end}")
            if wave_date and waves and waves[-1].wave_date:
                previous = waves[-1]
                calls_end = previous.wave_date + timedelta(days=call_days - 1)
                if wave_date <= calls_end:
                    self.problem(
                        f"{field}.date",
                        f"{wave_date} overlaps {previous.wave_id} ({previous.wave_date}, calls through {calls_end}):"
                        " waves must follow one another",
                    )
            rules = self.offer_rules(raw, field, offers)
            quota = self.integer(raw, "sms_quota", f"{field}.sms_quota", low=0, default=None)
            if wave_id is not None and wave_date is not None and audience in AUDIENCES:
                waves.append(Wave(wave_id, wave_date, audience, rules, quota))
        return tuple(waves)

    def offer_rules(self, raw: dict, field: str, offers: Mapping[str, Offer]) -> tuple[OfferRule, ...]:
        raw_rules = self.value(raw, "offers", f"{field}.offers", list) or []
        if isinstance(raw.get("offers"), list) and not raw_rules:
            self.problem(f"{field}.offers", "must list at least one offer rule")
        rules = []
        for index, rule in enumerate(raw_rules):
            rule_field = f"{field}.offers[{index}]"
            if not isinstance(rule, dict):
                self.problem(rule_field, "must be a mapping with offer (and optional reasons_any, high_value)")
                continue
            self.known_keys(rule, rule_field, ("offer", "reasons_any", "high_value"))
            offer = self.value(rule, "offer", f"{rule_field}.offer", str)
            # An offer declared with a bad field is reported there, not here as an unknown offer.
            if offer is not None and offer not in self.offer_ids:
                self.problem(f"{rule_field}.offer", f"{printable(offer, 40)} is not one of the campaign's offers")
                offer = None
            reasons = self.codes(rule, "reasons_any", f"{rule_field}.reasons_any", REASONS, default=[])
            high_value = self.value(rule, "high_value", f"{rule_field}.high_value", bool, default=None)
            if offer is not None:
                rules.append(OfferRule(offer, reasons, high_value))
        if raw_rules and rules and (rules[-1].reasons_any or rules[-1].high_value is not None):
            self.problem(f"{field}.offers", "the last rule must have no condition, so every member gets an offer")
        return tuple(rules)


def _is_slug(text: str) -> bool:
    return bool(text) and all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in text)


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {int: "a whole number", float: "a number", str: "text", list: "a list", bool: "true or false"}
    return " or ".join(names.get(kind, kind.__name__) for kind in kinds)

"""Build the campaign's waves that are due, log them, and write their files.

A wave is due when the marts are computed as of its date or later (`Nothing is exported for a wave
whose marts are older than the wave date`). It is planned from the risk history of its date, the
member's latest consent, and the log of earlier waves. The first build of a wave appends it to the log;
every later run re-plans it and compares: the same plan re-writes the same files; a different plan (new
data, an edited campaign) is reported as a warning and the logged batch stands, so a wave is never sent
twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl

from retention.outreach import campaign_log, touch_log
from retention.outreach.campaign import Campaign, Wave
from retention.outreach.exports import ExportedFile
from retention.outreach.review import ReviewFile, apply_review, describe_problems
from retention.outreach.selection import minimum_detectable_lift, outcome_counts, plan_wave, treated_cost
from retention.outreach.wave_files import LATEST_CONTACT_CTE, export_wave


@dataclass(frozen=True)
class WaveResult:
    wave: Wave
    batch_id: str
    status: str  # built | unchanged | changed_since_logged | not_due | not_built | closed
    outcomes: dict[str, int] = field(default_factory=dict)
    files: tuple[ExportedFile, ...] = ()
    expected_cost: float = 0.0
    budget_remaining_before: float = 0.0
    sms_remaining_before: int = 0
    minimum_detectable_lift: float | None = None
    breakdown: dict[str, dict[str, int]] = field(default_factory=dict)
    # Treated members whose channels a constraint changed: trimmed by the cap, calls beyond capacity,
    # SMS beyond the quota.
    adjustments: dict[str, int] = field(default_factory=dict)
    preview: tuple[dict, ...] = ()
    unknown_review_keys: tuple[str, ...] = ()
    ignored_review_includes: tuple[str, ...] = ()
    message: str = ""


@dataclass(frozen=True)
class OutreachReport:
    campaign: Campaign
    marts_as_of: date | None
    waves: tuple[WaveResult, ...]
    review_problems: tuple[str, ...]


def build_due_waves(
    con: duckdb.DuckDBPyConnection,
    campaign: Campaign,
    review: ReviewFile,
    export_dir: Path,
    *,
    now: Callable[[], datetime] = datetime.now,
    log: Callable[[str], None] = print,
    warn: Callable[[str], None] = print,
) -> OutreachReport:
    touch_log.ensure_schema(con)
    marts_as_of = con.execute("SELECT max(as_of_date) FROM marts.member_churn_risk").fetchone()[0]
    problems = tuple(describe_problems(review))
    for problem in problems:
        warn(problem)
    campaign_sha256 = hashlib.sha256(campaign.source.read_bytes()).hexdigest()
    touch_log.require_log_matches(con, campaign)
    campaign_log.ensure_schema(con)
    campaign_log.record_campaign(con, campaign, campaign_sha256, now())
    results = []
    for wave in campaign.waves:
        batch_id = campaign.batch_id(wave)
        if marts_as_of is None or wave.wave_date > marts_as_of:
            message = f"{wave.wave_id} ({wave.wave_date}) is not due: the marts are as of {marts_as_of}"
            log(message)
            results.append(WaveResult(wave, batch_id, "not_due", message=message))
            continue
        if marts_as_of > campaign.window_end and touch_log.logged_wave(con, campaign, wave) is not None:
            # The campaign is over: its waves stand as logged; re-planning them daily would cost time for nothing.
            results.append(_closed_wave(con, campaign, wave))
            continue
        previous = campaign.previous_wave(wave)
        missing = _missing_input(con, campaign, wave, previous, results)
        if missing:
            warn(missing)
            results.append(WaveResult(wave, batch_id, "not_built", message=missing))
            continue
        results.append(
            _build_wave(con, campaign, wave, review, export_dir, marts_as_of, campaign_sha256, now, log, warn)
        )
    return OutreachReport(campaign, marts_as_of, tuple(results), problems)


def _build_wave(  # noqa: PLR0913 - one wave's whole context, passed once
    con,
    campaign: Campaign,
    wave: Wave,
    review: ReviewFile,
    export_dir: Path,
    marts_as_of: date,
    campaign_sha256: str,
    now,
    log,
    warn,
) -> WaveResult:
    batch_id = campaign.batch_id(wave)
    named = sorted({entry.member_key for entry in review.entries})
    known_keys = {
        key
        for (key,) in con.execute(
            "SELECT member_key FROM marts.dim_members WHERE list_contains($named, member_key)", {"named": named}
        ).fetchall()
    }
    decided = apply_review(review, wave.wave_id, known_keys)
    for entry in decided.unknown_keys:
        warn(f"review file line {entry.line}: member_key {entry.member_key} matches no member; not applied")
    ignored_includes: tuple[str, ...] = ()
    if wave.audience != "eligible" and decided.included:
        # A follow-up wave only takes the previous wave's members; forcing others in would skip wave 1.
        ignored_includes = tuple(sorted(decided.included))
        warn(
            f"review file: {len(ignored_includes)} include row(s) for {wave.wave_id} not applied: a follow-up wave"
            " only takes members of the previous wave (include them in the first wave instead)"
        )
        decided = dataclasses.replace(decided, included=frozenset())
    logged = touch_log.logged_wave(con, campaign, wave)
    # Consent as known when the wave was first built: a re-run reproduces the logged plan, and an opt-out
    # known by the first build (even one recorded after the wave date) is honoured.
    consent_day = logged.marts_as_of if logged else marts_as_of
    pool = _pool(con, campaign, wave, decided.excluded | decided.included, consent_day)
    plan = plan_wave(
        campaign,
        wave,
        pool,
        touch_log.logged_before(con, campaign, wave, logged_at=logged.created_at if logged else None),
        excluded=decided.excluded,
        included=decided.included,
    )
    fingerprint = touch_log.plan_fingerprint(plan)
    if logged is None:
        touch_log.record_wave(
            con, campaign, wave, plan, marts_as_of=marts_as_of, campaign_sha256=campaign_sha256, created_at=now()
        )
        status, message = "built", f"{wave.wave_id}: batch {batch_id} logged"
    elif logged.plan_fingerprint == fingerprint:
        status, message = "unchanged", f"{wave.wave_id}: batch {batch_id} already logged; same plan, same files"
    else:
        status = "changed_since_logged"
        message = (
            f"{wave.wave_id}: batch {batch_id} was logged on {logged.created_at:%Y-%m-%d %H:%M} from marts as of"
            f" {logged.marts_as_of}; today's data or campaign file gives a different plan. The logged batch"
            " stands and nothing new is exported (a wave is never sent twice)."
        )
    (warn if status == "changed_since_logged" else log)(message)
    files = export_wave(con, campaign, wave, Path(export_dir), now, warn, only_missing=logged is not None)
    stored = touch_log.stored_decisions(con, campaign, wave)
    outcomes = outcome_counts(stored)
    treated, holdout = outcomes.get("treated", 0), outcomes.get("holdout", 0)
    return WaveResult(
        wave,
        batch_id,
        status,
        outcomes=outcomes,
        files=tuple(files),
        expected_cost=treated_cost(stored),
        budget_remaining_before=plan.budget_remaining_before,
        sms_remaining_before=plan.sms_remaining_before,
        minimum_detectable_lift=minimum_detectable_lift(treated, holdout, campaign.holdout.baseline_response_rate),
        breakdown=_breakdown(con, batch_id),
        adjustments={flag: int(stored[flag].fill_null(False).sum()) for flag in ADJUSTMENT_FLAGS},
        preview=tuple(
            stored.filter(pl.col("priority_rank").is_not_null())
            .head(PREVIEW_ROWS)
            .select(
                "priority_rank",
                pl.col("member_key").str.slice(0, 12).alias("member_key"),
                "outcome",
                "priority_band",
                "offer_id",
                pl.col("channels").list.join(","),
                pl.col("reasons").list.join(","),
                "tier",
            )
            .to_dicts()
        ),
        unknown_review_keys=tuple(entry.member_key for entry in decided.unknown_keys),
        ignored_review_includes=ignored_includes,
        message=message,
    )


def _closed_wave(con, campaign: Campaign, wave: Wave) -> WaveResult:
    stored = touch_log.stored_decisions(con, campaign, wave)
    message = f"{wave.wave_id}: the campaign window ended on {campaign.window_end}; the wave stands as logged"
    return WaveResult(
        wave,
        campaign.batch_id(wave),
        "closed",
        outcomes=outcome_counts(stored),
        expected_cost=treated_cost(stored),
        breakdown=_breakdown(con, campaign.batch_id(wave)),
        message=message,
    )


def _missing_input(con, campaign: Campaign, wave: Wave, previous: Wave | None, results) -> str:
    """Why a due wave cannot be planned, or "" when it can."""
    if previous is not None and wave.audience == "non_responders":
        earlier = next(result for result in results if result.wave == previous)
        if earlier.status in ("not_due", "not_built"):
            return f"{wave.wave_id} ({wave.wave_date}) is not built: {previous.wave_id}, which it follows up, is not"
    rows, without_standing = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE spend_12m IS NULL OR days_inactive IS NULL OR tier IS NULL)"
        " FROM marts.member_churn_risk WHERE as_of_date = ?",
        [wave.wave_date],
    ).fetchone()
    if without_standing:
        # Risk days computed before member_churn_risk carried the member's standing (tier, spend, inactivity).
        return (
            f"{wave.wave_id} ({wave.wave_date}) is not built: {without_standing:,} rows of marts.member_churn_risk"
            " on that day lack the member's tier, spend or inactivity (computed by an older version). Recompute"
            f" the history with `retention run --from {wave.wave_date} --through <latest day> --full-refresh`."
        )
    if rows == 0:
        return (
            f"{wave.wave_id} ({wave.wave_date}) is not built: marts.member_churn_risk has no rows as of that day"
            f" (the risk history does not reach back to it). Compute it with `retention run --from {wave.wave_date}"
            " --through <latest day>`, then run again."
        )
    return ""


def _pool(con, campaign: Campaign, wave: Wave, reviewed: frozenset[str], consent_day: date) -> pl.DataFrame:
    """The wave's pool as of its date: the risk row of that day, and consent as known on consent_day."""
    columns = """
        r.member_key, r.risk_level, r.reasons, r.flag_count, r.tier, r.is_high_value,
        cast(r.spend_12m AS DOUBLE) AS spend_12m, r.days_inactive,
        d.consent_sms, d.consent_push, d.consent_phone,
        r.member_key IN (SELECT member_key FROM reachable_by_phone) AS has_mobile"""
    params = {"day": wave.wave_date, "reviewed": list(reviewed), "consent_day": consent_day}
    if wave.audience == "eligible":
        frame = con.execute(
            f"""
            {CONSENT_CTE}
            SELECT {columns}, cast(NULL AS BOOLEAN) AS responded
            FROM marts.member_churn_risk AS r
            LEFT JOIN consent AS d USING (member_key)
            WHERE r.as_of_date = $day
              AND (r.risk_level IN (SELECT unnest($levels)) OR list_contains($reviewed, r.member_key))
            """,
            {**params, "levels": list(campaign.eligibility.risk_levels)},
        ).pl()
    else:
        previous = campaign.previous_wave(wave)
        frame = con.execute(
            f"""
            {CONSENT_CTE},
            followed AS (
                SELECT member_key FROM outreach.targets
                WHERE campaign_id = $campaign AND wave_id = $previous
                  AND outcome IN ('treated', 'holdout', 'deferred_by_cap')
            ), window_events AS (
                SELECT member_key, event_type FROM marts.fct_member_events
                WHERE event_date > $previous_day AND event_date <= $window_end
                  AND event_type IN ('login', 'benefit_use')
            ), responses AS (
                SELECT member_key FROM marts.fct_orders
                WHERE is_purchase AND order_date > $previous_day AND order_date <= $window_end
                UNION
                SELECT member_key FROM window_events GROUP BY member_key
                HAVING count(DISTINCT event_type) = 2
            )
            SELECT {columns}, r.member_key IN (SELECT member_key FROM responses) AS responded
            FROM followed
            JOIN marts.member_churn_risk AS r ON r.member_key = followed.member_key AND r.as_of_date = $day
            LEFT JOIN consent AS d ON d.member_key = followed.member_key
            """,
            {
                **{name: value for name, value in params.items() if name != "reviewed"},
                "campaign": campaign.campaign_id,
                "previous": previous.wave_id,
                "previous_day": previous.wave_date,
                # Silent since the previous wave: no response from the day after it through this wave's day.
                "window_end": wave.wave_date,
            },
        ).pl()
    return frame  # plan_wave casts it to POOL_SCHEMA


CONSENT_CTE = f"""
WITH consent AS (
    SELECT member_key, consent_sms, consent_push, consent_phone
    FROM intermediate.int_member_states AS s
    WHERE s.known_from <= $consent_day AND (s.known_to IS NULL OR $consent_day < s.known_to)
), {LATEST_CONTACT_CTE}, reachable_by_phone AS (
    -- Only whether a number exists leaves the raw layer, never the number.
    SELECT m.member_key FROM intermediate.int_members__as_of AS m JOIN latest_contact USING (member_id)
    WHERE nullif(trim(latest_contact.mobile), '') IS NOT NULL
)"""


def _breakdown(con, batch_id: str) -> dict[str, dict[str, int]]:
    """Treated members by channel, offer, tier and reason, from the log."""
    queries = {
        "channel": "SELECT channel, count(DISTINCT member_key) FROM outreach.touches"
        " WHERE batch_id = $batch AND status = 'exported' GROUP BY ALL ORDER BY ALL",
        "offer": "SELECT offer_id, count(*) FROM outreach.targets"
        " WHERE batch_id = $batch AND outcome = 'treated' GROUP BY ALL ORDER BY ALL",
        "tier": "SELECT tier, count(*) FROM outreach.targets"
        " WHERE batch_id = $batch AND outcome = 'treated' GROUP BY ALL ORDER BY ALL",
        "reason": "SELECT reason, count(*) FROM (SELECT unnest(reasons) AS reason FROM outreach.targets"
        " WHERE batch_id = $batch AND outcome = 'treated') GROUP BY ALL ORDER BY ALL",
    }
    return {name: dict(con.execute(sql, {"batch": batch_id}).fetchall()) for name, sql in queries.items()}


PREVIEW_ROWS = 10
ADJUSTMENT_FLAGS = ("trimmed_by_cap", "call_overflow", "sms_over_quota")

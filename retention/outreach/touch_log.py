"""The durable outreach log in the warehouse (schema `outreach`): never rebuilt, only appended per wave.

- `outreach.waves`: one row per campaign wave built: its batch, the marts it was built from, the
  fingerprint of its plan (to tell a re-run with the same data from one with new data) and counts.
- `outreach.targets`: one row per member of a wave's pool with the decision taken and why (outcome,
  rank, score, band, offer, channels, costs), so every cut, deferral, review exclusion and holdout is
  on record.
- `outreach.touches`: one row per member, wave and channel: what was exported (status `exported`) and,
  for control members, what they would have received (status `holdout`, never exported).
- `outreach.exports`: every file written, with its rows and SHA-256.

Member keys only: no name, mobile or e-mail is ever stored here (the channel files join them at export).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import polars as pl

from retention.outreach.campaign import Campaign, Wave
from retention.outreach.selection import LoggedTouches, WavePlan

SCHEMA_DDL = """
CREATE SCHEMA IF NOT EXISTS outreach;
CREATE TABLE IF NOT EXISTS outreach.waves (
    campaign_id VARCHAR NOT NULL,
    wave_id VARCHAR NOT NULL,
    batch_id VARCHAR NOT NULL,
    wave_date DATE NOT NULL,
    marts_as_of DATE NOT NULL,
    campaign_file_sha256 VARCHAR NOT NULL,
    plan_fingerprint VARCHAR NOT NULL,
    members_targeted BIGINT NOT NULL,
    members_treated BIGINT NOT NULL,
    members_holdout BIGINT NOT NULL,
    touches_exported BIGINT NOT NULL,
    expected_cost DECIMAL(18, 2) NOT NULL,
    budget_remaining_before DECIMAL(18, 2) NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (campaign_id, wave_id)
);
CREATE TABLE IF NOT EXISTS outreach.targets (
    campaign_id VARCHAR NOT NULL,
    wave_id VARCHAR NOT NULL,
    batch_id VARCHAR NOT NULL,
    wave_date DATE NOT NULL,
    member_key VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL,
    priority_rank BIGINT,
    priority_score DOUBLE,
    priority_band VARCHAR,
    force_included BOOLEAN NOT NULL,
    is_holdout BOOLEAN NOT NULL,
    offer_id VARCHAR,
    channels VARCHAR[],
    risk_level VARCHAR,
    reasons VARCHAR[],
    flag_count BIGINT,
    tier VARCHAR,
    is_high_value BOOLEAN,
    spend_12m DOUBLE,
    days_inactive BIGINT,
    deferred_until DATE,
    trimmed_by_cap BOOLEAN,
    call_overflow BOOLEAN,
    sms_over_quota BOOLEAN,
    expected_cost DECIMAL(18, 2) NOT NULL,
    channel_cost DECIMAL(18, 2) NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (campaign_id, wave_id, member_key)
);
CREATE TABLE IF NOT EXISTS outreach.touches (
    touch_id VARCHAR PRIMARY KEY,
    campaign_id VARCHAR NOT NULL,
    wave_id VARCHAR NOT NULL,
    batch_id VARCHAR NOT NULL,
    wave_date DATE NOT NULL,
    send_date DATE NOT NULL,
    member_key VARCHAR NOT NULL,
    channel VARCHAR NOT NULL,
    offer_id VARCHAR NOT NULL,
    template_key VARCHAR NOT NULL,
    is_holdout BOOLEAN NOT NULL,
    status VARCHAR NOT NULL,
    priority_rank BIGINT NOT NULL,
    -- The member's monthly touch cap when the touch was planned (caps.high_value or caps.others).
    monthly_cap INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS outreach.exports (
    batch_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    file_name VARCHAR NOT NULL,
    rows BIGINT NOT NULL,
    csv_sha256 VARCHAR NOT NULL,
    written_at TIMESTAMP NOT NULL
);
"""

TARGET_COLUMNS = (
    "member_key", "outcome", "priority_rank", "priority_score", "priority_band", "force_included", "is_holdout",
    "offer_id", "channels", "risk_level", "reasons", "flag_count", "tier", "is_high_value", "spend_12m",
    "days_inactive", "deferred_until", "trimmed_by_cap", "call_overflow", "sms_over_quota", "expected_cost",
    "channel_cost",
)  # fmt: skip
TOUCH_COLUMNS = (
    "touch_id", "campaign_id", "wave_id", "batch_id", "wave_date", "send_date", "member_key", "channel", "offer_id",
    "template_key", "is_holdout", "status", "priority_rank", "monthly_cap",
)  # fmt: skip


@dataclass(frozen=True)
class LoggedWave:
    batch_id: str
    marts_as_of: date
    plan_fingerprint: str
    created_at: datetime


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(SCHEMA_DDL)


def logged_wave(con: duckdb.DuckDBPyConnection, campaign: Campaign, wave: Wave) -> LoggedWave | None:
    row = con.execute(
        "SELECT batch_id, marts_as_of, plan_fingerprint, created_at FROM outreach.waves"
        " WHERE campaign_id = ? AND wave_id = ?",
        [campaign.campaign_id, wave.wave_id],
    ).fetchone()
    return LoggedWave(*row) if row else None


class CampaignLogMismatch(RuntimeError):
    """The campaign file no longer lists waves its log holds: building on would send a batch twice."""


def require_log_matches(con: duckdb.DuckDBPyConnection, campaign: Campaign) -> None:
    """Refuse a campaign file whose logged waves (id and date) are not in it any more, before writing."""
    listed = {(wave.wave_id, wave.wave_date) for wave in campaign.waves}
    logged = con.execute(
        "SELECT wave_id, wave_date FROM outreach.waves WHERE campaign_id = ? ORDER BY wave_date",
        [campaign.campaign_id],
    ).fetchall()
    missing = [f"{wave_id} ({day})" for wave_id, day in logged if (wave_id, day) not in listed]
    if missing:
        raise CampaignLogMismatch(
            f"campaign {campaign.campaign_id}: the log holds waves the campaign file no longer lists:"
            f" {', '.join(missing)}. A renamed or moved wave would be sent again. Restore them in"
            f" {campaign.source.name}, or run the changed plan as a new campaign_id."
        )


def logged_before(
    con: duckdb.DuckDBPyConnection, campaign: Campaign, wave: Wave, *, logged_at: datetime | None = None
) -> LoggedTouches:
    """What the log holds from before this wave: this campaign's earlier waves and, for the caps, every
    other batch of the same days logged before this one (all of them, for a wave not logged yet), so a
    re-run of an old wave sees what it saw then."""
    params = {"campaign": campaign.campaign_id, "day": wave.wave_date}
    targeted = con.execute(
        "SELECT DISTINCT member_key, outcome FROM outreach.targets"
        " WHERE campaign_id = $campaign AND wave_date < $day AND outcome IN ('holdout', 'treated')",
        params,
    ).fetchall()
    # Caps count every campaign's touches: a member's phone does not know which campaign is calling.
    month = con.execute(
        "SELECT member_key, count(*) FROM outreach.touches"
        " WHERE status = 'exported' AND date_trunc('month', send_date) = date_trunc('month', $day)"
        " AND batch_id <> $batch AND (wave_date < $day OR (wave_date = $day AND created_at < $logged_at))"
        " GROUP BY member_key",
        {"day": wave.wave_date, "batch": campaign.batch_id(wave), "logged_at": logged_at or datetime.max},
    ).fetchall()
    sms_used = con.execute(
        "SELECT count(*) FROM outreach.touches"
        " WHERE campaign_id = $campaign AND wave_date < $day AND status = 'exported' AND channel = 'sms'",
        params,
    ).fetchone()[0]
    budget_used = con.execute(
        "SELECT coalesce(sum(expected_cost), 0) FROM outreach.targets"
        " WHERE campaign_id = $campaign AND wave_date < $day AND outcome = 'treated'",
        params,
    ).fetchone()[0]
    return LoggedTouches(
        holdout_keys=frozenset(key for key, outcome in targeted if outcome == "holdout"),
        treated_keys=frozenset(key for key, outcome in targeted if outcome == "treated"),
        touches_this_month=dict(month),
        sms_used=int(sms_used),
        budget_used=float(budget_used),
    )


def plan_fingerprint(plan: WavePlan) -> str:
    """SHA-256 of what a wave decides for each member and channel, independent of row order."""
    touches = plan.touches.select("member_key", "channel", "offer_id", "status", "send_date").sort(
        "member_key", "channel"
    )
    decisions = plan.members.select("member_key", "outcome").sort("member_key")
    digest = hashlib.sha256()
    for frame in (touches, decisions):
        digest.update(frame.write_csv().encode())
    return digest.hexdigest()


def record_wave(
    con: duckdb.DuckDBPyConnection,
    campaign: Campaign,
    wave: Wave,
    plan: WavePlan,
    *,
    marts_as_of: date,
    campaign_sha256: str,
    created_at: datetime,
) -> None:
    """Append the wave's targets, touches and wave row in one transaction (all or nothing)."""
    batch_id = campaign.batch_id(wave)
    targets = plan.members.select(TARGET_COLUMNS).with_columns(
        pl.lit(campaign.campaign_id).alias("campaign_id"),
        pl.lit(wave.wave_id).alias("wave_id"),
        pl.lit(batch_id).alias("batch_id"),
        pl.lit(wave.wave_date).alias("wave_date"),
        pl.lit(created_at).alias("created_at"),
    )
    touches = plan.touches.select(TOUCH_COLUMNS).with_columns(pl.lit(created_at).alias("created_at"))
    counts = plan.outcome_counts()
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("wave_targets", targets.to_arrow())
        con.register("wave_touches", touches.to_arrow())
        con.execute("INSERT INTO outreach.targets BY NAME SELECT * FROM wave_targets")
        con.execute("INSERT INTO outreach.touches BY NAME SELECT * FROM wave_touches")
        con.execute(
            "INSERT INTO outreach.waves VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                campaign.campaign_id,
                wave.wave_id,
                batch_id,
                wave.wave_date,
                marts_as_of,
                campaign_sha256,
                plan_fingerprint(plan),
                counts.get("treated", 0) + counts.get("holdout", 0),
                counts.get("treated", 0),
                counts.get("holdout", 0),
                plan.touches.filter(pl.col("status") == "exported").height,
                plan.expected_cost,
                plan.budget_remaining_before,
                created_at,
            ],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("wave_targets")
        con.unregister("wave_touches")


def record_exports(con: duckdb.DuckDBPyConnection, batch_id: str, files, written_at: datetime) -> None:
    rows = [(batch_id, file.kind, file.csv_path.name, file.rows, file.csv_sha256, written_at) for file in files]
    if rows:
        con.executemany("INSERT INTO outreach.exports VALUES (?, ?, ?, ?, ?, ?)", rows)


def stored_decisions(con: duckdb.DuckDBPyConnection, campaign: Campaign, wave: Wave) -> pl.DataFrame:
    """Every pool member's logged decision for a wave, in priority order."""
    return con.execute(
        "SELECT * FROM outreach.targets WHERE campaign_id = ? AND wave_id = ? ORDER BY priority_rank NULLS LAST,"
        " member_key",
        [campaign.campaign_id, wave.wave_id],
    ).pl()

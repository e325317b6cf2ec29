"""The campaign's settings as the retrospective reads them: `outreach.campaigns`, `outreach.offers` and
`outreach.channels`, rewritten from the campaign file on every run of the outreach asset.

The retrospective models (dbt, tag `retrospective`) measure a campaign with the numbers it was run with
(attribution window, offer face values and redemption codes, channel unit costs) without reading YAML.
A logged wave stands whatever the file says later; these rows follow the file, as the measurement should.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import polars as pl

from retention.outreach.campaign import Campaign

SCHEMA_DDL = """
CREATE SCHEMA IF NOT EXISTS outreach;
CREATE TABLE IF NOT EXISTS outreach.campaigns (
    campaign_id VARCHAR PRIMARY KEY,
    campaign_name VARCHAR NOT NULL,
    window_start DATE NOT NULL,
    window_end DATE NOT NULL,
    attribution_days INTEGER NOT NULL,
    first_wave_id VARCHAR NOT NULL,
    first_wave_date DATE NOT NULL,
    last_wave_date DATE NOT NULL,
    -- End of the first batch's final measurement: the last wave's attribution window, within the campaign's.
    measurement_end DATE NOT NULL,
    budget_cny DECIMAL(18, 2) NOT NULL,
    sms_quota INTEGER NOT NULL,
    holdout_share DOUBLE NOT NULL,
    campaign_file_sha256 VARCHAR NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS outreach.offers (
    campaign_id VARCHAR NOT NULL,
    offer_id VARCHAR NOT NULL,
    offer_name VARCHAR NOT NULL,
    face_value DECIMAL(18, 2) NOT NULL,
    expected_redemption DOUBLE NOT NULL,
    coupon_code VARCHAR,
    benefit_code VARCHAR,
    PRIMARY KEY (campaign_id, offer_id)
);
CREATE TABLE IF NOT EXISTS outreach.channels (
    campaign_id VARCHAR NOT NULL,
    channel VARCHAR NOT NULL,
    unit_cost DECIMAL(18, 4) NOT NULL,
    PRIMARY KEY (campaign_id, channel)
);
"""


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(SCHEMA_DDL)


def record_campaign(con: duckdb.DuckDBPyConnection, campaign: Campaign, file_sha256: str, now: datetime) -> None:
    """Replace the campaign's rows in one transaction (readers never see it half written)."""
    first, last = campaign.waves[0], campaign.waves[-1]
    measurement_end = min(last.wave_date + timedelta(days=campaign.attribution_days), campaign.window_end)
    offers = pl.DataFrame(
        [
            (
                offer.offer_id,
                offer.name,
                offer.face_value,
                offer.expected_redemption,
                offer.coupon_code,
                offer.benefit_code,
            )
            for offer in campaign.offers.values()
        ],
        schema=["offer_id", "offer_name", "face_value", "expected_redemption", "coupon_code", "benefit_code"],
        orient="row",
    )
    channels = pl.DataFrame(
        [(name, channel.unit_cost) for name, channel in campaign.channels.items()],
        schema=["channel", "unit_cost"],
        orient="row",
    )
    key = [campaign.campaign_id]
    con.execute("BEGIN")
    try:
        for table in ("campaigns", "offers", "channels"):
            con.execute(f"DELETE FROM outreach.{table} WHERE campaign_id = ?", key)
        con.execute(
            "INSERT INTO outreach.campaigns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                campaign.campaign_id, campaign.name, campaign.window_start, campaign.window_end,
                campaign.attribution_days, first.wave_id, first.wave_date, last.wave_date, measurement_end,
                campaign.budget_cny, campaign.sms_quota, campaign.holdout.share, file_sha256, now,
            ],
        )  # fmt: skip
        con.register("campaign_offers", offers.to_arrow())
        con.register("campaign_channels", channels.to_arrow())
        con.execute("INSERT INTO outreach.offers SELECT ?, * FROM campaign_offers", key)
        con.execute("INSERT INTO outreach.channels SELECT ?, * FROM campaign_channels", key)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        for name in ("campaign_offers", "campaign_channels"):
            con.unregister(name)

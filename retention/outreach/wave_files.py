"""The files of a logged wave: one per channel (with the contact data each needs), the decisions of
every pool member in priority order, and the reactivation list.

Written from the log, never from a plan, so what is exported is what is logged. The mobile number is
joined here, from the member's latest CRM delivery, and nowhere else.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from retention.outreach import touch_log
from retention.outreach.campaign import Campaign, Wave
from retention.outreach.exports import ExportedFile, write_channel_files, write_export

LATEST_CONTACT_CTE = """
latest_contact AS (
    -- The latest delivered CRM row of each member (the staging rule: latest updated_at, then delivery).
    SELECT member_id, mobile FROM raw.members
    QUALIFY row_number() OVER (
        PARTITION BY member_id ORDER BY updated_at DESC NULLS LAST, _landing_date DESC, _source_file DESC,
        _row_number DESC
    ) = 1
)"""

CONTACTS_SQL = f"""
WITH {LATEST_CONTACT_CTE}, last_order AS (
    SELECT member_key, max(order_date) AS last_order_date, arg_max(net_amount, ordered_at) AS last_order_amount
    FROM marts.fct_orders
    WHERE is_purchase AND order_date <= $day AND member_key IN (SELECT member_key FROM wave_touches)
    GROUP BY member_key
)
SELECT
    t.touch_id, t.batch_id, t.send_date, m.member_id, c.mobile, t.channel, t.offer_id, t.template_key,
    t.priority_rank, g.tier, g.reasons, cast(g.spend_12m AS DOUBLE) AS spend_12m,
    o.last_order_date, cast(o.last_order_amount AS DOUBLE) AS last_order_amount
FROM wave_touches AS t
JOIN outreach.targets AS g USING (batch_id, member_key)
JOIN intermediate.int_members__as_of AS m USING (member_key)
-- Consent as known now: a file written again never carries a contact the member has withdrawn.
JOIN marts.dim_members AS d USING (member_key)
LEFT JOIN latest_contact AS c USING (member_id)
LEFT JOIN last_order AS o USING (member_key)
WHERE CASE t.channel
    WHEN 'sms' THEN d.consent_sms AND nullif(trim(c.mobile), '') IS NOT NULL
    WHEN 'call' THEN d.consent_phone AND nullif(trim(c.mobile), '') IS NOT NULL
    ELSE d.consent_push
END
"""


def export_wave(con, campaign: Campaign, wave: Wave, export_dir: Path, now, warn, *, only_missing: bool):
    """The channel files from the logged touches, the decisions of every pool member in priority order,
    and the reactivation list; no PII outside the channel files. A logged wave whose files are all in
    place is left alone (they may have been sent); missing files are written again from the log, without
    the contacts a member has withdrawn consent for since."""
    batch_id = campaign.batch_id(wave)
    directory = export_dir / "outreach" / campaign.campaign_id / wave.wave_id
    written = written_files(con, batch_id, directory)
    if only_missing and written and all(f.csv_path.exists() and f.parquet_path.exists() for f in written):
        return written
    touches = con.execute("SELECT * FROM outreach.touches WHERE batch_id = ? AND status = 'exported'", [batch_id]).pl()
    con.register("wave_touches", touches.to_arrow())
    try:
        contacts = con.execute(CONTACTS_SQL, {"day": wave.wave_date}).pl()
    finally:
        con.unregister("wave_touches")
    if contacts.height < touches.height:
        warn(
            f"{wave.wave_id}: {touches.height - contacts.height:,} logged touches are not in the files: the member"
            " withdrew consent since, has no mobile number any more, or is no longer in the marts"
        )
    tier_names = dict(con.execute("SELECT tier, tier_name_zh FROM main.tiers").fetchall())
    offers = {offer_id: offer.name for offer_id, offer in campaign.offers.items()}
    contacts = contacts.with_columns(
        pl.col("offer_id").replace_strict(offers, default="").alias("offer_name"),
        pl.col("tier").replace_strict(tier_names, default=None).alias("tier_name_zh"),
        pl.lit(campaign.channels["sms"].unsubscribe_text).alias("unsubscribe_text"),
    )
    files = write_channel_files(contacts, directory, batch_id)
    decisions = touch_log.stored_decisions(con, campaign, wave).select(
        "batch_id", "priority_rank", "member_key", "outcome", "priority_score", "priority_band", "offer_id",
        pl.col("channels").list.join(","), pl.col("reasons").list.join(","), "tier", "spend_12m", "days_inactive",
        "deferred_until", "expected_cost",
    )  # fmt: skip
    files.append(write_export(decisions, directory, f"{batch_id}_decisions", "decisions"))
    if wave.audience == "eligible":  # follow-up waves never screen for recoverability
        reactivation = decisions.filter(pl.col("outcome") == "not_recoverable").sort("priority_score", descending=True)
        files.append(write_export(reactivation, directory, f"{batch_id}_reactivation", "reactivation"))
    touch_log.record_exports(con, batch_id, files, now())
    return files


def written_files(con, batch_id: str, directory: Path) -> list[ExportedFile]:
    """The files last written for a batch, from outreach.exports."""
    rows = con.execute(
        "SELECT kind, file_name, rows, csv_sha256 FROM outreach.exports WHERE batch_id = ?"
        " QUALIFY written_at = max(written_at) OVER () ORDER BY file_name",
        [batch_id],
    ).fetchall()
    return [
        ExportedFile(kind, directory / name, (directory / name).with_suffix(".parquet"), count, sha256)
        for kind, name, count, sha256 in rows
    ]

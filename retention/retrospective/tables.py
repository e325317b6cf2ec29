"""The aggregate retrospective tables of one campaign, read from the warehouse.

Only the tables below are read: each row counts members, none is a member. A table that does not exist
yet (the retrospective models have not been built) or has no row for the campaign (the campaign has not
run) is recorded as missing with the reason, so the report can say so instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import polars as pl

SCHEMA = "retrospective"
REPORT_TABLES: tuple[str, ...] = (
    "campaign_retrospective_summary",
    "campaign_lift",
    "campaign_winback_rates",
    "campaign_channel_comparison",
    "campaign_benefit_usage",
    "campaign_weekly_progress",
    "campaign_kpis",
)
# Defence in depth: the contracts of the tables above have none of these, and if a model ever gained one
# it must not reach a report or a BI file through this code.
MEMBER_COLUMNS = frozenset({"member_key", "member_id", "name", "mobile", "email"})


@dataclass(frozen=True)
class RetrospectiveTables:
    """The campaign's rows of each table of REPORT_TABLES that exists (possibly none: BI still gets the columns);
    `missing` names the tables without rows and says why."""

    campaign_id: str
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    dropped_columns: tuple[str, ...] = ()
    tier_names_zh: dict[str, str] = field(default_factory=dict)
    offer_names: dict[str, str] = field(default_factory=dict)

    def get(self, table: str) -> pl.DataFrame | None:
        """The table's rows, or None when it has none (see `missing`)."""
        frame = self.frames.get(table)
        return None if frame is None or frame.is_empty() else frame


def read_retrospective(con: duckdb.DuckDBPyConnection, campaign_id: str) -> RetrospectiveTables:
    existing = _tables_in(con, SCHEMA)
    frames: dict[str, pl.DataFrame] = {}
    missing: dict[str, str] = {}
    dropped: list[str] = []
    for table in REPORT_TABLES:
        if table not in existing:
            missing[table] = "not built yet"
            continue
        frame = con.execute(f'SELECT * FROM {SCHEMA}."{table}" WHERE campaign_id = ?', [campaign_id]).pl()
        leaked = [name for name in frame.columns if name.lower() in MEMBER_COLUMNS]
        dropped += [f"{table}.{name}" for name in leaked]
        frame = frame.drop(leaked)
        if frame.is_empty():
            missing[table] = "no rows for this campaign yet"
        frames[table] = frame
    return RetrospectiveTables(
        campaign_id=campaign_id,
        frames=frames,
        missing=missing,
        dropped_columns=tuple(dropped),
        tier_names_zh=_names(con, "main", "tiers", "tier", "tier_name_zh", order_by="tier_rank"),
        offer_names=_names(con, "outreach", "offers", "offer_id", "offer_name", campaign_id),
    )


def _tables_in(con: duckdb.DuckDBPyConnection, schema: str) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = ? AND table_catalog = current_database()",
        [schema],
    ).fetchall()
    return {name for (name,) in rows}


def _names(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    code: str,
    name: str,
    campaign_id: str | None = None,
    order_by: str | None = None,
) -> dict[str, str]:
    if table not in _tables_in(con, schema):
        return {}
    where = "WHERE campaign_id = ?" if campaign_id is not None else ""
    params = [campaign_id] if campaign_id is not None else []
    # Ordered (tiers by rank), so the report lists them in that order.
    order = f"ORDER BY {order_by or code}"
    return dict(con.execute(f"SELECT {code}, {name} FROM {schema}.{table} {where} {order}", params).fetchall())

"""Churn intent of every ticket text, scored once per text and detector version into
`signals.ticket_churn_intent`, which dbt reads (source `signals`) for flag 3 of the churn risk.

A text is identified by the md5 of its content as delivered (DuckDB's `md5`, the same function dbt's
staging uses for `content_hash`), so a ticket re-delivered with a new status costs nothing, and a change of
the rules (a new DETECTOR_VERSION) re-scores every text. No ticket text reaches the log or the metadata:
free text may hold names and phone numbers.
"""

from datetime import UTC, datetime

import dagster as dg
import duckdb
import polars as pl

from assets.ingestion.raw_assets import raw_key
from assets.owners import owners
from retention.churn_intent import CATEGORIES, detector_version, score
from retention.landing.contract import SOURCES
from retention.resources import WAREHOUSE_POOL, RetentionResource

TICKET_CHURN_INTENT = dg.AssetKey(["signals", "ticket_churn_intent"])
# Texts scored per Arrow batch: bounded memory on a first run over years of tickets.
BATCH_ROWS = 100_000

_CREATE = """
CREATE SCHEMA IF NOT EXISTS signals;
CREATE TABLE IF NOT EXISTS signals.ticket_churn_intent (
    content_hash VARCHAR PRIMARY KEY,
    detector_version VARCHAR NOT NULL,
    category VARCHAR NOT NULL,
    evidence VARCHAR NOT NULL,
    scored_at TIMESTAMP NOT NULL
);
"""
# Distinct texts of raw.tickets without a score of this version (new texts, or all after a rules change).
_UNSCORED = """
SELECT md5(t.content) AS content_hash, any_value(t.content) AS content
FROM raw.tickets AS t
WHERE t.content IS NOT NULL
  AND NOT EXISTS (
      SELECT 1 FROM signals.ticket_churn_intent AS s
      WHERE s.content_hash = md5(t.content) AND s.detector_version = ?
  )
GROUP BY 1
"""


def score_new_texts(con: duckdb.DuckDBPyConnection, version: str | None = None) -> dict[str, int]:
    """Score the texts of raw.tickets not yet scored under `version` (default: the detector's) into
    signals.ticket_churn_intent, replacing older versions' rows, and drop the rows of other versions left
    (texts no longer delivered); the count of texts scored per category."""
    version = version or detector_version()
    con.execute(_CREATE)
    counts = dict.fromkeys(CATEGORIES, 0)
    scored_at = datetime.now(UTC).replace(tzinfo=None)
    # Texts stream from a second cursor (its own snapshot) while the first one writes the scores.
    reading = con.cursor()
    try:
        for batch in reading.execute(_UNSCORED, [version]).fetch_record_batch(BATCH_ROWS):
            _write_scores(con, pl.from_arrow(batch), version, scored_at, counts)
    finally:
        reading.close()
    # Every text still delivered now has a row of this version; a row of another version is a text no longer
    # delivered, whose old verdict must not outlive the rules that made it.
    con.execute("DELETE FROM signals.ticket_churn_intent WHERE detector_version <> ?", [version])
    return counts


def _write_scores(
    con: duckdb.DuckDBPyConnection, texts: pl.DataFrame, version: str, scored_at: datetime, counts: dict[str, int]
) -> None:
    if texts.is_empty():
        return
    verdicts = score(texts["content"])
    rows = pl.DataFrame(
        {
            "content_hash": texts["content_hash"],
            "detector_version": pl.repeat(version, texts.height, eager=True, dtype=pl.String),
            "category": verdicts["category"],
            "evidence": verdicts["evidence"],
            "scored_at": pl.repeat(scored_at, texts.height, eager=True, dtype=pl.Datetime("us")),
        }
    )
    con.register("scored_batch", rows.to_arrow())
    try:
        con.execute("INSERT OR REPLACE INTO signals.ticket_churn_intent SELECT * FROM scored_batch")
    finally:
        con.unregister("scored_batch")
    for category, n in verdicts["category"].value_counts().iter_rows():
        counts[category] += n


@dg.asset(
    key=TICKET_CHURN_INTENT,
    deps=[raw_key(SOURCES["tickets"])],
    description="Churn intent (competitor, no_longer_needed, none) of every distinct ticket text, with the "
    "phrase that decided it, by the rules of retention/churn_intent/patterns.yaml. A text is scored once per "
    "detector version; `make bench-churn-intent` measures the rules on the labelled sets.",
    group_name="ingestion",
    owners=owners("ingestion"),
    kinds={"python", "duckdb"},
    pool=WAREHOUSE_POOL,
)
def ticket_churn_intent(context: dg.AssetExecutionContext, retention: RetentionResource) -> dg.MaterializeResult:
    version = detector_version()
    # A writing connection holds the warehouse lock (RetentionResource.connect) until the scores are in.
    with retention.connect() as con:
        counts = score_new_texts(con, version)
        total = con.execute("SELECT count(*) FROM signals.ticket_churn_intent").fetchone()[0]
    scored = sum(counts.values())
    # Counts only: a ticket's words could name a person or carry a phone number.
    context.log.info(
        f"churn intent (detector {version}): {scored:,} new text(s) scored "
        f"({', '.join(f'{c} {n:,}' for c, n in counts.items())}); {total:,} texts scored in all"
    )
    return dg.MaterializeResult(
        metadata={
            "detector_version": version,
            "texts_scored_this_run": scored,
            "scored_by_category": dg.MetadataValue.json(counts),
            "dagster/row_count": total,
        }
    )

"""The BI serving copy as a Dagster asset: published after the marts and the outreach log, every run."""

import dagster as dg

from assets.owners import owners
from retention.resources import WAREHOUSE_POOL, RetentionResource
from retention.serving import publish

BI_SNAPSHOT = dg.AssetKey(["serving", "bi_snapshot"])
PREVIEW_TABLES = 40


def build_bi_snapshot(upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=BI_SNAPSHOT,
        deps=upstream,
        group_name="serving",
        owners=owners("serving"),
        kinds={"duckdb", "parquet"},
        pool=WAREHOUSE_POOL,
        description="The marts and the outreach log copied into RETENTION_SERVING_FILE (a read-only DuckDB "
        "file for BI tools) and RETENTION_SERVING_PARQUET_DIR/current (Parquet), each swapped in whole after "
        "every successful run: a BI user holding the file open never blocks a run and never sees half a "
        "publication. raw and staging (personal data) are never copied. Each publication starts from the "
        "previous one and copies only the tables and days (of the events, orders and churn-risk facts) whose "
        "rows changed.",
    )
    def bi_snapshot(context: dg.AssetExecutionContext, retention: RetentionResource) -> dg.MaterializeResult:
        publication = publish(retention.settings())
        context.log.info(
            f"published {len(publication.tables)} tables ({publication.bytes / 1e6:,.1f} MB) as version"
            f" {publication.version} in {publication.seconds:.1f} s: {publication.partitions_copied:,} partitions"
            f" copied, {publication.partitions_kept:,} unchanged; started from {publication.started_from}"
        )
        rows = sorted(publication.tables.items())[:PREVIEW_TABLES]
        table = "\n".join(["| table | rows |", "|---|---:|", *(f"| {name} | {count:,} |" for name, count in rows)])
        return dg.MaterializeResult(
            metadata={
                "version": publication.version,
                "serving_file": dg.MetadataValue.path(str(publication.serving_file)),
                "parquet_dir": dg.MetadataValue.path(str(publication.parquet_dir)),
                "tables": dg.MetadataValue.md(table),
                "megabytes": round(publication.bytes / 1e6, 1),
                "seconds": publication.seconds,
                "partitions_copied": publication.partitions_copied,
                "partitions_unchanged": publication.partitions_kept,
                "started_from": publication.started_from,
            }
        )

    return bi_snapshot

"""Turning a Great Expectations outcome into a Dagster asset check result the UI can explain."""

from __future__ import annotations

import dagster as dg

from quality.gx_runner import SuiteOutcome


def suite_check_result(asset_key: dg.AssetKey, check_name: str, outcome: SuiteOutcome, **extra) -> dg.AssetCheckResult:
    """An asset check result telling which expectations failed, how often, with examples."""
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=check_name,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity(outcome.severity),
        metadata={
            "rows_validated": outcome.rows,
            "expectations": outcome.evaluated,
            "failed_expectations": len(outcome.failures),
            "failures": dg.MetadataValue.json(outcome.failures),
            **{k: (dg.MetadataValue.json(v) if isinstance(v, dict) else v) for k, v in extra.items()},
        },
    )

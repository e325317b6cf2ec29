"""Running a Great Expectations suite on a pandas frame and summarising the outcome.

GX's SQL path on DuckDB is broken in GX 1.x (every expectation fails with an empty result), so
suites run on GX's pandas datasource over a narrow projection pulled from DuckDB through Arrow.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cache

import great_expectations as gx
import pandas as pd

# GX logs a progress bar and chatty INFO lines per validation; the outcome is reported by us.
logging.getLogger("great_expectations").setLevel(logging.WARNING)


def expect(expectation_class, severity: str = "ERROR", **kwargs) -> gx.expectations.Expectation:
    """An expectation whose failure carries `severity`: ERROR blocks downstream assets, WARN informs.

    The severity travels in the expectation's `meta`, so each result finds its own.
    """
    if severity not in ("ERROR", "WARN"):
        raise ValueError(f"severity must be ERROR or WARN, not {severity!r}")
    return expectation_class(meta={"severity": severity}, **kwargs)


@dataclass
class SuiteOutcome:
    suite: str
    rows: int
    evaluated: int
    failures: list[dict] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def severity(self) -> str:
        """WARN only when every failure is a warning; a passing suite reports its strictest level."""
        if self.failures and all(f["severity"] == "WARN" for f in self.failures):
            return "WARN"
        return "ERROR"


@cache
def _context():
    return gx.get_context(mode="ephemeral")


@cache
def _batch_definition():
    source = _context().data_sources.add_pandas("retention_frames")
    asset = source.add_dataframe_asset("frame")
    return asset.add_batch_definition_whole_dataframe("whole_frame")


def run_suite(name: str, frame: pd.DataFrame, expectations: list[gx.expectations.Expectation]) -> SuiteOutcome:
    suite = gx.ExpectationSuite(name=name, expectations=expectations)
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
    outcome = SuiteOutcome(suite=name, rows=len(frame), evaluated=len(expectations))
    result = batch.validate(suite, result_format="SUMMARY")
    for res in result.results:
        if res.success:
            continue
        config = res.expectation_config
        details = res.result or {}
        outcome.failures.append(
            {
                "severity": (config.meta or {}).get("severity", "ERROR"),
                "expectation": config.type,
                "column": config.kwargs.get("column") or config.kwargs.get("column_list"),
                "unexpected_count": details.get("unexpected_count"),
                "unexpected_percent": _rounded(details.get("unexpected_percent")),
                "examples": [str(v) for v in (details.get("partial_unexpected_list") or [])[:5]],
                "observed": _plain(details.get("observed_value")),
                "error": (res.exception_info or {}).get("exception_message") if res.exception_info else None,
            }
        )
    return outcome


def _rounded(value):
    return round(float(value), 3) if value is not None else None


def _plain(value):
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    return str(value)

"""Running a Great Expectations suite on a pandas frame and summarising the outcome.

GX's SQL path on DuckDB is broken in GX 1.x (every expectation fails with an empty result), so
suites run on GX's pandas datasource over a narrow projection pulled from DuckDB through Arrow.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

import great_expectations as gx
import pandas as pd
from great_expectations.data_context.types.base import ProgressBarsConfig

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
    context = gx.get_context(mode="ephemeral")
    # GX draws a "Calculating Metrics" progress bar per validation into every run's log; the outcome is
    # reported by the checks themselves.
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


@cache
def _batch_definition():
    source = _context().data_sources.add_pandas("retention_frames")
    asset = source.add_dataframe_asset("frame")
    return asset.add_batch_definition_whole_dataframe("whole_frame")


def run_suite(name: str, frame: pd.DataFrame, expectations: list[gx.expectations.Expectation]) -> SuiteOutcome:
    return run_suite_in_chunks(name, [frame], expectations)


def run_suite_in_chunks(
    name: str, frames: Iterable[pd.DataFrame], expectations: list[gx.expectations.Expectation]
) -> SuiteOutcome:
    """Validate the rows of several frames as one batch, holding one frame in memory at a time.

    An expectation fails if it fails on any chunk, except one with `mostly`, which is judged on the
    counts pooled over every chunk. The caller chunks so that row-set expectations (uniqueness per
    landing day) see whole groups.
    """
    suite = gx.ExpectationSuite(name=name, expectations=expectations)
    pooled = [_Pooled(e) for e in expectations]
    rows = 0
    for frame in frames:
        rows += len(frame)
        batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(suite, result_format="SUMMARY")
        for pool, res in zip(pooled, result.results, strict=True):
            pool.add(res)
    outcome = SuiteOutcome(suite=name, rows=rows, evaluated=len(expectations))
    outcome.failures = [pool.failure() for pool in pooled if not pool.passed]
    return outcome


@dataclass
class _Pooled:
    """One expectation's results over the chunks of a batch."""

    expectation: gx.expectations.Expectation
    chunk_failed: bool = False
    unexpected: int = 0
    counted: int = 0  # non-null values evaluated
    examples: list[str] = field(default_factory=list)
    observed: object = None
    error: str | None = None

    def add(self, res) -> None:
        details = res.result or {}
        self.chunk_failed |= not res.success
        self.unexpected += details.get("unexpected_count") or 0
        self.counted += (details.get("element_count") or 0) - (details.get("missing_count") or 0)
        self.examples += [str(v) for v in (details.get("partial_unexpected_list") or [])][: 5 - len(self.examples)]
        if not res.success and self.observed is None:
            self.observed = _plain(details.get("observed_value"))
        if res.exception_info and res.exception_info.get("exception_message") and self.error is None:
            self.error = res.exception_info.get("exception_message")

    @property
    def passed(self) -> bool:
        mostly = getattr(self.expectation, "mostly", None)
        if mostly is None or mostly == 1 or self.error:
            return not self.chunk_failed
        return self.counted == 0 or self.unexpected / self.counted <= 1 - mostly

    def failure(self) -> dict:
        config = self.expectation.configuration
        return {
            "severity": (self.expectation.meta or {}).get("severity", "ERROR"),
            "expectation": config.type,
            "column": config.kwargs.get("column") or config.kwargs.get("column_list"),
            "unexpected_count": self.unexpected,
            "unexpected_percent": _rounded(100 * self.unexpected / self.counted) if self.counted else None,
            "examples": self.examples,
            "observed": self.observed,
            "error": self.error,
        }


def _rounded(value):
    return round(float(value), 3) if value is not None else None


def _plain(value):
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    return str(value)

"""Churn intent in service-ticket text (flag 3 of the brief): competitor, no_longer_needed or none.

The rules are data (patterns.yaml, traditional_chars.txt); DETECTOR_VERSION changes with them and with the
code reading them, so the pipeline re-scores every
text when they change. Measured against the keyword dictionary it replaces by `make bench-churn-intent`.
"""

from __future__ import annotations

from retention.churn_intent.detector import Verdict, classify, classify_many, score
from retention.churn_intent.rules import CATEGORIES, COMPETITOR, NO_LONGER_NEEDED, NONE, RulesError, load_rules

__all__ = [
    "CATEGORIES",
    "COMPETITOR",
    "DETECTOR_VERSION",
    "NONE",
    "NO_LONGER_NEEDED",
    "RulesError",
    "Verdict",
    "classify",
    "classify_many",
    "detector_version",
    "score",
]


def detector_version() -> str:
    """A hash of patterns.yaml, traditional_chars.txt, the detector's code and Polars' version: equal versions
    score every text alike."""
    return load_rules().version


def __getattr__(name: str) -> str:
    # DETECTOR_VERSION is read on first use, not at import: importing the package reads no file.
    if name == "DETECTOR_VERSION":
        return detector_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The labelled evaluation sets and the figures reported on them (precision, recall, confusion)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from retention.churn_intent.rules import CATEGORIES, NONE

EVALUATION_DIR = Path(__file__).with_name("evaluation")
# dev.csv is the set the rules are tuned on; heldout.csv was written before the detector and is only read.
SETS = ("dev", "heldout")


def load_set(name: str) -> pl.DataFrame:
    """text, label, language, note of evaluation/<name>.csv (every label one of CATEGORIES)."""
    columns = dict.fromkeys(("text", "label", "language", "note"), pl.String)
    frame = pl.read_csv(EVALUATION_DIR / f"{name}.csv", schema=columns)
    unknown = frame.filter(~pl.col("label").is_in(CATEGORIES))
    if unknown.height:
        raise ValueError(f"evaluation/{name}.csv: unknown labels {sorted(set(unknown['label']))}")
    return frame


@dataclass(frozen=True)
class Figures:
    """Churn intent (either category) against none, and the confusion of every category pair."""

    precision: float
    recall: float
    f1: float
    true_positives: int
    predicted_positives: int
    actual_positives: int
    # confusion[(label, predicted)] = count
    confusion: dict[tuple[str, str], int]

    def category_figures(self, category: str) -> tuple[float, float]:
        """Precision and recall of one category on its own (a competitor called no_longer_needed is wrong)."""
        hits = self.confusion.get((category, category), 0)
        predicted = sum(n for (_, guess), n in self.confusion.items() if guess == category)
        actual = sum(n for (label, _), n in self.confusion.items() if label == category)
        return _ratio(hits, predicted), _ratio(hits, actual)


def figures(labels: Sequence[str], predicted: Sequence[str]) -> Figures:
    pairs = list(zip(labels, predicted, strict=True))
    confusion: dict[tuple[str, str], int] = {}
    for pair in pairs:
        confusion[pair] = confusion.get(pair, 0) + 1
    true_positives = sum(1 for label, guess in pairs if label != NONE and guess != NONE)
    predicted_positives = sum(1 for _, guess in pairs if guess != NONE)
    actual_positives = sum(1 for label, _ in pairs if label != NONE)
    precision, recall = _ratio(true_positives, predicted_positives), _ratio(true_positives, actual_positives)
    f1 = _ratio(2 * precision * recall, precision + recall)
    return Figures(precision, recall, f1, true_positives, predicted_positives, actual_positives, confusion)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0

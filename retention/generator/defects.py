"""The mess real exports contain, planted on purpose and logged so tests can find every piece.

Row-level kinds corrupt or copy rows inside a file; their share of rows is `defect_rate` times the
kind's weight. File-level kinds add files (a re-sent copy, a late file, an empty or header-only
file); each happens to a day's file with the kind's own probability. `defect_rate = 0` switches
every kind off and gives clean data.

Each corrupted row gets exactly one kind, and only clean rows are duplicated, so every planted row
maps to exactly one quarantine reason in the loader.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from retention.generator.common import constant
from retention.generator.formats import RAW_SUFFIX

# Kinds that change a row's values, in the order they are drawn (fixed, for determinism).
# New kinds go last: a delivery's random stream then stays the same for the kinds before them.
CORRUPTING_KINDS = (
    "bad_date",
    "negative_amount",
    "absurd_amount",
    "unknown_member",
    "unknown_event_type",
    "implausible_time",
    "decimal_comma",
)
ROW_KINDS = ("duplicate_row", *CORRUPTING_KINDS)
FILE_KINDS = ("resent_file", "late_file", "empty_file", "header_only_file")
DEFECT_KINDS = ROW_KINDS + FILE_KINDS

DEFAULT_ROW_WEIGHTS = {
    "duplicate_row": 1.0,
    "bad_date": 0.5,
    "negative_amount": 0.3,
    "absurd_amount": 0.1,
    "unknown_member": 0.5,
    "unknown_event_type": 1.0,
    "implausible_time": 0.1,
    "decimal_comma": 0.1,
}
DEFAULT_FILE_RATES = {
    "resent_file": 0.004,
    "late_file": 0.01,
    "empty_file": 0.002,
    "header_only_file": 0.002,
}
BAD_DATES = ("2025-13-45", "not a date", "2025/02/30 25:61:00", "31/12/2024 10:00", "0000-00-00 00:00:00")
UNKNOWN_EVENT_TYPES = ("screenshot", "video_play", "shake", "live_stream_enter")
# Times a broken export writes for "no time" or "forever": they parse, but cannot be true.
IMPLAUSIBLE_TIMES = ("0001-01-01 00:00:00", "9999-12-31 23:59:59", "1900-01-01 00:00:00")
ABSURD_AMOUNT_RANGE = (1_200_000.0, 9_900_000.0)
# Column whose text gets an unparseable date, per source.
BAD_DATE_COLUMN = {"orders": "order_time", "events": "event_time", "tickets": "opened_at"}


@dataclass(frozen=True)
class DefectConfig:
    row_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_ROW_WEIGHTS))
    file_rates: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_FILE_RATES))
    # A late file holds this share range of the day's orders (taken out of the main file).
    late_share: tuple[float, float] = (0.05, 0.30)

    def __post_init__(self):
        unknown = (set(self.row_weights) - set(ROW_KINDS)) | (set(self.file_rates) - set(FILE_KINDS))
        if unknown:
            raise ValueError(f"unknown defect kind(s) {sorted(unknown)}; known: {', '.join(DEFECT_KINDS)}")

    def row_rates(self, defect_rate: float) -> dict[str, float]:
        return {kind: min(defect_rate * self.row_weights.get(kind, 0.0), 1.0) for kind in ROW_KINDS}

    def file_rate(self, kind: str, defect_rate: float) -> float:
        return self.file_rates.get(kind, 0.0) if defect_rate > 0 else 0.0


@dataclass(frozen=True)
class DefectRecord:
    source: str
    landing_date: str
    file: str  # relative to the landing dir
    kind: str
    count: int  # rows for row-level kinds, 1 (file) for file-level kinds


@dataclass
class DefectLog:
    records: list[DefectRecord] = field(default_factory=list)

    def add(self, source: str, landing_date: str, file: str, kind: str, count: int) -> None:
        if count:
            self.records.append(DefectRecord(source, landing_date, file, kind, int(count)))

    def totals(self) -> dict[str, int]:
        counts = Counter()
        for r in self.records:
            counts[r.kind] += r.count
        return {kind: counts.get(kind, 0) for kind in DEFECT_KINDS}

    def write(self, path: Path) -> None:
        columns = ("source", "landing_date", "file", "kind", "count")
        frame = pl.DataFrame(
            {c: [getattr(r, c) for r in self.records] for c in columns},
            schema={c: (pl.Int64 if c == "count" else pl.String) for c in columns},
        )
        frame.write_csv(path)


@dataclass(frozen=True)
class RowDefectContext:
    rates: dict[str, float]
    allowed: tuple[str, ...]
    source: str
    unknown_member_floor: int  # member numbers above this are not in the master


def inject_row_defects(
    frame: pl.DataFrame, context: RowDefectContext, rng: np.random.Generator
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Corrupt disjoint sets of rows (one kind each), then duplicate some of the untouched rows."""
    n = frame.height
    counts: dict[str, int] = {}
    if n == 0:
        return frame, counts
    shuffled = rng.permutation(n)
    used = 0
    for kind in CORRUPTING_KINDS:
        if kind not in context.allowed:
            continue
        k = min(int(rng.binomial(n, context.rates[kind])), n - used)
        rows = np.sort(shuffled[used : used + k])
        used += k
        if k:
            frame = _CORRUPTERS[kind](frame, rows, rng, context)
            counts[kind] = k
    if "duplicate_row" in context.allowed:
        untouched = shuffled[used:]
        k = min(int(rng.binomial(n, context.rates["duplicate_row"])), len(untouched))
        if k:
            copies = rng.choice(untouched, size=k, replace=False)
            # Copies sit right after their original, as a double export would place them.
            frame = frame[np.sort(np.concatenate([np.arange(n), copies]), kind="stable")]
            counts["duplicate_row"] = k
    return frame, counts


def _with_raw_text(frame: pl.DataFrame, column: str, rows: np.ndarray, texts: pl.Series) -> pl.DataFrame:
    """Override the rendered text of `column` at `rows` (keeping overrides other kinds made there)."""
    name = column + RAW_SUFFIX
    raw = frame[name].clone() if name in frame.columns else constant(None, frame.height, pl.String).alias(name)
    raw.scatter(rows, texts)
    return frame.with_columns(raw)


def _bad_date(frame, rows, rng, context):
    texts = pl.Series(np.array(BAD_DATES)[rng.integers(0, len(BAD_DATES), len(rows))])
    return _with_raw_text(frame, BAD_DATE_COLUMN[context.source], rows, texts)


def _implausible_time(frame, rows, rng, context):
    texts = pl.Series(np.array(IMPLAUSIBLE_TIMES)[rng.integers(0, len(IMPLAUSIBLE_TIMES), len(rows))])
    return _with_raw_text(frame, BAD_DATE_COLUMN[context.source], rows, texts)


def _decimal_comma(frame, rows, rng, context):
    """The gross amount with a decimal comma ("12,50"), as a European-locale export prints it."""
    cents = np.round(frame["gross_amount"].to_numpy()[rows] * 100).astype(np.int64)
    texts = pl.Series([f"{c // 100},{c % 100:02d}" for c in cents], dtype=pl.String)
    return _with_raw_text(frame, "gross_amount", rows, texts)


def _negative_amount(frame, rows, rng, context):
    gross = frame["gross_amount"].to_numpy().copy()
    discount = frame["discount_amount"].to_numpy().copy()
    gross[rows] = -np.maximum(gross[rows], 1.0)
    discount[rows] = 0.0  # keep the row's only problem the negative amount
    return frame.with_columns(gross_amount=pl.Series(gross), discount_amount=pl.Series(discount))


def _absurd_amount(frame, rows, rng, context):
    gross = frame["gross_amount"].to_numpy().copy()
    gross[rows] = np.round(rng.uniform(*ABSURD_AMOUNT_RANGE, len(rows)), 2)
    return frame.with_columns(gross_amount=pl.Series(gross))


def _unknown_member(frame, rows, rng, context):
    numbers = context.unknown_member_floor + 1 + rng.integers(0, 9_000_000, len(rows))
    member_id = frame["member_id"].clone()
    member_id.scatter(rows, "M" + pl.Series(numbers).cast(pl.String).str.zfill(8))
    return frame.with_columns(member_id)


def _unknown_event_type(frame, rows, rng, context):
    event_type = frame["event_type"].clone()
    event_type.scatter(
        rows, pl.Series(np.array(UNKNOWN_EVENT_TYPES)[rng.integers(0, len(UNKNOWN_EVENT_TYPES), len(rows))])
    )
    return frame.with_columns(event_type)


_CORRUPTERS = {
    "bad_date": _bad_date,
    "negative_amount": _negative_amount,
    "absurd_amount": _absurd_amount,
    "unknown_member": _unknown_member,
    "unknown_event_type": _unknown_event_type,
    "implausible_time": _implausible_time,
    "decimal_comma": _decimal_comma,
}


def split_late_rows(
    frame: pl.DataFrame, share: tuple[float, float], rng: np.random.Generator
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows for the main file, rows held back for the late file); order is kept in both."""
    k = max(1, int(round(frame.height * rng.uniform(*share))))
    late = np.zeros(frame.height, dtype=bool)
    late[rng.choice(frame.height, size=min(k, frame.height - 1), replace=False)] = True
    mask = pl.Series(late)
    return frame.filter(~mask), frame.filter(mask)

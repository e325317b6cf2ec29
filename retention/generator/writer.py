"""Writing a day's frames as landing files, planting the configured defects on the way.

Layout: `<out_dir>/<source>/<YYYY-MM-DD>/<stem>_<YYYYMMDD>[_<tag>].<ext>`, where the tag marks the
extra files defects add (`resent`, `late`, `empty`, `header_only`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from retention.generator.common import day_date, member_ids, pick, rng_for
from retention.generator.defects import DefectConfig, DefectLog, RowDefectContext, inject_row_defects, split_late_rows
from retention.generator.formats import (
    CRM_CSV,
    JSON_LINES,
    PLAIN_CSV,
    POS_CSV,
    SERVICE_CSV,
    FileStyle,
    header_only,
    render,
)
from retention.generator.members import Population
from retention.generator.personas import AT_RISK_PERSONAS, PERSONAS
from retention.landing.contract import EVENTS, MEMBERS, ORDERS, OUTREACH_FEEDBACK, TICKETS, Source

_ORDER_ROW_DEFECTS = (
    "duplicate_row",
    "bad_date",
    "negative_amount",
    "absurd_amount",
    "unknown_member",
    "implausible_time",
    "decimal_comma",
)


@dataclass(frozen=True)
class Delivery:
    """One kind of daily file a source system delivers."""

    source: Source
    stem: str
    style: FileStyle
    slot: int  # distinguishes the delivery in the per-day defect random stream
    row_defects: tuple[str, ...] = ()
    late_files: bool = False
    file_defects: bool = True

    def file_name(self, day_text: str, tag: str = "") -> str:
        return f"{self.stem}_{day_text}{'_' + tag if tag else ''}{self.style.suffix}"


# Member rows are never corrupted: a quarantined member would turn all its facts into unknown members.
MEMBERS_FULL = Delivery(MEMBERS, "members_full", CRM_CSV, 1, ("duplicate_row",), file_defects=False)
MEMBERS_DELTA = Delivery(MEMBERS, "members_delta", CRM_CSV, 2, ("duplicate_row",))
POS_ORDERS = Delivery(ORDERS, "pos_orders", POS_CSV, 3, _ORDER_ROW_DEFECTS, late_files=True)
ONLINE_ORDERS = Delivery(ORDERS, "online_orders", JSON_LINES, 4, _ORDER_ROW_DEFECTS, late_files=True)
APP_EVENTS = Delivery(
    EVENTS, "events", JSON_LINES, 5, ("duplicate_row", "bad_date", "unknown_member", "unknown_event_type")
)
SERVICE_TICKETS = Delivery(TICKETS, "tickets", SERVICE_CSV, 6, ("duplicate_row", "bad_date"))
OUTREACH = Delivery(OUTREACH_FEEDBACK, "outreach_feedback", PLAIN_CSV, 7, file_defects=False)


class LandingWriter:
    def __init__(self, out_dir: Path, seed: int, defect_rate: float, config: DefectConfig, unknown_member_floor: int):
        self.out_dir = Path(out_dir)
        self.seed = seed
        self.defect_rate = defect_rate
        self.config = config
        self.row_rates = config.row_rates(defect_rate)
        self.unknown_member_floor = unknown_member_floor
        self.log = DefectLog()
        self.files: Counter = Counter()
        self.rows: Counter = Counter()

    def deliver(self, delivery: Delivery, day: int, frame: pl.DataFrame) -> None:
        """Write the day's file for `delivery`, plus whatever defect files are drawn for it."""
        target = _DayFiles(self.out_dir, delivery, day)
        rng = rng_for(self.seed, "defects", day, delivery.slot)
        # Always four draws in a fixed order, so a kind's rate never shifts another kind's outcome.
        draws = dict(zip(("late_file", "resent_file", "empty_file", "header_only_file"), rng.random(4), strict=True))

        def drawn(kind: str) -> bool:
            return delivery.file_defects and draws[kind] < self.config.file_rate(kind, self.defect_rate)

        late = None
        if delivery.late_files and frame.height >= 2 and drawn("late_file"):
            frame, late = split_late_rows(frame, self.config.late_share, rng)
        main_data, main_rows = self._write_rows(target, "", frame, rng)
        if late is not None:
            self._write_rows(target, "late", late, rng)
            self._log(target, "late", "late_file", 1)

        if drawn("resent_file"):
            self._write(target, "resent", main_data, main_rows)
            self._log(target, "resent", "resent_file", 1)
        if drawn("empty_file"):
            self._write(target, "empty", b"", 0)
            self._log(target, "empty", "empty_file", 1)
        if delivery.style.format == "csv" and drawn("header_only_file"):
            self._write(target, "header_only", header_only(delivery.source, delivery.style), 0)
            self._log(target, "header_only", "header_only_file", 1)

    def deliver_header_only(self, delivery: Delivery, day: int) -> None:
        self._write(_DayFiles(self.out_dir, delivery, day), "", header_only(delivery.source, delivery.style), 0)

    def _write_rows(
        self, target: _DayFiles, tag: str, frame: pl.DataFrame, rng: np.random.Generator
    ) -> tuple[bytes, int]:
        context = RowDefectContext(
            self.row_rates, target.delivery.row_defects, target.source, self.unknown_member_floor
        )
        frame, counts = inject_row_defects(frame, context, rng)
        data = render(frame, target.delivery.source, target.delivery.style)
        self._write(target, tag, data, frame.height)
        for kind, count in counts.items():
            self._log(target, tag, kind, count)
        return data, frame.height

    def _write(self, target: _DayFiles, tag: str, data: bytes, rows: int) -> None:
        target.path(tag).write_bytes(data)
        self.files[target.source] += 1
        self.rows[target.source] += rows

    def _log(self, target: _DayFiles, tag: str, kind: str, count: int) -> None:
        self.log.add(target.source, target.landing_date, target.relative(tag), kind, count)


class _DayFiles:
    """Where one delivery's files of one day go: `<source>/<YYYY-MM-DD>/<stem>_<YYYYMMDD>[_tag].<ext>`."""

    def __init__(self, out_dir: Path, delivery: Delivery, day: int):
        self.delivery = delivery
        self.source = delivery.source.name
        day_value = day_date(day)
        self.landing_date = day_value.isoformat()
        self._day_text = day_value.strftime("%Y%m%d")
        self._folder = out_dir / self.source / self.landing_date
        self._folder.mkdir(parents=True, exist_ok=True)

    def name(self, tag: str) -> str:
        return self.delivery.file_name(self._day_text, tag)

    def path(self, tag: str) -> Path:
        return self._folder / self.name(tag)

    def relative(self, tag: str) -> str:
        return f"{self.source}/{self.landing_date}/{self.name(tag)}"


def write_personas(population: Population, path: Path) -> None:
    """Ground truth: each member's persona, change date (empty when the persona has none), and whether the
    persona drifts away in the range (`drifts_away`): the answer the churn-risk evaluation reads as data."""
    change = pl.Series(population.change_day, dtype=pl.Int32)
    personas = pick(PERSONAS, population.persona)
    frame = pl.DataFrame(
        {
            "member_id": member_ids(np.arange(population.size)),
            "persona": personas,
            "change_date": pl.select(
                pl.when(change >= 0).then(pl.from_epoch(change, "d").dt.strftime("%Y-%m-%d"))
            ).to_series(),
            "drifts_away": personas.is_in(list(AT_RISK_PERSONAS)),
        }
    )
    frame.write_csv(path)

"""Great Expectations suites for the raw layer, derived from the landing contract.

Two suites per source: one over the rows loaded for the partitions being materialized (a narrow,
PII-free projection), one over per-day load statistics (how many rows were quarantined).
"""

from __future__ import annotations

import great_expectations as gx

from quality.gx_runner import expect
from retention.landing.contract import Source
from retention.settings import Settings

E = gx.expectations


def loaded_rows_columns(source: Source) -> list[str]:
    """Columns the loaded-rows suite reads; personal data is never pulled."""
    wanted = {c.name for c in source.columns if (c.required or c.type in ("code", "amount", "integer")) and not c.pii}
    wanted |= set(source.key)
    return [c.name for c in source.columns if c.name in wanted]


def loaded_rows_suite(source: Source, settings: Settings) -> list:
    expectations = []
    for col in source.columns:
        if col.name not in loaded_rows_columns(source):
            continue
        if col.required:
            expectations.append(expect(E.ExpectColumnValuesToNotBeNull, column=col.name))
        if col.type == "code":
            expectations.append(expect(E.ExpectColumnValuesToBeInSet, column=col.name, value_set=sorted(col.codes)))
        if col.type in ("amount", "integer"):
            maximum = getattr(settings, col.maximum_setting) if col.maximum_setting else col.maximum
            expectations.append(
                expect(E.ExpectColumnValuesToBeBetween, column=col.name, min_value=col.minimum, max_value=maximum)
            )
    # Same business key twice in one day with different content: the source contradicts itself.
    expectations.append(expect(E.ExpectCompoundColumnsToBeUnique, "WARN", column_list=[*source.key, "_landing_date"]))
    tolerance = settings.event_time_tolerance_days
    expectations.append(
        expect(
            E.ExpectColumnValuesToBeBetween,
            "WARN",
            column="event_day_offset",
            min_value=-tolerance,
            max_value=tolerance,
            mostly=settings.min_event_time_in_window_share,
        )
    )
    return expectations


def load_stats_suite(settings: Settings) -> list:
    return [
        expect(
            E.ExpectColumnValuesToBeBetween,
            column="quarantine_rate",
            min_value=0,
            max_value=settings.max_quarantine_rate,
        ),
        expect(E.ExpectColumnValuesToNotBeNull, column="rows_read"),
    ]

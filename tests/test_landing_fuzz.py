"""A fuzz pass over the landing parsers: whatever a delivered file holds, every record in it is either
loaded exactly as written or quarantined with a reason, or the file fails with an error that names it
and repeats none of its values; read = loaded + quarantined against an independent count of records;
earlier days are never touched.

Bounded for CI (derandomized, RETENTION_FUZZ_EXAMPLES examples per shape, default 60); raise the
number locally for a longer hunt.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections import Counter
from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from retention.landing.contract import MEMBERS, ORDERS
from retention.landing.files import LandingFileError
from retention.landing.loader import LandingError, load_range
from tests.conftest import members_csv

EARLIER, DAY = date(2025, 3, 1), date(2025, 3, 2)
EXAMPLES = int(os.environ.get("RETENTION_FUZZ_EXAMPLES", "60"))
# Stands for a phone number a customer typed into a field: it may be stored or quarantined, never shown.
SECRET = "13912345678"
COLUMNS = ["order_id", "member_id", "order_time", "channel", "store_name", "gross_amount", "status"]
HOSTILE_VALUES = [
    '"',
    '""',
    ",",
    '"a,b"',
    "a\nb",
    "a\r\nb",
    "\x00",
    "\x1b[31m",
    "\u202e",
    SECRET,
    f"call {SECRET}",
    '{"a": 1}',
    "NaN",
    "1e3",
    "12,50",
    "1,2,3",
    "12.345",
    "0001-01-01 00:00:00",
    "9999-12-31 23:59:59",
    "2025-03-02 10:00:00 +08:00",
    "x" * 20_000,
    "",
    " ",
    "null",
    "'; DROP TABLE raw.orders; --",
]
FUZZ = hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _good_row(i: int) -> dict[str, str]:
    return {
        "order_id": f"O{i}",
        "member_id": "M1",
        "order_time": "2025-03-02 10:00:00",
        "channel": "store",
        "store_name": f"store {i} {SECRET}",
        "gross_amount": "1,234.50",
        "status": "paid",
    }


mutations = st.one_of(
    st.sampled_from(HOSTILE_VALUES),
    st.text(max_size=12),
    st.text(alphabet=st.characters(codec="gbk"), max_size=12),
)


@st.composite
def rows(draw) -> list[dict[str, str]]:
    count = draw(st.integers(min_value=0, max_value=6))
    result = []
    for i in range(count):
        row = _good_row(i)
        if draw(st.booleans()):
            column = draw(st.sampled_from(COLUMNS))
            row[column] = draw(mutations)
        result.append(row)
    return result


def _csv_text(table: list[dict[str, str]], quoted: bool) -> str:
    if quoted:  # as a careful exporter writes it
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows([row[c] for c in COLUMNS] for row in table)
        return out.getvalue()
    # as a careless one does: values joined with commas, whatever they hold
    return (
        "\n".join(",".join(row[c] for c in COLUMNS) for row in [dict(zip(COLUMNS, COLUMNS, strict=True)), *table])
        + "\n"
    )


def _json_text(table: list[dict[str, str]], nested: bool, duplicate: bool) -> str:
    lines = []
    for i, row in enumerate(table):
        value: object = dict(row)
        if nested and i == 0:
            value["store_name"] = {"name": row["store_name"]}
        line = json.dumps(value, ensure_ascii=False)
        if duplicate and i == len(table) - 1:
            line = line[:-1] + ', "gross_amount": "1.00"}'
        lines.append(line)
    return "".join(line + "\n" for line in lines)


def _encoded(text: str, encoding: str) -> bytes:
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        return text.encode("utf-8")


@st.composite
def deliveries(draw) -> tuple[str, bytes, int | None, list[dict[str, str]]]:
    """(file name, bytes, the number of records in it counted independently or None, the rows written)."""
    table = draw(rows())
    shape = draw(st.sampled_from(["csv_quoted", "csv_careless", "jsonl", "random_bytes"]))
    if shape == "random_bytes":
        return "random.csv", draw(st.binary(max_size=400)), None, []
    if shape == "jsonl":
        text = _json_text(table, draw(st.booleans()), draw(st.booleans()))
        name = "online.jsonl"
    else:
        text = _csv_text(table, quoted=shape == "csv_quoted")
        name = "pos.csv"
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gbk"])) if name.endswith(".csv") else "utf-8"
    data = _encoded(text, encoding)
    # An independent count: every physical line after the header that is not blank is one record.
    lines = text.split("\n")[0 if name.endswith(".jsonl") else 1 :]
    records = sum(1 for line in lines if line.strip("\r") != "")
    return name, data, records, table


def _day_snapshot(con, day: date) -> list:
    return [
        con.execute(
            f"SELECT * EXCLUDE (_loaded_at, _run_id) FROM raw.orders WHERE _landing_date = '{day}' ORDER BY ALL"
        ).fetchall(),
        con.execute(
            f"SELECT * EXCLUDE (loaded_at, run_id) FROM raw.quarantine WHERE landing_date = '{day}' ORDER BY ALL"
        ).fetchall(),
        con.execute(
            f"SELECT * EXCLUDE (loaded_at, run_id) FROM raw.landed_files WHERE landing_date = '{day}' ORDER BY ALL"
        ).fetchall(),
    ]


def _expected_text(value: str) -> str | None:
    stripped = value.strip(" ")
    return None if stripped.lower() in {"", "null", "none", "na", "n/a", "-"} else stripped


def test_every_delivered_record_is_loaded_as_written_quarantined_or_its_file_fails(settings, landing, warehouse):
    landing.write("members/2025-03-01/crm.csv", members_csv("M1"))
    landing.write("orders/2025-03-01/pos.csv", _csv_text([_good_row(900), _good_row(901)], quoted=True))
    load_range(warehouse, MEMBERS, EARLIER, EARLIER, settings)
    load_range(warehouse, ORDERS, EARLIER, EARLIER, settings)
    earlier = _day_snapshot(warehouse, EARLIER)
    assert len(earlier[0]) == 2
    day_folder = settings.landing_dir / "orders" / DAY.isoformat()
    outcomes: Counter = Counter()

    @FUZZ
    @given(delivery=deliveries())
    def check(delivery):
        name, data, records, table = delivery
        shutil.rmtree(day_folder, ignore_errors=True)
        day_folder.mkdir(parents=True)
        (day_folder / name).write_bytes(data)
        relative = f"orders/{DAY}/{name}"
        try:
            load_range(warehouse, ORDERS, DAY, DAY, settings)
        except (LandingError, LandingFileError) as exc:
            message = str(exc)
            assert relative in message
            outcomes["file failed"] += 1
            assert SECRET not in message
            # One line per unreadable file: nothing from the file can start a line of its own.
            assert all(line.startswith("  - ") for line in message.splitlines()[1:])
            return
        finally:
            assert _day_snapshot(warehouse, EARLIER) == earlier
        read, loaded, quarantined = warehouse.execute(
            "SELECT rows_read, rows_loaded, rows_quarantined FROM raw.landed_files WHERE source_file = ?", [relative]
        ).fetchone()
        stored = warehouse.execute(
            "SELECT order_id, store_name, gross_amount FROM raw.orders WHERE _source_file = ?", [relative]
        ).fetchall()
        kept_aside = warehouse.execute(
            "SELECT count(*) FROM raw.quarantine WHERE source_file = ? AND reason_code IS NOT NULL", [relative]
        ).fetchone()[0]
        assert (loaded, quarantined) == (len(stored), kept_aside)
        assert read == loaded + quarantined
        outcomes["records quarantined" if quarantined else "every record loaded"] += 1
        if records is not None:
            assert read == records

        # Each loaded row is one written row, its values as written (mutated ids may repeat: match on all three).
        def as_stored(row):
            amount = row["gross_amount"].strip(" ").lstrip("¥￥").replace(",", "")
            return (_expected_text(row["order_id"]), _expected_text(row["store_name"]), Decimal(amount))

        unmatched = list(stored)
        for row in table:
            try:
                unmatched.remove(as_stored(row))
            except (ValueError, ArithmeticError):
                continue
        assert unmatched == []

    check()
    # The pass explored each outcome, so it would notice if any of them went wrong.
    assert set(outcomes) == {"file failed", "records quarantined", "every record loaded"}, outcomes

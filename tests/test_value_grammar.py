"""Values are read only in their documented spellings: amounts that would be misread are bad numbers,
impossible timestamps and birthdays are quarantined, `NaN` is never a missing value."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import duckdb
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from retention.landing.contract import MEMBERS, ORDERS
from retention.landing.loader import load_range
from retention.landing.rules import typed
from retention.settings import Settings
from tests.conftest import MEMBERS_HEADER, members_csv

DAY = date(2025, 3, 1)
ORDERS_HEADER = "order_id,member_id,order_time,channel,store_name,gross_amount,discount_amount,status,updated_at\n"
WINDOW = (
    "outside the plausible window 1970-01-01 00:00:00 .. 2025-03-02 23:59:59 "
    "(RETENTION_EARLIEST_TIMESTAMP .. end of landing day + RETENTION_FUTURE_TOLERANCE_DAYS = 1)"
)


def _order(order_id: str, gross: str, *, discount: str = "0", time: str = "2025-03-01 10:00:00", **more) -> str:
    store, updated = more.get("store", "上海徐汇店"), more.get("updated", "")
    return f"{order_id},M1,{time},store,{store},{gross},{discount},paid,{updated}\n"


def _load_orders(landing, settings, warehouse, csv_rows: list[str], json_lines: list[str] = ()):
    landing.write("members/2025-03-01/crm.csv", members_csv("M1"))
    landing.write("orders/2025-03-01/pos.csv", ORDERS_HEADER + "".join(csv_rows))
    if json_lines:
        landing.write("orders/2025-03-01/web.jsonl", "\n".join(json_lines) + "\n")
    load_range(warehouse, MEMBERS, DAY, DAY, settings)
    return load_range(warehouse, ORDERS, DAY, DAY, settings)


def _quarantined(warehouse, source: str = "orders") -> dict[tuple[str, int], tuple[str, str, str]]:
    rows = warehouse.execute(
        "SELECT source_file, row_number, reason_code, reason_column, reason_detail FROM raw.quarantine "
        "WHERE source = ? ORDER BY 1, 2",
        [source],
    ).fetchall()
    return {(f.rsplit("/", 1)[1], n): (code, column, detail) for f, n, code, column, detail in rows}


# ---------------------------------------------------------------- amounts through the loader


def test_misread_amounts_are_bad_numbers_and_documented_ones_load_exactly(landing, settings, warehouse):
    csv_rows = [
        _order("O1", '"12,50"'),  # a decimal comma: was 1250.00
        _order("O2", '"1.234,56"'),  # European grouping: was 1.23
        _order("O3", '"1,2,3"'),  # commas not in threes: was 123
        _order("O4", "1e3"),  # exponent: was 1000
        _order("O5", "1_000"),  # underscore: was 1000
        _order("O6", "1 000"),  # inner space: was 1000
        _order("O7", "12.345"),  # a third decimal place: was rounded to 12.35
        _order("O8", "100", discount="NaN"),  # NaN in an optional amount: was a missing discount (0 in staging)
        _order("O9", '"0,500"'),  # a comma group after a leading 0 is a decimal comma, not thousands
        _order("O10", '"1,234.50"'),
        _order("O11", "¥12.5"),
        _order("O12", '" ￥1,234,567.8 "', discount='"1,234,567.8"'),  # above the ceiling: a readable number
        _order("O13", " 99 "),
        _order("O14", "-5"),  # a readable number, quarantined for its sign
        _order("O15", "+7.00"),
    ]
    json_lines = [
        '{"order_id": "J1", "member_id": "M1", "order_time": "2025-03-01 11:00:00", "channel": "app", '
        '"gross_amount": 99.9, "status": "paid"}',
        '{"order_id": "J2", "member_id": "M1", "order_time": "2025-03-01 11:00:00", "channel": "app", '
        '"gross_amount": 100, "status": "paid"}',
        # A JSON number is a number whatever its notation: DuckDB hands it over as "1000.0".
        '{"order_id": "J3", "member_id": "M1", "order_time": "2025-03-01 11:00:00", "channel": "app", '
        '"gross_amount": 1e3, "status": "paid"}',
        # The same spelled as a JSON string is text, and not a documented amount.
        '{"order_id": "J4", "member_id": "M1", "order_time": "2025-03-01 11:00:00", "channel": "app", '
        '"gross_amount": "1e3", "status": "paid"}',
        '{"order_id": "J5", "member_id": "M1", "order_time": "2025-03-01 11:00:00", "channel": "app", '
        '"gross_amount": 12.345, "status": "paid"}',
        '{"order_id": "J6", "member_id": "M1", "order_time": "2025-03-01 11:00:00", "channel": "app", '
        '"gross_amount": 50, "discount_amount": NaN, "status": "paid"}',
    ]
    report = _load_orders(landing, settings, warehouse, csv_rows, json_lines)

    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (21, 7, 14)
    assert dict(report.reasons) == {"bad_number": 12, "absurd_amount": 1, "negative_amount": 1}
    quarantined = _quarantined(warehouse)
    bad = {key: (code, column) for key, (code, column, _) in quarantined.items()}
    assert bad == {
        **{("pos.csv", n): ("bad_number", "gross_amount") for n in (1, 2, 3, 4, 5, 6, 7, 9)},
        ("pos.csv", 8): ("bad_number", "discount_amount"),
        ("pos.csv", 12): ("absurd_amount", "gross_amount"),
        ("pos.csv", 14): ("negative_amount", "gross_amount"),
        ("web.jsonl", 4): ("bad_number", "gross_amount"),
        ("web.jsonl", 5): ("bad_number", "gross_amount"),
        ("web.jsonl", 6): ("bad_number", "discount_amount"),
    }
    assert quarantined[("pos.csv", 1)][2] == 'gross_amount = "12,50"'
    assert quarantined[("pos.csv", 8)][2] == 'discount_amount = "NaN"'
    loaded = warehouse.execute("SELECT order_id, gross_amount, discount_amount FROM raw.orders ORDER BY 1").fetchall()
    assert loaded == [
        ("J1", Decimal("99.90"), None),
        ("J2", Decimal("100.00"), None),
        ("J3", Decimal("1000.00"), None),
        ("O10", Decimal("1234.50"), Decimal("0.00")),
        ("O11", Decimal("12.50"), Decimal("0.00")),
        ("O13", Decimal("99.00"), Decimal("0.00")),
        ("O15", Decimal("7.00"), Decimal("0.00")),
    ]


def test_more_decimal_places_when_configured_but_never_rounded(landing, settings, warehouse):
    csv_rows = [_order("O1", "12.3400"), _order("O2", "12.3456"), _order("O3", "12.34000"), _order("O4", "12.5")]
    report = _load_orders(landing, replace(settings, amount_decimals=4), warehouse, csv_rows)

    assert (report.rows_loaded, dict(report.reasons)) == (2, {"bad_number": 2})
    assert warehouse.execute("SELECT order_id, gross_amount FROM raw.orders ORDER BY 1").fetchall() == [
        ("O1", Decimal("12.34")),
        ("O4", Decimal("12.50")),
    ]


def test_whole_yuan_only_when_configured(landing, settings, warehouse):
    report = _load_orders(
        landing, replace(settings, amount_decimals=0), warehouse, [_order("O1", "12"), _order("O2", "12.0")]
    )
    assert (report.rows_loaded, dict(report.reasons)) == (1, {"bad_number": 1})


def test_nan_is_text_in_a_text_column_and_a_bad_value_elsewhere(landing, settings, warehouse):
    csv_rows = [
        _order("O1", "10", store="NaN"),  # a store (or a person) may be called Nan
        _order("O2", "10", updated="NaN"),
        _order("O3", "10", updated="null"),  # a documented missing value
    ]
    report = _load_orders(landing, settings, warehouse, csv_rows)

    assert (report.rows_loaded, dict(report.reasons)) == (2, {"bad_timestamp": 1})
    assert _quarantined(warehouse)[("pos.csv", 2)][:2] == ("bad_timestamp", "updated_at")
    assert warehouse.execute("SELECT order_id, store_name, updated_at FROM raw.orders ORDER BY 1").fetchall() == [
        ("O1", "NaN", None),
        ("O3", "上海徐汇店", None),
    ]


# ---------------------------------------------------------------- the amount grammar, property-based

_AMOUNT_SQL = typed(ORDERS.column("gross_amount"), Settings())
_DUCKDB = duckdb.connect()


def _read_amounts(values: list[str]) -> list[Decimal | None]:
    """The loader's own amount expression over the values, in an in-memory DuckDB."""
    rows = _DUCKDB.execute(
        f"SELECT {_AMOUNT_SQL} FROM (SELECT unnest(?) AS v_gross_amount, generate_subscripts(?, 1) AS i) ORDER BY i",
        [values, values],
    ).fetchall()
    return [r[0] for r in rows]


def _grouped(n: int) -> str:
    return f"{n:,}"


@st.composite
def documented_amount(draw) -> tuple[str, Decimal]:
    """A spelling of the documented grammar and the exact value it stands for."""
    whole = draw(st.integers(min_value=0, max_value=10**15))
    places = draw(st.sampled_from(["", "d", "dd"]))
    fraction = "".join(draw(st.sampled_from("0123456789")) for _ in places)
    sign = draw(st.sampled_from(["", "", "-", "+"]))
    currency = draw(st.sampled_from(["", "", "¥", "￥"]))
    digits = _grouped(whole) if draw(st.booleans()) else str(whole)
    pad_left, pad_right = draw(st.sampled_from(["", " ", "\t"])), draw(st.sampled_from(["", " "]))
    text = f"{pad_left}{sign}{currency}{digits}{'.' + fraction if fraction else ''}{pad_right}"
    value = Decimal(f"{'-' if sign == '-' else ''}{whole}.{fraction or '0'}")
    return text, value


_digits = st.text("0123456789", min_size=1, max_size=7)


@st.composite
def undocumented_amount(draw) -> str:
    """A spelling outside the grammar, built from one of the ways exports misprint or misread numbers."""
    a, b = draw(_digits), draw(_digits)
    kind = draw(
        st.sampled_from(
            ["decimal_comma", "bad_group", "european", "exponent", "underscore", "inner_space", "many_places"]
            + ["bare_point", "no_digits", "word", "two_points", "currency_after", "sign_after_currency"]
        )
    )
    if kind == "decimal_comma":  # 12,5 / 12,50 (a group of one or two digits)
        return f"{a},{draw(st.text('0123456789', min_size=1, max_size=2))}"
    if kind == "bad_group":  # a later group not of three digits, or the first group longer than three
        return draw(st.sampled_from([f"1,{b}0000", f"{a}0000,000", f"1,000,{b[:2]}"]))
    if kind == "european":
        return f"{int(a) % 999 + 1}.{draw(st.integers(100, 999))},{draw(st.integers(10, 99))}"
    if kind == "exponent":
        return f"{a}{draw(st.sampled_from(['e', 'E', 'e+', 'e-']))}{b[:2]}"
    if kind == "underscore":
        return f"{a}_{b}"
    if kind == "inner_space":
        return f"{a}{draw(st.sampled_from([' ', chr(9), chr(0xA0)]))}{b}"
    if kind == "many_places":  # a third decimal place that is not zero: it would be rounded
        return f"{a}.{b[:2].ljust(2, '0')}{draw(st.sampled_from('123456789'))}"
    if kind == "bare_point":
        return draw(st.sampled_from([f".{b[:2]}", f"{a}.", "."]))
    if kind == "no_digits":
        return draw(st.sampled_from(["¥", "+", "-¥", "¥."]))
    if kind == "word":
        return draw(st.sampled_from(["NaN", "nan", "inf", "-Infinity", "1e3", "0x10", "十二", "１２", "12元"]))
    if kind == "two_points":
        return f"{a}.{b}.{a}"
    if kind == "currency_after":
        return f"{a}{draw(st.sampled_from(['¥', '￥', ' CNY', 'RMB']))}"
    return f"¥-{a}"


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.lists(documented_amount(), min_size=1, max_size=20))
def test_every_documented_spelling_loads_with_its_exact_value(amounts):
    assert _read_amounts([text for text, _ in amounts]) == [value for _, value in amounts]


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.lists(undocumented_amount(), min_size=1, max_size=20))
def test_every_other_spelling_is_a_bad_number(values):
    assert _read_amounts(values) == [None] * len(values)


# ---------------------------------------------------------------- timestamps and birthdays


def test_timestamps_outside_the_plausible_window_are_quarantined(landing, settings, warehouse):
    csv_rows = [
        _order("O1", "10", time="0001-03-01 10:00:00"),  # was BTYD recency 739,405 days
        _order("O2", "10", time="9999-03-01 10:00:00"),  # loaded into raw, then vanished from the marts
        _order("O3", "10", time="2025-03-02 23:59:59.999999"),  # the last instant of the tolerance
        _order("O4", "10", time="2025-03-03 00:00:00"),  # the first instant after it
        _order("O5", "10", time="1970-01-01 00:00:00"),  # the earliest plausible instant
        _order("O6", "10", time="1969-12-31 23:59:59"),
        _order("O7", "10", updated="9999-12-31 23:59:59"),  # an optional timestamp is held to the same window
        _order("O8", "10", time="1997-07-01 09:00:00"),  # old archives are real data
        _order("O9", "10", time="2025-03-01 10:00:00 +08:00"),  # a space before the offset
        _order("O10", "10", time="2025-03-01T10:00:00+08:00"),
        _order("O11", "10", time="2025-03-01 02:00:00 Z"),
        _order("O12", "10", time="2025-03-02 23:00:00 +00:00"),  # in range as written, a day ahead locally
    ]
    report = _load_orders(landing, settings, warehouse, csv_rows)

    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (12, 6, 6)
    assert dict(report.reasons) == {"implausible_timestamp": 6}
    quarantined = _quarantined(warehouse)
    assert {n: (code, column) for (_, n), (code, column, _) in quarantined.items()} == {
        1: ("implausible_timestamp", "order_time"),
        2: ("implausible_timestamp", "order_time"),
        4: ("implausible_timestamp", "order_time"),
        6: ("implausible_timestamp", "order_time"),
        7: ("implausible_timestamp", "updated_at"),
        12: ("implausible_timestamp", "order_time"),
    }
    assert quarantined[("pos.csv", 1)][2] == f'order_time = "0001-03-01 10:00:00" {WINDOW}'
    assert warehouse.execute("SELECT order_id, order_time FROM raw.orders ORDER BY 1").fetchall() == [
        ("O10", datetime(2025, 3, 1, 10, 0)),
        ("O11", datetime(2025, 3, 1, 10, 0)),
        ("O3", datetime(2025, 3, 2, 23, 59, 59, 999999)),
        ("O5", datetime(1970, 1, 1, 0, 0)),
        ("O8", datetime(1997, 7, 1, 9, 0)),
        ("O9", datetime(2025, 3, 1, 10, 0)),
    ]


def test_window_follows_the_settings(landing, settings, warehouse):
    tight = replace(settings, future_tolerance_days=0, earliest_timestamp=date(2000, 1, 1))
    csv_rows = [
        _order("O1", "10", time="2025-03-01 23:59:59"),
        _order("O2", "10", time="2025-03-02 00:00:00"),
        _order("O3", "10", time="2000-01-01 00:00:00"),
        _order("O4", "10", time="1999-12-31 23:59:59"),
    ]
    report = _load_orders(landing, tight, warehouse, csv_rows)

    assert (report.rows_loaded, dict(report.reasons)) == (2, {"implausible_timestamp": 2})
    assert sorted(n for (_, n) in _quarantined(warehouse)) == [2, 4]
    assert _quarantined(warehouse)[("pos.csv", 2)][2].endswith(
        "outside the plausible window 2000-01-01 00:00:00 .. 2025-03-01 23:59:59 "
        "(RETENTION_EARLIEST_TIMESTAMP .. end of landing day + RETENTION_FUTURE_TOLERANCE_DAYS = 0)"
    )


def test_birthdays_outside_1900_to_the_landing_day_are_quarantined_without_echoing_them(landing, settings, warehouse):
    header = MEMBERS_HEADER.rstrip("\n") + ",birthday\n"
    rows = [
        ("M1", "1899-12-31"),
        ("M2", "1900-01-01"),
        ("M3", "2025-03-01"),  # born on the landing day
        ("M4", "2025-03-02"),  # born tomorrow
        ("M5", "0001-01-01"),
        ("M6", "1985-06-15"),
    ]
    body = "".join(f"{m},测试,13800000000,2024-01-02 10:00:00,1,2025-03-01 08:00:00,{b}\n" for m, b in rows)
    body += "M7,测试,13800000000,0001-01-02 10:00:00,1,2025-03-01 08:00:00,1985-06-15\n"  # registered in year 1
    landing.write("members/2025-03-01/crm.csv", header + body)
    report = load_range(warehouse, MEMBERS, DAY, DAY, settings)

    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (7, 3, 4)
    assert dict(report.reasons) == {"implausible_date": 3, "implausible_timestamp": 1}
    quarantined = _quarantined(warehouse, "members")
    # The detail names the window, never the birthday (personal data).
    window = (
        "birthday outside the plausible window 1900-01-01 .. 2025-03-01 (RETENTION_EARLIEST_BIRTHDAY .. landing day)"
    )
    expected = ("implausible_date", "birthday", window)
    assert {n: quarantined[("crm.csv", n)] for n in (1, 4, 5)} == dict.fromkeys((1, 4, 5), expected)
    assert quarantined[("crm.csv", 7)][:2] == ("implausible_timestamp", "registered_at")
    assert warehouse.execute("SELECT member_id, birthday FROM raw.members ORDER BY 1").fetchall() == [
        ("M2", date(1900, 1, 1)),
        ("M3", date(2025, 3, 1)),
        ("M6", date(1985, 6, 15)),
    ]

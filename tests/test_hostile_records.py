"""Hostile landing files: every physical record is counted, none is merged into another, a file is read
in one encoding, JSON objects are as strict as the contract, and errors never echo the data."""

from __future__ import annotations

from datetime import date

import pytest

from retention.landing.contract import MEMBERS, ORDERS, TICKETS
from retention.landing.loader import LandingError, load_range
from tests.conftest import members_csv

DAY1, DAY2 = date(2025, 3, 1), date(2025, 3, 2)
POS_HEADER = "订单号,会员号,下单时间,渠道,门店名称,订单金额,优惠金额,订单状态\n"  # 8 fields
GOOD_DAY1 = POS_HEADER + "O1,M1,2025/3/1 10:00:00,门店,上海徐汇店,100,0,已支付\n"


@pytest.fixture
def loaded_day1(landing, settings, warehouse):
    """Members, and one good order on day 1, loaded before the hostile file of day 2 arrives."""
    landing.write("members/2025-03-01/crm.csv", members_csv("M1", "M2"))
    landing.write("orders/2025-03-01/pos.csv", GOOD_DAY1, "gbk")
    load_range(warehouse, MEMBERS, DAY1, DAY1, settings)
    load_range(warehouse, ORDERS, DAY1, DAY1, settings)


def _manifest(con, day=DAY2, source="orders"):
    return con.execute(
        "SELECT source_file, rows_read, rows_loaded, rows_quarantined FROM raw.landed_files "
        "WHERE landing_date = ? AND source = ? ORDER BY source_file",
        [day, source],
    ).fetchall()


def _quarantine(con, day=DAY2, source="orders"):
    return con.execute(
        "SELECT row_number, reason_code, reason_column, reason_detail, raw_record FROM raw.quarantine "
        "WHERE landing_date = ? AND source = ? ORDER BY source_file, row_number",
        [day, source],
    ).fetchall()


def _day1_intact(con):
    rows = con.execute("SELECT order_id, CAST(gross_amount AS DOUBLE) FROM raw.orders WHERE _landing_date = ?", [DAY1])
    assert rows.fetchall() == [("O1", 100.0)]
    assert _manifest(con, DAY1) == [("orders/2025-03-01/pos.csv", 1, 1, 0)]


# Row 2's store name opens a quote that row 4 closes: rows 2-4 (file lines 3-5) would be one record
# with eight fields, row 2 carrying row 4's amount.
RUNAWAY_QUOTE = (
    POS_HEADER
    + "O21,M1,2025/3/2 10:00:00,门店,上海徐汇店,100,0,已支付\n"
    + 'O22,M1,2025/3/2 10:05:00,门店,"上海徐汇店,200,0,已支付\n'
    + "O23,M2,2025/3/2 10:10:00,门店,北京朝阳店,300,0,已支付\n"
    + 'O24,M1,2025/3/2 10:15:00,门店,南京西路店",400,0,已支付\n'
    + "O25,M2,2025/3/2 10:20:00,门店,上海徐汇店,500,0,已支付\n"
)


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_quote_closed_lines_later_quarantines_each_line_it_spans(loaded_day1, landing, settings, warehouse, line_end):
    landing.write("orders/2025-03-02/pos.csv", RUNAWAY_QUOTE.replace("\n", line_end), "gbk")
    report = load_range(warehouse, ORDERS, DAY1, DAY2, settings)

    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (1 + 5, 1 + 2, 3)
    assert _manifest(warehouse) == [("orders/2025-03-02/pos.csv", 5, 2, 3)]
    day2 = warehouse.execute(
        "SELECT order_id, CAST(gross_amount AS DOUBLE) FROM raw.orders WHERE _landing_date = ? ORDER BY 1", [DAY2]
    )
    assert day2.fetchall() == [("O21", 100.0), ("O25", 500.0)]
    rows = _quarantine(warehouse)
    assert [(r[0], r[1], r[2]) for r in rows] == [(n, "broken_quote", "store_name") for n in (2, 3, 4)]
    assert rows[0][3] == (
        "line 3 is one of lines 3-5, which a quote in column store_name (field 5) joins into one record; "
        "only multi-line text columns may span lines"
    )
    assert rows[1][3].startswith("line 4 is one of lines 3-5")
    # The quarantine keeps each physical line as delivered (raw.quarantine is a restricted table).
    assert [r[4] for r in rows] == RUNAWAY_QUOTE.splitlines()[2:5]
    _day1_intact(warehouse)


def test_rows_with_too_many_or_too_few_fields_are_quarantined_not_padded_or_cut(
    loaded_day1, landing, settings, warehouse
):
    landing.write(
        "orders/2025-03-02/pos.csv",
        POS_HEADER
        + 'O21,M1,2025/3/2 10:00:00,门店,上海徐汇店,"1,200.50",0,已支付\n'  # quoted comma: 8 fields
        + "O22,M1,2025/3/2 10:05:00,门店,上海徐汇店,200,0,已支付,多余\n"  # 9 fields
        + "O23,M1,2025/3/2 10:10:00,门店,300,0,已支付\n"  # 7 fields
        + "O24,M2,2025/3/2 10:15:00,门店,上海徐汇店,400,0,已支付\n",
        "gbk",
    )
    load_range(warehouse, ORDERS, DAY2, DAY2, settings)

    assert _manifest(warehouse) == [("orders/2025-03-02/pos.csv", 4, 2, 2)]
    assert [r[:4] for r in _quarantine(warehouse)] == [
        (2, "field_count", None, "line 3 has 9 fields, the header has 8"),
        (3, "field_count", None, "line 4 has 7 fields, the header has 8"),
    ]
    amounts = warehouse.execute(
        "SELECT order_id, CAST(gross_amount AS DOUBLE) FROM raw.orders WHERE _landing_date = ? ORDER BY 1", [DAY2]
    )
    assert amounts.fetchall() == [("O21", 1200.5), ("O24", 400.0)]
    _day1_intact(warehouse)


def test_quote_inside_an_unquoted_field_is_quarantined_instead_of_failing_the_file(
    loaded_day1, landing, settings, warehouse
):
    landing.write(
        "orders/2025-03-02/pos.csv",
        POS_HEADER
        + 'O21,M1,2025/3/2 10:00:00,门店,上海"徐汇"店,100,0,已支付\n'
        + "O22,M1,2025/3/2 10:05:00,门店,上海徐汇店,200,0,已支付\n",
    )
    load_range(warehouse, ORDERS, DAY2, DAY2, settings)
    assert _manifest(warehouse) == [("orders/2025-03-02/pos.csv", 2, 1, 1)]
    assert [r[:2] for r in _quarantine(warehouse)] == [(1, "bad_quote")]


@pytest.mark.parametrize("stray_rows", [(1,), (1, 3)])
def test_a_lone_inch_mark_quarantines_its_record_only_not_the_rest_of_the_file(
    loaded_day1, landing, settings, warehouse, stray_rows
):
    # An odd number of quotes: counted by parity, the first would open a field the rest of the file never closes.
    rows = [f'O2{i},M1,2025/3/2 10:0{i}:00,门店,上海徐汇店,"1,200.50",0,已支付' for i in range(1, 5)]
    for i in stray_rows:
        rows[i - 1] = f'O2{i},M1,2025/3/2 10:0{i}:00,门店,买了27"显示器,100,0,已支付'
    landing.write("orders/2025-03-02/pos.csv", POS_HEADER + "\n".join(rows) + "\n")
    load_range(warehouse, ORDERS, DAY2, DAY2, settings)
    assert _manifest(warehouse) == [("orders/2025-03-02/pos.csv", 4, 4 - len(stray_rows), len(stray_rows))]
    assert [r[:2] for r in _quarantine(warehouse)] == [(i, "bad_quote") for i in stray_rows]
    loaded = warehouse.execute(
        "SELECT order_id, gross_amount FROM raw.orders WHERE _landing_date = ? ORDER BY 1", [DAY2]
    )
    assert [r[0] for r in loaded.fetchall()] == [f"O2{i}" for i in range(1, 5) if i not in stray_rows]


def test_inch_marks_in_ticket_text_do_not_merge_the_records_between_them(landing, settings, warehouse):
    landing.write("members/2025-03-01/crm.csv", members_csv("M1"))
    landing.write(
        "tickets/2025-03-01/t.csv",
        TICKETS_HEADER
        + 'T1,M1,2025-03-01 09:00:00,投诉,处理中,买了27"显示器\n'
        + "T2,M1,2025-03-01 09:10:00,咨询,新建,简单\n"
        + 'T3,M1,2025-03-01 09:20:00,咨询,新建,"有引号的内容"\n'
        + 'T4,M1,2025-03-01 09:30:00,咨询,新建,24"的也行\n'
        + "T5,M1,2025-03-01 09:40:00,咨询,新建,最后\n",
    )
    load_range(warehouse, MEMBERS, DAY1, DAY1, settings)
    load_range(warehouse, TICKETS, DAY1, DAY1, settings)
    assert _manifest(warehouse, DAY1, "tickets") == [("tickets/2025-03-01/t.csv", 5, 3, 2)]
    assert [r[:2] for r in _quarantine(warehouse, DAY1, "tickets")] == [(1, "bad_quote"), (4, "bad_quote")]
    stored = warehouse.execute("SELECT ticket_id, content FROM raw.tickets ORDER BY 1").fetchall()
    assert stored == [("T2", "简单"), ("T3", "有引号的内容"), ("T5", "最后")]


def test_a_last_record_without_line_end_is_judged_as_a_whole_record(landing, settings, warehouse):
    landing.write("members/2025-03-01/crm.csv", members_csv("M1"))
    # A multi-line ticket text last, no final line end: complete, so not truncated.
    landing.write(
        "tickets/2025-03-01/t.csv",
        TICKETS_HEADER
        + "T1,M1,2025-03-01 09:00:00,咨询,新建,简单\n"
        + 'T2,M1,2025-03-01 09:10:00,投诉,新建,"第一行\n第二行"',
    )
    # A line separator (U+2028) inside the last value is text, not a line end.
    landing.write("orders/2025-03-01/pos.csv", POS_HEADER + "O1,M1,2025/3/1 10:00:00,门店,旗舰\u2028店,100,0,已支付")
    load_range(warehouse, MEMBERS, DAY1, DAY1, settings)
    load_range(warehouse, TICKETS, DAY1, DAY1, settings)
    load_range(warehouse, ORDERS, DAY1, DAY1, settings)
    assert _manifest(warehouse, DAY1, "tickets") == [("tickets/2025-03-01/t.csv", 2, 2, 0)]
    assert warehouse.execute("SELECT content FROM raw.tickets WHERE ticket_id = 'T2'").fetchone() == ("第一行\n第二行",)
    assert warehouse.execute("SELECT store_name FROM raw.orders").fetchall() == [("旗舰\u2028店",)]


def test_a_data_like_extra_column_name_is_ignored_not_taken_for_a_missing_header(landing, settings, warehouse):
    landing.write("members/2025-03-01/crm.csv", members_csv("M1"))
    landing.write(
        "orders/2025-03-01/pos.csv",
        POS_HEADER.strip() + ",2025年3月积分\n" + "O1,M1,2025/3/1 10:00:00,门店,旗舰店,100,0,已支付,12\n",
    )
    load_range(warehouse, MEMBERS, DAY1, DAY1, settings)
    report = load_range(warehouse, ORDERS, DAY1, DAY1, settings)
    assert (report.rows_read, report.rows_loaded) == (1, 1)
    assert report.extra_columns == {"orders/2025-03-01/pos.csv": ["(field 9)"]}


def test_a_big5_file_fails_instead_of_loading_as_garbled_gbk(landing, settings, warehouse):
    header = "order_id,member_id,order_time,channel,store_name,gross_amount,status\n"  # 69 bytes
    row = "O1,M1,2025-03-01 10:00:00,store,臺北信義門市,10,paid\n"  # the store name starts at byte 69 + 32
    landing.write("members/2025-03-01/crm.csv", members_csv("M1"))
    landing.write("orders/2025-03-01/pos.csv", header + row, "big5")
    load_range(warehouse, MEMBERS, DAY1, DAY1, settings)
    with pytest.raises(LandingError) as error:
        load_range(warehouse, ORDERS, DAY1, DAY1, settings)
    # 臺 is not UTF-8 at byte 101; read as GB18030 its two bytes give 籓, and the next two (103) a private-use one.
    assert (
        "orders/2025-03-01/pos.csv: not UTF-8 (byte 101), and read as GBK/GB18030 byte 103 (line 2) gives a "
        "private-use character" in str(error.value)
    )
    assert warehouse.execute("SELECT count(*) FROM raw.orders").fetchone() == (0,)


def test_many_malformed_rows_get_the_same_details_built_without_a_loop(landing, settings, monkeypatch):
    import retention.landing.csv_records as csv_records
    import retention.landing.files as files

    # An export with a trailing comma on every data row, one inch mark, and a runaway quote (CRLF).
    rows = [f"O{i},M1,2025/3/1 10:00:00,门店,上海徐汇店,100,0,已支付," for i in range(300)]
    rows[5] = 'O5,M1,2025/3/1 10:00:00,门店,买了27"显示器,100,0,已支付'
    rows[9] = 'O9,M1,2025/3/1 10:00:00,门店,"上海,100,0,已支付'
    rows[10] = 'O10,M1,2025/3/1 10:00:00,门店,店",100,0,已支付'
    landing.write("orders/2025-03-01/pos.csv", POS_HEADER.replace("\n", "\r\n") + "\r\n".join(rows) + "\r\n")
    [file] = files.discover(settings.landing_dir, ORDERS, DAY1, DAY1, settings=settings)

    built = files.read_landed_file(file, ORDERS).frame.select("_row_number", "_malformed", "_raw")
    monkeypatch.setattr(csv_records, "_MANY_MALFORMED", 10**9)
    looped = files.read_landed_file(file, ORDERS).frame.select("_row_number", "_malformed", "_raw")

    assert built.equals(looped)
    assert built.height == 300 and built["_malformed"].null_count() == 0
    assert built.row(0) == (1, "field_count||line 2 has 9 fields, the header has 8", rows[0])
    assert built.row(5) == (6, "bad_quote||line 7: " + csv_records._BAD_QUOTE_PROBLEM, rows[5])
    assert built.row(9)[1].startswith("broken_quote|store_name|line 11 is one of lines 11-12")


TICKETS_HEADER = "ticket_id,member_id,opened_at,ticket_type,status,content\n"


@pytest.mark.parametrize("line_end, bom", [("\n", ""), ("\r\n", "\ufeff")])
def test_ticket_text_spanning_lines_is_one_record(landing, settings, warehouse, line_end, bom):
    landing.write("members/2025-03-01/crm.csv", members_csv("M1"))
    text = (
        bom
        + TICKETS_HEADER
        + 'T1,M1,2025-03-01 09:00:00,投诉,处理中,"第一行\n第二行, 有逗号和""引号""\n\n第四行"\n'
        + "T2,M1,2025-03-01 10:00:00,咨询,新建,简单\n"
        + 'T3,M1,"2025-03-01\n11:00:00",咨询,新建,时间跨行\n'  # opened_at may not span lines
        + "T4,M1,2025-03-01 12:00:00,咨询,新建,最后一行没有换行符"
    )
    landing.write("tickets/2025-03-01/t.csv", text.replace("\n", line_end))
    load_range(warehouse, MEMBERS, DAY1, DAY1, settings)
    load_range(warehouse, TICKETS, DAY1, DAY1, settings)

    assert _manifest(warehouse, DAY1, "tickets") == [("tickets/2025-03-01/t.csv", 5, 3, 2)]
    rows = warehouse.execute("SELECT ticket_id, content, _row_number FROM raw.tickets ORDER BY 1").fetchall()
    assert rows == [
        ("T1", line_end.join(["第一行", '第二行, 有逗号和"引号"', "", "第四行"]), 1),
        ("T2", "简单", 2),
        ("T4", "最后一行没有换行符", 5),
    ]
    quarantined = _quarantine(warehouse, DAY1, "tickets")
    assert [r[:3] for r in quarantined] == [(3, "broken_quote", "opened_at"), (4, "broken_quote", "opened_at")]
    assert quarantined[0][3].startswith("line 7 is one of lines 7-8, which a quote in column opened_at (field 3)")


def test_blank_lines_are_layout_not_records(loaded_day1, landing, settings, warehouse):
    landing.write(
        "orders/2025-03-02/pos.csv",
        POS_HEADER
        + "O21,M1,2025/3/2 10:00:00,门店,上海徐汇店,100,0,已支付\n\n"
        + "O22,M1,2025/3/2 10:05:00,门店,上海徐汇店,200,0,已支付\n\r\n\n",
    )
    load_range(warehouse, ORDERS, DAY2, DAY2, settings)
    assert _manifest(warehouse) == [("orders/2025-03-02/pos.csv", 2, 2, 0)]
    rows = warehouse.execute("SELECT order_id, _row_number FROM raw.orders WHERE _landing_date = ? ORDER BY 1", [DAY2])
    assert rows.fetchall() == [("O21", 1), ("O22", 2)]


def test_file_mixing_utf8_and_gbk_fails_naming_both_byte_offsets(loaded_day1, landing, settings, warehouse):
    gbk_part = (POS_HEADER + "O21,M1,2025/3/2 10:00:00,门店,上海徐汇店,100,0,已支付\n").encode("gbk")
    utf8_row = "O22,M1,2025/3/2 10:05:00,门店,南京西路,200,0,已支付\n"
    prefix = "O22,M1,2025/3/2 10:05:00,".encode("gbk")
    # The GBK row, then a row whose store name alone is UTF-8 (the rest GBK): GB18030 reads it without
    # error, as 鍗椾含瑗胯矾.
    mixed = gbk_part + prefix + "门店,".encode("gbk") + "南京西路".encode() + ",200,0,已支付\n".encode("gbk")
    assert "南京西路".encode().decode("gb18030") == "鍗椾含瑗胯矾"
    assert utf8_row.encode("gbk") != mixed[len(gbk_part) :]
    path = settings.landing_dir / "orders/2025-03-02/pos.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(mixed)

    with pytest.raises(LandingError) as error:
        load_range(warehouse, ORDERS, DAY2, DAY2, settings)
    start = len(gbk_part) + len(prefix) + len("门店,".encode("gbk"))  # first byte of 南京西路 in UTF-8
    # Byte 0 (订 in GBK is B6 A9; B6 is a UTF-8 continuation byte) is the first that is not UTF-8.
    assert error.value.errors[0].problem == (
        f"mixes encodings: byte 0 (line 1) is not UTF-8, but bytes {start}-{start + 11} (line 3) are UTF-8 text, "
        "which reading the file as GBK/GB18030 would garble; deliver one encoding per file"
    )
    assert "南京西路" not in str(error.value) and "鍗椾" not in str(error.value)
    _day1_intact(warehouse)


def test_pure_gbk_and_pure_utf8_files_still_load(landing, settings, warehouse):
    landing.write("members/2025-03-01/crm.csv", members_csv("M1"))
    row = "O1,M1,2025/3/1 10:00:00,门店,南京西路,100,0,已支付\n"
    landing.write("orders/2025-03-01/gbk.csv", POS_HEADER + row, "gbk")
    landing.write("orders/2025-03-01/utf8.csv", POS_HEADER + row.replace("O1", "O2"))
    load_range(warehouse, MEMBERS, DAY1, DAY1, settings)
    load_range(warehouse, ORDERS, DAY1, DAY1, settings)
    names = warehouse.execute("SELECT order_id, store_name FROM raw.orders ORDER BY 1").fetchall()
    assert names == [("O1", "南京西路"), ("O2", "南京西路")]


JSON_GOOD = (
    '"member_id": "M1", "order_time": "2025-03-02 09:00:00", "channel": "app", "gross_amount": 10, "status": "paid"'
)


def test_json_duplicate_keys_and_nested_values_are_quarantined_naming_the_key(
    loaded_day1, landing, settings, warehouse
):
    lines = [
        '{"order_id": "O21", ' + JSON_GOOD + "}",
        '{"order_id": "O22", "order_id": "O23", ' + JSON_GOOD + "}",  # same key twice
        '{"order_id": "O24", "订单号": "O25", ' + JSON_GOOD + "}",  # two keys meaning order_id
        '{"order_id": "O26", ' + JSON_GOOD + ', "store_name": {"name": "徐汇店"}}',
        '{"order_id": "O27", ' + JSON_GOOD + ', "coupon_code": ["A1", "B2"]}',
        '{"order_id": "O28", ' + JSON_GOOD + ', "note": 1, "note": 2}',  # duplicate outside the contract
        '{"order_id": "O29", ' + JSON_GOOD + ', "store_name": "[旗舰店]"}',  # a string, not an array
        "[1, 2]",
    ]
    landing.write("orders/2025-03-02/web.jsonl", "\n".join(lines) + "\n")
    load_range(warehouse, ORDERS, DAY2, DAY2, settings)

    assert _manifest(warehouse) == [("orders/2025-03-02/web.jsonl", 8, 2, 6)]
    assert [r[:4] for r in _quarantine(warehouse)] == [
        (2, "duplicate_key", "order_id", "2 keys give order_id: order_id, order_id"),
        (3, "duplicate_key", "order_id", "2 keys give order_id: order_id, 订单号"),
        (4, "nested_value", "store_name", 'key "store_name" holds a JSON object, not a value'),
        (5, "nested_value", "coupon_code", 'key "coupon_code" holds a JSON array, not a value'),
        (6, "duplicate_key", None, "a key outside the contract appears more than once (not shown)"),
        (8, "malformed_json", None, "line is not a JSON object"),
    ]
    stored = warehouse.execute("SELECT order_id, store_name FROM raw.orders WHERE _landing_date = ? ORDER BY 1", [DAY2])
    assert stored.fetchall() == [("O21", None), ("O29", "[旗舰店]")]
    _day1_intact(warehouse)


PERSONAL = ("张三", "13812345678", "zhangsan@example.com")


def test_headerless_members_file_fails_without_echoing_personal_data(landing, settings, warehouse):
    landing.write(
        "members/2025-03-01/crm.csv",
        "M1,张三,13812345678,zhangsan@example.com,2024-01-02 10:00:00,2025-03-01 08:00:00\n"
        "M2,李四,13987654321,lisi@example.com,2024-01-03 10:00:00,2025-03-01 08:00:00\n",
    )
    with pytest.raises(LandingError) as error:
        load_range(warehouse, MEMBERS, DAY1, DAY1, settings)
    problem = error.value.errors[0].problem
    assert problem == (
        "line 1 does not look like a header: field(s) 3, 4, 5, 6 hold values such as numbers, dates, phone "
        "numbers or e-mail addresses (not shown); the first line must name the columns"
    )
    assert not any(value in str(error.value) for value in PERSONAL)


def test_headerless_file_without_telltale_values_names_no_header_field(landing, settings, warehouse):
    landing.write("members/2025-03-01/crm.csv", "M1,张三,女,上海\n")
    with pytest.raises(LandingError) as error:
        load_range(warehouse, MEMBERS, DAY1, DAY1, settings)
    assert error.value.errors[0].problem == (
        "missing required column(s) member_id, registered_at, updated_at; the header (line 1) has 4 field(s), "
        "recognised: none"
    )
    assert "张三" not in str(error.value)


def test_unclosed_quote_at_the_end_fails_without_echoing_the_row(loaded_day1, landing, settings, warehouse):
    landing.write(
        "orders/2025-03-02/pos.csv",
        POS_HEADER
        + "O21,M1,2025/3/2 10:00:00,门店,上海徐汇店,100,0,已支付\n"
        + 'O22,M1,2025/3/2 10:05:00,门店,"张三 13812345678 家,200,0,已支付\n',
    )
    with pytest.raises(LandingError) as error:
        load_range(warehouse, ORDERS, DAY2, DAY2, settings)
    assert error.value.errors[0].problem == (
        "a quote opened on line 3 (field 5) is never closed: the file ends inside it"
    )
    assert not any(value in str(error.value) for value in ("张三", "13812345678", "O22", "200"))
    _day1_intact(warehouse)


def test_only_extra_header_names_that_look_like_names_are_listed(landing, settings, warehouse):
    landing.write("members/2025-03-01/crm.csv", members_csv("M1"))
    landing.write(
        "orders/2025-03-01/pos.csv",
        POS_HEADER.strip() + ",收银员,#!\nO1,M1,2025/3/1 10:00:00,门店,店,88,0,已支付,小王,x\n",
    )
    load_range(warehouse, MEMBERS, DAY1, DAY1, settings)
    report = load_range(warehouse, ORDERS, DAY1, DAY1, settings)
    assert report.extra_columns == {"orders/2025-03-01/pos.csv": ["收银员", "(field 10)"]}
    assert report.rows_loaded == 1

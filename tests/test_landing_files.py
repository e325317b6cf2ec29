"""Reading landed files: encodings, headers, dates in paths and files that cannot be read."""

from __future__ import annotations

from datetime import date

import pytest

from retention.landing.contract import ORDERS, TICKETS
from retention.landing.files import LandingFileError, date_in_path, discover, read_landed_file

POS_HEADER = "订单号,会员号,下单时间,渠道,门店名称,订单金额,订单状态\n"


def _one(settings, source):
    files = discover(settings.landing_dir, source, date(2025, 3, 1), date(2025, 3, 1))
    assert len(files) == 1
    return read_landed_file(files[0], source)


@pytest.mark.parametrize(
    "relative, expected",
    [
        ("2025-03-01/pos.csv", date(2025, 3, 1)),
        ("pos_orders_20250301.csv", date(2025, 3, 1)),
        ("2025_03_01/x.jsonl", date(2025, 3, 1)),
        ("archive/pos-2025-03-01-late.csv", date(2025, 3, 1)),
        ("pos.csv", None),
        ("2025-02-30/pos.csv", None),
    ],
)
def test_landing_date_comes_from_the_path(relative, expected):
    assert date_in_path(relative) == expected


def test_gbk_file_with_chinese_headers_decodes_ungarbled(settings, landing):
    landing.write("orders/2025-03-01/pos.csv", POS_HEADER + "O1,M1,2025/3/1 10:00:00,门店,上海徐汇店,88,已支付\n", "gbk")
    result = _one(settings, ORDERS)
    assert result.encoding == "gb18030"
    assert result.frame["store_name"].to_list() == ["上海徐汇店"]
    assert result.frame["channel"].to_list() == ["门店"]
    assert result.frame["_row_number"].to_list() == [1]


def test_utf8_file_with_byte_order_mark_keeps_its_first_column(settings, landing):
    landing.write("tickets/2025-03-01/t.csv", "\ufeffticket_id,member_id,opened_at,ticket_type,status\nT1,M1,2025-03-01 09:00:00,投诉,处理中\n")
    result = _one(settings, TICKETS)
    assert result.encoding == "utf-8-sig"
    assert result.frame["ticket_id"].to_list() == ["T1"]


def test_extra_columns_are_ignored_and_reported(settings, landing):
    landing.write("orders/2025-03-01/pos.csv", POS_HEADER.strip() + ",收银员\nO1,M1,2025/3/1 10:00:00,门店,店,88,已支付,小王\n")
    result = _one(settings, ORDERS)
    assert result.extra_columns == ["收银员"]
    assert "收银员" not in result.frame.columns


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"order_id,member_id,order_time\nO1,M1,2025-03-01 10:00:00\n", "missing required column(s) channel, gross_amount, status"),
        (
            POS_HEADER.encode() + "O1,M1,2025/3/1 10:00:00,门店,店,88,已支付\nO2,M1,2025/3/1".encode(),
            "truncated: last record (line 3) has 3 of 7 fields",
        ),
        (b"\xff\xfe\xfa order_id", "neither UTF-8"),
    ],
)
def test_unreadable_file_is_an_error_naming_file_and_problem(settings, landing, content, problem):
    path = settings.landing_dir / "orders/2025-03-01/bad.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(LandingFileError) as error:
        _one(settings, ORDERS)
    assert error.value.file == "orders/2025-03-01/bad.csv"
    assert problem in error.value.problem


def test_truncated_json_lines_file_is_an_error(settings, landing):
    landing.write("orders/2025-03-01/web.jsonl", '{"order_id": "O1"}\n{"order_id": "O2", "mem')
    with pytest.raises(LandingFileError, match="truncated: last line"):
        _one(settings, ORDERS)


def test_unsupported_file_type_is_an_error_not_skipped(settings, landing):
    landing.write("orders/2025-03-01/.DS_Store", "")
    landing.write("orders/2025-03-01/pos.xlsx", "PK")
    with pytest.raises(LandingFileError, match="unsupported file type .xlsx") as error:
        discover(settings.landing_dir, ORDERS, date(2025, 3, 1), date(2025, 3, 1))
    assert error.value.file == "orders/2025-03-01/pos.xlsx"


def test_file_without_a_date_in_its_path_is_an_error(settings, landing):
    landing.write("orders/pos.csv", POS_HEADER)
    with pytest.raises(LandingFileError, match="no landing date"):
        discover(settings.landing_dir, ORDERS, date(2025, 3, 1), date(2025, 3, 1))


@pytest.mark.parametrize("content", ["", POS_HEADER])
def test_empty_and_header_only_files_are_zero_rows(settings, landing, content):
    landing.write("orders/2025-03-01/pos.csv", content)
    assert _one(settings, ORDERS).frame.height == 0

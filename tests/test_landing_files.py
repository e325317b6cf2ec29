"""Reading landed files: encodings, headers, dates in paths and files that cannot be read."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from retention.landing.contract import MEMBERS, ORDERS, TICKETS
from retention.landing.files import LandingFileError, date_in_path, discover, latest_landing_date, read_landed_file
from retention.landing.loader import read_files
from retention.settings import Settings
from tests.conftest import members_csv

POS_HEADER = "订单号,会员号,下单时间,渠道,门店名称,订单金额,订单状态\n"


def _one(settings, source):
    files = discover(settings.landing_dir, source, date(2025, 3, 1), date(2025, 3, 1), settings=settings)
    assert len(files) == 1
    return read_landed_file(files[0], source)


@pytest.mark.parametrize(
    "relative, expected",
    [
        ("2025-03-01/pos.csv", date(2025, 3, 1)),
        ("pos_orders_20250301.csv", date(2025, 3, 1)),
        ("2025_03_01/x.jsonl", date(2025, 3, 1)),
        ("archive/pos-2025-03-01-late.csv", date(2025, 3, 1)),
        ("1997-03-05/pos.csv", date(1997, 3, 5)),
        ("19970305.csv", date(1997, 3, 5)),
        ("1997_03_05/x.jsonl", date(1997, 3, 5)),
        ("1900-01-01/pos.csv", date(1900, 1, 1)),
        ("2099-01-01/x.csv", date(2099, 1, 1)),  # found here; refused as future by discover
        ("2025-03-05/export_20250304.csv", date(2025, 3, 5)),  # the first date (the folder) wins
        ("pos.csv", None),
        ("1899-12-31/pos.csv", None),
        ("store_120250301/pos.csv", None),  # digits glued to the date: not a date
    ],
)
def test_landing_date_comes_from_the_path(relative, expected):
    assert date_in_path(relative) == expected


@pytest.mark.parametrize("relative", ["2025-02-30/pos.csv", "20230229.csv", "2025-04-31/x.jsonl"])
def test_impossible_date_in_the_path_is_not_a_calendar_day(relative):
    with pytest.raises(ValueError, match="not a calendar day"):
        date_in_path(relative)


def test_gbk_file_with_chinese_headers_decodes_ungarbled(settings, landing):
    landing.write(
        "orders/2025-03-01/pos.csv", POS_HEADER + "O1,M1,2025/3/1 10:00:00,门店,上海徐汇店,88,已支付\n", "gbk"
    )
    result = _one(settings, ORDERS)
    assert result.encoding == "gb18030"
    assert result.frame["store_name"].to_list() == ["上海徐汇店"]
    assert result.frame["channel"].to_list() == ["门店"]
    assert result.frame["_row_number"].to_list() == [1]


def test_utf8_file_with_byte_order_mark_keeps_its_first_column(settings, landing):
    landing.write(
        "tickets/2025-03-01/t.csv",
        "\ufeffticket_id,member_id,opened_at,ticket_type,status\nT1,M1,2025-03-01 09:00:00,投诉,处理中\n",
    )
    result = _one(settings, TICKETS)
    assert result.encoding == "utf-8-sig"
    assert result.frame["ticket_id"].to_list() == ["T1"]


def test_extra_columns_are_ignored_and_reported(settings, landing):
    landing.write(
        "orders/2025-03-01/pos.csv", POS_HEADER.strip() + ",收银员\nO1,M1,2025/3/1 10:00:00,门店,店,88,已支付,小王\n"
    )
    result = _one(settings, ORDERS)
    assert result.extra_columns == ["收银员"]
    assert "收银员" not in result.frame.columns


@pytest.mark.parametrize(
    "content, problem",
    [
        (
            b"order_id,member_id,order_time\nO1,M1,2025-03-01 10:00:00\n",
            "missing required column(s) channel, gross_amount, status",
        ),
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
        discover(settings.landing_dir, ORDERS, date(2025, 3, 1), date(2025, 3, 1), settings=settings)
    assert error.value.file == "orders/2025-03-01/pos.xlsx"


def test_file_without_a_date_in_its_path_is_an_error_naming_the_formats_tried(settings, landing):
    landing.write("orders/pos.csv", POS_HEADER)
    with pytest.raises(LandingFileError) as error:
        discover(settings.landing_dir, ORDERS, date(2025, 3, 1), date(2025, 3, 1), settings=settings)
    assert error.value.file == "orders/pos.csv"
    assert error.value.problem == (
        "no landing date in its path: tried YYYY-MM-DD, YYYY_MM_DD, YYYYMMDD in folder or file names"
    )


def test_impossible_date_is_an_error_not_a_missing_date(settings, landing):
    landing.write("orders/2025-02-30/pos.csv", POS_HEADER)
    with pytest.raises(LandingFileError) as error:
        discover(settings.landing_dir, ORDERS, date(2025, 3, 1), date(2025, 3, 1), settings=settings)
    assert error.value.file == "orders/2025-02-30/pos.csv"
    assert error.value.problem == "landing date '2025-02-30' in its path is not a calendar day"


@pytest.mark.parametrize("relative", ["orders/1997-03-05/pos.csv", "orders/19970305.csv"])
def test_archive_from_1997_loads_with_its_landing_date(settings, landing, relative):
    settings = replace(settings, start_date=date(1997, 1, 1))
    landing.write(relative, POS_HEADER + "O1,M1,1997/3/5 10:00:00,门店,上海徐汇店,88,已支付\n")
    files = discover(settings.landing_dir, ORDERS, settings.start_date, date(1997, 12, 31), settings=settings)
    assert [(f.relative_path, f.landing_date) for f in files] == [(relative, date(1997, 3, 5))]
    assert read_landed_file(files[0], ORDERS).frame["order_id"].to_list() == ["O1"]


def test_folder_far_in_the_future_is_refused_naming_the_file_and_date(settings, landing):
    landing.write("orders/2025-03-01/pos.csv", POS_HEADER)
    landing.write("orders/2099-01-01/x.csv", POS_HEADER)
    # Refused even when loading other days: it would become the latest landed day.
    with pytest.raises(LandingFileError) as error:
        discover(settings.landing_dir, ORDERS, date(2025, 3, 1), date(2025, 3, 1), settings=settings)
    assert error.value.file == "orders/2099-01-01/x.csv"
    assert error.value.problem.startswith("landing date 2099-01-01 is in the future: after ")
    assert "RETENTION_MAX_LANDING_DAYS_AHEAD" in error.value.problem


# 2025-03-05 17:00 UTC is already 2025-03-06 01:00 in Shanghai: the retailer's today is 2025-03-06.
NOW = datetime(2025, 3, 5, 17, 0, tzinfo=UTC)


def test_latest_landing_date_is_local_today_plus_the_tolerance(settings):
    assert latest_landing_date(settings, NOW) == date(2025, 3, 7)
    assert latest_landing_date(replace(settings, timezone="UTC"), NOW) == date(2025, 3, 6)
    assert latest_landing_date(replace(settings, max_landing_days_ahead=0), NOW) == date(2025, 3, 6)


def test_folder_dated_tomorrow_is_accepted_and_the_day_after_refused(settings, landing):
    landing.write("orders/2025-03-07/pos.csv", POS_HEADER)  # local today + 1
    files = discover(settings.landing_dir, ORDERS, date(2025, 3, 1), date(2025, 3, 31), settings=settings, now=NOW)
    assert [(f.relative_path, f.landing_date) for f in files] == [("orders/2025-03-07/pos.csv", date(2025, 3, 7))]

    landing.write("orders/2025-03-08/pos.csv", POS_HEADER)  # local today + 2
    with pytest.raises(LandingFileError) as error:
        discover(settings.landing_dir, ORDERS, date(2025, 3, 1), date(2025, 3, 31), settings=settings, now=NOW)
    assert error.value.file == "orders/2025-03-08/pos.csv"
    assert error.value.problem == (
        "landing date 2025-03-08 is in the future: after 2025-03-07 "
        "(today in Asia/Shanghai + 1 day(s), RETENTION_MAX_LANDING_DAYS_AHEAD)"
    )


def test_future_tolerance_is_read_from_the_environment(settings, landing):
    assert Settings.from_env({}).max_landing_days_ahead == 1
    assert Settings.from_env({"RETENTION_MAX_LANDING_DAYS_AHEAD": "3"}).max_landing_days_ahead == 3
    strict = Settings.from_env(
        {"RETENTION_LANDING_DIR": str(settings.landing_dir), "RETENTION_MAX_LANDING_DAYS_AHEAD": "0"}
    )
    landing.write("orders/2025-03-07/pos.csv", POS_HEADER)  # local today + 1
    with pytest.raises(LandingFileError, match="after 2025-03-06"):
        discover(strict.landing_dir, ORDERS, date(2025, 3, 1), date(2025, 3, 31), settings=strict, now=NOW)


@pytest.mark.parametrize("content", ["", POS_HEADER])
def test_empty_and_header_only_files_are_zero_rows(settings, landing, content):
    landing.write("orders/2025-03-01/pos.csv", content)
    assert _one(settings, ORDERS).frame.height == 0


def test_files_read_on_several_threads_keep_their_order_and_name_their_errors(settings, landing):
    day = date(2025, 3, 1)
    for name, ids in (("a", ["M1", "M2"]), ("c", ["M3"]), ("e", []), ("f", ["M4", "M5", "M6"])):
        landing.write(f"members/2025-03-01/{name}.csv", members_csv(*ids))
    (settings.landing_dir / "members/2025-03-01/b.csv").write_bytes(b"\xff\xfe\xfa member_id")
    landing.write("members/2025-03-01/d.csv", "registered_at\n2024-01-02 10:00:00\n")
    files = discover(settings.landing_dir, MEMBERS, day, day, settings=settings)
    outcomes = read_files(files, MEMBERS, threads=4)
    # One outcome per file, in the files' order, whichever thread finished first.
    assert [o.file if isinstance(o, LandingFileError) else o.file.relative_path for o in outcomes] == [
        f"members/2025-03-01/{name}.csv" for name in "abcdef"
    ]
    assert [o.frame.height for o in outcomes if not isinstance(o, LandingFileError)] == [2, 1, 0, 3]
    errors = [o for o in outcomes if isinstance(o, LandingFileError)]
    assert [e.file for e in errors] == ["members/2025-03-01/b.csv", "members/2025-03-01/d.csv"]
    assert "neither UTF-8" in errors[0].problem and "missing required column(s) member_id" in errors[1].problem

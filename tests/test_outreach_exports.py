"""Channel files of a win-back wave: each channel gets only its fields, the CSV opens safely in Excel
(BOM, CRLF, no cell runs as a formula), the Parquet keeps the values, and files are replaced atomically."""

from __future__ import annotations

import csv
import hashlib
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from retention.outreach.exports import (
    CHANNEL_COLUMNS,
    CHANNEL_FILES,
    ExportedFile,
    channel_frame,
    neutralise_for_excel,
    write_channel_files,
    write_export,
)

BATCH = "W2025-03"
BOM = b"\xef\xbb\xbf"
SEND = date(2025, 3, 10)
MOBILES = ["13812345678", "13912340000", "13700002222", "+86 136-0000-3333"]
TOUCH_SCHEMA = {
    "touch_id": pl.String,
    "batch_id": pl.String,
    "send_date": pl.Date,
    "member_id": pl.String,
    "mobile": pl.String,
    "channel": pl.String,
    "offer_id": pl.String,
    "offer_name": pl.String,
    "template_key": pl.String,
    "unsubscribe_text": pl.String,
    "tier_name_zh": pl.String,
    "reasons": pl.List(pl.String),
    "priority_rank": pl.Int64,
    "last_order_date": pl.Date,
    "last_order_amount": pl.Float64,
    "spend_12m": pl.Float64,
}


def _touches() -> pl.DataFrame:
    # touch, member, mobile, channel, offer, offer name, template, tier, reasons, rank, last order, amount, spend
    rows = [
        ("T001", "M001", "13812345678", "sms", "OF30", '=HYPERLINK("http://x","click")', "winback_sms_v1",
         "尊享", ["frequency_drop", "no_login"], 3, date(2025, 1, 15), 128.5, 1520.0),
        ("T002", "M002", "13912340000", "push", "OF30", "专属复购券 满100减30", "+cmd",
         "进阶", ["no_login"], 4, date(2025, 2, 1), 59.9, 388.0),
        ("T003", "M003", "13700002222", "call", "OF50", "@SUM(1)", "winback_call_v1",
         "尊享", ["frequency_drop", "no_login"], 2, None, None, 2999.999),
        ("T004", "M004", None, "call", "OF10", "\t满减券", "\rcall_script",
         "基础", ["spend_drop"], 1, date(2024, 12, 24), 42.0, 86.0),
        ("T005", "M005", "+86 136-0000-3333", "sms", "OF05", "-5元立减券", "winback_sms_v1",
         "基础", [], 5, date(2025, 2, 20), 15.0, 120.0),
    ]  # fmt: skip
    return pl.DataFrame(
        [
            (touch, BATCH, SEND, member, mobile, channel, offer, name, template, "回T退订", tier, reasons, rank, *last)
            for touch, member, mobile, channel, offer, name, template, tier, reasons, rank, *last in rows
        ],
        schema=TOUCH_SCHEMA,
        orient="row",
    )


def _changed(touch_id: str, column: str, value: str) -> pl.DataFrame:
    """The fixture touches with `column` of one touch set to `value`."""
    return _touches().with_columns(
        pl.when(pl.col("touch_id") == touch_id).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    )


def _csv_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


@pytest.fixture
def exported(tmp_path: Path) -> dict[str, ExportedFile]:
    return {file.kind: file for file in write_channel_files(_touches(), tmp_path / "wave1", BATCH)}


# ---------------------------------------------------------------- the CSV for people


def test_sms_csv_is_utf8_with_bom_crlf_and_no_cell_starts_a_formula(exported):
    sms = exported["sms"]
    assert sms.csv_path.name == "W2025-03_sms.csv" and sms.rows == 2
    expected = (
        "\ufeffbatch_id,touch_id,send_date,member_id,mobile,template_key,offer_id,offer_name,tier_name_zh,"
        "unsubscribe_text\r\n"
        "W2025-03,T001,2025-03-10,M001,13812345678,winback_sms_v1,OF30,"
        '"\'=HYPERLINK(""http://x"",""click"")",尊享,回T退订\r\n'
        "W2025-03,T005,2025-03-10,M005,'+86 136-0000-3333,winback_sms_v1,OF05,'-5元立减券,基础,回T退订\r\n"
    )
    raw = sms.csv_path.read_bytes()
    assert raw.startswith(BOM)
    assert raw == expected.encode("utf-8")
    assert _csv_rows(sms.csv_path)[1:] == [
        ["W2025-03", "T001", "2025-03-10", "M001", "13812345678", "winback_sms_v1", "OF30",
         "'=HYPERLINK(\"http://x\",\"click\")", "尊享", "回T退订"],
        ["W2025-03", "T005", "2025-03-10", "M005", "'+86 136-0000-3333", "winback_sms_v1", "OF05",
         "'-5元立减券", "基础", "回T退订"],
    ]  # fmt: skip


def test_call_list_is_ordered_by_priority_with_reasons_joined_and_cells_neutralised(exported):
    calls = exported["call_list"]
    assert calls.csv_path.name == "W2025-03_call_list.csv" and calls.rows == 2
    assert calls.csv_path.read_bytes().startswith(BOM)
    assert _csv_rows(calls.csv_path) == [
        ["batch_id", "touch_id", "call_date", "priority_rank", "member_id", "mobile", "tier_name_zh", "reasons",
         "last_order_date", "last_order_amount", "spend_12m", "offer_id", "offer_name", "template_key"],
        ["W2025-03", "T004", "2025-03-10", "1", "M004", "", "基础", "spend_drop",
         "2024-12-24", "42.00", "86.00", "OF10", "'\t满减券", "'\rcall_script"],
        ["W2025-03", "T003", "2025-03-10", "2", "M003", "13700002222", "尊享", "frequency_drop、no_login",
         "", "", "3000.00", "OF50", "'@SUM(1)", "winback_call_v1"],
    ]  # fmt: skip
    # Polars also reads it back the same way (the BOM is not part of the first header).
    back = pl.read_csv(calls.csv_path, infer_schema=False)
    assert back.columns[0] == "batch_id"
    assert back.get_column("template_key").to_list() == ["'\rcall_script", "winback_call_v1"]


# ---------------------------------------------------------------- the Parquet for machines


def test_parquet_keeps_the_original_values(exported):
    sms = pl.read_parquet(exported["sms"].parquet_path)
    assert sms.columns == list(CHANNEL_COLUMNS["sms"])
    assert sms.rows() == [
        (BATCH, "T001", SEND, "M001", "13812345678", "winback_sms_v1", "OF30",
         '=HYPERLINK("http://x","click")', "尊享", "回T退订"),
        (BATCH, "T005", SEND, "M005", "+86 136-0000-3333", "winback_sms_v1", "OF05", "-5元立减券", "基础", "回T退订"),
    ]  # fmt: skip
    calls = pl.read_parquet(exported["call_list"].parquet_path)
    assert calls.schema["call_date"] == pl.Date and calls.schema["spend_12m"] == pl.Float64
    assert calls.select(
        "touch_id", "mobile", "reasons", "last_order_date", "last_order_amount", "template_key"
    ).rows() == [
        ("T004", None, "spend_drop", date(2024, 12, 24), 42.0, "\rcall_script"),
        ("T003", "13700002222", "frequency_drop、no_login", None, None, "winback_call_v1"),
    ]


# ---------------------------------------------------------------- contact data stays where it belongs


def test_push_file_carries_no_mobile_column_and_no_mobile_digits(exported):
    push = exported["push"]
    assert push.rows == 1
    assert pl.read_parquet(push.parquet_path).columns == [
        "batch_id", "touch_id", "send_date", "member_id", "template_key", "offer_id", "offer_name", "tier_name_zh",
    ]  # fmt: skip
    assert _csv_rows(push.csv_path) == [
        ["batch_id", "touch_id", "send_date", "member_id", "template_key", "offer_id", "offer_name", "tier_name_zh"],
        ["W2025-03", "T002", "2025-03-10", "M002", "'+cmd", "OF30", "专属复购券 满100减30", "进阶"],
    ]
    needles = [m.encode() for m in MOBILES] + [b"13600003333", b"12340000"]
    for path in (push.csv_path, push.parquet_path):
        raw = path.read_bytes()
        assert [n for n in needles if n in raw] == []
    # The search can see mobile numbers where they are: the sms files hold them in the raw bytes.
    for path in (exported["sms"].csv_path, exported["sms"].parquet_path):
        assert b"13812345678" in path.read_bytes()


def test_push_frame_refuses_contact_columns_even_if_the_column_list_asks_for_them(monkeypatch):
    monkeypatch.setitem(CHANNEL_COLUMNS, "push", ("batch_id", "touch_id", "mobile"))
    with pytest.raises(ValueError, match="^push file would carry contact column[(]s[)] mobile$"):
        channel_frame(_touches(), "push")


def test_push_frame_needs_no_mobile_in_its_input():
    frame = channel_frame(_touches().drop("mobile", "unsubscribe_text", "reasons"), "push")
    assert frame.get_column("touch_id").to_list() == ["T002"]


# ---------------------------------------------------------------- channel_frame


def test_channel_frame_names_the_missing_column():
    with pytest.raises(ValueError, match="^sms file: the touches lack column[(]s[)] mobile$"):
        channel_frame(_touches().drop("mobile"), "sms")
    with pytest.raises(ValueError, match="^call_list file: the touches lack column[(]s[)] send_date, reasons$"):
        channel_frame(_touches().drop("reasons", "send_date"), "call")
    with pytest.raises(ValueError, match="^unknown channel 'fax\\\\n'; expected one of sms, push, call$"):
        channel_frame(_touches(), "fax\n")


def test_channel_frame_columns_and_order():
    assert CHANNEL_FILES == {"sms": "sms", "push": "push", "call": "call_list"}
    calls = channel_frame(_touches(), "call")
    assert calls.columns == list(CHANNEL_COLUMNS["call_list"])
    assert calls.select("touch_id", "priority_rank", "reasons").rows() == [
        ("T004", 1, "spend_drop"),
        ("T003", 2, "frequency_drop、no_login"),
    ]
    # Ties on priority fall back to touch_id, whatever the input order.
    tied = _touches().with_columns(pl.lit(7).alias("priority_rank")).reverse()
    assert channel_frame(tied, "call").get_column("touch_id").to_list() == ["T003", "T004"]
    assert channel_frame(_touches().reverse(), "sms").get_column("touch_id").to_list() == ["T001", "T005"]


# ---------------------------------------------------------------- neutralising


def test_neutralise_prefixes_formula_starts_and_leaves_numbers_and_dates():
    frame = pl.DataFrame(
        {
            "text": ["=1+1", "+1", "-1", "@A1", "\tx", "\rx", "a=b", "'=ok", "", None],
            "amount": [-1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, None],
            "rank": [-1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            "day": [date(2025, 1, 1)] * 9 + [None],
            "tags": [["=a", "b"], ["b", "=a"], [], None, ["x"], ["-"], ["y"], ["z"], ["w"], ["v"]],
        }
    )
    out = neutralise_for_excel(frame)
    assert out.get_column("text").to_list() == ["'=1+1", "'+1", "'-1", "'@A1", "'\tx", "'\rx", "a=b", "'=ok", "", None]
    assert out.get_column("tags").to_list() == ["'=a、b", "b、=a", "", None, "x", "'-", "y", "z", "w", "v"]
    assert out.select("amount", "rank", "day").equals(frame.select("amount", "rank", "day"))
    assert out.schema["amount"] == pl.Float64 and out.schema["rank"] == pl.Int64 and out.schema["day"] == pl.Date


# ---------------------------------------------------------------- write_export


def test_writing_the_same_frame_twice_gives_the_same_bytes(tmp_path):
    frame = channel_frame(_touches(), "call")
    first = write_export(frame, tmp_path / "a", "calls", "call_list")
    first_bytes = first.csv_path.read_bytes()
    second = write_export(frame, tmp_path / "b", "calls", "call_list")
    assert second.csv_path.read_bytes() == first_bytes
    assert first.csv_sha256 == second.csv_sha256 == hashlib.sha256(first_bytes).hexdigest()
    again = write_export(frame, tmp_path / "a", "calls", "call_list")
    assert again.csv_sha256 == first.csv_sha256 and again.csv_path.read_bytes() == first_bytes


def test_atomic_writes_leave_only_the_finished_files(tmp_path):
    directory = tmp_path / "out" / "wave1"  # created on demand, parents too
    write_channel_files(_touches(), directory, BATCH)
    # Overwrite with a smaller wave: the old files are replaced, no temp file stays behind.
    files = write_channel_files(_touches().filter(pl.col("touch_id") == "T001"), directory, BATCH)
    assert [(f.kind, f.rows) for f in files] == [("sms", 1)]
    assert sorted(p.name for p in directory.iterdir()) == [
        "W2025-03_call_list.csv", "W2025-03_call_list.parquet", "W2025-03_push.csv", "W2025-03_push.parquet",
        "W2025-03_sms.csv", "W2025-03_sms.parquet",
    ]  # fmt: skip
    assert len(_csv_rows(directory / "W2025-03_sms.csv")) == 2


def test_a_failed_replace_keeps_the_old_file_and_removes_its_temp_file(tmp_path):
    frame = channel_frame(_touches(), "sms")
    old = write_export(frame, tmp_path, "sms", "sms")
    old_parquet = old.parquet_path.read_bytes()
    # The CSV target is now a non-empty directory: the rename onto it fails after the temp file was written.
    old.csv_path.unlink()
    old.csv_path.mkdir()
    (old.csv_path / "keep").write_text("x")
    with pytest.raises(OSError):
        write_export(frame.head(1), tmp_path, "sms", "sms")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sms.csv", "sms.parquet"]
    assert old.parquet_path.read_bytes() == old_parquet


def test_an_empty_frame_writes_a_header_and_an_empty_parquet_with_the_schema(tmp_path):
    frame = channel_frame(_touches().clear(), "push")
    written = write_export(frame, tmp_path, "empty_push", "push")
    assert written.rows == 0
    assert (
        written.csv_path.read_bytes()
        == BOM + b"batch_id,touch_id,send_date,member_id,template_key,offer_id,offer_name,tier_name_zh\r\n"
    )
    back = pl.read_parquet(written.parquet_path)
    assert back.height == 0
    assert back.schema == pl.Schema(
        {
            "batch_id": pl.String,
            "touch_id": pl.String,
            "send_date": pl.Date,
            "member_id": pl.String,
            "template_key": pl.String,
            "offer_id": pl.String,
            "offer_name": pl.String,
            "tier_name_zh": pl.String,
        }
    )


def test_a_stem_that_is_not_a_plain_file_name_is_refused(tmp_path):
    frame = channel_frame(_touches(), "sms")
    for stem in ["../escape", ".hidden", "", "a\nb"]:
        with pytest.raises(ValueError, match="is not a plain file name$"):
            write_export(frame, tmp_path, stem, "sms")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- write_channel_files


def test_only_channels_present_get_files(tmp_path):
    files = write_channel_files(_touches().filter(pl.col("channel") != "push"), tmp_path, BATCH)
    assert [(f.kind, f.csv_path.name, f.parquet_path.name, f.rows) for f in files] == [
        ("sms", "W2025-03_sms.csv", "W2025-03_sms.parquet", 2),
        ("call_list", "W2025-03_call_list.csv", "W2025-03_call_list.parquet", 2),
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "W2025-03_call_list.csv", "W2025-03_call_list.parquet", "W2025-03_sms.csv", "W2025-03_sms.parquet",
    ]  # fmt: skip
    assert write_channel_files(_touches().clear(), tmp_path / "none", BATCH) == []


def test_touches_of_an_unknown_channel_or_another_batch_are_refused_without_echoing_contacts(tmp_path):
    email = _changed("T002", "channel", "email")
    with pytest.raises(ValueError, match="^batch 'W2025-03': touches on unknown channel[(]s[)] email$") as error:
        write_channel_files(email, tmp_path, BATCH)
    assert not any(m in str(error.value) for m in MOBILES)
    other = _changed("T003", "batch_id", "W2025-04")
    with pytest.raises(ValueError, match="^batch 'W2025-03': 1 touch[(]es[)] belong to another batch$"):
        write_channel_files(other, tmp_path, BATCH)
    assert list(tmp_path.iterdir()) == []

"""Turning a typed day frame into the bytes a source system would deliver.

Frames carry canonical column names, times as epoch seconds, dates as day numbers and amounts as
floats. A `FileStyle` says how one source system spells them: encoding, byte-order mark, Chinese
or English headers and codes, timestamp layout, amount layout. Header names and Chinese code
spellings are taken from the contract, so the generator cannot drift from what the loader accepts.

A column `<name>__raw` next to a column overrides its rendered text where it is set; the defect
injector uses it to plant values that no typed column can hold (e.g. `2025-13-45`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

from retention.landing.contract import Column, Source

RAW_SUFFIX = "__raw"


@dataclass(frozen=True)
class FileStyle:
    format: Literal["csv", "jsonl"]
    encoding: str = "utf-8"
    bom: bool = False
    chinese_headers: bool = False
    chinese_codes: bool = False
    timestamp_format: str = "%Y-%m-%d %H:%M:%S"
    thousands_separator: bool = False  # amounts as text like 1,234.50 instead of numbers
    true_false: tuple[str, str] = ("Y", "N")

    @property
    def suffix(self) -> str:
        return ".jsonl" if self.format == "jsonl" else ".csv"


POS_CSV = FileStyle(
    "csv",
    encoding="gbk",
    chinese_headers=True,
    chinese_codes=True,
    timestamp_format="%Y/%-m/%-d %H:%M:%S",
    thousands_separator=True,
)
JSON_LINES = FileStyle("jsonl", timestamp_format="%Y-%m-%dT%H:%M:%S")
CRM_CSV = FileStyle("csv")
SERVICE_CSV = FileStyle("csv", bom=True, chinese_headers=True, chinese_codes=True)
PLAIN_CSV = FileStyle("csv")


def _is_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def chinese_header(column: Column) -> str:
    return next((a for a in column.aliases if _is_chinese(a)), column.name)


def chinese_code(column: Column, code: str) -> str:
    return next((s for s in column.codes.get(code, ()) if _is_chinese(s)), code)


def render(frame: pl.DataFrame, source: Source, style: FileStyle) -> bytes:
    """The file content for `frame` (all contract columns of `source` must be present)."""
    text_frame = frame.select(
        _render_expressions(source, style, tuple(c for c in frame.columns if c.endswith(RAW_SUFFIX)))
    )
    if style.format == "jsonl":
        return text_frame.write_ndjson().encode("utf-8") if text_frame.height else b""
    text = text_frame.write_csv()
    return (("\ufeff" if style.bom else "") + text).encode(style.encoding)


def header_only(source: Source, style: FileStyle) -> bytes:
    """A CSV holding just the header line: a valid delivery of zero rows."""
    key = (source.name, style)
    if key not in _HEADER_ONLY_CACHE:  # written every day for outreach feedback; build it once
        headers = [chinese_header(c) if style.chinese_headers else c.name for c in source.columns]
        text = pl.DataFrame(schema=dict.fromkeys(headers, pl.String)).write_csv()
        _HEADER_ONLY_CACHE[key] = (("\ufeff" if style.bom else "") + text).encode(style.encoding)
    return _HEADER_ONLY_CACHE[key]


_HEADER_ONLY_CACHE: dict[tuple[str, FileStyle], bytes] = {}


def _render_expressions(source: Source, style: FileStyle, raw_columns: tuple[str, ...]) -> list[pl.Expr]:
    # Building polars expressions costs more than evaluating them on a small file: build once.
    key = (source.name, style, raw_columns)
    if key not in _EXPRESSION_CACHE:
        _EXPRESSION_CACHE[key] = [_rendered(source.column(name), style, raw_columns) for name in source.column_names]
    return _EXPRESSION_CACHE[key]


_EXPRESSION_CACHE: dict[tuple[str, FileStyle, tuple[str, ...]], list[pl.Expr]] = {}


def _rendered(column: Column, style: FileStyle, present: tuple[str, ...]) -> pl.Expr:
    value = pl.col(column.name)
    if column.type == "timestamp":
        value = pl.from_epoch(value, "s").dt.strftime(style.timestamp_format)
    elif column.type == "date":
        value = pl.from_epoch(value, "d").dt.strftime("%Y-%m-%d")
    elif column.type == "amount":
        value = _amount_text(value) if style.thousands_separator else value.round(2)
    elif column.type == "boolean":
        yes, no = style.true_false
        value = pl.when(value).then(pl.lit(yes)).when(value.not_()).then(pl.lit(no))
    elif column.type == "code" and style.chinese_codes:
        value = value.replace({code: chinese_code(column, code) for code in column.codes})
    if column.name + RAW_SUFFIX in present:
        value = pl.coalesce(pl.col(column.name + RAW_SUFFIX), value.cast(pl.String))
    header = chinese_header(column) if style.chinese_headers else column.name
    return value.alias(header)


def _amount_text(amount: pl.Expr) -> pl.Expr:
    """1234.5 -> "1,234.50" (negative amounts keep their sign), as POS exports print money."""
    cents = (amount.abs() * 100).round(0).cast(pl.Int64)
    whole, fraction = cents // 100, (cents % 100).cast(pl.String).str.zfill(2)

    def group(value: pl.Expr) -> pl.Expr:
        return value.cast(pl.String).str.zfill(3)

    millions, thousands, units = whole // 1_000_000, (whole // 1000) % 1000, whole % 1000
    grouped = (
        pl.when(whole >= 1_000_000)
        .then(pl.concat_str(millions.cast(pl.String), pl.lit(","), group(thousands), pl.lit(","), group(units)))
        .when(whole >= 1000)
        .then(pl.concat_str((whole // 1000).cast(pl.String), pl.lit(","), group(units)))
        .otherwise(whole.cast(pl.String))
    )
    sign = pl.when(amount < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return pl.concat_str(sign, grouped, pl.lit("."), fraction)

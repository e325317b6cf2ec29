"""Report files on disk: every file is written to a temporary file beside it and renamed over the old one, so a
reader (a browser, a BI tool polling the folder) sees the old file or the new one, never half of one."""

from __future__ import annotations

import io
import re
from pathlib import Path

import polars as pl

from retention.landing.safe_text import printable
from retention.outreach.exports import neutralise_for_excel, replace_atomically

_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


def plain_name(value: str, what: str) -> str:
    """`value` if it can name a file or folder on its own (a campaign id, an ISO week), else a ValueError."""
    if not _PLAIN_NAME.fullmatch(value) or ".." in value:
        raise ValueError(f"{what} '{printable(value, 80)}' cannot name a file: expected letters, digits, '.', '_', '-'")
    return value


def write_atomically(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(path, data)
    return path


def export_table(frame: pl.DataFrame, directory: Path, name: str) -> tuple[Path, Path]:
    """`<directory>/<name>.parquet` (exact types) and `<name>.csv` (for Excel: UTF-8 with BOM, CRLF, dates
    YYYY-MM-DD, numbers at full precision, null as an empty cell, no cell Excel would run as a formula)."""
    plain_name(name, "table name")
    parquet = io.BytesIO()
    frame.write_parquet(parquet)
    csv = io.BytesIO()
    neutralise_for_excel(frame).write_csv(
        csv,
        include_bom=True,
        line_terminator="\r\n",
        date_format="%Y-%m-%d",
        datetime_format="%Y-%m-%d %H:%M:%S",
        float_scientific=False,
        null_value="",
    )
    return (
        write_atomically(directory / f"{name}.parquet", parquet.getvalue()),
        write_atomically(directory / f"{name}.csv", csv.getvalue()),
    )

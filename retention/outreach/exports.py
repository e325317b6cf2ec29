"""The channel files of one win-back wave: what the SMS gateway, the app push service and the call centre receive.

Each channel gets only the fields it needs (the push service never sees a mobile number). Every file is
written twice: a CSV for people (Excel on Windows: UTF-8 with BOM, CRLF, cells that cannot run as formulas)
and a Parquet file for machines (the values as they are). Both are replaced atomically, so a reader sees
the old file or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from retention.landing.safe_text import printable

CHANNEL_FILES: dict[str, str] = {"sms": "sms", "push": "push", "call": "call_list"}

CHANNEL_COLUMNS: dict[str, tuple[str, ...]] = {
    "sms": (
        "batch_id",
        "touch_id",
        "send_date",
        "member_id",
        "mobile",
        "template_key",
        "offer_id",
        "offer_name",
        # Templates greet by tier (尊敬的进阶会员); the simulator's response model reads it too.
        "tier_name_zh",
        "unsubscribe_text",
    ),
    "push": (
        "batch_id",
        "touch_id",
        "send_date",
        "member_id",
        "template_key",
        "offer_id",
        "offer_name",
        "tier_name_zh",
    ),
    "call_list": (
        "batch_id",
        "touch_id",
        "call_date",
        "priority_rank",
        "member_id",
        "mobile",
        "tier_name_zh",
        "reasons",
        "last_order_date",
        "last_order_amount",
        "spend_12m",
        "offer_id",
        "offer_name",
        "template_key",
    ),
}

LIST_SEPARATOR = "、"

# Output columns that are not touch columns of the same name.
_SOURCE_COLUMN = {"call_date": "send_date"}
_SORT_KEYS = {"call_list": ("priority_rank", "touch_id")}
# The push service is a third party: contact details must never reach it, whatever CHANNEL_COLUMNS says.
_NEVER_IN_PUSH = frozenset({"mobile", "name", "email"})

# OWASP CSV injection: a cell starting with one of these is read by Excel as a formula (tab and CR too,
# because Excel strips them before looking at the first character).
_FORMULA_START = r"^[=+\-@\t\r]"


@dataclass(frozen=True)
class ExportedFile:
    """One channel file as written: its kind (CHANNEL_FILES value), both paths, its rows and the CSV's sha256."""

    kind: str
    csv_path: Path
    parquet_path: Path
    rows: int
    csv_sha256: str


def channel_frame(touches: pl.DataFrame, channel: str) -> pl.DataFrame:
    """The touches of one channel with exactly that channel's columns (CHANNEL_COLUMNS), in file order:
    the call list by (priority_rank, touch_id) so staff call the most urgent first, the others by touch_id."""
    if channel not in CHANNEL_FILES:
        raise ValueError(f"unknown channel '{printable(channel)}'; expected one of {', '.join(CHANNEL_FILES)}")
    kind = CHANNEL_FILES[channel]
    columns = CHANNEL_COLUMNS[kind]
    needed = ["channel", *(_SOURCE_COLUMN.get(name, name) for name in columns)]
    missing = [name for name in dict.fromkeys(needed) if name not in touches.columns]
    if missing:
        raise ValueError(f"{kind} file: the touches lack column(s) {', '.join(printable(m) for m in missing)}")
    frame = (
        touches.filter(pl.col("channel") == channel)
        .select([_output_column(name, touches.schema) for name in columns])
        .sort(_SORT_KEYS.get(kind, ("touch_id",)), nulls_last=True, maintain_order=True)
    )
    if kind == "push":
        leaked = [name for name in frame.columns if name.lower() in _NEVER_IN_PUSH]
        if leaked:
            raise ValueError(f"push file would carry contact column(s) {', '.join(printable(n) for n in leaked)}")
    return frame


def _output_column(name: str, schema: pl.Schema) -> pl.Expr:
    source = _SOURCE_COLUMN.get(name, name)
    column = pl.col(source)
    if isinstance(schema[source], pl.List):
        column = _joined(column)
    return column.alias(name)


def _joined(column: pl.Expr) -> pl.Expr:
    return column.cast(pl.List(pl.String)).list.join(LIST_SEPARATOR)


def neutralise_for_excel(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with every text cell that Excel would run as a formula prefixed by an apostrophe
    ('=1+1' -> "'=1+1"). List columns are joined with '、' first; numbers and dates stay as they are."""
    texts = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.List):
            column = _joined(pl.col(name))
        elif dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
            column = pl.col(name).cast(pl.String)
        else:
            continue
        texts.append(
            pl.when(column.str.contains(_FORMULA_START))
            .then(pl.concat_str(pl.lit("'"), column))
            .otherwise(column)
            .alias(name)
        )
    return frame.with_columns(texts)


def write_export(frame: pl.DataFrame, directory: Path, stem: str, kind: str) -> ExportedFile:
    """Write `<directory>/<stem>.csv` (for Excel) and `<stem>.parquet` (the frame as given), each atomically.

    CSV: UTF-8 with BOM, header row, CRLF line ends, cells neutralised for Excel, dates YYYY-MM-DD,
    floats with 2 decimals, null as an empty cell. The same frame gives the same CSV bytes."""
    _check_stem(stem)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    csv_bytes = _csv_bytes(frame)
    parquet = io.BytesIO()
    frame.write_parquet(parquet)
    # Both files are built in memory first, so the window in which only one of them is new is two renames.
    csv_path, parquet_path = directory / f"{stem}.csv", directory / f"{stem}.parquet"
    replace_atomically(csv_path, csv_bytes)
    replace_atomically(parquet_path, parquet.getvalue())
    return ExportedFile(
        kind=kind,
        csv_path=csv_path,
        parquet_path=parquet_path,
        rows=frame.height,
        csv_sha256=hashlib.sha256(csv_bytes).hexdigest(),
    )


def _csv_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    neutralise_for_excel(frame).write_csv(
        buffer,
        include_bom=True,
        include_header=True,
        line_terminator="\r\n",
        date_format="%Y-%m-%d",
        datetime_format="%Y-%m-%d %H:%M:%S",
        float_precision=2,
        float_scientific=False,
        null_value="",
    )
    return buffer.getvalue()


def _check_stem(stem: str) -> None:
    # The stem carries a batch id from the data: it must name a file in `directory`, nothing else.
    if not stem or stem.startswith(".") or "/" in stem or printable(stem, limit=None) != stem:
        raise ValueError(f"export file stem '{printable(stem)}' is not a plain file name")


def replace_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`: a reader sees the old file or
    the new one, never half of one (the rename survives a power cut too)."""
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    # Makes the rename itself survive a power cut; directories cannot be opened this way on Windows.
    if os.name != "posix":
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_channel_files(touches: pl.DataFrame, directory: Path, batch_id: str) -> list[ExportedFile]:
    """One `<batch_id>_<kind>` CSV + Parquet pair per channel present in the touches (in CHANNEL_FILES order).

    Refuses touches of an unknown channel (they would silently get no file) and touches of another batch
    (they would be sent under this batch's name)."""
    missing = [name for name in ("channel", "batch_id") if name not in touches.columns]
    if missing:
        raise ValueError(f"batch '{printable(batch_id)}': the touches lack column(s) {', '.join(missing)}")
    present = set(touches.get_column("channel").unique().to_list())
    unknown = sorted("null" if channel is None else printable(channel) for channel in present - set(CHANNEL_FILES))
    if unknown:
        raise ValueError(f"batch '{printable(batch_id)}': touches on unknown channel(s) {', '.join(unknown)}")
    others = touches.filter(pl.col("batch_id").ne_missing(batch_id)).height
    if others:
        raise ValueError(f"batch '{printable(batch_id)}': {others} touch(es) belong to another batch")
    return [
        write_export(channel_frame(touches, channel), directory, f"{batch_id}_{kind}", kind)
        for channel, kind in CHANNEL_FILES.items()
        if channel in present
    ]

"""Finding landed files and reading them into all-text frames with row numbers.

Files are read whole into memory one at a time (a source's daily file is small next to the
warehouse); decoding happens in Python because the CSV parsers only take UTF-8, and parsing is
done by Polars, never row by row.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

from retention.landing.contract import Source
from retention.settings import Settings

CSV_SUFFIXES = {".csv", ".txt"}
JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}
LANDING_DATE_FORMATS = ("YYYY-MM-DD", "YYYY_MM_DD", "YYYYMMDD")
# Years 1900-2999 are recognised as dates (so an archive from 1997 loads, and a mistyped 2099 is
# refused as a future date by `discover` instead of being reported as "no date").
_DATE_IN_PATH = re.compile(r"(?<!\d)(19\d{2}|2\d{3})[-_]?(0[1-9]|1[0-2])[-_]?(0[1-9]|[12]\d|3[01])(?!\d)")


class LandingFileError(Exception):
    """A landed file that cannot be read at all; names the file and what is wrong with it."""

    def __init__(self, file: str, problem: str):
        super().__init__(f"{file}: {problem}")
        self.file = file
        self.problem = problem


@dataclass(frozen=True)
class LandedFile:
    path: Path
    relative_path: str  # below the landing dir, e.g. "orders/2025-03-05/pos.csv"
    landing_date: date

    @property
    def format(self) -> str:
        return "jsonl" if self.path.suffix.lower() in JSON_SUFFIXES else "csv"


@dataclass
class ReadResult:
    file: LandedFile
    frame: pl.DataFrame  # string columns of the contract (or `_line` for JSON) + `_row_number`
    encoding: str
    sha256: str
    extra_columns: list[str] = field(default_factory=list)


def date_in_path(relative: str) -> date | None:
    """The landing date of a path below its source folder, or None if it holds no date.

    The first date-shaped part wins (reading left to right), so a folder date beats a date in the
    file name: "2025-03-05/export_20250304.csv" is 2025-03-05. If that first date is not a calendar
    day ("2025-02-30"), ValueError says so rather than looking further.
    """
    match = _DATE_IN_PATH.search(relative)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise ValueError(f"landing date {match[0]!r} in its path is not a calendar day") from None


def latest_landing_date(settings: Settings, now: datetime | None = None) -> date:
    """The latest landing date accepted: the retailer's local today (in `settings.timezone`) plus
    `settings.max_landing_days_ahead`. `now` (timezone-aware; default: the clock) is for tests."""
    if settings.max_landing_days_ahead < 0:
        raise ValueError(f"RETENTION_MAX_LANDING_DAYS_AHEAD must be 0 or more, not {settings.max_landing_days_ahead}")
    now = datetime.now(UTC) if now is None else now
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(ZoneInfo(settings.timezone)).date() + timedelta(days=settings.max_landing_days_ahead)


def discover(
    landing_dir: Path,
    source: Source,
    start: date,
    end: date,
    *,
    settings: Settings,
    now: datetime | None = None,
) -> list[LandedFile]:
    """Landed files of one source whose landing date lies in [start, end], in a stable order.

    A file of another type, with no date in its path, with a date that is not a calendar day, or
    dated after `latest_landing_date(settings, now)` is an error rather than something to skip
    silently (checked for every file of the source, not only those in the range, like the other
    errors); hidden files (".DS_Store" and the like) are not deliveries.
    """
    latest = latest_landing_date(settings, now)
    root = Path(landing_dir) / source.name
    if not root.exists():
        return []
    found: list[LandedFile] = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        relative = path.relative_to(landing_dir).as_posix()
        if path.suffix.lower() not in CSV_SUFFIXES | JSON_SUFFIXES:
            # An Excel or zip export dropped here would otherwise be skipped without a word.
            raise LandingFileError(
                relative, f"unsupported file type {path.suffix or '(none)'}; deliver CSV or JSON lines"
            )
        try:
            landing_date = date_in_path(path.relative_to(root).as_posix())
        except ValueError as exc:
            raise LandingFileError(relative, str(exc)) from exc
        if landing_date is None:
            raise LandingFileError(
                relative,
                f"no landing date in its path: tried {', '.join(LANDING_DATE_FORMATS)} in folder or file names",
            )
        if landing_date > latest:
            # A mistyped future folder would otherwise become the latest landed day, i.e. the
            # default as-of date of the marts.
            raise LandingFileError(
                relative,
                f"landing date {landing_date} is in the future: after {latest} (today in {settings.timezone} "
                f"+ {settings.max_landing_days_ahead} day(s), RETENTION_MAX_LANDING_DAYS_AHEAD)",
            )
        if start <= landing_date <= end:
            found.append(LandedFile(path, relative, landing_date))
    return sorted(found, key=lambda f: (f.landing_date, f.relative_path))


def read_landed_file(file: LandedFile, source: Source) -> ReadResult:
    data = file.path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if file.format == "jsonl":
        text, encoding = _decode(data, file, allow_gb18030=False)
        frame = _json_lines_frame(text, file)
        return ReadResult(file, frame, encoding, digest)
    text, encoding = _decode(data, file, allow_gb18030=True)
    frame, extra = _csv_frame(text, file, source)
    return ReadResult(file, frame, encoding, digest, extra)


def _decode(data: bytes, file: LandedFile, *, allow_gb18030: bool) -> tuple[str, str]:
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise LandingFileError(
                file.relative_path, f"starts with a UTF-8 byte-order mark but byte {exc.start} is not UTF-8"
            ) from exc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        if not allow_gb18030:
            raise LandingFileError(file.relative_path, f"not UTF-8 (byte {utf8_error.start})") from utf8_error
        try:
            return data.decode("gb18030"), "gb18030"
        except UnicodeDecodeError as exc:
            raise LandingFileError(
                file.relative_path,
                f"neither UTF-8 (byte {utf8_error.start}) nor GBK/GB18030 (byte {exc.start})",
            ) from exc


def _header_map(source: Source) -> dict[str, str]:
    return {alias.strip().lower(): col.name for col in source.columns for alias in col.header_names}


def _csv_frame(text: str, file: LandedFile, source: Source) -> tuple[pl.DataFrame, list[str]]:
    empty = pl.DataFrame({name: pl.Series([], dtype=pl.String) for name in source.column_names}).with_columns(
        _row_number=pl.Series([], dtype=pl.Int64)
    )
    if not text.strip():
        return empty, []
    _reject_truncated_csv(text, file)
    try:
        raw = pl.read_csv(
            io.BytesIO(text.encode("utf-8")),
            infer_schema=False,
        )
    except Exception as exc:  # polars raises several error types for malformed CSV
        raise LandingFileError(file.relative_path, f"CSV does not parse: {str(exc).splitlines()[0]}") from exc

    aliases = _header_map(source)
    renames: dict[str, str] = {}
    extra: list[str] = []
    for header in raw.columns:
        canonical = aliases.get(header.strip().lower())
        if canonical is None:
            extra.append(header)
        elif canonical in renames.values():
            raise LandingFileError(file.relative_path, f"two columns mean {canonical!r} (second: {header!r})")
        else:
            renames[header] = canonical
    missing = [c.name for c in source.columns if c.required and c.name not in renames.values()]
    if missing:
        raise LandingFileError(
            file.relative_path,
            f"missing required column(s) {', '.join(missing)}; header is {', '.join(raw.columns)}",
        )
    frame = raw.select([pl.col(h).alias(c) for h, c in renames.items()])
    frame = frame.with_columns(
        [pl.lit(None, dtype=pl.String).alias(c) for c in source.column_names if c not in frame.columns]
    ).select(source.column_names)
    return frame.with_row_index("_row_number", offset=1).with_columns(pl.col("_row_number").cast(pl.Int64)), extra


def _reject_truncated_csv(text: str, file: LandedFile) -> None:
    """A file cut off mid-record: no final newline and a last line shorter than the header."""
    if text.endswith(("\n", "\r")):
        return
    lines = text.splitlines()
    header_fields = len(next(csv.reader([lines[0]])))
    last_fields = len(next(csv.reader([lines[-1]]), []))
    if len(lines) > 1 and last_fields < header_fields:
        raise LandingFileError(
            file.relative_path,
            f"truncated: last record (line {len(lines)}) has {last_fields} of {header_fields} fields and no line end",
        )


def _json_lines_frame(text: str, file: LandedFile) -> pl.DataFrame:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    elif lines and not text.endswith("\n") and lines[-1].strip():
        try:
            json.loads(lines[-1])
        except ValueError as exc:
            raise LandingFileError(
                file.relative_path, f"truncated: last line ({len(lines)}) is incomplete JSON and has no line end"
            ) from exc
    frame = pl.DataFrame({"_line": pl.Series(lines, dtype=pl.String)})
    frame = frame.with_row_index("_row_number", offset=1).with_columns(pl.col("_row_number").cast(pl.Int64))
    # Blank lines are layout, not records.
    return frame.filter(pl.col("_line").str.strip_chars().str.len_chars() > 0)

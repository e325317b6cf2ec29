"""Finding landed files and reading them into all-text frames with row numbers (CSV records: csv_records.py).

Files are read whole into memory one at a time (a source's daily file is small next to the
warehouse); decoding happens in Python because the CSV parsers only take UTF-8, and parsing is
done by Polars, never row by row.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

from retention.landing.contract import Source
from retention.landing.csv_records import csv_frame
from retention.landing.errors import LandingFileError
from retention.landing.safe_text import printable
from retention.settings import Settings

CSV_SUFFIXES = {".csv", ".txt"}
JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}
LANDING_DATE_FORMATS = ("YYYY-MM-DD", "YYYY_MM_DD", "YYYYMMDD")
# Years 1900-2999 are recognised as dates (so an archive from 1997 loads, and a mistyped 2099 is
# refused as a future date by `discover` instead of being reported as "no date").
_DATE_IN_PATH = re.compile(r"(?<!\d)(19\d{2}|2\d{3})[-_]?(0[1-9]|1[0-2])[-_]?(0[1-9]|[12]\d|3[01])(?!\d)")
# What `discover` made of each file found below a source folder (its `inventory`); `load_range` turns
# IN_RANGE into LOADED once the file's days are committed. Refused and ignored ones carry a reason:
# "refused:<reason>" fails the load (see `discover`), "ignored:hidden" does not.
IN_RANGE = "in_range"
LOADED = "loaded"
OUT_OF_RANGE = "out_of_range"
IGNORED_HIDDEN = "ignored:hidden"


@dataclass(frozen=True)
class LandedFile:
    path: Path
    relative_path: str  # below the landing dir, e.g. "orders/2025-03-05/pos.csv"
    landing_date: date

    @property
    def format(self) -> str:
        # From the name as delivered: `path` is where a symbolic link resolves to, and may be named otherwise.
        return "jsonl" if Path(self.relative_path).suffix.lower() in JSON_SUFFIXES else "csv"


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
    inventory: dict[str, str] | None = None,
) -> list[LandedFile]:
    """Landed files of one source whose landing date lies in [start, end], in a stable order.

    A file of another type, with no date in its path, with a date that is not a calendar day, or
    dated after `latest_landing_date(settings, now)` is an error rather than something to skip
    silently (checked for every file of the source, not only those in the range, like the other
    errors); hidden files (".DS_Store" and the like) are not deliveries.

    Nothing outside the landing folder is read: a symbolic link (to a file or a folder) that resolves
    outside `landing_dir` is an error naming the link, and its target is never opened. A symbolic link
    to a folder inside it is followed (its files are found under the link's path too); one leading back
    to a folder it is in, a broken link, a pipe, socket or device, or a folder that cannot be listed is
    an error as well. A returned file's `path` is where it resolves to, checked to be inside.

    `inventory`, if given, is filled with every file found below the source folder (its relative path
    -> IN_RANGE, OUT_OF_RANGE, IGNORED_HIDDEN or "refused:<reason>"), in path order, before the first
    refused file (in path order) is raised as a LandingFileError.
    """
    latest = latest_landing_date(settings, now)
    root = Path(landing_dir) / source.name
    found: list[LandedFile] = []
    refused: list[LandingFileError] = []
    statuses: dict[str, str] = {}
    for relative, path, refusal in _walk(Path(landing_dir), source.name):
        if refusal == _HIDDEN:
            statuses[relative] = IGNORED_HIDDEN
            continue
        if refusal is None:
            refusal, landing_date = _landing_date(relative, root, landing_dir, latest, settings)
        if refusal is not None:
            reason, problem = refusal
            statuses[relative] = f"refused:{reason}"
            refused.append(LandingFileError(relative, problem))
        elif start <= landing_date <= end:
            statuses[relative] = IN_RANGE
            found.append(LandedFile(path, relative, landing_date))
        else:
            statuses[relative] = OUT_OF_RANGE
    if inventory is not None:
        inventory.update(statuses)
    if refused:
        raise refused[0]
    return sorted(found, key=lambda f: (f.landing_date, f.relative_path))


def _landing_date(
    relative: str, root: Path, landing_dir: Path, latest: date, settings: Settings
) -> tuple[tuple[str, str] | None, date | None]:
    """The landing date of a regular file, or why it is refused: ((reason, problem), None)."""
    path = Path(landing_dir) / relative
    if path.suffix.lower() not in CSV_SUFFIXES | JSON_SUFFIXES:
        # An Excel or zip export dropped here would otherwise be skipped without a word.
        kind = printable(path.suffix) if path.suffix else "(none)"
        return ("unsupported_type", f"unsupported file type {kind}; deliver CSV or JSON lines"), None
    try:
        landing_date = date_in_path(path.relative_to(root).as_posix())
    except ValueError as exc:
        return ("not_a_calendar_day", str(exc)), None
    if landing_date is None:
        return (
            "no_date",
            f"no landing date in its path: tried {', '.join(LANDING_DATE_FORMATS)} in folder or file names",
        ), None
    if landing_date > latest:
        # A mistyped future folder would otherwise become the latest landed day, i.e. the
        # default as-of date of the marts.
        return (
            "future_date",
            f"landing date {landing_date} is in the future: after {latest} (today in {settings.timezone} "
            f"+ {settings.max_landing_days_ahead} day(s), RETENTION_MAX_LANDING_DAYS_AHEAD)",
        ), None
    return None, landing_date


def _walk(landing_dir: Path, source_folder: str):
    """(relative path, resolved path, refusal) of every file below `landing_dir/source_folder`, in path
    order; refusal is None for a regular file, else (reason, problem) and the entry is not opened.

    Written out rather than `Path.rglob`, which skips symbolic links to folders without a word and
    follows links to files wherever they point.
    """
    real_root = Path(os.path.realpath(landing_dir))

    def visit(path: Path, relative: str, real_parent: Path, ancestors: tuple[Path, ...]):
        is_link = path.is_symlink()
        real = Path(os.path.realpath(path)) if is_link else real_parent / path.name
        if not real.is_relative_to(real_root):
            # Checked before anything else: the target is never opened, and not named in the error.
            yield relative, None, ("outside_landing_root", _OUTSIDE)
            return
        try:
            mode = os.stat(path).st_mode
        except OSError as exc:
            if path.name.startswith("."):
                yield relative, None, _HIDDEN  # e.g. an editor's lock file, a broken link by design
            elif is_link:
                yield relative, None, ("broken_link", "symbolic link whose target does not exist (or loops)")
            else:
                yield relative, None, ("unreadable", f"cannot be read: {exc.strerror}")
            return
        if path.name.startswith("."):
            # Hidden folders are not walked either: `.stversions`, `.snapshot` or `.Trashes` hold old
            # copies of deliveries, which would conflict with the current ones. Listed once, as the folder.
            yield relative, None, _HIDDEN
        elif stat.S_ISREG(mode):
            yield relative, real, None
        elif not stat.S_ISDIR(mode):
            yield relative, None, ("not_a_file", "not a regular file or folder (a pipe, socket or device); not read")
        elif real in ancestors:
            yield relative, None, ("link_loop", "symbolic link to a folder it is itself in (a loop); not followed")
        else:
            try:
                with os.scandir(path) as entries:
                    names = sorted(entry.name for entry in entries)
            except OSError as exc:
                yield relative, None, ("unreadable", f"folder cannot be listed: {exc.strerror}")
                return
            for name in names:
                yield from visit(path / name, f"{relative}/{name}", real, (*ancestors, real))

    if os.path.lexists(landing_dir / source_folder):
        yield from visit(landing_dir / source_folder, source_folder, real_root, ())


_HIDDEN = ("hidden", "")
_OUTSIDE = (
    "symbolic link pointing outside the landing folder (RETENTION_LANDING_DIR); refused and not read: "
    "copy or move the delivery into the landing folder"
)


def read_landed_file(file: LandedFile, source: Source) -> ReadResult:
    try:
        data = file.path.read_bytes()
    except OSError as exc:  # removed or made unreadable since it was found; named by its landing path
        raise LandingFileError(file.relative_path, f"cannot be read: {exc.strerror}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if file.format == "jsonl":
        text, encoding = _decode(data, file, allow_gb18030=False)
        frame = _json_lines_frame(text, file)
        return ReadResult(file, frame, encoding, digest)
    text, encoding = _decode(data, file, allow_gb18030=True)
    frame, extra = csv_frame(text, file, source)
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
            text = data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise LandingFileError(
                file.relative_path,
                f"neither UTF-8 (byte {utf8_error.start}) nor GBK/GB18030 (byte {exc.start})",
            ) from exc
        mixed = _utf8_text_in(data)
        if mixed is not None:
            bad_line, utf8_line = (data.count(b"\n", 0, offset) + 1 for offset in (utf8_error.start, mixed[0]))
            raise LandingFileError(
                file.relative_path,
                f"mixes encodings: byte {utf8_error.start} (line {bad_line}) is not UTF-8, but bytes "
                f"{mixed[0]}-{mixed[1] - 1} (line {utf8_line}) are UTF-8 text, which reading the file as "
                "GBK/GB18030 would garble; deliver one encoding per file",
            ) from None
        private = _PRIVATE_USE.search(text)
        if private is not None:
            offset = len(text[: private.start()].encode("gb18030"))
            line = data.count(b"\n", 0, offset) + 1
            raise LandingFileError(
                file.relative_path,
                f"not UTF-8 (byte {utf8_error.start}), and read as GBK/GB18030 byte {offset} (line {line}) "
                "gives a private-use character, which no real text holds: is it Big5 or another encoding? "
                "Deliver UTF-8 or GBK/GB18030",
            ) from None
        return text, "gb18030"


# Big5 (and other legacy encodings) decode as GB18030 without an error, but into garbage that
# includes characters of the private-use area, which GBK maps only its user-defined codes to.
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
# GBK/GB18030 never uses these bytes inside a multi-byte character (ASCII controls, space and
# punctuation below "0", and ":" to "?"), so they delimit runs of text of either encoding.
_SEPARATOR = re.compile(rb"[\x00-\x2f\x3a-\x3f]")
# Two CJK characters in UTF-8 (U+4000-U+9FFF) in a row: a fast scan for candidates (a regex with no
# lookaround runs through the bytes in C).
_TWO_UTF8_CJK = re.compile(rb"[\xe4-\xe9][\x80-\xbf]{2}[\xe4-\xe9][\x80-\xbf]{2}")


def _utf8_text_in(data: bytes) -> tuple[int, int] | None:
    """(start, end) byte offsets of the first run of UTF-8 Chinese text in a file that is not UTF-8.

    A run is the text between two separators around a candidate. It counts if it is valid UTF-8 holding
    at least two CJK characters in a row and its GBK reading holds a character outside GB2312 (UTF-8
    continuation bytes 0x80-0xA0 fall outside GB2312's byte ranges; everyday GBK text stays inside
    them). GBK text rarely lines up as UTF-8 from one separator to the next; with both conditions random
    GBK text (rare characters included) matched about once in 70,000 fields, and a mixed run is caught
    about 99 times in 100 (the rest fail as GB18030, or read alike in both).
    """
    for candidate in _TWO_UTF8_CJK.finditer(data):
        before = data[max(0, candidate.start() - 1024) : candidate.start()]
        separators = [m.end() for m in _SEPARATOR.finditer(before)]
        start = candidate.start() - len(before) + (separators[-1] if separators else 0)
        after = _SEPARATOR.search(data, candidate.end())
        end = after.start() if after else len(data)
        run = data[start:end]
        try:
            as_utf8 = run.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if sum("\u4e00" <= ch <= "\u9fff" for ch in as_utf8) < 2:
            continue
        if any(ord(ch) > 0x7F and not _in_gb2312(ch) for ch in run.decode("gb18030", errors="replace")):
            return start, end
    return None


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


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

"""Finding landed files and reading them into all-text frames with row numbers.

Files are read whole into memory one at a time (a source's daily file is small next to the
warehouse); decoding happens in Python because the CSV parsers only take UTF-8, and parsing is
done by Polars, never row by row.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pyarrow as pa

from retention.landing.contract import Source
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


class LandingFileError(Exception):
    """A landed file that cannot be read at all; names the file and what is wrong with it."""

    def __init__(self, file: str, problem: str):
        # The name comes from outside: a newline in it could forge a log line, so it is escaped here, once.
        # Not cut short (a path is at most a few thousand characters): the error must find the file.
        file = printable(file, limit=None)
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


def _header_map(source: Source) -> dict[str, str]:
    return {alias.strip().lower(): col.name for col in source.columns for alias in col.header_names}


def _csv_frame(text: str, file: LandedFile, source: Source) -> tuple[pl.DataFrame, list[str]]:
    """The data records of a CSV file as contract columns plus `_row_number`, `_malformed` and `_raw`.

    Every physical record the source system wrote is counted: a record whose field count differs from
    the header, whose quoting is not CSV, or which a quote stretches over several lines where the field
    holding the line break may not span lines (`Column.multiline`), is kept with a reason in `_malformed`
    (`code|column|detail`) and its delivered text in `_raw`, instead of being merged into its neighbours.
    A record joined by such a broken quote counts as one record per physical line. `_row_number` is the
    record's position among the records read (header and blank lines excluded), so for a clean file it
    is the n-th data record; reason details name file lines (the header is line 1).
    """
    empty = pl.DataFrame({name: pl.Series([], dtype=pl.String) for name in source.column_names}).with_columns(
        _row_number=pl.Series([], dtype=pl.Int64),
        _malformed=pl.Series([], dtype=pl.String),
        _raw=pl.Series([], dtype=pl.String),
    )
    if not text.strip():
        return empty, []
    data = text.encode("utf-8")
    lines = _csv_lines(data)
    if lines.item(-1, "_open_after"):
        record = lines.filter(pl.col("_record") == lines.item(-1, "_record"))
        raise LandingFileError(
            file.relative_path,
            f"a quote opened on line {record.item(0, '_line')} (field {record.item(0, '_break_field') + 1}) is "
            "never closed: the file ends inside it",
        )
    header_record = lines.filter(~pl.col("_blank")).item(0, "_record")
    header_lines = lines.filter(pl.col("_record") == header_record)
    header_bytes = data[header_lines.item(0, "_start") : header_lines.item(-1, "_end")] + b"\n"
    header = pl.read_csv(io.BytesIO(header_bytes), n_rows=0, infer_schema=False).columns
    _reject_truncated_csv(data, lines, header, file)
    renames, extra = _map_header(header, file, source)
    multiline_fields = [i for i, h in enumerate(header) if h in renames and source.column(renames[h]).multiline]

    body = lines.filter((pl.col("_record") > header_record) & ~pl.col("_blank"))
    bad_break = pl.col("_open_after") & ~pl.col("_break_field").is_in(multiline_fields)
    body = body.with_columns(
        _broken=_any_in_record(bad_break),
        _bad_quote=_any_in_record(pl.col("_bad_quote")),
    ).with_columns(
        _good=~pl.col("_broken") & ~pl.col("_bad_quote") & (pl.col("_fields") == len(header)),
        # One record read per logical record, except a broken quote: one per physical line.
        _unit=pl.col("_starts") | pl.col("_broken"),
    )
    body = body.with_columns(_row_number=pl.col("_unit").cast(pl.Int64).cum_sum())
    good_lines = body.filter(pl.col("_good"))
    n_good = int(good_lines["_starts"].sum())
    if good_lines.height == body.height and body.height == lines.height - header_lines.height:
        parse_data = data  # the common case: every record is sound and there are no blank lines
    else:  # leave out the lines of unsound records and blank lines (few: a loop over them is cheap)
        parse_data = header_bytes + _without_lines(data, lines.join(good_lines.select("_line"), on="_line", how="anti"))
    try:
        raw = pl.read_csv(io.BytesIO(parse_data), infer_schema=False) if n_good else None
    except Exception as exc:  # polars raises several error types; its messages quote the data
        raise LandingFileError(
            file.relative_path,
            f"CSV does not parse ({type(exc).__name__}; the parser's message is withheld as it quotes the data)",
        ) from exc
    if raw is not None and raw.height != n_good:
        raise LandingFileError(
            file.relative_path,
            f"the CSV parser finds {raw.height} records where the quotes and line ends give {n_good}; "
            f"first disagreement at line {_first_divergence(raw, good_lines, data)}",
        )
    frame = (
        empty.drop("_row_number", "_malformed", "_raw")
        if raw is None
        else raw.select([pl.col(h).alias(c) for h, c in renames.items()])
    )
    frame = frame.with_columns(
        [pl.lit(None, dtype=pl.String).alias(c) for c in source.column_names if c not in frame.columns]
    ).select(source.column_names)
    frame = frame.with_columns(
        _row_number=good_lines.filter(pl.col("_starts"))["_row_number"],
        _malformed=pl.lit(None, dtype=pl.String),
        _raw=pl.lit(None, dtype=pl.String),
    )
    bad = body.filter(~pl.col("_good"))
    if bad.height:
        frame = pl.concat([frame, _malformed_records(bad, data, header, renames, source)], how="diagonal_relaxed")
        frame = frame.sort("_row_number")
    return frame, extra


def _csv_lines(data: bytes) -> pl.DataFrame:
    """One row per physical line (`_start`, `_end`: its bytes without the line end) with its quote
    state and the logical record it belongs to, computed from byte positions without splitting the text.

    Quotes pair up in order (an escaped `""` closes and reopens), so a comma or line end is inside a
    quote when an odd number of quotes precede it: a line whose end is inside one is `_open_after`,
    and a record starts on every line that does not begin inside a quote. `_field` is the field a line
    starts in (0-based, within its record), `_break_field` the field holding its line break, and
    `_fields` the number of fields of its record. A quote that neither opens a field (after a
    separator or line start) nor closes one (before a separator or line end), the two halves of an
    escaped quote aside, is not CSV quoting: `_bad_quote`.
    """
    size = len(data)
    byte = pl.from_arrow(pa.Array.from_buffers(pa.uint8(), size, [None, pa.py_buffer(data)]))
    newlines = (byte == ord("\n")).arg_true().cast(pl.Int64)
    quotes, stray = _quoting_quotes(byte, (byte == ord('"')).arg_true().cast(pl.Int64))
    commas = (byte == ord(",")).arg_true().cast(pl.Int64)
    if quotes.len():
        commas = commas.filter(quotes.search_sorted(commas) % 2 == 0)
    ends = newlines if data.endswith(b"\n") else newlines.append(pl.Series([size], dtype=pl.Int64))
    frame = pl.DataFrame({"_end": ends}).with_columns(
        _line=pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
        _start=(pl.col("_end").shift(1) + 1).fill_null(0),
        _open_after=(quotes.search_sorted(ends) % 2 == 1) if quotes.len() else pl.lit(False),
        _seps_before_end=commas.search_sorted(ends).cast(pl.Int64),
    )
    frame = frame.with_columns(
        _open_before=pl.col("_open_after").shift(1, fill_value=False),
        _seps_before_start=pl.col("_seps_before_end").shift(1, fill_value=0),
    ).with_columns(_starts=~pl.col("_open_before"))
    record_start = pl.when(pl.col("_starts")).then(pl.col("_seps_before_start")).forward_fill()
    frame = frame.with_columns(
        _record=pl.col("_starts").cast(pl.Int64).cum_sum() - 1,
        _field=pl.col("_seps_before_start") - record_start,
        _break_field=pl.col("_seps_before_end") - record_start,
        _blank=pl.col("_starts") & ~pl.col("_open_after") & (pl.col("_end") == pl.col("_start")),
        _bad_quote=pl.lit(False),
    )
    if b"\r" in data:  # a line holding only the "\r" of a "\r\n" is blank too
        carriage_returns = (byte == ord("\r")).arg_true().cast(pl.Int64)
        only_cr = (pl.col("_end") == pl.col("_start") + 1) & pl.col("_start").is_in(carriage_returns)
        frame = frame.with_columns(_blank=pl.col("_blank") | pl.col("_starts") & ~pl.col("_open_after") & only_cr)
    if quotes.len() or stray.len():
        bad_lines = _bad_quote_lines(byte, quotes, ends).append(ends.search_sorted(stray).cast(pl.Int64) + 1)
        frame = frame.with_columns(_bad_quote=pl.col("_line").is_in(bad_lines))
    return frame.with_columns(
        _fields=pl.when(~pl.col("_open_after")).then(pl.col("_break_field") + 1).backward_fill(),
    ).drop("_seps_before_end", "_seps_before_start")


def _quoting_quotes(byte: pl.Series, quotes: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Split the positions of `"` into quoting quotes and stray ones (`27"显示器`, an inch mark in an
    unquoted field): outside a quoted field only a quote at a field start opens one. A stray quote
    leaves the quote state alone and makes its record `bad_quote` (Polars cannot parse an odd one);
    counting every quote instead let one stray quote flip the quote state of the rest of the file.

    Usually every quote opening by parity is at a field start (checked without a loop); otherwise the
    quotes, not the bytes, are walked in order once."""
    empty = pl.Series([], dtype=pl.Int64)
    if not quotes.len():
        return quotes, empty
    before = byte.gather((quotes - 1).clip(0, None))
    at_field_start = (quotes == 0) | before.is_in([ord(","), ord("\n")])
    # By parity, even quotes open; an odd one right after another is the second half of an escaped `""`.
    opening = pl.int_range(0, quotes.len(), eager=True) % 2 == 0
    if bool((~opening | at_field_start | (before == ord('"'))).all()):
        return quotes, empty
    positions, starts = quotes.to_list(), at_field_start.to_list()
    kept, stray = [], []
    inside, i = False, 0
    while i < len(positions):
        position = positions[i]
        if not inside:
            (kept if starts[i] else stray).append(position)
            inside = starts[i]
        elif i + 1 < len(positions) and positions[i + 1] == position + 1:  # an escaped quote
            kept += [position, position + 1]
            i += 1
        else:
            kept.append(position)
            inside = False
        i += 1
    return pl.Series(kept, dtype=pl.Int64), pl.Series(stray, dtype=pl.Int64)


def _bad_quote_lines(byte: pl.Series, quotes: pl.Series, ends: pl.Series) -> pl.Series:
    """Line numbers (1-based) holding a quote that is not CSV quoting (see `_csv_lines`)."""
    size = byte.len()
    opening = pl.int_range(0, quotes.len(), eager=True) % 2 == 0
    before = byte.gather((quotes - 1).clip(0, None))
    after = byte.gather((quotes + 1).clip(None, size - 1))
    at_start, at_end = quotes == 0, quotes == size - 1
    ok_open = at_start | before.is_in([ord(","), ord("\n"), ord('"')])
    ok_close = at_end | after.is_in([ord(","), ord("\n"), ord("\r"), ord('"')])
    # An opening quote right after a quote is the second half of an escaped `""` (in `ok_open`).
    bad = quotes.filter((opening & ~ok_open) | (~opening & ~ok_close))
    return ends.search_sorted(bad).cast(pl.Int64) + 1


def _without_lines(data: bytes, dropped: pl.DataFrame) -> bytes:
    """`data` without the `dropped` lines (with their line ends), ending in a line end."""
    pieces, position = [], 0
    for start, end in dropped.select("_start", "_end").iter_rows():
        pieces.append(data[position:start])
        position = end + 1
    pieces.append(data[position:])
    kept = b"".join(pieces)
    return kept if not kept or kept.endswith(b"\n") else kept + b"\n"


def _any_in_record(flag: pl.Expr) -> pl.Expr:
    """True on every line of a logical record if `flag` holds on any of its lines (no group-by: running sums)."""
    running = flag.cast(pl.Int64).cum_sum()
    before_first = pl.when(pl.col("_starts")).then(running - flag.cast(pl.Int64)).forward_fill()
    at_last = pl.when(~pl.col("_open_after")).then(running).backward_fill()
    return at_last > before_first


def _line_text(data: bytes, start: int, end: int) -> str:
    return data[start:end].decode("utf-8").removesuffix("\r")


def _malformed_records(
    bad: pl.DataFrame, data: bytes, header: list[str], renames: dict[str, str], source: Source
) -> pl.DataFrame:
    """The quarantined structural records, one row per record read. Records on one line are built with
    Polars when there are many (a trailing comma on every row of an export); the rest in a loop."""
    schema = {"_row_number": pl.Int64, "_malformed": pl.String, "_raw": pl.String}
    one_line = ~pl.col("_broken") & pl.col("_starts") & ~pl.col("_open_after")
    vectorized = pl.DataFrame(schema=schema)
    if bad.filter(one_line).height > _MANY_MALFORMED:
        single = bad.filter(one_line)
        counts = ("_line", "_fields")
        texts = pl.Series(data.split(b"\n"), dtype=pl.Binary).gather(single["_line"] - 1).cast(pl.String)
        vectorized = single.select(
            "_row_number",
            _malformed=pl.when(pl.col("_bad_quote"))
            .then(pl.format(f"bad_quote||line {{}}: {_BAD_QUOTE_PROBLEM}", "_line"))
            .otherwise(pl.format(f"field_count||line {{}} has {{}} fields, the header has {len(header)}", *counts)),
            _raw=texts.str.strip_suffix("\r"),
        )
        bad = bad.filter(~one_line)
    names = [renames.get(h, "") for h in header]
    rows = []
    for record in bad.partition_by("_record", maintain_order=True):
        first, last = record.item(0, "_line"), record.item(-1, "_line")
        span = f"line {first}" if first == last else f"lines {first}-{last}"
        texts = [_line_text(data, s, e) for s, e in record.select("_start", "_end").iter_rows()]
        if record.item(0, "_broken"):
            column, place = "", ""
            for field in record.filter(pl.col("_open_after"))["_break_field"].to_list():
                name = names[field] if field < len(names) else ""
                if not (name and source.column(name).multiline):
                    column = name
                    place = (
                        f"column {name} (field {field + 1})" if name else f"field {field + 1}, not a contract column"
                    )
                    break
            for number, line, text in zip(record["_row_number"], record["_line"], texts, strict=True):
                detail = (
                    f"line {line} is one of {span}, which a quote in {place} joins into one record; "
                    "only multi-line text columns may span lines"
                )
                rows.append((number, f"broken_quote|{column}|{detail}", text))
            continue
        number = record.item(0, "_row_number")
        if record.item(0, "_bad_quote"):
            detail = f"{span}: {_BAD_QUOTE_PROBLEM}"
            rows.append((number, f"bad_quote||{detail}", "\n".join(texts)))
        else:
            detail = f"{span} has {record.item(0, '_fields')} fields, the header has {len(header)}"
            rows.append((number, f"field_count||{detail}", "\n".join(texts)))
    looped = pl.DataFrame(rows, schema=schema, orient="row")
    return pl.concat([vectorized, looped]).sort("_row_number") if vectorized.height else looped


_BAD_QUOTE_PROBLEM = "a quote inside an unquoted field, or text after a closing quote"
# Above this many malformed one-line records a file's details are built without a Python loop.
_MANY_MALFORMED = 200


def _first_divergence(raw: pl.DataFrame, good_lines: pl.DataFrame, data: bytes) -> int:
    """The file line of the first record where the parser's first field differs from the quote analysis
    (only when the file is about to fail, so a loop over its lines is fine)."""
    starts = good_lines.filter(pl.col("_starts"))
    first_lines = pl.Series([_line_text(data, s, e) for s, e in starts.select("_start", "_end").iter_rows()])
    mine = (
        pl.DataFrame({"v": first_lines})
        .select(
            pl.when(pl.col("v").str.starts_with('"'))
            .then(pl.col("v").str.extract(r'^"((?:[^"]|"")*)', 1).str.replace_all('""', '"', literal=True))
            .otherwise(pl.col("v").str.extract(r"^([^,]*)", 1))
        )
        .to_series()
    )
    theirs = raw.get_column(raw.columns[0]).fill_null("")
    n = min(len(theirs), len(mine))
    differs = (mine.head(n).fill_null("") != theirs.head(n)).arg_true()
    index = int(differs[0]) if len(differs) else n
    return int(starts["_line"][index]) if index < starts.height else int(good_lines["_line"][-1]) + 1


def _map_header(header: list[str], file: LandedFile, source: Source) -> tuple[dict[str, str], list[str]]:
    """Header name -> contract column, and the extra (ignored) header names that may be shown."""
    aliases = _header_map(source)
    renames: dict[str, str] = {}
    extra: list[str] = []
    for position, header_name in enumerate(header, start=1):
        canonical = aliases.get(header_name.strip().lower())
        if canonical is None:
            shown = header_name.strip()
            extra.append(printable(shown, 64) if _COLUMN_NAME.fullmatch(shown) else f"(field {position})")
        elif canonical in renames.values():
            raise LandingFileError(
                file.relative_path, f"two columns mean {canonical!r} (second: {printable(header_name, 64)!r})"
            )
        else:
            renames[header_name] = canonical
    missing = [c.name for c in source.columns if c.required and c.name not in renames.values()]
    if missing:
        # Only now can a data-like first line mean a file without a header: with every required column
        # named, a data-like extra name (`2025年3月积分`) is just an ignored column.
        data_like = [i + 1 for i, h in enumerate(header) if _DATA_LIKE.search(h)]
        if data_like:
            raise LandingFileError(
                file.relative_path,
                f"line 1 does not look like a header: field(s) {', '.join(map(str, data_like[:10]))} hold values "
                "such as numbers, dates, phone numbers or e-mail addresses (not shown); the first line must name "
                "the columns",
            )
        found = ", ".join(renames.values()) or "none"
        raise LandingFileError(
            file.relative_path,
            f"missing required column(s) {', '.join(missing)}; the header (line 1) has {len(header)} field(s), "
            f"recognised: {found}",
        )
    return renames, extra


# A header field holding a value rather than a name: an e-mail address, a long digit run (phone,
# id card), a date, or a bare number. Such a "header" is a data row of a file delivered without one.
_DATA_LIKE = re.compile(r"@|\d{5,}|\d{4}[-/年.]\d{1,2}|^\s*[-+¥￥]?\d[\d,.]*\s*$")
# Extra header names are listed in the load metadata only if they look like names.
_COLUMN_NAME = re.compile(r"[^\W\d][\w .()（）/-]{0,63}")


def _reject_truncated_csv(data: bytes, lines: pl.DataFrame, header: list[str], file: LandedFile) -> None:
    """A file cut off mid-record: no final line end and a last record with fewer fields than the header
    (read from the record structure, so a last record spanning lines or holding a long field is judged
    as a whole)."""
    if data.endswith((b"\n", b"\r")):
        return
    last = lines.filter(~pl.col("_blank"))
    if last.height > 1 and last.item(-1, "_fields") < len(header):
        raise LandingFileError(
            file.relative_path,
            f"truncated: last record (line {last.item(-1, '_line')}) has {last.item(-1, '_fields')} of "
            f"{len(header)} fields and no line end",
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

"""A CSV file's records as the source system wrote them, read into all-text frames.

Every physical record is counted: the record structure is worked out from the byte positions of
quotes, commas and line ends (vectorised, no loop over rows), records that break it are kept with
a reason, and only sound records reach Polars' CSV parser.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa

from retention.landing.contract import Source
from retention.landing.errors import LandingFileError
from retention.landing.safe_text import printable

if TYPE_CHECKING:
    from retention.landing.files import LandedFile


def _header_map(source: Source) -> dict[str, str]:
    return {alias.strip().lower(): col.name for col in source.columns for alias in col.header_names}


def csv_frame(text: str, file: LandedFile, source: Source) -> tuple[pl.DataFrame, list[str]]:
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
            extra.append(printable(shown, 64) if COLUMN_NAME.fullmatch(shown) else f"(field {position})")
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
COLUMN_NAME = re.compile(r"[^\W\d][\w .()（）/-]{0,63}")


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

"""`retention inspect PATH`: what a load would make of a folder of exports, before the first load.

The files are read by the loader's own reader and checked by the loader's own SQL (`stage_batch`,
`store_batch`) on a throwaway in-memory DuckDB, so the profile says exactly what a load would
quarantine. It shows file names, header names, the values of code columns and reason counts; never a
value of any other column (names, mobiles and ticket texts stay out of the terminal). A shifted column
puts names and mobiles among the codes, so an unmapped code value is shown only by the check's rule
(retention/landing/unmapped.py): held by at least 3 different members (valid ids: not timestamps, and
known ones when the members folder is inspected too), with no shape of a contact or identity number;
the others are only counted. Each column lists its most frequent values.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import polars as pl

from retention.landing.contract import MEMBERS, SOURCES, Source
from retention.landing.csv_records import COLUMN_NAME
from retention.landing.errors import LandingFileError
from retention.landing.files import (
    CSV_SUFFIXES,
    JSON_SUFFIXES,
    LandedFile,
    ReadResult,
    date_in_path,
    latest_landing_date,
    read_landed_file,
)
from retention.landing.loader import (
    MANIFEST_TABLE,
    QUARANTINE_TABLE,
    LoadReport,
    day_batches,
    ensure_tables,
    raw_table,
    stage_batch,
    store_batch,
)
from retention.landing.rules import cleaned, quote_literal, typed
from retention.landing.safe_text import printable
from retention.landing.unmapped import (
    MIN_MEMBERS_SHOWN,
    RARE_KIND,
    member_counted,
    not_shown,
    personal_data_kind,
    personal_shape,
)
from retention.landing.vocabulary import Vocabulary, shown_path
from retention.settings import Settings

VALUES_SHOWN = 20  # per code column, most frequent first; the others are counted
VALUE_SHOWN_CHARS = 40
NAME_SHOWN_CHARS = 64
# A JSON key outside the contract is shown only when this many lines give it: a key that one line gives
# may be a value (a name or a mobile written as a key).
KEY_MIN_LINES = 3


class InspectError(ValueError):
    """PATH cannot be inspected (missing, or no way to tell which source its files belong to)."""


@dataclass(frozen=True)
class FileProfile:
    name: str  # as below a landing folder: "<source>/<path below the source folder>", escaped
    landing_date: date | None
    encoding: str | None = None
    rows: int = 0
    columns: tuple[str, ...] = ()  # "delivered -> column", or the column's name when delivered as such
    ignored_columns: tuple[str, ...] = ()
    missing_columns: tuple[str, ...] = ()  # optional columns the file does not deliver
    notes: tuple[str, ...] = ()  # what a load would say about the file itself


@dataclass(frozen=True)
class ValueCount:
    value: str | None  # as delivered, trimmed (escape it to show it); None: empty
    rows: int
    code: str | None  # the contract code it loads as; None: unmapped (or empty)

    def shown(self) -> str:
        return "(empty)" if self.value is None else f'"{printable(self.value, VALUE_SHOWN_CHARS)}"'


@dataclass(frozen=True)
class NotShown:
    """Unmapped values that may be personal data: counted, never shown."""

    kind: str  # why: "like a phone or ID number", "like an e-mail address", "held by fewer than 3 members"
    values: int
    rows: int


@dataclass(frozen=True)
class ColumnValues:
    column: str
    distinct: int  # different values, the empty value included
    unmapped: int  # different unmapped values, those not shown included
    rows: int
    top: tuple[ValueCount, ...]  # the VALUES_SHOWN most frequent values that may be shown
    top_unmapped: tuple[ValueCount, ...]  # the VALUES_SHOWN most frequent unmapped values that may be shown
    not_shown: tuple[NotShown, ...] = ()


@dataclass(frozen=True)
class Reason:
    code: str
    column: str | None
    rows: int
    first_file: str
    first_record: int


@dataclass(frozen=True)
class SourceProfile:
    source: str
    files: tuple[FileProfile, ...]
    values: tuple[ColumnValues, ...]  # per code column delivered
    rows_read: int
    rows_quarantined: int
    days_over_limit: int
    days_checked: int
    reasons: tuple[Reason, ...]
    members_checked: bool
    required: dict[str, bool]  # code column -> required (an empty value is then quarantined)

    def unmapped(self) -> dict[str, list[str]]:
        """column -> the most frequent of its values that no spelling maps (not those not shown)."""
        return {v.column: [c.value for c in v.top_unmapped] for v in self.values if v.top_unmapped}


@dataclass(frozen=True)
class Inspection:
    path: str  # escaped
    vocabulary_file: str  # escaped
    max_quarantine_rate: float
    sources: tuple[SourceProfile, ...]

    def describe(self) -> str:
        lines = [f"Inspecting {self.path} against the landing contract, vocabulary {self.vocabulary_file}"]
        for profile in self.sources:
            lines += ["", *_describe_source(profile, self.max_quarantine_rate)]
        unmapped = {f"{p.source}.{v.column}": v.unmapped for p in self.sources for v in p.values if v.unmapped}
        lines.append("")
        if not unmapped:
            lines.append(f"Every code value is mapped: nothing to add to {self.vocabulary_file}.")
            return "\n".join(lines)
        lines.append("Unmapped values, as lines for the vocabulary file (replace <code> by a contract code):")
        for profile in self.sources:
            columns = [v for v in profile.values if v.unmapped]
            if columns:
                lines.append(f"{profile.source}:")  # at the file's top level, as pasted
            for values in columns:
                lines += [f"  {values.column}:", *(f"    {line}" for line in _paste_lines(values))]
        hidden = sum(h.values for p in self.sources for v in p.values for h in v.not_shown)
        total = sum(unmapped.values()) - hidden
        mappable = [f"{p.source}.{v.column}" for p in self.sources for v in p.values if v.top_unmapped]
        if total:
            lines.append(
                f"To load them, map the {_count(total, 'unmapped value')} of {', '.join(mappable)} in "
                f"{self.vocabulary_file} (RETENTION_VOCABULARY_FILE; docs/vocabulary.md)."
            )
        if hidden:
            lines.append(
                f"{_count(hidden, 'unmapped value')} not shown, as {'it' if hidden == 1 else 'they'} may be personal "
                f"data (shaped like a mobile, an ID number or an e-mail address, or held by fewer than "
                f"{MIN_MEMBERS_SHOWN} members): check which column the export delivers there before mapping anything."
            )
        return "\n".join(lines)


def inspect_exports(
    path: Path, settings: Settings, vocabulary: Vocabulary, source_name: str | None = None
) -> Inspection:
    """Profile the exports at `path`: a folder laid out like the landing folder (<source>/<files>), one
    source's folder, or one file. The source comes from `source_name`, else from the folder names."""
    path = Path(path)
    if not path.exists():
        raise InspectError(f"{printable(str(path), None)} does not exist")
    if source_name is not None and source_name not in SOURCES:
        raise InspectError(f"unknown source {printable(source_name, 40)!r} (sources: {', '.join(SOURCES)})")
    folders = _source_folders(path, source_name)
    today = datetime.now(UTC).astimezone(ZoneInfo(settings.timezone)).date()
    # The pipeline's memory limit and temp directory: a large export spills there, not into ./.tmp.
    con = duckdb.connect(":memory:", config=settings.duckdb_config())
    try:
        ensure_tables(con, MEMBERS)
        members_checked = MEMBERS.name in folders
        profiles = []
        for source in SOURCES.values():  # members first: the others' member ids are checked against them
            if source.name in folders:
                root, files = folders[source.name]
                checked = vocabulary.applied_to(source)
                profiles.append(_inspect_source(con, checked, root, files, settings, today, members_checked))
    finally:
        con.close()
    return Inspection(
        printable(str(path), None), shown_path(vocabulary.path), settings.max_quarantine_rate, tuple(profiles)
    )


def _source_folders(path: Path, source_name: str | None) -> dict[str, tuple[Path, list[Path]]]:
    """source -> (its folder, the files to inspect), from the layout of `path`."""
    if path.is_file():
        root = next((p for p in path.parents if p.name in SOURCES), None)
        name = source_name or (root.name if root is not None else None)
        if name is None:
            raise InspectError(_which_source(path))
        return {name: (root if root is not None and root.name == name else path.parent, [path])}
    if source_name is not None and path.name != source_name and (path / source_name).is_dir():
        path = path / source_name  # a landing folder: only that source's folder holds its files
    if source_name is not None or path.name in SOURCES:
        return {source_name or path.name: (path, _files_below(path))}
    found = {name: (path / name, _files_below(path / name)) for name in SOURCES if (path / name).is_dir()}
    if not found:
        raise InspectError(_which_source(path))
    return found


def _which_source(path: Path) -> str:
    return (
        f"cannot tell which source {printable(str(path), None)} holds: no folder named "
        f"{', '.join(f'{s}/' for s in SOURCES)} (as in the landing folder); name one with --source"
    )


def _files_below(folder: Path) -> list[Path]:
    # Hidden files and folders are not deliveries (the loader ignores them too).
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _inspect_source(
    con, source: Source, root: Path, paths: list[Path], settings: Settings, today: date, members_checked: bool
) -> SourceProfile:
    ensure_tables(con, source)
    latest = latest_landing_date(settings)
    landed: list[LandedFile] = []
    notes: dict[str, list[str]] = {}
    for path in paths:
        relative = f"{source.name}/{path.relative_to(root).as_posix()}"
        file_notes = notes.setdefault(relative, [])
        if path.suffix.lower() not in CSV_SUFFIXES | JSON_SUFFIXES:
            file_notes.append("not read: unsupported file type; a load refuses it (deliver CSV or JSON lines)")
            continue
        try:
            day = date_in_path(path.relative_to(root).as_posix())
        except ValueError as exc:
            file_notes.append(f"not read: {exc}; a load refuses it")
            continue
        if day is None:
            day = today
            file_notes.append(f"no landing date in its path: a load refuses it (checked here as landed on {today})")
        elif day > latest:
            file_notes.append(f"landing date {day} is in the future: a load refuses it")
        landed.append(LandedFile(path, relative, day))
    landed.sort(key=lambda f: (f.landing_date, f.relative_path))
    profiles: dict[str, FileProfile] = {}
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _inspect_values "
        "(column_name VARCHAR, value VARCHAR, code VARCHAR, n BIGINT, members VARCHAR[])"
    )
    report = LoadReport(source.name, today, today)
    if landed:
        first, last = landed[0].landing_date, landed[-1].landing_date
        for _, _, batch in day_batches(landed, first, last, settings.load_batch_rows):
            results = []
            for file in batch:
                try:
                    results.append(read_landed_file(file, source))
                except LandingFileError as problem:
                    notes[file.relative_path].append(f"not read: {printable(problem.problem, 300)}")
            if not results:
                continue
            for result in results:
                profiles[result.file.relative_path] = _file_profile(con, result, source)
            stage_batch(con, source, results)
            members = raw_table(MEMBERS) if members_checked and source.references_members else None
            _count_values(con, source, settings, members)
            loaded_at = datetime.now(UTC).replace(tzinfo=None)
            store_batch(con, source, settings, results, "inspect", loaded_at, report, members)
            if source.name != MEMBERS.name:  # only the counts matter from here; members stay for the id check
                con.execute(f"DELETE FROM {raw_table(source)}")
    files = []
    for relative in sorted(notes):
        profile = profiles.get(relative, FileProfile(printable(relative), None))
        files.append(replace(profile, notes=tuple(notes[relative])))
    over, checked = _days_over_limit(con, source, settings)
    return SourceProfile(
        source.name,
        tuple(files),
        _values(con, source),
        report.rows_read,
        report.rows_quarantined,
        over,
        checked,
        _reasons(con, source),
        members_checked or not source.references_members,
        {c.name: c.required for c in source.columns if c.type == "code"},
    )


def _file_profile(con, result: ReadResult, source: Source) -> FileProfile:
    delivered = _delivered_names(con, result)
    if result.file.format == "jsonl":
        # The loader reads a JSON key only when it is a column's name or alias exactly (`Event_Type` and
        # ` platform` are not read: shown, with the name to write). Any other key may be a value (a name, a
        # mobile): it is shown only when it looks like a name by the CSV reader's rule for header names,
        # holds no @ nor 5 digits, and at least KEY_MIN_LINES lines give it.
        names = {name: col.name for col in source.columns for name in col.header_names}
        aliases = {alias.strip().lower() for col in source.columns for alias in col.header_names}
        mapped = [(key, names[key]) for key, _ in delivered if key in names]
        others = [(key, shown or key.strip().lower() in aliases) for key, shown in delivered if key not in names]
        named = [key for key, shown in others if shown and COLUMN_NAME.fullmatch(key.strip())]
        ignored = tuple(_ignored_key(key, source) for key in named)
        if len(others) > len(named):
            hidden = len(others) - len(named)
            ignored += (
                f"({_count(hidden, 'other key')}, not shown: a key is shown when it looks like a name, holds no @ "
                f"nor 5 digits and {KEY_MIN_LINES} lines or more give it)",
            )
    else:  # the reader shows a name only if it looks like one (a file without a header holds data there)
        aliases = {alias.strip().lower(): col.name for col in source.columns for alias in col.header_names}
        mapped = [(name, aliases[name.strip().lower()]) for name, _ in delivered if name.strip().lower() in aliases]
        ignored = tuple(result.extra_columns)
    columns = tuple(
        printable(name, NAME_SHOWN_CHARS) if name == col else f"{printable(name, NAME_SHOWN_CHARS)} -> {col}"
        for name, col in mapped
    )
    given = {col for _, col in mapped}
    return FileProfile(
        printable(result.file.relative_path),
        result.file.landing_date,
        result.encoding,
        result.frame.height,
        columns,
        ignored,
        tuple(c.name for c in source.columns if c.name not in given),
    )


def _ignored_key(key: str, source: Source) -> str:
    """An ignored JSON key as shown, and the contract name to write when it is one spelled differently."""
    shown = printable(key, NAME_SHOWN_CHARS)
    shown = shown if key == key.strip() else f'"{shown}"'
    aliases = {alias.strip().lower(): col.name for col in source.columns for alias in col.header_names}
    meant = aliases.get(key.strip().lower())
    return f"{shown} (keys are read exactly: write {meant})" if meant else shown


def _delivered_names(con, result: ReadResult) -> list[tuple[str, bool]]:
    """The header of a CSV file, or every key some line of a JSON lines file gives (first seen first), each
    with whether it may be shown when outside the contract: for a key, given by KEY_MIN_LINES lines or more
    and not shaped like a contact or a number of 5 digits or more (the CSV reader judges its header)."""
    if result.file.format == "jsonl":
        con.register("_inspect_lines", result.frame)
        try:
            rows = con.execute(
                f"SELECT key, count(DISTINCT _row_number) >= {KEY_MIN_LINES} AND {personal_shape('key', 5)} IS NULL "
                "FROM (SELECT unnest(keys) AS key, generate_subscripts(keys, 1) AS position, _row_number "
                "FROM (SELECT json_keys(_line) AS keys, _row_number FROM _inspect_lines "
                "WHERE json_valid(_line) AND json_type(_line) = 'OBJECT')) "
                "GROUP BY key ORDER BY min((_row_number, position)), key"
            ).fetchall()
        finally:
            con.unregister("_inspect_lines")
        return [(key, shown) for key, shown in rows]
    text = result.file.path.read_bytes().decode(result.encoding)
    header = next((line for line in text.splitlines() if line.strip()), "")
    return [(name, True) for name in pl.read_csv(io.StringIO(header + "\n"), n_rows=0, infer_schema=False).columns]


def _count_values(con, source: Source, settings: Settings, members: str | None) -> None:
    """Each code column's delivered values (trimmed, as checked) in the staged batch, with the code each loads
    as, its rows and up to MIN_MEMBERS_SHOWN of the members holding it (enough to tell a word of the export
    from one person's data). Only ids that may be member ids count (a shifted column puts timestamps
    there) and, with the `members` table given, only known ones."""
    member = member_counted(cleaned("member_id"))
    if members is not None:
        member = f"CASE WHEN {member} IN (SELECT member_id FROM {members}) THEN {member} END"
    parts = [
        f"SELECT {quote_literal(col.name)} AS column_name, v_{col.name} AS value, {typed(col, settings)} AS code, "
        f"member FROM (SELECT {cleaned(col.name)} AS v_{col.name}, {member} AS member "
        "FROM _landing_batch WHERE _malformed IS NULL)"
        for col in source.columns
        if col.type == "code" and not col.pii
    ]
    if parts:
        con.execute(
            "INSERT INTO _inspect_values SELECT column_name, value, code, count(*), "
            f"list_slice(list(DISTINCT member) FILTER (WHERE member IS NOT NULL), 1, {MIN_MEMBERS_SHOWN}) "
            f"FROM ({' UNION ALL '.join(parts)}) GROUP BY ALL"
        )


def _values(con, source: Source) -> tuple[ColumnValues, ...]:
    """Per code column: counts, the most frequent values and most frequent unmapped values that may be shown,
    and the unmapped values that may not, counted by reason. Ranked in SQL: a shifted column
    of mobiles has as many values as rows."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _inspect_judged AS
        WITH summed AS (
          SELECT column_name, value, code, sum(n)::BIGINT AS n, len(list_distinct(flatten(list(members)))) AS members
          FROM _inspect_values GROUP BY ALL
        )
        SELECT *, CASE WHEN code IS NULL AND value IS NOT NULL THEN {personal_data_kind("value", "members")} END
          AS kind
        FROM summed"""
    )
    totals = con.execute(
        "SELECT column_name, count(*), count(*) FILTER (WHERE code IS NULL AND value IS NOT NULL), sum(n)::BIGINT "
        "FROM _inspect_judged GROUP BY ALL"
    ).fetchall()
    top = con.execute(
        """SELECT column_name, value, code, n,
          row_number() OVER (PARTITION BY column_name ORDER BY n DESC, value NULLS LAST) <= $shown AS top,
          row_number() OVER (PARTITION BY column_name, code IS NULL AND value IS NOT NULL ORDER BY n DESC, value)
            <= $shown AND code IS NULL AND value IS NOT NULL AS top_unmapped
        FROM _inspect_judged WHERE kind IS NULL
        QUALIFY top OR top_unmapped
        ORDER BY column_name, n DESC, value NULLS LAST""",
        {"shown": VALUES_SHOWN},
    ).fetchall()
    hidden = con.execute(
        "SELECT column_name, kind, count(*), sum(n)::BIGINT FROM _inspect_judged WHERE kind IS NOT NULL "
        "GROUP BY ALL ORDER BY column_name, 4 DESC, kind"
    ).fetchall()
    found = {}
    for column, distinct, unmapped, rows in totals:
        listed = [(ValueCount(v, n, code), t, u) for c, v, code, n, t, u in top if c == column]
        found[column] = ColumnValues(
            column,
            distinct,
            unmapped,
            rows,
            tuple(value for value, is_top, _ in listed if is_top),
            tuple(value for value, _, is_top_unmapped in listed if is_top_unmapped),
            tuple(NotShown(kind, values, n) for c, kind, values, n in hidden if c == column),
        )
    return tuple(found[c.name] for c in source.columns if c.name in found)


def _reasons(con, source: Source) -> tuple[Reason, ...]:
    rows = con.execute(
        f"""SELECT reason_code, reason_column, count(*) AS n,
          first(source_file ORDER BY source_file, row_number), first(row_number ORDER BY source_file, row_number)
        FROM {QUARANTINE_TABLE} WHERE source = ? GROUP BY ALL ORDER BY n DESC, reason_code, reason_column""",
        [source.name],
    ).fetchall()
    return tuple(Reason(code, column, n, printable(file), record) for code, column, n, file, record in rows)


def _days_over_limit(con, source: Source, settings: Settings) -> tuple[int, int]:
    """(days whose quarantine rate, exact duplicates excluded, is above the limit; days with enough rows to
    be checked), as the load's quarantine-rate check counts them."""
    return con.execute(
        f"""WITH days AS (
          SELECT landing_date, sum(rows_read) AS n, sum(rows_quarantined) AS q FROM {MANIFEST_TABLE}
          WHERE source = $source GROUP BY ALL
        ), duplicates AS (
          SELECT landing_date, count(*) AS d FROM {QUARANTINE_TABLE}
          WHERE source = $source AND reason_code = 'duplicate_row' GROUP BY ALL
        )
        SELECT count(*) FILTER (WHERE (q - coalesce(d, 0)) / (n - coalesce(d, 0)) > $limit), count(*)
        FROM days LEFT JOIN duplicates USING (landing_date) WHERE n - coalesce(d, 0) >= $min_rows""",
        {"source": source.name, "limit": settings.max_quarantine_rate, "min_rows": settings.quarantine_rate_min_rows},
    ).fetchone()


def _describe_source(profile: SourceProfile, limit: float) -> list[str]:
    lines = [f"{profile.source}: {_count(len(profile.files), 'file')}, {_count(profile.rows_read, 'row')} read"]
    for file in profile.files:
        if file.encoding is None:
            lines.append(f"  {file.name}")
        else:
            lines.append(
                f"  {file.name}: {file.encoding}, {_count(file.rows, 'row')}, landing date {file.landing_date}"
            )
            lines.append(f"    columns: {', '.join(file.columns)}")
            if file.ignored_columns:
                lines.append(f"    not in the contract (ignored): {', '.join(file.ignored_columns)}")
            if file.missing_columns:
                lines.append(f"    not delivered: {', '.join(file.missing_columns)}")
        lines += [f"    {note}" for note in file.notes]
    for values in profile.values:
        heading = f"  {values.column}: {_count(values.distinct, 'value')}"
        lines.append(heading + (f", {values.unmapped:,} unmapped" if values.unmapped else ""))
        required = profile.required.get(values.column, False)
        for count in values.top:
            where = f" -> {count.code}" if count.code else (" unmapped" if count.value is not None else "")
            if count.value is None and required:
                where = " missing (a required value)"
            lines.append(f"    {count.shown()} {_count(count.rows, 'row')}{where}")
        for hidden in values.not_shown:
            lines.append(f"    ({not_shown(hidden.kind, hidden.values, hidden.rows)})")
        more = values.distinct - len(values.top) - sum(h.values for h in values.not_shown)
        if more:
            rows = values.rows - sum(c.rows for c in values.top) - sum(h.rows for h in values.not_shown)
            lines.append(f"    ... {_count(more, 'more value')}, {_count(rows, 'row')}")
    if profile.rows_read:
        share = profile.rows_quarantined / profile.rows_read
        line = (
            f"  would be quarantined: {profile.rows_quarantined:,} of {_count(profile.rows_read, 'row')} ({share:.1%})"
        )
        if profile.reasons:
            line += ", by first reason below"
        if profile.days_checked:
            line += (
                f"; {profile.days_over_limit} of {profile.days_checked} day(s) above "
                f"RETENTION_MAX_QUARANTINE_RATE ({limit:g}) would fail the load's check"
            )
        lines.append(line)
    for reason in profile.reasons:
        on = f" on {reason.column}" if reason.column else ""
        lines.append(
            f"    {reason.code}{on}: {_count(reason.rows, 'row')} "
            f"(first: {reason.first_file} record {reason.first_record})"
        )
    if not profile.members_checked:
        lines.append("  member ids not checked: no members files inspected beside these")
    return lines


def _paste_lines(values: ColumnValues) -> list[str]:
    """The column's unmapped values as a line of the vocabulary file: each value whole, in double quotes (a
    JSON string is a YAML double-quoted scalar, so `~`, `- x`, `? x`, `#` and quotes all round-trip).
    Values that differ only in case are one value there, and a value holding a control character or too
    long to show is left out (the vocabulary file refuses the first; the second is better checked by eye)."""
    offered, seen, left_out = [], set(), 0
    for count in values.top_unmapped:
        if count.value.lower() in seen:
            continue
        if printable(count.value, VALUE_SHOWN_CHARS) != count.value:
            left_out += 1
            continue
        seen.add(count.value.lower())
        offered.append(json.dumps(count.value, ensure_ascii=False))
    lines = [f"<code>: [{', '.join(offered)}]"] if offered else []
    more = values.unmapped - len(values.top_unmapped) - sum(h.values for h in values.not_shown)
    if more:
        lines.append(f"# and {_count(more, 'more value')}, less frequent")
    if left_out:
        lines.append(f"# {_count(left_out, 'value')} with control characters or over {VALUE_SHOWN_CHARS} characters")
    for hidden in values.not_shown:
        question = (
            "rare codes, or a shifted column?" if hidden.kind == RARE_KIND else "is a column shifted or mis-named?"
        )
        lines.append(f"# {not_shown(hidden.kind, hidden.values, hidden.rows)}: {question}")
    return lines


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"

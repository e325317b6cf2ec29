"""`retention inspect PATH`: what a load would make of a folder of exports, before the first load.

The files are read by the loader's own reader and checked by the loader's own SQL (`stage_batch`,
`store_batch`) on a throwaway in-memory DuckDB, so the profile says exactly what a load would
quarantine. It shows file names, header names, the values of code columns and reason counts; never a
value of any other column (names, mobiles and ticket texts stay out of the terminal).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import polars as pl

from retention.landing.contract import MEMBERS, SOURCES, Source
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
from retention.landing.vocabulary import Vocabulary, shown_path
from retention.settings import Settings

VALUES_SHOWN = 20  # per code column, most frequent first; unmapped values are always counted
VALUE_SHOWN_CHARS = 40
NAME_SHOWN_CHARS = 64


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
    value: str | None  # escaped and cut; None: empty
    rows: int
    code: str | None  # the contract code it loads as; None: unmapped (or empty)


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
    values: tuple[tuple[str, tuple[ValueCount, ...]], ...]  # (code column, its values)
    rows_read: int
    rows_quarantined: int
    days_over_limit: int
    days_checked: int
    reasons: tuple[Reason, ...]
    members_checked: bool
    required: dict[str, bool]  # code column -> required (an empty value is then quarantined)

    def unmapped(self) -> dict[str, list[str]]:
        """column -> its values that no spelling maps."""
        found = {}
        for column, counts in self.values:
            values = [c.value for c in counts if c.code is None and c.value is not None]
            if values:
                found[column] = values
        return found


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
        unmapped = {f"{p.source}.{c}": v for p in self.sources for c, v in p.unmapped().items()}
        lines.append("")
        if not unmapped:
            lines.append(f"Every code value is mapped: nothing to add to {self.vocabulary_file}.")
            return "\n".join(lines)
        lines.append("Unmapped values, as lines for the vocabulary file (replace <code> by a contract code):")
        for profile in self.sources:
            if profile.unmapped():
                lines.append(f"  {profile.source}:")
            for column, values in profile.unmapped().items():
                shown = ", ".join(_yaml_value(v) for v in values[:VALUES_SHOWN])
                more = f"  # and {len(values) - VALUES_SHOWN} more" if len(values) > VALUES_SHOWN else ""
                lines += [f"    {column}:", f"      <code>: [{shown}]{more}"]
        total = sum(len(v) for v in unmapped.values())
        lines.append(
            f"To load them, map the {total} unmapped value(s) of {', '.join(unmapped)} in {self.vocabulary_file} "
            "(RETENTION_VOCABULARY_FILE; docs/vocabulary.md)."
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
    con = duckdb.connect(":memory:")
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
        "CREATE OR REPLACE TEMP TABLE _inspect_values (column_name VARCHAR, value VARCHAR, code VARCHAR, n BIGINT)"
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
            _count_values(con, source, settings)
            members = raw_table(MEMBERS) if members_checked and source.references_members else None
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
    aliases = {alias.strip().lower(): col.name for col in source.columns for alias in col.header_names}
    mapped = [(name, aliases[name.strip().lower()]) for name in delivered if name.strip().lower() in aliases]
    columns = tuple(printable(name, NAME_SHOWN_CHARS) if name == col else f"{name} -> {col}" for name, col in mapped)
    if result.file.format == "jsonl":
        ignored = tuple(printable(n, NAME_SHOWN_CHARS) for n in delivered if n.strip().lower() not in aliases)
    else:  # the reader shows a name only if it looks like one (a file without a header holds data there)
        ignored = tuple(result.extra_columns)
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


def _delivered_names(con, result: ReadResult) -> list[str]:
    """The header of a CSV file, or every key some line of a JSON lines file gives (first seen first)."""
    if result.file.format == "jsonl":
        con.register("_inspect_lines", result.frame)
        try:
            rows = con.execute(
                "SELECT key FROM (SELECT unnest(keys) AS key, generate_subscripts(keys, 1) AS position, _row_number "
                "FROM (SELECT json_keys(_line) AS keys, _row_number FROM _inspect_lines "
                "WHERE json_valid(_line) AND json_type(_line) = 'OBJECT')) "
                "GROUP BY key ORDER BY min((_row_number, position)), key"
            ).fetchall()
        finally:
            con.unregister("_inspect_lines")
        return [key for (key,) in rows]
    text = result.file.path.read_bytes().decode(result.encoding)
    header = next((line for line in text.splitlines() if line.strip()), "")
    return pl.read_csv(io.StringIO(header + "\n"), n_rows=0, infer_schema=False).columns


def _count_values(con, source: Source, settings: Settings) -> None:
    """Each code column's delivered values (trimmed, as checked) in the staged batch, with the code each loads as."""
    parts = [
        f"SELECT {quote_literal(col.name)} AS column_name, v_{col.name} AS value, {typed(col, settings)} AS code "
        f"FROM (SELECT {cleaned(col.name)} AS v_{col.name} FROM _landing_batch WHERE _malformed IS NULL)"
        for col in source.columns
        if col.type == "code" and not col.pii
    ]
    if parts:
        con.execute(f"INSERT INTO _inspect_values SELECT *, count(*) FROM ({' UNION ALL '.join(parts)}) GROUP BY ALL")


def _values(con, source: Source) -> tuple[tuple[str, tuple[ValueCount, ...]], ...]:
    rows = con.execute(
        "SELECT column_name, value, code, sum(n)::BIGINT AS n FROM _inspect_values GROUP BY ALL "
        "ORDER BY column_name, n DESC, value NULLS LAST"
    ).fetchall()
    by_column: dict[str, list[ValueCount]] = {}
    for column, value, code, n in rows:
        shown = None if value is None else printable(value, VALUE_SHOWN_CHARS)
        by_column.setdefault(column, []).append(ValueCount(shown, n, code))
    return tuple((c.name, tuple(by_column[c.name])) for c in source.columns if c.name in by_column)


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
    lines = [f"{profile.source}: {len(profile.files)} file(s), {profile.rows_read:,} rows read"]
    for file in profile.files:
        if file.encoding is None:
            lines.append(f"  {file.name}")
        else:
            lines.append(f"  {file.name}: {file.encoding}, {file.rows:,} rows, landing date {file.landing_date}")
            lines.append(f"    columns: {', '.join(file.columns)}")
            if file.ignored_columns:
                lines.append(f"    not in the contract (ignored): {', '.join(file.ignored_columns)}")
            if file.missing_columns:
                lines.append(f"    not delivered: {', '.join(file.missing_columns)}")
        lines += [f"    {note}" for note in file.notes]
    for column, counts in profile.values:
        unmapped = [c for c in counts if c.code is None and c.value is not None]
        heading = f"  {column}: {len(counts)} value(s)"
        lines.append(heading + (f", {len(unmapped)} unmapped" if unmapped else ""))
        # The most frequent values, and every unmapped one: each needs a line in the vocabulary file.
        shown = [c for i, c in enumerate(counts) if i < VALUES_SHOWN or c in unmapped]
        required = profile.required.get(column, False)
        for count in shown:
            value = "(empty)" if count.value is None else f'"{count.value}"'
            where = f" -> {count.code}" if count.code else (" unmapped" if count.value is not None else "")
            if count.value is None and required:
                where = " missing (a required value)"
            lines.append(f"    {value} {count.rows:,} {'row' if count.rows == 1 else 'rows'}{where}")
        if len(counts) > len(shown):
            rest = counts[len(shown) :]
            lines.append(f"    ... {len(rest)} more value(s), {sum(c.rows for c in rest):,} rows")
    if profile.rows_read:
        share = profile.rows_quarantined / profile.rows_read
        line = f"  would be quarantined: {profile.rows_quarantined:,} of {profile.rows_read:,} rows ({share:.1%})"
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
            f"    {reason.code}{on}: {reason.rows:,} {'row' if reason.rows == 1 else 'rows'} "
            f"(first: {reason.first_file} record {reason.first_record})"
        )
    if not profile.members_checked:
        lines.append("  member ids not checked: no members files inspected beside these")
    return lines


def _yaml_value(value: str) -> str:
    """A value as it can be pasted into the vocabulary file's flow list."""
    plain = value and value.strip() == value and not any(ch in value for ch in ":#,[]{}'\"&*!|>%@`\\")
    return value if plain else "'" + value.replace("'", "''") + "'"

"""The staff review file of a win-back campaign: members to leave out of (or force into) the contact list.

Operations staff (运营专员) read the high-risk list before anyone is contacted and list, in a CSV they
edit in Excel, the members to exclude (a VIP in a dispute, a member who asked not to be phoned) or to
include. The file is small (hundreds of rows) and hand-made, so it is read forgivingly where Excel
differs from a program (BOM, GBK, CRLF, blank and comment lines, stray spaces, Chinese headers) and
strictly where a mistake would contact the wrong member: a row that cannot be read for sure is skipped
and reported by line, never guessed at and never dropped in silence.

Reason and reviewer are free text a person typed and may hold a name or a phone number: they are never
shown in a problem. A member_key that is not a key is not shown either (it may be a phone number typed
in the wrong column); a valid key is a pseudonym and may be shown, shortened.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Collection, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

from retention.landing.safe_text import printable

REASON_MAX_CHARS = 200

# Canonical column -> the header names staff may use (compared stripped and lower-cased).
_HEADER_NAMES = {
    "member_key": ("member_key", "会员标识"),
    "action": ("action", "操作"),
    "reason": ("reason", "原因"),
    "reviewer": ("reviewer", "审核人"),
    "wave_id": ("wave_id",),
}
_REQUIRED = ("member_key", "action", "reason")
_ACTIONS = {"exclude": "exclude", "include": "include", "排除": "exclude", "纳入": "include"}
_ACTIONS_SHOWN = "exclude/include (排除/纳入)"
_MEMBER_KEY = re.compile(r"[0-9a-fA-F]{64}")
# A header field holding a value rather than a name: a member key, an action, a long digit run (a
# phone or an id card), an e-mail address. Such a first line is a data row of a file without a header.
_VALUE_LIKE = re.compile(r"[0-9a-fA-F]{64}|\d{5,}|@|exclude|include|排除|纳入", re.IGNORECASE)
# A wave_id is shown in a problem only if it looks like one: it is typed by hand like the rest, and a
# run of digits in it may be a phone number pasted in the wrong column.
_SHOWABLE_WAVE = re.compile(r"(?!.*\d{5})[A-Za-z0-9_.-]{1,40}")
# Nor is an action holding such a run (a mistyped action, 不联系 or drop, is shown: it helps to fix it).
_DIGIT_RUN = re.compile(r"\d{5,}")


@dataclass(frozen=True)
class ReviewEntry:
    line: int  # 1-based physical line of the file where the row starts
    member_key: str  # lower-case hex
    action: str  # 'exclude' | 'include'
    reason: str
    reviewer: str | None
    wave_id: str | None  # None: every wave of the campaign


@dataclass(frozen=True)
class ReviewProblem:
    line: int
    problem: str  # names the column and why; never the reason, the reviewer or a whole row


@dataclass(frozen=True)
class ReviewFile:
    path: Path
    entries: tuple[ReviewEntry, ...]
    problems: tuple[ReviewProblem, ...]


@dataclass(frozen=True)
class ReviewOutcome:
    excluded: frozenset[str]
    included: frozenset[str]
    unknown_keys: tuple[ReviewEntry, ...]  # entries naming no known member: reported, not applied


class ReviewFileError(Exception):
    """The review file as a whole cannot be read; names the file (escaped) and the problem."""

    def __init__(self, path: Path, problem: str):
        # Not cut short: the message must find the file.
        self.file = printable(str(path), limit=None)
        self.problem = problem
        super().__init__(f"review file {self.file}: {problem}")


def load_review(path: Path, wave_ids: Collection[str]) -> ReviewFile:
    """The entries of the review file at `path` and the problems of the rows that were skipped.

    A missing file is no review. `wave_ids` are the campaign's waves: a row naming another wave is a
    problem. The same member listed twice for the same wave scope (one wave, or all of them) with
    different actions is a problem on every one of those rows, and none of them applies; with the same
    action the first row applies and the later ones are reported as duplicates.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ReviewFile(path, (), ())
    except OSError as exc:
        raise ReviewFileError(path, f"cannot be read: {exc.strerror}") from exc
    records = iter(_records(_decode(data, path), path))
    header = next(records, None)
    if header is None:  # nothing but blank and comment lines: nothing to review
        return ReviewFile(path, (), ())
    columns = _columns(header, path)
    waves = _WaveNames(wave_ids)
    entries: list[ReviewEntry] = []
    problems: list[ReviewProblem] = []
    for record in records:
        entry, found = _entry(record, columns, len(header.fields), waves)
        problems += found
        if entry is not None:
            entries.append(entry)
    kept, found = _without_repeats(entries)
    problems += found
    problems.sort(key=lambda p: p.line)  # stable: a row's own problems keep their column order
    return ReviewFile(path, tuple(kept), tuple(problems))


def apply_review(review: ReviewFile, wave_id: str, known_keys: Collection[str]) -> ReviewOutcome:
    """The members `review` excludes from and includes in wave `wave_id`.

    Entries for every wave (wave_id None) and for `wave_id` apply. Where a member has both, the entry for
    this wave wins: staff narrowing a campaign-wide decision for one wave ("exclude, but include in
    wave_3 once the dispute is settled"). Entries whose key is not in `known_keys` are returned in
    `unknown_keys` and not applied.
    """
    known = known_keys if isinstance(known_keys, AbstractSet | dict) else set(known_keys)
    applying: dict[str, ReviewEntry] = {}
    for entry in review.entries:
        if entry.wave_id is None:
            applying.setdefault(entry.member_key, entry)
    for entry in review.entries:
        if entry.wave_id == wave_id:
            applying[entry.member_key] = entry
    chosen = sorted(applying.values(), key=lambda e: e.line)
    unknown = tuple(e for e in chosen if e.member_key not in known)
    applied = [e for e in chosen if e.member_key in known]
    return ReviewOutcome(
        excluded=frozenset(e.member_key for e in applied if e.action == "exclude"),
        included=frozenset(e.member_key for e in applied if e.action == "include"),
        unknown_keys=unknown,
    )


def describe_problems(review: ReviewFile, limit: int = 20) -> list[str]:
    """One line per problem, for a log or a message to staff; at most `limit` of them and a count of the rest."""
    if limit < 0:
        raise ValueError(f"limit must be 0 or more, not {limit}")
    name = printable(review.path.name)
    lines = [f"review file {name} line {p.line}: {p.problem}" for p in review.problems[:limit]]
    if len(review.problems) > limit:
        lines.append(f"… and {len(review.problems) - limit} more")
    return lines


# ---------------------------------------------------------------- reading the file


def _decode(data: bytes, path: Path) -> str:
    """The file's text: UTF-8 (with or without Excel's BOM), else GB18030, which Chinese Excel writes."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ReviewFileError(path, 'is UTF-16 (Excel\'s "Unicode Text"); save it as "CSV UTF-8" or CSV')
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as utf8_error:
        if data.startswith(codecs.BOM_UTF8):
            raise ReviewFileError(
                path, f"starts with a UTF-8 byte-order mark but byte {utf8_error.start} is not UTF-8"
            ) from utf8_error
        try:
            return data.decode("gb18030").removeprefix("\ufeff")
        except UnicodeDecodeError as gb_error:
            raise ReviewFileError(
                path,
                f"is neither UTF-8 (byte {utf8_error.start} is not) nor GBK/GB18030 (byte {gb_error.start} is "
                'not); save it as "CSV UTF-8"',
            ) from gb_error


@dataclass(frozen=True)
class _Record:
    first_line: int
    last_line: int  # a quoted field may hold line breaks
    fields: list[str]
    # A line after the first holds a member key: a quote left open has joined other members' rows into
    # this one, which would otherwise pass as one entry with a long reason and lose the rows it swallowed.
    joins_rows: bool = False


class _PhysicalLines:
    """The file's lines for `csv.reader`, counted. A comment line ('#' first) is handed over as a blank
    line, but only at the start of a record: inside a quoted field it is text."""

    def __init__(self, text: str):
        self._lines = io.StringIO(text, newline="")  # splits at \n, \r\n and \r, as csv does
        self.count = 0
        self.record_text: list[str] = []
        self._at_record_start = True

    def start_record(self) -> None:
        self._at_record_start = True
        self.record_text = []

    def __iter__(self) -> _PhysicalLines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.count += 1
        comment = self._at_record_start and line.lstrip().startswith("#")
        self._at_record_start = False
        handed = "\n" if comment else line
        self.record_text.append(handed)
        return handed


def _records(text: str, path: Path) -> Iterator[_Record]:
    """The CSV records of `text` with their line numbers; blank lines, comment lines and rows of empty
    cells (Excel writes `,,,` for a row that once had formatting) are left out."""
    lines = _PhysicalLines(text)
    reader = csv.reader(lines)
    while True:
        lines.start_record()
        first = lines.count + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # its messages name at most a character of the data
            raise ReviewFileError(path, f"line {lines.count}: not CSV ({printable(exc, 80)})") from exc
        if _ends_inside_quote("".join(lines.record_text)):
            # csv.reader quietly takes the rest of the file into the open field: those rows would be lost.
            raise ReviewFileError(path, f"a quote opened on line {first} is never closed: the file ends inside it")
        if any(field.strip() for field in fields):
            joins_rows = any(_MEMBER_KEY.search(line) for line in lines.record_text[1:])
            yield _Record(first, lines.count, fields, joins_rows)


def _ends_inside_quote(raw: str) -> bool:
    """Whether a record's text ends inside a quoted field, read as `csv.reader` reads it (a quote opens a
    field only at its start; `""` inside one is a quote)."""
    inside, field_start, i = False, True, 0
    while i < len(raw):
        ch = raw[i]
        if inside and ch == '"':
            if raw[i + 1 : i + 2] == '"':
                i += 1
            else:
                inside = False
        elif not inside and ch == '"' and field_start:
            inside = True
        field_start = not inside and ch in ",\r\n"
        i += 1
    return inside


def _columns(header: _Record, path: Path) -> dict[str, int]:
    """Canonical column name -> its field position, from the header record."""
    aliases = {alias.lower(): column for column, names in _HEADER_NAMES.items() for alias in names}
    columns: dict[str, int] = {}
    for position, name in enumerate(header.fields):
        column = aliases.get(name.strip().lower())
        if column is None:
            continue  # a column staff added for themselves (notes): not read
        if column in columns:
            raise ReviewFileError(
                path,
                f"the header (line {header.first_line}) has two columns meaning {column}: "
                f"fields {columns[column] + 1} and {position + 1}",
            )
        columns[column] = position
    missing = [c for c in _REQUIRED if c not in columns]
    if not missing:
        return columns
    value_like = [str(i + 1) for i, name in enumerate(header.fields) if _VALUE_LIKE.search(name)]
    if value_like:
        raise ReviewFileError(
            path,
            f"line {header.first_line} does not look like a header: field(s) {', '.join(value_like[:10])} hold "
            "values such as member keys, actions or phone numbers (not shown); the first line must name the "
            f"columns: {_column_list()}",
        )
    shown = ", ".join(f"{c} ({_HEADER_NAMES[c][1]})" if len(_HEADER_NAMES[c]) > 1 else c for c in missing)
    found = ", ".join(columns) or "none"
    raise ReviewFileError(
        path,
        f"the header (line {header.first_line}) has no column {shown}; recognised: {found}. Columns: {_column_list()}",
    )


def _column_list() -> str:
    return "member_key (会员标识), action (操作), reason (原因), and optionally reviewer (审核人), wave_id"


# ---------------------------------------------------------------- checking the rows


class _WaveNames:
    """The campaign's wave ids, matched as typed or ignoring case (Excel users type `Wave_1`)."""

    def __init__(self, wave_ids: Collection[str]):
        self._exact = set(wave_ids)
        self._folded = {w.lower(): w for w in sorted(wave_ids)}
        self.shown = ", ".join(printable(w, 40) for w in sorted(wave_ids)) or "the campaign has no waves"

    def find(self, typed: str) -> str | None:
        return typed if typed in self._exact else self._folded.get(typed.lower())


def _entry(
    record: _Record, columns: dict[str, int], width: int, waves: _WaveNames
) -> tuple[ReviewEntry | None, list[ReviewProblem]]:
    """The entry of one data record, or None and every problem found in it."""
    line = record.first_line
    if record.joins_rows:
        problem = (
            f"a quote opened on line {line} is closed only on line {record.last_line}, joining the rows of lines "
            f"{line}-{record.last_line} into one; none of them is applied: close the quote on line {line}"
        )
        return None, [ReviewProblem(line, problem)]
    if len(record.fields) != width:
        where = f"line {line}" if record.last_line == line else f"the record on lines {line}-{record.last_line}"
        joined = "" if record.last_line == line else " (a quote joins these lines: is one left open?)"
        return None, [ReviewProblem(line, f"{where} has {len(record.fields)} fields, the header has {width}{joined}")]

    def value(column: str) -> str:
        return record.fields[columns[column]].strip() if column in columns else ""

    problems: list[str] = []
    key = value("member_key")
    if not key:
        problems.append("member_key is empty")
    elif not _MEMBER_KEY.fullmatch(key):
        problems.append(f"member_key is not a 64-character hex SHA-256 key ({len(key)} characters; not shown)")
    typed_action = value("action")
    action = _ACTIONS.get(typed_action.lower())
    if not typed_action:
        problems.append(f"action is empty; expected {_ACTIONS_SHOWN}")
    elif action is None:
        shown = "(not shown)" if _DIGIT_RUN.search(typed_action) else f'"{printable(typed_action, limit=40)}"'
        problems.append(f"action {shown} is not {_ACTIONS_SHOWN}")
    reason = value("reason")
    if not reason:
        problems.append("reason is empty; say why the member is excluded or included")
    elif len(reason) > REASON_MAX_CHARS:
        problems.append(f"reason has {len(reason)} characters, at most {REASON_MAX_CHARS} are allowed")
    typed_wave = value("wave_id")
    wave = waves.find(typed_wave) if typed_wave else None
    if typed_wave and wave is None:
        shown = f'"{typed_wave}"' if _SHOWABLE_WAVE.fullmatch(typed_wave) else "(not shown)"
        problems.append(f"wave_id {shown} is not a wave of this campaign ({waves.shown}); leave it empty for all")
    if problems:
        return None, [ReviewProblem(line, p) for p in problems]
    entry = ReviewEntry(line, key.lower(), action, reason, value("reviewer") or None, wave)
    return entry, []


def _without_repeats(entries: list[ReviewEntry]) -> tuple[list[ReviewEntry], list[ReviewProblem]]:
    """Entries with a member listed once per wave scope: conflicting rows are all dropped and reported,
    a repeated row with the same action is dropped and reported as a duplicate of the first."""
    groups: dict[tuple[str, str | None], list[ReviewEntry]] = {}
    for entry in entries:
        groups.setdefault((entry.member_key, entry.wave_id), []).append(entry)
    kept: list[ReviewEntry] = []
    problems: list[ReviewProblem] = []
    for (key, wave), group in groups.items():
        scope = f" for {wave}" if wave else ""
        actions = sorted({e.action for e in group})
        if len(actions) > 1:
            lines = _and([str(e.line) for e in group])
            problem = (
                f"member_key {_short(key)} has conflicting actions{scope} on lines {lines} "
                f"({' and '.join(actions)}); none of them is applied"
            )
            problems += [ReviewProblem(e.line, problem) for e in group]
            continue
        kept.append(group[0])
        problems += [
            ReviewProblem(
                e.line,
                f"member_key {_short(key)} is listed again{scope} (first on line {group[0].line}, "
                "same action); this line is ignored",
            )
            for e in group[1:]
        ]
    kept.sort(key=lambda e: e.line)
    return kept, problems


def _short(key: str) -> str:
    """A member key shortened for a message: enough to find it with Ctrl+F."""
    return key[:12] + "…"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"

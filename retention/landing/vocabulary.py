"""A deployment's own spellings of the contract's codes, read from a versioned YAML file.

The contract's built-in aliases stay the defaults; the vocabulary file adds a retailer's spellings
(`product_view` for `page_view`) without touching code. Mapped values are matched like the
built-in ones: trimmed exactly as the loader trims a delivered value, and case-insensitively. The
file is checked as a whole when it is read, and every problem names its line, so a typo fails when
the definitions load, not in the middle of a run.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from retention.landing.contract import SOURCES, Column, Source
from retention.landing.rules import NULL_TOKENS
from retention.landing.safe_text import printable
from retention.settings import project_root

VERSION = "1"
SHOWN_CHARS = 60  # of a value or key quoted in an error: the offending value, never more
# What DuckDB's trim() removes from both ends of a delivered value (rules.cleaned): the Unicode space
# separators (category Zs), and not tabs or line breaks. tests/test_vocabulary.py checks it against DuckDB.
SPACES = " \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
# Characters no mapped value may hold: `safe_text.printable` escapes them, so a value holding one could
# neither be read back from a message nor pasted, and a NUL breaks the loader's SQL.
_INVISIBLE = ("Cc", "Cf", "Zl", "Zp")


class VocabularyError(ValueError):
    """The vocabulary file cannot be used; `problems` are (line, text) pairs, line None for the file."""

    def __init__(self, path: Path, problems: list[tuple[int | None, str]]):
        self.path = path
        self.problems = sorted(problems, key=lambda problem: problem[0] or 0)
        problems = self.problems
        where = [f"line {line}: {text}" if line else text for line, text in problems]
        file = shown_path(path)
        if len(where) == 1:
            message = f"vocabulary file {file}, {where[0]}"
        else:
            message = f"vocabulary file {file} has {len(where)} problems:\n" + "\n".join(f"  {w}" for w in where)
        super().__init__(message)


@dataclass(frozen=True)
class Vocabulary:
    path: Path
    # (source, column) -> contract code -> the deployment's spellings of it, trimmed, as written in the file.
    mappings: Mapping[tuple[str, str], Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    def applied_to(self, source: Source) -> Source:
        """`source` with the mapped spellings added to its code columns (built-in spellings first)."""
        columns = []
        for col in source.columns:
            extra = self.mappings.get((source.name, col.name))
            if extra:
                codes = {code: (*spellings, *extra.get(code, ())) for code, spellings in col.codes.items()}
                col = replace(col, codes=codes)
            columns.append(col)
        return replace(source, columns=tuple(columns))


def shown_path(path: Path) -> str:
    """The file as people should read it in a message: relative to the repository when inside it, escaped."""
    path = Path(path)
    if path.resolve().is_relative_to(project_root()):
        path = path.resolve().relative_to(project_root())
    return printable(path.as_posix(), limit=None)


def load_vocabulary(path: Path) -> Vocabulary:
    """Read and check the vocabulary file; raises VocabularyError listing every problem with its line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise VocabularyError(path, [(None, "the file does not exist (set RETENTION_VOCABULARY_FILE)")]) from None
    except OSError as exc:
        raise VocabularyError(path, [(None, f"cannot be read: {printable(exc.strerror)}")]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise VocabularyError(path, [(data.count(b"\n", 0, exc.start) + 1, "not UTF-8 text")]) from None
    try:
        # compose, not load: nodes keep their line, and scalars their text as written (`yes` stays "yes").
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        # PyYAML quotes a character as its repr ('\\t'): escaped once already.
        problem = f"not valid YAML: {printable(exc.problem or exc.context, 120, escape_backslash=False)}"
        if exc.problem and exc.context and exc.context_mark is not None and exc.context_mark.line + 1 != line:
            # The parser notices a missing `]` where the file ends; the line it opened on is the one to fix.
            problem += f" ({printable(exc.context, 80)} started on line {exc.context_mark.line + 1})"
        raise VocabularyError(path, [(line, problem)]) from None
    except yaml.YAMLError as exc:
        raise VocabularyError(path, [(None, f"not valid YAML: {printable(type(exc).__name__)}")]) from None
    reader = _Reader()
    mappings = reader.document(root)
    if reader.problems:
        raise VocabularyError(path, reader.problems)
    return Vocabulary(path, mappings)


def trimmed(value: str) -> str:
    """`value` trimmed as the loader trims a delivered value."""
    return value.strip(SPACES)


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _shown(text: str) -> str:
    return f"`{printable(text, SHOWN_CHARS)}`"


def _names(names) -> str:
    return ", ".join(names)


class _Reader:
    """Walks the composed YAML, recording a problem per bad entry instead of stopping at the first."""

    def __init__(self):
        self.problems: list[tuple[int | None, str]] = []

    def problem(self, node: yaml.Node, text: str) -> None:
        self.problems.append((_line(node), text))

    def entries(self, node: yaml.Node, what: str) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
        """The (key, value) pairs of a mapping node; an empty entry (`events:`) has none. A key given twice
        is a problem (YAML loaders silently keep the last one, which would drop mappings unseen)."""
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
            return []
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{what} must be a mapping")
            return []
        pairs, seen = [], {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                self.problem(key, f"a key of {what} must be a plain name")
            elif key.value in seen:
                self.problem(key, f"{_shown(key.value)} is given twice in {what} (first on line {seen[key.value]})")
            else:
                seen[key.value] = _line(key)
                pairs.append((key, value))
        return pairs

    def document(self, root: yaml.Node | None) -> dict[tuple[str, str], dict[str, tuple[str, ...]]]:
        if root is None:
            self.problems.append((1, f"the file is empty; it must start with `version: {VERSION}`"))
            return {}
        entries = self.entries(root, "the file")
        keys = {key.value: (key, value) for key, value in entries}
        if "version" not in keys:
            if isinstance(root, yaml.MappingNode):
                self.problem(root, f"`version: {VERSION}` is missing")
        else:
            key, value = keys["version"]
            if not isinstance(value, yaml.ScalarNode) or value.value.strip() != VERSION:
                shown = _shown(value.value) if isinstance(value, yaml.ScalarNode) else "not a number"
                self.problem(value, f"version {shown} is not one this pipeline reads (version {VERSION})")
        mappings = {}
        for key, value in entries:
            if key.value == "version":
                continue
            source = SOURCES.get(key.value)
            if source is None:
                self.problem(key, f"unknown source {_shown(key.value)} (sources: {_names(SOURCES)})")
                continue
            mappings.update(self.source(source, value))
        return mappings

    def source(self, source: Source, node: yaml.Node) -> dict[tuple[str, str], dict[str, tuple[str, ...]]]:
        code_columns = [c.name for c in source.columns if c.type == "code"]
        found = {}
        aliases = {alias.strip().lower(): c.name for c in source.columns for alias in c.header_names}
        for key, value in self.entries(node, f"`{source.name}`"):
            meant = aliases.get(key.value.strip().lower())
            if key.value not in source.column_names and meant in code_columns:
                self.problem(
                    key,
                    f"unknown column {_shown(key.value)} of {source.name}: write it `{meant}` (the contract's "
                    "name; other spellings name a column in an export only)",
                )
            elif key.value not in source.column_names:
                self.problem(
                    key,
                    f"unknown column {_shown(key.value)} of {source.name} (code columns: {_names(code_columns)})",
                )
            elif key.value not in code_columns:
                self.problem(
                    key,
                    f"{_shown(key.value)} of {source.name} is not a code column (code columns: {_names(code_columns)})",
                )
            else:
                column = self.column(source, source.column(key.value), value)
                if column:
                    found[(source.name, key.value)] = column
        return found

    def column(self, source: Source, col: Column, node: yaml.Node) -> dict[str, tuple[str, ...]]:
        where = f"{source.name}.{col.name}"
        built_in = {trimmed(s).lower(): code for code, spellings in col.codes.items() for s in (code, *spellings)}
        mapped: dict[str, tuple[str, int]] = {}  # lowered value -> (code, line) of its first mapping
        codes: dict[str, list[str]] = {}
        for key, value in self.entries(node, f"`{where}`"):
            code = key.value
            if code not in col.codes:
                self.problem(key, f"unknown code {_shown(code)} for {where} (codes: {_names(col.codes)})")
                continue
            for item in self.values(value, where, code):
                text, line = trimmed(item.value), _line(item)
                lowered = text.lower()
                if lowered in mapped:
                    first_code, first_line = mapped[lowered]
                    if first_code == code:
                        twice = f"to `{code}` twice in {where} (first on line {first_line})"
                    else:
                        twice = f"twice in {where}: to `{first_code}` on line {first_line} and to `{code}` here"
                    self.problem(item, f"{_shown(text)} is mapped {twice}")
                elif built_in.get(lowered, code) != code:
                    self.problem(
                        item,
                        f"{_shown(text)} already means `{built_in[lowered]}` in {where} (a built-in spelling, "
                        f"retention/landing/contract.py); it cannot also mean `{code}`",
                    )
                else:
                    mapped[lowered] = (code, line)
                    codes.setdefault(code, []).append(text)
        return {code: tuple(values) for code, values in codes.items()}

    def values(self, node: yaml.Node, where: str, code: str) -> list[yaml.ScalarNode]:
        """The values mapped to one code: a list, or a single value; each must be a plain, non-empty value."""
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        usable = []
        for item in items:
            if not isinstance(item, yaml.ScalarNode):
                self.problem(item, f"the values mapped to `{code}` in {where} must be a list of plain values")
            elif item.tag.endswith(":null") or trimmed(item.value).lower() in NULL_TOKENS:
                shown = _shown(item.value) if trimmed(item.value) else "an empty value"
                self.problem(item, f"{shown} is read as a missing value, so it cannot be mapped to `{code}`")
            elif any(unicodedata.category(ch) in _INVISIBLE for ch in item.value):
                self.problem(
                    item,
                    f"{_shown(item.value)} holds a control or invisible character (shown escaped); "
                    f"it cannot be mapped to `{code}`",
                )
            else:
                usable.append(item)
        return usable

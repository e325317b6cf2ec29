"""The detector's rules, read from patterns.yaml and checked before any ticket is scored.

A broken rule must stop the load with the line to fix, never silently match nothing: each pattern is
compiled by the same regex engine that will run it (Polars' Rust regex).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl
import yaml

from retention.landing.safe_text import printable

PATTERNS_FILE = Path(__file__).with_name("patterns.yaml")
TRADITIONAL_FILE = Path(__file__).with_name("traditional_chars.txt")
COMPETITOR, NO_LONGER_NEEDED, NONE = "competitor", "no_longer_needed", "none"
CATEGORIES = (COMPETITOR, NO_LONGER_NEEDED, NONE)
# The code that reads the rules: a change to it (or to the regex engine's version) re-scores every text
# even when patterns.yaml is unchanged.
_ENGINE_SOURCES = (Path(__file__), Path(__file__).with_name("detector.py"))

# The lists a rule may require besides its own match.
REQUIRABLE = ("rival_mentions", "leaving_reasons")
_OPTIONAL = ("requires", "unless_staying")
_TERM = re.compile(r"<([A-Z_]+)>")
# `\b` in the rules is an ASCII word boundary: in Unicode mode a Chinese character counts as a word
# character, and "帮我cancel" would have no boundary before "cancel".
_ASCII_BOUNDARY = "(?-u:\\b)"
# A free-text gap of a pattern ("取消[^,]{0,6}会员", "cancel (?:[a-z'-]+\s+){0,2}membership"): whatever the
# customer wrote there (a name, a phone number) is not shown in the evidence. A gap is a negated or
# letter class, or a group holding one, repeated by a range, `*` or `+`; or `\w+`.
_REPEAT = r"(?:\{\d*,\d*\}|[*+])\??"
_GAP = re.compile(
    "|".join(
        (
            rf"\(\?:[^()]*\[[^()]*\){_REPEAT}",  # (?:[a-z']+\s+){0,2}
            rf"\[\^(?:\\.|[^\]\\])*\]{_REPEAT}",  # [^,]{0,6}
            rf"\[(?:\\.|[^\]\\])*a-z(?:\\.|[^\]\\])*\]{_REPEAT}",  # [a-z ]{0,10}
            r"\\w\+",
        )
    )
)


class RulesError(ValueError):
    """patterns.yaml cannot be used; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class Rule:
    id: str
    pattern: str
    category: str = NONE
    # Counts only in a ticket that also matches this list ("I'm switching" alone says not where to):
    # "rival_mentions" or "leaving_reasons"; empty: counts alone.
    requires: str = ""
    # Silenced in a ticket that says the customer stays ("我还是想在你们这买", "I'd rather buy from you").
    unless_staying: bool = False
    # The pattern again, the whole match in group `all` and each free-text gap in a group of its own, so that
    # the evidence shows the trigger words and "…" for what the customer wrote between them.
    evidence: str = ""


@dataclass(frozen=True)
class RuleSet:
    question: str
    request: str
    hypothetical: str
    negated_intent: tuple[Rule, ...]
    rules: tuple[Rule, ...]
    rival_mentions: tuple[Rule, ...]
    leaving_reasons: tuple[Rule, ...]
    staying: tuple[Rule, ...]
    # A clause none of whose words matches `triggers` matches no rule: the cheap first pass.
    triggers: str
    # Traditional characters and their Simplified forms (traditional_chars.txt), replaced before matching.
    traditional: tuple[str, ...]
    simplified: tuple[str, ...]
    version: str


@cache
def load_rules(path: Path = PATTERNS_FILE, traditional_path: Path = TRADITIONAL_FILE) -> RuleSet:
    """The rules in `path`, every term expanded and every pattern compiled once to check it."""
    raw = path.read_bytes()
    traditional, simplified = _character_map(traditional_path)
    where = printable(str(path), limit=None)
    try:
        root = yaml.compose(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        raise RulesError(f"{where}: not a readable YAML file ({printable(error, limit=300)})") from None
    if not isinstance(root, yaml.MappingNode):
        raise RulesError(f"{where}: expected a mapping of sections at the top")
    sections = {key.value: value for key, value in root.value}
    terms = _terms(sections.get("terms"), where)

    def scalar(name: str) -> str:
        node = _required(sections, name, where, root)
        return _pattern(node, terms, f"{name}", where)

    # Ids are unique across the lists: the evidence names them.
    seen: set[str] = set()

    def rule_list(name: str, categorised: bool = False) -> tuple[Rule, ...]:
        return _rule_list(_required(sections, name, where, root), terms, where, categorised, seen)

    return RuleSet(
        question=scalar("question"),
        request=scalar("request"),
        hypothetical=scalar("hypothetical"),
        negated_intent=rule_list("negated_intent"),
        rules=rule_list("rules", categorised=True),
        rival_mentions=rule_list("rival_mentions"),
        leaving_reasons=rule_list("leaving_reasons"),
        staying=rule_list("staying"),
        triggers=scalar("triggers"),
        traditional=traditional,
        simplified=simplified,
        version=_version(raw, traditional_path.read_bytes()),
    )


def _version(*data: bytes) -> str:
    """A hash of the rules, the character map, the code reading them and the regex engine's version."""
    digest = hashlib.sha256()
    for part in (*data, *(source.read_bytes() for source in _ENGINE_SOURCES), pl.__version__.encode()):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:16]


def _character_map(path: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Lines `TRADITIONAL SIMPLIFIED` of single characters; `#` starts a comment."""
    where = printable(str(path), limit=None)
    pairs: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) != 2 or any(len(field) != 1 for field in fields):
            raise RulesError(f"{where}: line {number}: expected one traditional and one simplified character")
        if fields[0] in pairs:
            raise RulesError(f"{where}: line {number}: {printable(fields[0])} is mapped twice")
        pairs[fields[0]] = fields[1]
    return tuple(pairs), tuple(pairs.values())


def _required(sections: dict, name: str, where: str, root: yaml.Node) -> yaml.Node:
    if name not in sections:
        raise RulesError(f"{where}: line {root.start_mark.line + 1}: the section `{name}` is missing")
    return sections[name]


def _terms(node: yaml.Node | None, where: str) -> dict[str, str]:
    terms: dict[str, str] = {}
    if node is None:
        return terms
    if not isinstance(node, yaml.MappingNode):
        raise RulesError(f"{where}: line {node.start_mark.line + 1}: `terms` must map NAME to a pattern")
    for key, value in node.value:
        if key.value in terms:
            raise RulesError(f"{where}: line {key.start_mark.line + 1}: the term {printable(key.value)} twice")
        terms[key.value] = _pattern(value, terms, f"term {key.value}", where, is_term=True)
    return terms


def _rule_list(
    node: yaml.Node, terms: dict[str, str], where: str, categorised: bool, seen: set[str]
) -> tuple[Rule, ...]:
    if not isinstance(node, yaml.SequenceNode):
        raise RulesError(f"{where}: line {node.start_mark.line + 1}: expected a list of rules")
    rules = []
    for item in node.value:
        line = item.start_mark.line + 1
        if not isinstance(item, yaml.MappingNode):
            raise RulesError(f"{where}: line {line}: a rule must be a mapping with id and pattern")
        fields = {key.value: value for key, value in item.value}
        expected = {"id", "pattern", "category"} if categorised else {"id", "pattern"}
        optional = set(_OPTIONAL) if categorised else set()
        if not expected <= set(fields) <= expected | optional:
            names = ", ".join(sorted(expected)) + (" (and optionally requires, unless_staying)" if optional else "")
            raise RulesError(f"{where}: line {line}: a rule has the fields {names}")
        rule_id = fields["id"].value
        if not isinstance(rule_id, str) or not re.fullmatch(r"[a-z_]+\.[a-z0-9_]+", rule_id):
            raise RulesError(f"{where}: line {line}: the id {printable(rule_id)} is not `group.name`")
        if rule_id in seen:
            raise RulesError(f"{where}: line {line}: the id {rule_id} is used twice")
        seen.add(rule_id)
        category = fields["category"].value if categorised else NONE
        if categorised and category not in (COMPETITOR, NO_LONGER_NEEDED):
            raise RulesError(
                f"{where}: line {line}: category {printable(category)} is not competitor or no_longer_needed"
            )
        requires = fields["requires"].value if "requires" in fields else ""
        if requires not in ("", *REQUIRABLE):
            choices = ", ".join(REQUIRABLE)
            raise RulesError(f"{where}: line {line}: requires {printable(requires)} is not one of {choices}")
        pattern = _pattern(fields["pattern"], terms, rule_id, where)
        staying = _flag(fields.get("unless_staying"), where)
        rules.append(Rule(rule_id, pattern, category, requires, staying, _evidence_pattern(pattern)))
    if not rules:
        raise RulesError(f"{where}: line {node.start_mark.line + 1}: the list is empty")
    return tuple(rules)


def _flag(node: yaml.Node | None, where: str) -> bool:
    if node is None:
        return False
    if not isinstance(node, yaml.ScalarNode) or node.value not in ("true", "false"):
        raise RulesError(f"{where}: line {node.start_mark.line + 1}: expected true or false")
    return node.value == "true"


def _pattern(node: yaml.Node, terms: dict[str, str], name: str, where: str, *, is_term: bool = False) -> str:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.ScalarNode) or not node.value:
        raise RulesError(f"{where}: line {line}: {name} must be a non-empty pattern")

    def expand(match: re.Match) -> str:
        if match.group(1) not in terms:
            raise RulesError(f"{where}: line {line}: {name} uses the unknown term <{match.group(1)}>")
        return terms[match.group(1)]

    pattern = _TERM.sub(expand, node.value)
    # A term is kept as written and grouped, so that its alternation stays where it is used; the
    # boundaries are rewritten once, in the pattern that uses it.
    checked = pattern.replace("\\b", _ASCII_BOUNDARY)
    try:
        pl.Series([""]).str.contains(checked)
    except pl.exceptions.PolarsError as error:
        problem = printable(str(error).splitlines()[-1] if str(error) else error, limit=300)
        raise RulesError(f"{where}: line {line}: the pattern of {name} does not compile: {problem}") from None
    return f"(?:{pattern})" if is_term else f"(?:{checked})"


def _evidence_pattern(pattern: str) -> str:
    # Lazy gaps: the same matches, with as many of the rule's own words as possible outside the gaps.
    def captured(gap: re.Match) -> str:
        return f"({gap.group(0)})" if gap.group(0).endswith("?") else f"({gap.group(0)}?)"

    return "(?P<all>" + _GAP.sub(captured, pattern) + ")"

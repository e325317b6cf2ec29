"""Churn intent in ticket text, scored for a whole column at once with Polars' regex engine.

Every step is a column expression (normalise, cut into clauses, match, pick), so tens of thousands of
tickets a second go through without a Python loop per ticket; the order of the steps is described at
the top of patterns.yaml.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from retention.churn_intent.rules import COMPETITOR, NO_LONGER_NEEDED, NONE, Rule, RuleSet, load_rules

# A sentence ends at 。 ! ? ; (after NFKC, full-width ！？； are ASCII) or at a full stop followed by a space
# or the end; "jd.com" and "2.5" stay whole. A clause ends at a comma or a dash.
_SENTENCE = r"(?:[^。!?;.]|\.[^\s。!?;.])+[。!?;.]*"
_CLAUSE = r"[^,—]+"
# Evidence is a phrase, not the ticket: the rule's words only, cut in the middle beyond this length.
_EVIDENCE_CHARS = 40
# Masked in evidence whatever the gaps left: an e-mail address, a phone-shaped group ("(415) 555 0134",
# "+86 138-1234-5678"), any run of 3 or more digits.
_CONTACT = r"\S+@\S+|\+?\(?\d[\d ()-]{4,}\d|\d{3,}"


@dataclass(frozen=True)
class Verdict:
    """The churn intent of one ticket text: a category of CATEGORIES and the phrase that decided it
    (empty for `none`)."""

    category: str
    evidence: str


def classify(text: str | None) -> Verdict:
    return classify_many([text])[0]


def classify_many(texts: Sequence[str | None]) -> list[Verdict]:
    scored = score(pl.Series("text", list(texts), dtype=pl.String))
    return [Verdict(category, evidence) for category, evidence in scored.iter_rows()]


def score(texts: pl.Series, rules: RuleSet | None = None) -> pl.DataFrame:
    """`category` and `evidence` for each text of `texts`, in the same order (null text: `none`)."""
    rules = rules or load_rules()
    tickets = pl.DataFrame({"text": _normalised(texts.cast(pl.String), rules)}).with_row_index("ticket")
    # The cheap first pass: most tickets hold no trigger word and are not cut into clauses at all.
    candidates = tickets.filter(pl.col("text").str.contains(rules.triggers))
    decided = _decide(_clauses(candidates, rules), rules)
    return (
        tickets.select("ticket")
        .join(decided, on="ticket", how="left", maintain_order="left")
        .select(pl.col("category").fill_null(NONE), pl.col("evidence").fill_null(""))
    )


def _normalised(texts: pl.Series, rules: RuleSet) -> pl.Series:
    return (
        texts.fill_null("")
        .str.normalize("NFKC")
        .str.replace_many(rules.traditional, rules.simplified)
        .str.to_lowercase()
        .str.replace_all(r"[‘’´`]", "'")
        # A line break ends a sentence; other runs of white space are one space.
        .str.replace_all(r"\s*[\r\n]+\s*", "。")
        .str.replace_all(r"\s+", " ")
        # Chinese written without punctuation separates clauses by a space ("不打算续费了 帮我注销"); 、 lists.
        .str.replace_all(r"(\p{Han}) (\p{Han})", "$1,$2")
        .str.replace_all("、", ",")
    )


def _clauses(tickets: pl.DataFrame, rules: RuleSet) -> pl.DataFrame:
    """One row per clause that a rule may read: its ticket, its text, and its order in the ticket."""
    sentence = pl.col("sentence")
    clauses = (
        tickets.select("ticket", pl.col("text").str.extract_all(_SENTENCE).alias("sentence"))
        .explode("sentence")
        .drop_nulls("sentence")
        .select(
            "ticket",
            pl.col("sentence").str.extract_all(_CLAUSE).alias("clause"),
            asks=sentence.str.contains(rules.question) & ~sentence.str.contains(rules.request),
        )
        .explode("clause")
        .drop_nulls("clause")
        .with_row_index("position")
    )
    clause = pl.col("clause")
    negated = pl.any_horizontal(clause.str.contains(rule.pattern) for rule in rules.negated_intent)
    silenced = pl.col("asks") | clause.str.contains(rules.hypothetical) | negated
    return clauses.filter(~silenced).select("ticket", "position", clause.str.strip_chars())


def _decide(clauses: pl.DataFrame, rules: RuleSet) -> pl.DataFrame:
    """Per ticket with a deciding clause: the category and the evidence of that clause."""
    clause = pl.col("clause")
    matched = (
        clauses.filter(clause.str.contains(rules.triggers))
        .with_columns(rule=_first_matching(rules.rules, clause))
        .drop_nulls("rule")
    )
    # Rivals and reasons are looked for in the clauses that still speak ("I'm not switching to Tesco" does not).
    speaking = clauses.join(matched.select("ticket").unique(), on="ticket")
    context = _context(speaking.group_by("ticket").agg(text=clause.str.join(" | ")), rules)
    ids = {name: [r.id for r in rules.rules if r.requires == name] for name in ("rival_mentions", "leaving_reasons")}
    competitor_rules = [r.id for r in rules.rules if r.category == COMPETITOR and not r.requires]
    weak = [r.id for r in rules.rules if r.unless_staying]
    rule, rival, reason = pl.col("rule"), pl.col("rival"), pl.col("reason")
    kept = (
        (~rule.is_in(ids["rival_mentions"]) | rival.is_not_null())
        & (~rule.is_in(ids["leaving_reasons"]) | reason.is_not_null())
        & ~(rule.is_in(weak) & pl.col("stays"))
    )
    # A rival mentioned anywhere in the ticket makes leaving a move to that rival.
    category = pl.when(rule.is_in(competitor_rules) | rival.is_not_null()).then(pl.lit(COMPETITOR))
    winners = (
        matched.join(context, on="ticket", how="left")
        .filter(kept)
        .with_columns(category=category.otherwise(pl.lit(NO_LONGER_NEEDED)))
        # Competitor decides before leaving; then the earliest clause.
        .sort("ticket", pl.col("category") != COMPETITOR, "position")
        .unique("ticket", keep="first", maintain_order=True)
    )
    winners = _with_phrase(winners, rules.rules, "rule", "clause", "phrase")
    # The evidence names each list that decided besides the rule: "… + rival.named: '山姆'".
    rival_part = pl.when(~rule.is_in(competitor_rules)).then(pl.format(" + {}: '{}'", "rival", "rival_phrase"))
    reason_part = pl.when(rule.is_in(ids["leaving_reasons"])).then(pl.format(" + {}: '{}'", "reason", "reason_phrase"))
    own = pl.format("pattern {}: '{}'", "rule", "phrase")
    evidence = pl.concat_str(own, rival_part, reason_part, ignore_nulls=True)
    return winners.select("ticket", "category", evidence=evidence)


def _context(tickets: pl.DataFrame, rules: RuleSet) -> pl.DataFrame:
    """Per ticket: the first rival mention and leaving reason its text matches (rule id and words, null
    when none) and whether it says the customer stays."""
    text = pl.col("text")
    context = tickets.with_columns(
        rival=_first_matching(rules.rival_mentions, text),
        reason=_first_matching(rules.leaving_reasons, text),
        stays=pl.any_horizontal(text.str.contains(r.pattern) for r in rules.staying),
    )
    context = _with_phrase(context, rules.rival_mentions, "rival", "text", "rival_phrase")
    context = _with_phrase(context, rules.leaving_reasons, "reason", "text", "reason_phrase")
    return context.select("ticket", "rival", "rival_phrase", "reason", "reason_phrase", "stays")


def _first_matching(rules: Sequence[Rule], text: pl.Expr) -> pl.Expr:
    # One pattern at a time: each stays small enough for the regex engine's fast DFA, where one
    # alternation of all of them is several times slower.
    return pl.coalesce(pl.when(text.str.contains(rule.pattern)).then(pl.lit(rule.id)) for rule in rules)


def _with_phrase(frame: pl.DataFrame, rules: Sequence[Rule], id_column: str, text: str, name: str) -> pl.DataFrame:
    """`frame` with column `name`: the words of `text` that the rule named in `id_column` matched."""
    schema = {**frame.schema, name: pl.String}
    by_id = {rule.id: rule for rule in rules}
    # Each part extracts with its own rule only: a when/then chain would run every rule on every row.
    parts = [
        part.with_columns(
            pl.lit(None, pl.String).alias(name)
            if rule_id is None
            else _evidence_phrase(part[text].str.extract_groups(by_id[rule_id].evidence)).alias(name)
        )
        for (rule_id,), part in frame.partition_by(id_column, as_dict=True).items()
    ]
    return pl.concat(parts) if parts else pl.DataFrame(schema=schema)


def _evidence_phrase(groups: pl.Series) -> pl.Series:
    """The words a rule matched, with "…" for what the customer wrote in its gaps (a name, a number) and
    for whatever still looks like contact details."""
    phrase = pl.lit(groups.struct.field("all"))
    for field in groups.struct.fields[1:]:
        gap = pl.lit(groups.struct.field(field))
        blanked = phrase.str.split(gap, literal=True).list.join("…")
        # A gap of white space alone hides nothing; blanking it would blank every space of the phrase.
        phrase = pl.when(gap.str.contains(r"\S")).then(blanked).otherwise(phrase)
    phrase = (
        phrase.str.replace_all(_CONTACT, "…")
        .str.replace_all(r"[\p{Cc}\p{Cf}]", " ")
        .str.replace_all(r"…(?:\s*…)+", "…")
        # A rule anchored at the clause's end matches its closing full stop too.
        .str.strip_chars(" .!。~")
    )
    half = _EVIDENCE_CHARS // 2 - 1
    long = phrase.str.len_chars() > _EVIDENCE_CHARS
    cut = pl.concat_str(phrase.str.head(half), pl.lit("…"), phrase.str.tail(half))
    return pl.when(long).then(cut).otherwise(phrase)

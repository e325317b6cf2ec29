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
# Evidence is a phrase, not the ticket: matched words only, cut in the middle beyond this length, long
# digit runs (a phone or an order number) masked.
_EVIDENCE_CHARS = 40


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
    tickets = pl.DataFrame({"text": texts.cast(pl.String)}).with_row_index("ticket")
    clauses = _clauses(tickets, rules)
    decided = _decide(clauses, tickets, rules)
    return (
        tickets.select("ticket")
        .join(decided, on="ticket", how="left")
        .sort("ticket")
        .select(
            pl.col("category").fill_null(NONE),
            pl.col("evidence").fill_null(""),
        )
    )


def _normalised(text: pl.Expr) -> pl.Expr:
    return (
        text.fill_null("")
        .str.normalize("NFKC")
        .str.to_lowercase()
        .str.replace_all(r"[‘’´`]", "'")
        # A line break ends a sentence; other runs of white space are one space.
        .str.replace_all(r"\s*[\r\n]+\s*", "。")
        .str.replace_all(r"\s+", " ")
    )


def _clauses(tickets: pl.DataFrame, rules: RuleSet) -> pl.DataFrame:
    """One row per clause that a rule may read: its ticket, its text, and its order in the ticket."""
    sentences = (
        tickets.select("ticket", _normalised(pl.col("text")).str.extract_all(_SENTENCE).alias("sentence"))
        .explode("sentence")
        .drop_nulls("sentence")
        .with_columns(
            asks=pl.col("sentence").str.contains(rules.question) & ~pl.col("sentence").str.contains(rules.request)
        )
    )
    clauses = (
        sentences.with_columns(pl.col("sentence").str.extract_all(_CLAUSE).alias("clause"))
        .explode("clause")
        .drop_nulls("clause")
        .with_row_index("position")
    )
    negated = _any_of(rules.negated_intent)
    clause = pl.col("clause")
    silenced = pl.col("asks") | clause.str.contains(rules.hypothetical) | clause.str.contains(negated)
    return clauses.filter(~silenced).select("ticket", "position", pl.col("clause").str.strip_chars())


def _decide(clauses: pl.DataFrame, tickets: pl.DataFrame, rules: RuleSet) -> pl.DataFrame:
    """Per ticket with a deciding clause: the category and the evidence of that clause."""
    by_id = {rule.id: rule for rule in rules.rules}
    matched = clauses.filter(pl.col("clause").str.contains(_any_of(rules.rules))).with_columns(
        rule=_first_matching(rules.rules, pl.col("clause"))
    )
    rivals = _rival_mentions(tickets.join(matched.select("ticket").unique(), on="ticket"), rules)
    needs_rival = [rule.id for rule in rules.rules if rule.requires_rival]
    competitor_rules = [rule.id for rule in rules.rules if rule.category == COMPETITOR]
    with_rival = pl.col("rival").is_not_null()
    # A rival mentioned anywhere in the ticket makes leaving (or "I'm switching") a move to that rival.
    category = pl.when(pl.col("rule").is_in(competitor_rules) | with_rival)
    winners = (
        matched.join(rivals, on="ticket", how="left")
        .filter(~pl.col("rule").is_in(needs_rival) | with_rival)
        .with_columns(category=category.then(pl.lit(COMPETITOR)).otherwise(pl.lit(NO_LONGER_NEEDED)))
        # Competitor decides before leaving; then the earliest clause.
        .sort("ticket", pl.col("category") != COMPETITOR, "position")
        .unique("ticket", keep="first", maintain_order=True)
        .with_columns(phrase=_matched_phrase(by_id, "rule", pl.col("clause")))
    )
    plain = pl.format("pattern {}: '{}'", "rule", "phrase")
    both = pl.format("pattern {}: '{}' + {}: '{}'", "rule", "phrase", "rival", "rival_phrase")
    own_evidence = pl.col("rule").is_in(competitor_rules) & ~pl.col("rule").is_in(needs_rival)
    return winners.select(
        "ticket", "category", evidence=pl.when(with_rival & ~own_evidence).then(both).otherwise(plain)
    )


def _rival_mentions(tickets: pl.DataFrame, rules: RuleSet) -> pl.DataFrame:
    """ticket, rival (the first rival_mentions rule its text matches) and rival_phrase, for the tickets
    mentioning a rival."""
    text = _normalised(pl.col("text"))
    return (
        tickets.filter(text.str.contains(_any_of(rules.rival_mentions)))
        .with_columns(rival=_first_matching(rules.rival_mentions, text))
        .with_columns(rival_phrase=_matched_phrase({r.id: r for r in rules.rival_mentions}, "rival", text))
        .select("ticket", "rival", "rival_phrase")
    )


def _any_of(rules: Sequence[Rule]) -> str:
    return "|".join(rule.pattern for rule in rules)


def _first_matching(rules: Sequence[Rule], text: pl.Expr) -> pl.Expr:
    return pl.coalesce(pl.when(text.str.contains(rule.pattern)).then(pl.lit(rule.id)) for rule in rules)


def _matched_phrase(by_id: dict[str, Rule], id_column: str, text: pl.Expr) -> pl.Expr:
    phrase = pl.coalesce(
        pl.when(pl.col(id_column) == rule_id).then(text.str.extract(f"({rule.pattern})", 1))
        for rule_id, rule in by_id.items()
    )
    phrase = phrase.str.replace_all(r"\d{5,}", "#####").str.replace_all(r"[\p{Cc}\p{Cf}]", " ").str.strip_chars()
    half = _EVIDENCE_CHARS // 2 - 1
    long = phrase.str.len_chars() > _EVIDENCE_CHARS
    cut = pl.concat_str(phrase.str.head(half), pl.lit("…"), phrase.str.tail(half))
    return pl.when(long).then(cut).otherwise(phrase)

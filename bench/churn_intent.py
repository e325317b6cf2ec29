"""`make bench-churn-intent`: the churn-intent detector against the keyword dictionary it replaces.

For the dev set (the one the rules are tuned on) and the held-out set (never tuned on), both in
retention/churn_intent/evaluation/, it prints precision, recall and F1 of churn intent (competitor or
no_longer_needed against none), each category's precision and recall, the confusion matrix, and the
tickets per second of each method by text length: distinct tickets of 50-200 characters, each one labelled
text among ordinary support sentences (most real tickets carry no churn intent at all).

The baseline is the dictionary the dbt model used before the detector (bench/churn_keywords.csv): a
ticket whose lower-cased text contains a lower-cased keyword takes that keyword's category, competitor
winning when both appear.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from retention.churn_intent import CATEGORIES, COMPETITOR, NO_LONGER_NEEDED, NONE, score
from retention.churn_intent.evaluation import SETS, Figures, figures, load_set

KEYWORDS_FILE = Path(__file__).with_name("churn_keywords.csv")
DEFAULT_TICKETS = 200_000
# Sentences of everyday tickets, around the labelled texts in the throughput run.
ORDINARY = [
    "订单{n}的配送一直没到，麻烦帮忙查一下物流。",
    "收到的酸奶已经过期了，请处理一下退款。",
    "积分怎么兑换优惠券？页面一直加载不出来。",
    "门店的收银员态度很好，表扬一下。",
    "发票抬头写错了，需要重新开一张。",
    "App登录时验证码收不到，换了手机号之后就这样。",
    "Order {n} arrived with a broken jar of pasta sauce.",
    "The app keeps logging me out when I open the coupons page.",
    "Can you tell me when the store on Main Street opens on Sundays?",
    "I was charged for a bag I did not take, receipt {n}.",
    "The delivery driver left the parcel at the wrong door.",
    "Thanks for the quick help with my last order.",
]
BANDS = ((50, 100), (100, 150), (150, 200))


def keyword_baseline(texts: pl.Series, keywords: pl.DataFrame | None = None) -> pl.Series:
    """The category of each text under the dictionary's containment rule (dbt's int_ticket_churn_keywords)."""
    keywords = keywords if keywords is not None else pl.read_csv(KEYWORDS_FILE, infer_schema=False)
    lowered = texts.fill_null("").str.to_lowercase()

    def mentions(category: str) -> pl.Series:
        words = keywords.filter(pl.col("category") == category)["keyword"].str.to_lowercase().to_list()
        return lowered.str.contains_any(words)

    competitor, leaving = mentions(COMPETITOR), mentions(NO_LONGER_NEEDED)
    return (
        pl.select(
            pl.when(competitor)
            .then(pl.lit(COMPETITOR))
            .when(leaving)
            .then(pl.lit(NO_LONGER_NEEDED))
            .otherwise(pl.lit(NONE))
        )
        .to_series()
        .alias("category")
    )


def detector(texts: pl.Series) -> pl.Series:
    return score(texts)["category"]


METHODS: dict[str, Callable[[pl.Series], pl.Series]] = {"keyword baseline": keyword_baseline, "detector": detector}


def report(name: str, result: Figures) -> str:
    lines = [
        f"  {name}: precision {result.precision:.3f}  recall {result.recall:.3f}  F1 {result.f1:.3f}"
        f"  ({result.true_positives} of {result.predicted_positives} flagged, {result.actual_positives} with intent)"
    ]
    for category in (COMPETITOR, NO_LONGER_NEEDED):
        precision, recall = result.category_figures(category)
        lines.append(f"    {category:<17} precision {precision:.3f}  recall {recall:.3f}")
    lines.append("    " + "label / predicted".ljust(19) + "".join(f"{c:>18}" for c in CATEGORIES))
    for label in CATEGORIES:
        counts = "".join(f"{result.confusion.get((label, guess), 0):>18}" for guess in CATEGORIES)
        lines.append(f"    {label:<19}{counts}")
    return "\n".join(lines)


def throughput(method: Callable[[pl.Series], pl.Series], texts: pl.Series, rounds: int = 3) -> float:
    """Tickets per second, the best of `rounds` runs (the first warms the caches)."""
    method(texts.head(1_000))
    best = float("inf")
    for _ in range(rounds):
        began = time.perf_counter()
        method(texts)
        best = min(best, time.perf_counter() - began)
    return len(texts) / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=DEFAULT_TICKETS, help="texts in the throughput run")
    args = parser.parse_args(argv)
    sets = {name: load_set(name) for name in SETS}
    for name, frame in sets.items():
        positives = frame.filter(pl.col("label") != NONE).height
        print(f"{name}.csv: {frame.height} tickets, {positives} with churn intent")
        for method_name, method in METHODS.items():
            print(report(method_name, figures(frame["label"].to_list(), method(frame["text"]).to_list())))
    pool = pl.concat([frame["text"] for frame in sets.values()])
    for low, high in BANDS:
        texts = realistic_tickets(pool, args.tickets, low, high)
        print(
            f"throughput on {len(texts):,} distinct texts of {low}-{high} characters "
            f"({texts.str.len_chars().mean():.0f} on average):"
        )
        for method_name, method in METHODS.items():
            print(f"  {method_name}: {throughput(method, texts):,.0f} tickets/s")
    return 0


def realistic_tickets(labelled: pl.Series, count: int, low: int, high: int, seed: int = 12) -> pl.Series:
    """`count` distinct tickets of `low` to `high` characters: one labelled text in every fourth ticket, the
    rest ordinary support sentences (numbered, so no two tickets are alike), joined until long enough."""
    rng = random.Random(seed)
    labelled_texts = labelled.to_list()
    tickets = []
    for n in range(count):
        parts = [rng.choice(labelled_texts)] if n % 4 == 0 else []
        while sum(map(len, parts)) < low:
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(ORDINARY).format(n=100_000 + n))
        tickets.append(" ".join(parts)[:high])
    return pl.Series("text", tickets)


if __name__ == "__main__":
    raise SystemExit(main())

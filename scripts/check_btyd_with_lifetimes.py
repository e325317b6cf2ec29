"""Compare marts.member_btyd_summary with the `lifetimes` library on the same purchases, customer by customer.

Runs in its own environment (lifetimes needs pandas 1.x): `make check-lifetimes` on the demo warehouse,
tests/test_btyd_lifetimes.py on a hand-made fixture. It feeds lifetimes'
summary_data_from_transaction_data(freq='D') the purchases as the marts define them — every row of
marts.fct_orders WHERE is_purchase (zero-amount orders included), net_spend as the monetary value,
ordered_at as the date, observation end = the marts' as-of day — and requires the same customers and, for
each, the same frequency, recency, T and monetary_value (within 1e-9). Exit status 0 only then.

    python scripts/check_btyd_with_lifetimes.py [WAREHOUSE]
"""

import sys

import duckdb
import pandas as pd
from lifetimes.utils import summary_data_from_transaction_data

COLUMNS = ("frequency", "recency", "T", "monetary_value")
TOLERANCE = 1e-9
# Customers shown one by one: all of them on a small warehouse, else the first mismatches.
SHOW_ALL_UP_TO = 50
SHOW_MISMATCHES = 20


def main(warehouse: str) -> int:
    con = duckdb.connect(warehouse, read_only=True)
    try:
        as_of = con.execute("SELECT as_of_date FROM intermediate.int_as_of_date").fetchone()[0]
        purchases = con.execute(
            "SELECT member_key, ordered_at, CAST(net_spend AS DOUBLE) AS net_spend "
            "FROM marts.fct_orders WHERE is_purchase"
        ).df()
        mart = con.execute(
            "SELECT member_key, CAST(frequency AS DOUBLE) AS frequency, CAST(recency AS DOUBLE) AS recency, "
            'CAST("T" AS DOUBLE) AS "T", CAST(monetary_value AS DOUBLE) AS monetary_value '
            "FROM marts.member_btyd_summary"
        ).df()
    finally:
        con.close()

    expected = summary_data_from_transaction_data(
        purchases,
        "member_key",
        "ordered_at",
        monetary_value_col="net_spend",
        observation_period_end=str(as_of),
        freq="D",
    )
    expected = expected[list(COLUMNS)].astype(float)
    mart = mart.set_index("member_key")[list(COLUMNS)]
    both = expected.join(mart, how="outer", lsuffix="_lifetimes", rsuffix="_mart").sort_index()

    only_lifetimes = both.index[both["frequency_mart"].isna()].tolist()
    only_mart = both.index[both["frequency_lifetimes"].isna()].tolist()
    diff = pd.DataFrame({c: (both[f"{c}_lifetimes"] - both[f"{c}_mart"]).abs() for c in COLUMNS})
    shared = diff.dropna()
    mismatched = shared.index[(shared > TOLERANCE).any(axis=1)].tolist()

    print(
        f"as of {as_of}: {len(purchases):,} purchase orders; lifetimes {len(expected):,} customers, "
        f"mart {len(mart):,}, in both {len(shared):,}"
    )
    print("largest difference per column:", {c: float(shared[c].max()) if len(shared) else 0.0 for c in COLUMNS})
    if len(both) <= SHOW_ALL_UP_TO:
        shown = both
    else:
        shown = both.loc[(only_lifetimes + only_mart + mismatched)[:SHOW_MISMATCHES]]
    if len(shown):
        with pd.option_context("display.max_rows", None, "display.width", 200, "display.float_format", "{:.6f}".format):
            print(shown.to_string())
    failures = []
    if only_lifetimes:
        failures.append(f"{len(only_lifetimes)} customers only in lifetimes: {only_lifetimes[:SHOW_MISMATCHES]}")
    if only_mart:
        failures.append(f"{len(only_mart)} customers only in the mart: {only_mart[:SHOW_MISMATCHES]}")
    if mismatched:
        failures.append(f"{len(mismatched)} customers differ by more than {TOLERANCE}: {mismatched[:SHOW_MISMATCHES]}")
    for failure in failures:
        print("FAIL:", failure)
    if not failures:
        print(f"OK: every customer identical within {TOLERANCE}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "data/warehouse.duckdb"))

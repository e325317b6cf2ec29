"""Compare marts.member_btyd_summary with the `lifetimes` library on the same purchases.

Run by `make check-lifetimes` in its own environment (lifetimes needs pandas 1.x). It rebuilds
lifetimes' summary_data_from_transaction_data(freq='D') from marts.fct_orders (purchases only,
net of refunds, observation end = the marts' as-of day) and prints the largest difference per column.
"""

import sys

import duckdb
import numpy as np
from lifetimes.utils import summary_data_from_transaction_data

warehouse = sys.argv[1] if len(sys.argv) > 1 else "data/warehouse.duckdb"
con = duckdb.connect(warehouse, read_only=True)
as_of = con.execute("SELECT as_of_date FROM intermediate.int_as_of_date").fetchone()[0]
purchases = con.execute(
    "SELECT member_key, ordered_at, CAST(net_spend AS DOUBLE) AS net_spend FROM marts.fct_orders WHERE is_purchase"
).df()
mart = con.execute("SELECT * FROM marts.member_btyd_summary ORDER BY member_key").df().set_index("member_key")
expected = summary_data_from_transaction_data(
    purchases, "member_key", "ordered_at", monetary_value_col="net_spend", observation_period_end=str(as_of), freq="D"
).sort_index()

print(f"as of {as_of}: lifetimes {len(expected):,} customers, mart {len(mart):,}")
if list(expected.index) != list(mart.index):
    sys.exit("the customers differ")
worst = {c: float(np.abs(expected[c].values - mart[c].values).max()) for c in ("frequency", "recency", "T", "monetary_value")}
print("largest difference per column:", worst)
sys.exit(0 if max(worst.values()) < 1e-6 else 1)

"""One day of orders for all members at once, and the refunds they lead to later.

Counts per member are Poisson draws from the member's rate for the day; every per-order attribute
is then drawn for the whole day's orders in one numpy call.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from retention.generator import reference as ref
from retention.generator.common import (
    ONLINE_HOURS,
    SECONDS_PER_DAY,
    STORE_HOURS,
    constant,
    day_date,
    member_ids,
    pick,
    prefixed_ids,
    seconds_in_day,
    weighted_choice,
)
from retention.generator.members import Population
from retention.generator.personas import ORDERS_PER_DAY
from retention.generator.seasons import DayPattern

ONLINE_CHANNELS = ("online", "app", "mini_program")
_ONLINE_CHANNEL_WEIGHTS = (0.25, 0.40, 0.35)
HOME_STORE_SHARE = 0.85  # the rest of a member's store orders happen in another store
COUPON_SHARE = 0.15
PERCENT_DISCOUNT_SHARE = 0.35
MAX_DISCOUNT_RATE = 0.20
# Free orders (gift redemptions, 100% coupons): zero net amount, still purchases.
FREE_ORDER_SHARE = 0.005
REFUND_SHARE = 0.03
FULL_REFUND_SHARE = 0.65
REFUND_DELAY_DAYS = (1, 14)
_AMOUNT_SIGMA = 0.65  # spread of one order's amount around the member's typical basket


def new_orders(
    population: Population,
    day: int,
    pattern: DayPattern,
    order_factor: np.ndarray,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Orders placed on `day` by members registered before it, sorted by time, ids assigned."""
    n = len(order_factor)
    persona = population.persona[:n]
    rate = ORDERS_PER_DAY[persona] * population.order_scale[:n] * order_factor
    store_share = population.store_share[:n]
    per_member_store = rng.poisson(rate * store_share * pattern.store)
    per_member_online = rng.poisson(rate * (1.0 - store_share) * pattern.online)
    store_buyers = np.repeat(np.arange(n), per_member_store)
    online_buyers = np.repeat(np.arange(n), per_member_online)

    buyer = np.concatenate([store_buyers, online_buyers])
    in_store = np.concatenate([np.ones(len(store_buyers), bool), np.zeros(len(online_buyers), bool)])
    seconds = np.concatenate(
        [seconds_in_day(rng, STORE_HOURS, len(store_buyers)), seconds_in_day(rng, ONLINE_HOURS, len(online_buyers))]
    )
    store = _order_stores(population.home_store[buyer], in_store, rng)
    online_channel = np.array(ONLINE_CHANNELS)[weighted_choice(rng, _ONLINE_CHANNEL_WEIGHTS, len(buyer))]
    channel = np.where(in_store, "store", online_channel)
    gross, discount, coupon = _amounts(population.basket_median[buyer], rng)

    order = np.lexsort((buyer, seconds))  # time order; ties broken by member for a stable result
    order_time = day * SECONDS_PER_DAY + seconds[order]
    day_text = day_date(day).strftime("%Y%m%d")
    home_city = pick(ref.STORE_CITIES, population.home_store[buyer[order]])
    return pl.DataFrame(
        {
            "order_id": prefixed_ids("O" + day_text, np.arange(1, len(buyer) + 1), 7),
            "member_id": member_ids(buyer[order]),
            "order_time": pl.Series(order_time, dtype=pl.Int64),
            "channel": pl.Series(channel[order], dtype=pl.String),
            "store_id": pick(ref.STORE_IDS, store[order]),
            "store_name": pick(ref.STORE_NAMES, store[order]),
            # Online orders carry the member's city (delivery address), store orders the store's.
            "city": pick(ref.STORE_CITIES, np.maximum(store[order], 0)).zip_with(pl.Series(in_store[order]), home_city),
            "gross_amount": pl.Series(gross[order], dtype=pl.Float64),
            "discount_amount": pl.Series(discount[order], dtype=pl.Float64),
            "coupon_code": pick(ref.COUPON_CODES, coupon[order]),
            "status": constant("paid", len(buyer), pl.String),
            "refund_amount": constant(None, len(buyer), pl.Float64),
            "updated_at": pl.Series(order_time, dtype=pl.Int64),
        }
    )


def _order_stores(home_store: np.ndarray, in_store: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Store index per order: mostly the member's home store, -1 for orders not placed in a store."""
    elsewhere = rng.random(len(home_store)) >= HOME_STORE_SHARE
    other = rng.integers(0, len(ref.STORES), len(home_store))
    store = np.where(elsewhere, other, home_store)
    return np.where(in_store, store, -1)


def _amounts(basket_median: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gross amount, discount and coupon index (-1 = none) per order.

    A coupon applies only when the gross amount reaches its threshold; otherwise some orders get a
    percentage discount (member price, promotion) of up to 20%; a few are free (discount = gross).
    """
    n = len(basket_median)
    spread = rng.lognormal(-(_AMOUNT_SIGMA**2) / 2, _AMOUNT_SIGMA, n)
    gross = np.round(np.clip(basket_median * spread, 9.9, 50_000.0), 1)
    coupon = np.where(rng.random(n) < COUPON_SHARE, rng.integers(0, len(ref.COUPONS), n), -1)
    threshold = np.array([c.threshold for c in ref.COUPONS])
    off = np.array([c.off for c in ref.COUPONS])
    coupon = np.where((coupon >= 0) & (gross >= threshold[np.maximum(coupon, 0)]), coupon, -1)
    percent = np.where(rng.random(n) < PERCENT_DISCOUNT_SHARE, rng.uniform(0.02, MAX_DISCOUNT_RATE, n), 0.0)
    discount = np.where(coupon >= 0, off[np.maximum(coupon, 0)], np.round(gross * percent, 2))
    discount = np.where(rng.random(n) < FREE_ORDER_SHARE, gross, discount)
    return gross, discount, coupon


def refunds_of(orders: pl.DataFrame, day: int, rng: np.random.Generator) -> tuple[pl.DataFrame, np.ndarray]:
    """Refund records for some of the day's orders, and the day each is delivered.

    A refund re-delivers the order with its new status, the refunded amount and the refund time as
    `updated_at`; a full refund returns the net amount, a partial one 10-80% of it.
    """
    chosen = np.flatnonzero(rng.random(orders.height) < REFUND_SHARE)
    k = len(chosen)
    deliver_day = day + rng.integers(REFUND_DELAY_DAYS[0], REFUND_DELAY_DAYS[1] + 1, k)
    full = rng.random(k) < FULL_REFUND_SHARE
    partial_share = rng.uniform(0.1, 0.8, k)
    refund_time = deliver_day * SECONDS_PER_DAY + seconds_in_day(rng, ONLINE_HOURS, k)
    rows = orders[chosen]
    net = (rows["gross_amount"] - rows["discount_amount"]).to_numpy()
    refund = np.where(full, np.round(net, 2), np.floor(net * partial_share * 100) / 100)
    rows = rows.with_columns(
        status=pl.Series(np.where(full, "refunded", "partially_refunded"), dtype=pl.String),
        refund_amount=pl.Series(refund, dtype=pl.Float64),
        updated_at=pl.Series(refund_time, dtype=pl.Int64),
    )
    return rows, deliver_day

"""The generator's clean activity truth (member_activity.parquet): what members really did, day by day."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from retention.generator import generate
from retention.generator.activity_truth import ACTIVITY_FILE, ActivityTruth
from retention.generator.common import day_number

DAY = day_number(date(2025, 8, 20))


def _orders(*rows: tuple[str, str]) -> pl.DataFrame:
    return pl.DataFrame({"order_id": [r[0] for r in rows], "member_id": [r[1] for r in rows]})


def test_one_day_purchases_logins_and_benefit_use_from_hand_made_rows(tmp_path):
    orders = _orders(("O1", "M1"), ("O2", "M2"), ("O3", "M3"), ("O4", "M4"), ("O5", "M4"))
    # O2 refunded in full by the end (no purchase); O3 refunded in full after the end (never happens);
    # O4 partly refunded (a purchase); O5 refunded in full, but M4 still bought (O4).
    refunds = pl.DataFrame(
        {
            "order_id": ["O2", "O3", "O4", "O5"],
            "member_id": ["M2", "M3", "M4", "M4"],
            "status": ["refunded", "refunded", "partially_refunded", "refunded"],
        }
    )
    refund_day = np.array([DAY + 3, DAY + 20, DAY + 1, DAY + 2])
    events = pl.DataFrame(
        {
            "member_id": ["M2", "M2", "M5", "M6"],
            "event_type": ["login", "benefit_use", "login", "page_view"],
        }
    )
    truth = ActivityTruth(first_day=DAY)
    truth.record(DAY - 1, orders, refunds, refund_day, DAY + 10, events)  # before the first day: not kept
    truth.record(DAY, orders, refunds, refund_day, DAY + 10, events)
    truth.write(tmp_path / ACTIVITY_FILE)

    rows = pl.read_parquet(tmp_path / ACTIVITY_FILE).rows()
    on = date(2025, 8, 20)
    assert rows == [
        ("M1", on, True, False, False),
        ("M2", on, False, True, True),
        ("M3", on, True, False, False),
        ("M4", on, True, False, False),
        ("M5", on, False, True, False),
    ]


def _files(folder):
    return [path for path in sorted(folder.rglob("*.jsonl")) if path.stat().st_size]  # a day may have none


def _ndjson(path):
    return pl.read_ndjson(path, infer_schema_length=None)


def _landing_bytes(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_truth_leaves_the_landing_files_byte_identical_and_matches_a_clean_run(tmp_path):
    small = {"members": 120, "start": date(2025, 3, 1), "end": date(2025, 3, 31), "seed": 5, "defect_rate": 0.0}
    generate(tmp_path / "a" / "landing", truth_dir=tmp_path / "a" / "truth", **small)
    generate(
        tmp_path / "b" / "landing", truth_dir=tmp_path / "b" / "truth", activity_truth_from=date(2025, 3, 20), **small
    )
    assert _landing_bytes(tmp_path / "a" / "landing") == _landing_bytes(tmp_path / "b" / "landing")
    assert not (tmp_path / "a" / "truth" / ACTIVITY_FILE).exists()

    truth = pl.read_parquet(tmp_path / "b" / "truth" / ACTIVITY_FILE)
    assert truth["activity_date"].min() >= date(2025, 3, 20)
    # Without defects the landing files hold the clean rows: the truth agrees with them, read independently.
    landing = tmp_path / "b" / "landing"
    orders = pl.concat([_ndjson(p) for p in _files(landing / "orders")], how="diagonal_relaxed")
    online_final = (
        orders.sort("updated_at")
        .group_by("order_id")
        .agg(pl.col("member_id").last(), pl.col("order_time").last(), pl.col("status").last())
        .filter((pl.col("status") != "refunded") & (pl.col("order_time").str.slice(0, 10) >= "2025-03-20"))
        .select("member_id", pl.col("order_time").str.slice(0, 10).str.to_date().alias("activity_date"))
        .unique()
    )
    truth_online = truth.filter("purchased").join(online_final, on=["member_id", "activity_date"], how="semi")
    assert online_final.height > 10
    assert truth_online.height == online_final.height  # every online purchase day is in the truth
    events = pl.concat([_ndjson(p) for p in _files(landing / "events")], how="diagonal_relaxed")
    logins = (
        events.filter(pl.col("event_type") == "login")
        .select("member_id", pl.col("event_time").str.slice(0, 10).str.to_date().alias("activity_date"))
        .filter(pl.col("activity_date") >= date(2025, 3, 20))
        .unique()
        .sort("member_id", "activity_date")
    )
    assert logins.height > 10
    assert (
        truth.filter("logged_in").select("member_id", "activity_date").sort("member_id", "activity_date").equals(logins)
    )

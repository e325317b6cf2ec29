"""Every Great Expectations mart suite can fail: each is fed a frame that breaks it. Accepted values come from the
dbt seeds: a value not in its seed fails, and a value added to the seed passes."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from quality.gx_runner import run_suite
from quality.mart_suites import (
    dim_members_suite,
    mart_codes,
    member_btyd_suite,
    member_churn_risk_suite,
    member_rfm_suite,
    seed_values,
    seeds_dir,
)


def _failed(outcome):
    return {(f["expectation"], str(f["column"]), f["severity"]) for f in outcome.failures}


def test_dim_members_suite(settings):
    good = pd.DataFrame(
        {
            "member_key": ["a", "b"],
            "tier": ["basic", "premium"],
            "value_segment": ["core", "other"],
            "lifecycle_stage": ["new", "churned"],
            "spend_12m": [0.0, 6000.0],
        }
    )
    assert run_suite("dim", good, dim_members_suite(settings)).passed
    bad = good.assign(member_key=["a", "a"], tier=["basic", "gold"], spend_12m=[-1.0, 6000.0])
    assert _failed(run_suite("dim", bad, dim_members_suite(settings))) == {
        ("expect_column_values_to_be_unique", "member_key", "ERROR"),
        ("expect_column_values_to_be_in_set", "tier", "ERROR"),
        ("expect_column_values_to_be_between", "spend_12m", "ERROR"),
    }
    empty = run_suite("dim", good.iloc[0:0], dim_members_suite(settings))
    assert ("expect_table_row_count_to_be_between", "None", "ERROR") in _failed(empty)


def test_dim_members_codes_not_in_the_seeds_fail(settings):
    frame = pd.DataFrame(
        {
            "member_key": ["a", "b"],
            "tier": ["basic", "基础"],  # the Chinese name is not the code
            "value_segment": ["core", "vip"],
            "lifecycle_stage": ["new", "lost"],
            "spend_12m": [0.0, 6000.0],
        }
    )
    assert _failed(run_suite("dim", frame, dim_members_suite(settings))) == {
        ("expect_column_values_to_be_in_set", "tier", "ERROR"),
        ("expect_column_values_to_be_in_set", "value_segment", "ERROR"),
        ("expect_column_values_to_be_in_set", "lifecycle_stage", "ERROR"),
    }


def test_accepted_values_are_read_from_the_seeds_when_the_suite_is_built(settings, tmp_path):
    seeds = tmp_path / "seeds"
    shutil.copytree(seeds_dir(), seeds)
    frame = pd.DataFrame(
        {
            "member_key": ["a"],
            "tier": ["diamond"],
            "value_segment": ["vip"],
            "lifecycle_stage": ["new"],
            "spend_12m": [9000.0],
        }
    )
    assert not run_suite("dim", frame, dim_members_suite(settings, seeds)).passed
    with (seeds / "tiers.csv").open("a", encoding="utf-8") as f:
        f.write("diamond,钻石,4,20000,3,everything\n")
    with (seeds / "mart_codes.csv").open("a", encoding="utf-8") as f:
        f.write("dim_members,value_segment,vip,Very important\n")
    assert run_suite("dim", frame, dim_members_suite(settings, seeds)).passed
    assert "vip" not in mart_codes("dim_members", "value_segment")  # the project's seed is untouched


def test_the_seeds_hold_the_codes_the_marts_compute():
    assert seed_values("tiers", "tier") == ["basic", "advanced", "premium"]
    assert mart_codes("dim_members", "value_segment") == ["core", "active", "dormant", "other"]
    assert mart_codes("dim_members", "lifecycle_stage") == ["new", "active", "dormant", "churned"]
    assert mart_codes("member_churn_risk", "risk_level") == ["high", "medium", "low"]
    assert "Champions" in seed_values("rfm_segments", "segment")
    with pytest.raises(ValueError, match="no code"):
        mart_codes("dim_members", "no_such_column")


def test_member_rfm_suite(settings):
    good = pd.DataFrame(
        {"member_key": ["a"], "r_score": [5], "f_score": [1], "m_score": [3], "recency_days": [0], "segment": ["New"]}
    )
    assert run_suite("rfm", good, member_rfm_suite(settings)).passed
    bad = good.assign(r_score=[0], segment=[None])
    assert _failed(run_suite("rfm", bad, member_rfm_suite(settings))) == {
        ("expect_column_values_to_be_between", "r_score", "ERROR"),
        ("expect_column_values_to_not_be_null", "segment", "ERROR"),
    }
    # A segment name not in seeds/rfm_segments.csv (case matters: the seed's spelling is the code).
    for segment in ("Whales", "champions"):
        assert _failed(run_suite("rfm", good.assign(segment=[segment]), member_rfm_suite(settings))) == {
            ("expect_column_values_to_be_in_set", "segment", "ERROR"),
        }


def test_member_btyd_suite(settings):
    good = pd.DataFrame(
        {
            "member_key": ["a", "b"],
            "frequency": [0, 2],
            "recency": [0, 160],
            "T": [10, 180],
            "monetary_value": [0.0, 150.0],
        }
    )
    assert run_suite("btyd", good, member_btyd_suite(settings)).passed
    bad = good.assign(recency=[0, 200])
    assert _failed(run_suite("btyd", bad, member_btyd_suite(settings))) == {
        ("expect_column_pair_values_a_to_be_greater_than_b", "None", "ERROR"),
    }


def test_churn_risk_suite_warns_when_the_high_risk_list_is_implausibly_long(settings):
    frame = pd.DataFrame(
        {
            "as_of_date": ["2025-06-30"] * 4,
            "member_key": list("abcd"),
            "flag_count": [2, 2, 0, 1],
            "risk_level": ["high", "high", "low", "medium"],
        }
    )
    outcome = run_suite("risk", frame, member_churn_risk_suite(settings))  # 50% high > 35% allowed
    assert outcome.severity == "WARN"
    assert _failed(outcome) == {("expect_column_values_to_be_in_set", "risk_level", "WARN")}
    assert run_suite(
        "risk", frame.assign(risk_level=["high", "low", "low", "medium"]), member_churn_risk_suite(settings)
    ).passed


def test_churn_risk_suite_fails_a_risk_level_not_in_the_seed(settings):
    frame = pd.DataFrame(
        {
            "as_of_date": ["2025-06-30"] * 4,
            "member_key": list("abcd"),
            "flag_count": [0, 0, 1, 5],
            "risk_level": ["low", "low", "medium", "critical"],
        }
    )
    outcome = run_suite("risk", frame, member_churn_risk_suite(settings))
    assert outcome.severity == "ERROR"
    assert ("expect_column_values_to_be_in_set", "risk_level", "ERROR") in _failed(outcome)

"""Every Great Expectations mart suite can fail: each is fed a frame that breaks it."""

from __future__ import annotations

import pandas as pd

from quality.gx_runner import run_suite
from quality.mart_suites import dim_members_suite, member_btyd_suite, member_churn_risk_suite, member_rfm_suite


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

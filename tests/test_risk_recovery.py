"""The risk-list evaluation reads the answer key as data, and only runs daily where there is one."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from assets.evaluation.risk_recovery import PERSONAS_FILE, risk_recovery, risk_recovery_evaluation
from orchestration.definitions import build_definitions
from orchestration.jobs import DAILY_REFRESH
from retention.resources import RetentionResource
from retention.settings import Settings

EVALUATION = dg.AssetKey(["evaluation", "risk_recovery"])

# member, risk level on the latest day, drifts away (answer key)
LATEST = [
    ("M01", "high", True),  # true positive
    ("M02", "high", False),  # false alarm
    ("M03", "medium", True),  # missed
    ("M04", "low", False),
    ("M05", "high", True),  # true positive
    ("M06", "low", True),  # missed
]


@pytest.fixture
def scored(tmp_path):
    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts; CREATE SCHEMA intermediate")
    con.execute("CREATE TABLE intermediate.int_members__as_of (member_key INTEGER, member_id VARCHAR)")
    con.execute("CREATE TABLE marts.member_churn_risk (member_key INTEGER, as_of_date DATE, risk_level VARCHAR)")
    for key, (member, level, _) in enumerate(LATEST, start=1):
        con.execute("INSERT INTO intermediate.int_members__as_of VALUES (?, ?)", [key, member])
        con.execute("INSERT INTO marts.member_churn_risk VALUES (?, DATE '2025-03-31', ?)", [key, level])
        # An earlier day with everyone high: scoring it would give precision 3/6 and recall 4/4.
        con.execute("INSERT INTO marts.member_churn_risk VALUES (?, DATE '2025-03-30', 'high')", [key])
    answer = tmp_path / PERSONAS_FILE
    answer.write_text(
        "member_id,persona,change_date,drifts_away\n"
        + "".join(f"{m},p,,{str(drifts).lower()}\n" for m, _, drifts in LATEST)
        + "M99,p,,true\n",  # not in the warehouse: not counted
        encoding="utf-8",
    )
    yield con, answer
    con.close()


def test_scores_the_latest_day_against_the_answer_keys_drifts_away_column(scored):
    con, answer = scored
    result = risk_recovery(con, str(answer))
    assert (result.as_of_date, result.members, result.at_risk, result.flagged_high, result.true_positives) == (
        "2025-03-31",
        6,
        4,
        3,
        2,
    )
    assert result.precision == pytest.approx(2 / 3)
    assert result.recall == pytest.approx(2 / 4)


def _settings(tmp_path) -> Settings:
    return Settings.from_env(
        {
            "RETENTION_LANDING_DIR": str(tmp_path / "landing"),
            "RETENTION_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
            "RETENTION_GROUND_TRUTH_DIR": str(tmp_path / "ground_truth"),
        }
    )


def _daily_assets(settings: Settings) -> set[dg.AssetKey]:
    return set(build_definitions(settings).resolve_job_def(DAILY_REFRESH).asset_layer.selected_asset_keys)


def test_the_daily_job_leaves_the_evaluation_out_where_there_is_no_answer_key(tmp_path):
    settings = _settings(tmp_path)
    without = _daily_assets(settings)
    assert EVALUATION not in without
    assert dg.AssetKey(["marts", "member_churn_risk"]) in without

    settings.ground_truth_dir.mkdir(parents=True)
    (settings.ground_truth_dir / PERSONAS_FILE).write_text("member_id,persona,change_date,drifts_away\n")
    assert _daily_assets(settings) == without | {EVALUATION}


def test_declares_every_table_it_reads():
    spec = next(iter(risk_recovery_evaluation.specs))
    assert {dep.asset_key for dep in spec.deps} == {
        dg.AssetKey(["marts", "member_churn_risk"]),
        dg.AssetKey(["intermediate", "int_members__as_of"]),
    }


def test_an_answer_key_without_the_answer_column_fails_with_what_to_do(tmp_path):
    settings = _settings(tmp_path)
    settings.ground_truth_dir.mkdir(parents=True)
    (settings.ground_truth_dir / PERSONAS_FILE).write_text("member_id,persona,change_date\nM01,loyal,\n")
    result = dg.materialize(
        [risk_recovery_evaluation],
        resources={"retention": RetentionResource.from_settings(settings)},
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.message
    assert "has no column drifts_away" in message and "generate the demo data again" in message

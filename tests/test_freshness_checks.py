"""Freshness: each raw source and key mart has a WARN check that passes while its last update is younger
than RETENTION_FRESHNESS_HOURS and fails, without stopping anything, once it is older."""

from __future__ import annotations

import dataclasses
import re
import time

import dagster as dg
import pytest

from orchestration.definitions import build_definitions
from orchestration.freshness import FRESHNESS_SENSOR
from retention.settings import Settings

WATCHED = [
    "marts/member_churn_risk",
    "marts/member_rfm",
    "marts/member_tier_history",
    "outreach/winback_batches",
    "raw/events",
    "raw/members",
    "raw/orders",
    "raw/outreach_feedback",
    "raw/tickets",
]
LAST_UPDATED = "dagster/last_updated_timestamp"


def _report_updates_now(instance: dg.DagsterInstance) -> dict[str, float]:
    """A materialization of every watched asset, as a run would record it; returns when each was stored."""
    for key in WATCHED:
        partition = "2025-03-01" if key.startswith("raw/") else None
        instance.report_runless_asset_event(dg.AssetMaterialization(dg.AssetKey.from_user_string(key), partition))
    return {
        key: instance.get_latest_materialization_event(dg.AssetKey.from_user_string(key)).timestamp for key in WATCHED
    }


def _run_checks_the_sensor_asks_for(defs: dg.Definitions, instance: dg.DagsterInstance):
    """One tick of the freshness sensor, then the run it requests, executed here."""
    sensor = defs.resolve_sensor_def(FRESHNESS_SENSOR)
    with dg.build_sensor_context(instance=instance, repository_def=defs.get_repository_def()) as context:
        tick = sensor.evaluate_tick(context)
    assert len(tick.run_requests) == 1
    checks = set(tick.run_requests[0].asset_check_keys)
    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_check_selection=checks, asset_selection=set())
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    evaluations = {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}
    return result, checks, evaluations


def test_nine_assets_have_a_freshness_check_and_the_sensor_is_off(settings):
    defs = build_definitions(settings)
    checks = sorted(
        k.asset_key.to_user_string() for k in defs.resolve_asset_graph().asset_check_keys if k.name == "freshness_check"
    )
    assert checks == WATCHED
    sensor = defs.resolve_sensor_def(FRESHNESS_SENSOR)
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED


def test_assets_updated_now_are_fresh(settings):
    instance = dg.DagsterInstance.ephemeral()
    updated = _report_updates_now(instance)

    result, checks, evaluations = _run_checks_the_sensor_asks_for(build_definitions(settings), instance)

    # Never evaluated before: the sensor asks for every check.
    assert sorted(k.asset_key.to_user_string() for k in checks) == WATCHED
    assert result.success
    assert sorted(evaluations) == WATCHED
    for key, evaluation in evaluations.items():
        assert evaluation.passed, key
        assert evaluation.metadata[LAST_UPDATED].value == updated[key]
        # Fresh for 24 hours from the update (the default RETENTION_FRESHNESS_HOURS).
        assert evaluation.metadata["dagster/fresh_until_timestamp"].value == updated[key] + 24 * 3600


def test_an_update_older_than_the_limit_fails_with_a_warning_only(tmp_path):
    # One second, through the setting as an operator would write it (hours, fractions allowed).
    settings = Settings.from_env({"RETENTION_FRESHNESS_HOURS": str(1 / 3600)}, base_dir=tmp_path)
    assert settings.freshness_hours * 3600 == 1.0
    instance = dg.DagsterInstance.ephemeral()
    updated = _report_updates_now(instance)
    time.sleep(2)

    result, _, evaluations = _run_checks_the_sensor_asks_for(build_definitions(settings), instance)

    assert result.success  # a stale asset warns; the run that reports it does not fail
    orders = evaluations["raw/orders"]
    assert not orders.passed
    assert orders.severity == dg.AssetCheckSeverity.WARN
    assert orders.asset_key == dg.AssetKey(["raw", "orders"])
    assert orders.metadata[LAST_UPDATED].value == updated["raw/orders"]
    assert orders.metadata["dagster/freshness_params"].value == {
        "timezone": "Asia/Shanghai",
        "lower_bound_delta_seconds": 1.0,
    }
    # The seconds since the update depend on how long the checks took to start: 2 s of sleep, or a bit more.
    # (Dagster words the allowed distance from a float, "1 second" or "" by rounding: not asserted.)
    assert re.match(r"Asset is overdue for an update\. The last update was [2-9] seconds ago", orders.description)
    assert sorted(k for k, e in evaluations.items() if not e.passed) == WATCHED


@pytest.mark.parametrize("hours", ["0", "-3", "nan"])
def test_a_freshness_limit_of_no_hours_is_refused_when_the_code_location_loads(settings, hours):
    with pytest.raises(ValueError, match=f"RETENTION_FRESHNESS_HOURS={hours} must be a number of hours above 0"):
        build_definitions(dataclasses.replace(settings, freshness_hours=float(hours)))

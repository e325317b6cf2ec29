"""A long risk and KPI history, computed a chunk of days at a time.

The history models evaluate every member on every history day and on the start of each KPI period
before it: a million members over a quarter is some 270 M member-days sorted at once, which spilled
more than 30 GB to disk and failed. When members x history days exceeds the
RETENTION_HISTORY_CHUNK_MEMBER_DAYS setting, the dbt asset first builds everything the history
models read, then the history models alone for each chunk of days but the last, oldest first, and
finally its ordinary `dbt build` with the last chunk. The marts, their tests and the events Dagster
shows are those of that one final build; the earlier steps only add days to the incremental history.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import yaml
from dagster_dbt import DbtCliResource

from assets.dbt_command import NO_UNIT_TESTS, DbtBuild, build_folder, day_range_env, dbt_build
from retention.resources import RetentionResource
from retention.settings import project_root

# The models evaluated per history day, in build order (int_as_of_dates lists the days).
HISTORY_MODELS = (
    "int_as_of_dates",
    "int_member_measures_daily",
    "int_member_state_daily",
    "member_churn_risk",
    "member_kpis_daily",
)
# What the history models read: everything above the last of them, except the per-day models, with the
# seeds that tests of those models compare with (contract_codes). Only the tests whose every parent is
# built here: on a first build, a test that also reads a mart (member_tier_history against the tiers
# seed) would find no table; the final build runs them all.
UPSTREAM_OF_HISTORY = [
    "--select",
    "+member_kpis_daily resource_type:seed",
    "--exclude",
    "int_member_measures_daily+",
    "--indirect-selection",
    "cautious",
]


@dataclass(frozen=True)
class HistoryRequest:
    """What the dbt asset was asked to build: the as-of day (None = the latest landed day), the first
    history day (None = the as-of day only) and whether to recompute every landed day."""

    as_of_date: date | None
    history_from: date | None
    full_refresh: bool


def history_max_days() -> int:
    """The dbt var capping the history (dbt_project.yml is the one place it is set)."""
    project = yaml.safe_load((project_root() / "dbt_project" / "dbt_project.yml").read_text(encoding="utf-8"))
    return int(project["vars"]["history_max_days"])


def history_days_at_most(request: HistoryRequest, first_landed: date, last_landed: date, max_days: int) -> int:
    """An upper bound of the number of history days dbt will compute (int_as_of_dates has the exact
    rule; the bound only decides whether chunking is worth a look)."""
    last = request.as_of_date or last_landed
    first = first_landed if request.full_refresh else max(request.history_from or last, first_landed)
    days = max((last - first).days + 1, 1)
    return min(days, max_days) if max_days > 0 else days


def days_per_chunk(members: int, member_days: int) -> int:
    """Whole days per chunk so that members x days stays within the budget (at least one day)."""
    return max(1, member_days // max(members, 1))


def split_days(first: date, last: date, chunk_days: int) -> list[tuple[date, date]]:
    """[first, last] cut into the fewest consecutive chunks of at most chunk_days days, their sizes
    differing by at most one day, oldest first."""
    total = (last - first).days + 1
    chunks = math.ceil(total / chunk_days)
    base, longer = divmod(total, chunks)
    ranges, start = [], first
    for index in range(chunks):
        size = base + (1 if index < longer else 0)
        ranges.append((start, start + timedelta(days=size - 1)))
        start += timedelta(days=size)
    return ranges


def chunk_build(as_of_date: date | None, first: date, last: date, full_refresh: bool) -> DbtBuild:
    """`dbt build` of the history models for the days first..last. Tests that also read other models
    (relationships) wait for the final build, which builds those models."""
    args = ["build", *NO_UNIT_TESTS, "--select", " ".join(HISTORY_MODELS), "--indirect-selection", "cautious"]
    return DbtBuild(args + (["--full-refresh"] if full_refresh else []), day_range_env(as_of_date, first, last))


def _run(dbt: DbtCliResource, build: DbtBuild) -> None:
    with build.environment():
        invocation = dbt.cli(build.args)
    try:
        invocation.wait()
    finally:
        # Only the final build's results are reported; a failed chunk's error is in the step's log.
        shutil.rmtree(build_folder(invocation), ignore_errors=True)


def _landed_span_and_members(retention: RetentionResource) -> tuple[date, date, int] | None:
    with retention.connect(read_only=True) as con:
        try:
            first, last = con.execute("SELECT min(landing_date), max(landing_date) FROM raw.landed_files").fetchone()
            (members,) = con.execute("SELECT count(DISTINCT member_id) FROM raw.members").fetchone()
        except duckdb.CatalogException:
            return None
    return (first, last, members) if first is not None else None


def build_earlier_chunks(
    dbt: DbtCliResource, retention: RetentionResource, request: HistoryRequest, log: Callable[[str], None]
) -> date | None:
    """Build the history of every chunk but the last when the request is too big for one build, and
    return the first day of the last chunk (the final build's history_from); None when one build will
    do (nothing was run)."""
    budget = retention.settings().history_chunk_member_days
    landed = _landed_span_and_members(retention)
    if budget <= 0 or landed is None:
        return None
    first_landed, last_landed, members = landed
    chunk_days = days_per_chunk(members, budget)
    if history_days_at_most(request, first_landed, last_landed, history_max_days()) <= chunk_days:
        return None

    started = time.monotonic()
    # int_as_of_dates is among what the history reads: it lists the days the request asks for.
    _run(dbt, dbt_build(request.as_of_date, request.full_refresh, request.history_from, UPSTREAM_OF_HISTORY))
    with retention.connect(read_only=True) as con:
        days = "SELECT min(as_of_date), max(as_of_date) FROM intermediate.int_as_of_dates"
        first, last = con.execute(days).fetchone()
    chunks = split_days(first, last, chunk_days)
    log(
        f"History of {(last - first).days + 1} days ({first}..{last}) for {members:,} members, in "
        f"{len(chunks)} chunk(s) of at most {chunk_days} days (RETENTION_HISTORY_CHUNK_MEMBER_DAYS="
        f"{budget:,}); what the history reads was built in {time.monotonic() - started:.0f} s"
    )
    # A full refresh replaces the stored history: its first chunk does, even when it is the only one.
    earlier = chunks if request.full_refresh and len(chunks) == 1 else chunks[:-1]
    for index, (chunk_first, chunk_last) in enumerate(earlier):
        started = time.monotonic()
        refresh = request.full_refresh and index == 0
        _run(dbt, chunk_build(request.as_of_date, chunk_first, chunk_last, refresh))
        seconds = time.monotonic() - started
        log(f"History chunk {index + 1}/{len(chunks)} ({chunk_first}..{chunk_last}) built in {seconds:.0f} s")
    return chunks[-1][0]

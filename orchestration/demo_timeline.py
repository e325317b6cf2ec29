"""The staged demo: a campaign that really runs, wave by wave, with the members' responses in between.

Generate the base data (with the clean activity truth from the first wave on), then for each wave of the
campaign: run the pipeline through the wave date (which builds and exports the wave), simulate the
members' responses to the exported files (landing files on later days), and go on; finally run through
the last day. Each run after the first loads only the new days, as a daily schedule would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from orchestration.runner import run_pipeline
from retention.generator import generate
from retention.generator.campaign_response import WaveSimulation, simulate_wave
from retention.generator.response_parameters import ResponseParameters
from retention.outreach.campaign import load_campaign
from retention.settings import Settings


@dataclass(frozen=True)
class Stage:
    name: str  # "generate", "run", "simulate wave_1", ...
    seconds: float
    detail: str
    ok: bool = True

    def line(self) -> str:
        return f"[{self.name}] {self.detail} ({self.seconds:.0f} s)"


@dataclass
class Timeline:
    stages: list[Stage] = field(default_factory=list)
    simulations: list[WaveSimulation] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not self.failures


def run_campaign_timeline(
    settings: Settings,
    members: int,
    start: date,
    end: date,
    seed: int,
    *,
    defect_rate: float = 0.01,
    parameters: ResponseParameters | None = None,
    instance=None,
    report: Callable[[str], None] = print,
) -> Timeline:
    """Generate [start, end], then run and simulate the campaign of `settings.campaign_file` wave by wave.

    `report` gets one line per stage as it ends; a failed run stops the timeline (its failures are in the
    result). A wave outside [start, end], or one the pipeline did not build, is reported and skipped."""
    campaign = load_campaign(settings.campaign_file)
    timeline = Timeline()

    def stage(name: str, began: float, detail: str, ok: bool = True) -> None:
        timeline.stages.append(Stage(name, time.monotonic() - began, detail, ok))
        report(timeline.stages[-1].line())

    began = time.monotonic()
    summary = generate(
        settings.landing_dir,
        members=members,
        start=start,
        end=end,
        seed=seed,
        defect_rate=defect_rate,
        truth_dir=settings.ground_truth_dir,
        activity_truth_from=campaign.waves[0].wave_date,
    )
    stage("generate", began, f"{members:,} members, {start}..{end}, {sum(summary.files_per_source.values()):,} files")

    loaded_through = start - timedelta(days=1)
    for wave in campaign.waves:
        if not start <= wave.wave_date <= end:
            stage(f"skip {wave.wave_id}", time.monotonic(), f"{wave.wave_date} is outside the data {start}..{end}")
            continue
        if not _run(settings, loaded_through + timedelta(days=1), wave.wave_date, timeline, stage, instance):
            return timeline
        loaded_through = wave.wave_date
        began = time.monotonic()
        simulation = simulate_wave(
            settings.landing_dir,
            settings.ground_truth_dir,
            settings.export_dir,
            campaign,
            wave,
            seed,
            parameters,
            loaded_through=loaded_through,
        )
        timeline.simulations.append(simulation)
        stage(f"simulate {wave.wave_id}", began, simulation.describe())
    if loaded_through < end:
        _run(settings, loaded_through + timedelta(days=1), end, timeline, stage, instance)
    return timeline


def _run(settings: Settings, first: date, last: date, timeline: Timeline, stage, instance) -> bool:
    began = time.monotonic()
    outcome = run_pipeline(settings, first, last, instance=instance)
    days = (last - first).days + 1
    if outcome.success:
        stage("run", began, f"pipeline {first}..{last} ({days:,} days)")
        return True
    timeline.failures.extend(outcome.failures)
    stage("run", began, f"pipeline {first}..{last} ({days:,} days) FAILED", ok=False)
    return False

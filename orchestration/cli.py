"""`retention`: generate demo data, run the pipeline without the UI, simulate campaign responses, print the
landing contract, inspect exports before their first load."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

from retention.settings import Settings

# The demo: ~10,000 members over January 2024 - September 2025, 1% realistic defects.
DEMO_MEMBERS, DEMO_START, DEMO_END, DEMO_SEED, DEMO_DEFECT_RATE = 10_000, date(2024, 1, 1), date(2025, 9, 30), 7, 0.01


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="retention", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    gen = commands.add_parser("generate", help="write realistic demo landing files")
    gen.add_argument("--members", type=int, default=DEMO_MEMBERS)
    gen.add_argument("--start", type=date.fromisoformat, default=DEMO_START)
    gen.add_argument("--end", type=date.fromisoformat, default=DEMO_END)
    gen.add_argument("--seed", type=int, default=DEMO_SEED)
    gen.add_argument("--defect-rate", type=float, default=DEMO_DEFECT_RATE, help="share of rows with realistic defects")
    gen.add_argument("--out", type=Path, default=None, help="landing folder (default: RETENTION_LANDING_DIR)")
    gen.add_argument("--activity", type=float, default=1.0, help="scale of every member's orders and app sessions")
    gen.add_argument(
        "--activity-truth-from",
        type=date.fromisoformat,
        default=None,
        help="also write each member's clean daily activity from this day on (ground truth for `simulate`)",
    )

    run = commands.add_parser("run", help="load every day up to --through and rebuild everything downstream")
    run.add_argument("--through", type=date.fromisoformat, required=True)
    run.add_argument(
        "--from", dest="start", type=date.fromisoformat, default=None, help="default: RETENTION_START_DATE"
    )
    run.add_argument(
        "--full-refresh",
        action="store_true",
        help="recompute the risk and KPI history for every landed day (default: every day from --from to --through)",
    )

    demo = commands.add_parser(
        "demo",
        help="generate the demo data, then run the pipeline wave by wave of the campaign with simulated "
        "responses in between, and through the last day; print a summary",
    )
    demo.add_argument("--members", type=int, default=DEMO_MEMBERS)

    simulate = commands.add_parser(
        "simulate", help="simulate the members' responses to one exported wave of the campaign (landing files)"
    )
    simulate.add_argument("--wave", required=True, help="wave id of the campaign file, e.g. wave_1")
    simulate.add_argument("--seed", type=int, default=DEMO_SEED)

    contract = commands.add_parser("contract", help="regenerate the contract docs and the contract_codes seed")
    contract.add_argument("--check", action="store_true", help="fail if the committed files are out of date")

    inspect = commands.add_parser(
        "inspect",
        help="profile a folder of exports before the first load: encodings, header mapping, the values of "
        "each code column (and which the vocabulary file does not map yet), rows that would be quarantined",
    )
    inspect.add_argument(
        "path", type=Path, help="a folder laid out like the landing folder, one source's folder, or a file"
    )
    inspect.add_argument("--source", default=None, help="the source of PATH's files if its folder names do not say")

    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.command == "generate":
        _generate(
            settings,
            args.out or settings.landing_dir,
            args.members,
            args.start,
            args.end,
            args.seed,
            args.defect_rate,
            args.activity,
            args.activity_truth_from,
        )
        return 0
    if args.command == "simulate":
        return _simulate(settings, args.wave, args.seed)
    if args.command in ("run", "demo"):
        return _writing(settings, args)
    if args.command == "contract":
        return _contract(args.check)
    if args.command == "inspect":
        return _inspect(settings, args.path, args.source)
    return 2


# Exit status when another process is writing the warehouse (sysexits' EX_TEMPFAIL: try again later).
EXIT_BUSY = 75


def _writing(settings: Settings, args: argparse.Namespace) -> int:
    """`run` and `demo`, holding the warehouse's writer lock throughout (see retention/run_lock.py)."""
    from retention.landing.vocabulary import VocabularyError
    from retention.run_lock import WarehouseBusy, warehouse_lock

    try:
        with warehouse_lock(settings):
            if args.command == "run":
                return _run(settings, args.start or settings.start_date, args.through, args.full_refresh)
            return _demo(settings, args.members)
    except WarehouseBusy as busy:
        print(f"retention {args.command}: {busy}", file=sys.stderr)
        return EXIT_BUSY
    except VocabularyError as problem:  # names the file and line; nothing was loaded
        print(f"retention {args.command}: {problem}", file=sys.stderr)
        return 2


def _generate(
    settings: Settings,
    out: Path,
    members: int,
    start: date,
    end: date,
    seed: int,
    defect_rate: float,
    activity: float = 1.0,
    activity_truth_from: date | None = None,
) -> None:
    from retention.generator import generate

    print(
        f"Generating {members:,} members, {start}..{end}, seed {seed}, activity {activity:g}, into {out} ...",
        flush=True,
    )
    summary = generate(
        Path(out),
        members=members,
        start=start,
        end=end,
        seed=seed,
        defect_rate=defect_rate,
        truth_dir=settings.ground_truth_dir,
        activity=activity,
        activity_truth_from=activity_truth_from,
    )
    rows = ", ".join(f"{source} {n:,}" for source, n in summary.rows_per_source.items())
    print(f"  wrote {sum(summary.files_per_source.values()):,} files in {summary.elapsed_seconds:.1f}s: {rows}")
    defects = ", ".join(f"{kind} {n:,}" for kind, n in summary.defects.items() if n)
    print(f"  defects injected: {defects or 'none'}")


def _run(settings: Settings, start: date, through: date, full_refresh: bool = False) -> int:
    from orchestration.runner import run_pipeline

    print(f"Materializing every asset for landing days {start}..{through} into {settings.warehouse} ...", flush=True)
    began = time.monotonic()
    result = run_pipeline(settings, start, through, full_refresh=full_refresh)
    return _finish(settings, result.failures if not result.success else [], began)


def _demo(settings: Settings, members: int) -> int:
    from orchestration.demo_timeline import run_campaign_timeline

    print(f"Demo: {members:,} members, {settings.start_date}..{DEMO_END}, campaign {settings.campaign_file.name}")
    began = time.monotonic()
    timeline = run_campaign_timeline(
        settings, members, settings.start_date, DEMO_END, DEMO_SEED, defect_rate=DEMO_DEFECT_RATE, report=_flush_print
    )
    return _finish(settings, timeline.failures, began)


def _finish(settings: Settings, failures: list[str], began: float) -> int:
    """The closing lines of `run` and `demo`: why it failed, or the time taken and the warehouse summary."""
    from orchestration.runner import warehouse_summary

    if failures:
        print("\nThe run failed:", file=sys.stderr)
        for failure in failures:
            print("  - " + failure.replace("\n", "\n  "), file=sys.stderr)
        return 1
    print(f"Done in {time.monotonic() - began:.0f}s.\n")
    print(warehouse_summary(settings))
    return 0


def _flush_print(line: str) -> None:
    print(line, flush=True)


def _simulate(settings: Settings, wave_id: str, seed: int) -> int:
    from retention.generator.campaign_response import SimulationRefused, simulate_wave
    from retention.landing.safe_text import printable
    from retention.outreach.campaign import load_campaign

    campaign = load_campaign(settings.campaign_file)
    known = [wave.wave_id for wave in campaign.waves]
    if wave_id not in known:
        print(f"retention simulate: no wave '{printable(wave_id, 40)}' (waves: {', '.join(known)})", file=sys.stderr)
        return 2
    try:
        simulation = simulate_wave(
            settings.landing_dir,
            settings.ground_truth_dir,
            settings.export_dir,
            campaign,
            campaign.wave(wave_id),
            seed,
            loaded_through=_last_loaded_day(settings),
        )
    except (FileNotFoundError, SimulationRefused) as problem:  # the message names the file or day, and what to do
        print(f"retention simulate: {problem}", file=sys.stderr)
        return 1
    print(simulation.describe())
    return 0


def _last_loaded_day(settings: Settings):
    """The last landing day the warehouse has loaded (None without a warehouse or loads)."""
    import duckdb

    from orchestration.runner import has_table

    if not settings.warehouse.exists():
        return None
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        if not has_table(con, "raw", "landed_files"):
            return None
        return con.execute("SELECT max(landing_date) FROM raw.landed_files").fetchone()[0]
    finally:
        con.close()


def _inspect(settings: Settings, path: Path, source: str | None) -> int:
    from retention.landing.inspect import InspectError, inspect_exports
    from retention.landing.vocabulary import VocabularyError, load_vocabulary

    try:
        print(inspect_exports(path, settings, load_vocabulary(settings.vocabulary_file), source).describe())
    except (InspectError, VocabularyError) as problem:
        print(f"retention inspect: {problem}", file=sys.stderr)
        return 2
    return 0


def _contract(check: bool) -> int:
    from retention.landing.describe import CODES_SEED, COLUMNS_DOC, codes_seed_csv, columns_markdown
    from retention.settings import project_root

    stale = []
    for relative, content in ((CODES_SEED, codes_seed_csv()), (COLUMNS_DOC, columns_markdown())):
        path = project_root() / relative
        if path.exists() and path.read_text(encoding="utf-8") == content:
            continue
        stale.append(relative)
        if not check:
            path.write_text(content, encoding="utf-8")
    if check and stale:
        print(f"out of date (run `retention contract`): {', '.join(stale)}", file=sys.stderr)
        return 1
    print("contract files up to date" if not stale else f"rewrote {', '.join(stale)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

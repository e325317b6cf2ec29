"""`make bench SCALE=small|medium|large|all`: the pipeline at retailer scale, against a hand-written floor.

For a scale, the demo generator's data (cached in $RETENTION_BENCH_DIR, outside git, reused while its
parameters are unchanged) is run through the real pipeline (`retention run`: every ingestion asset,
dbt build, checks, downstream assets) in a fresh warehouse:
  1. full build: every landing day but the last (the whole history);
  2. daily incremental: the last landing day, then everything downstream, on top of (1);
  3. floor: bench/floor.sql, one DuckDB script computing the same member-level results from the files;
  4. pandas: RFM and the BTYD summary as an analyst would write them (killed above a memory limit).
Each is a separate process whose whole process tree is sampled for resident memory. The table is
printed and saved as results.json beside the data; `all` runs the three scales and shows growth.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import stat
import sys
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

from bench.measure import Measured, run_measured
from retention.settings import project_root

# Members and activity (orders and app sessions per member, x the demo's) of each scale: large is a
# retailer with a million members, many of them occasional (~20M orders, ~100M events over 21 months).
SCALES = {
    "small": (10_000, 1.0),
    "medium": (100_000, 1.0),
    "large": (1_000_000, 0.45),
}
START, END, SEED, DEFECT_RATE = date(2024, 1, 1), date(2025, 9, 30), 7, 0.01
GB = 1_000_000_000


@dataclass
class Stage:
    name: str
    wall_seconds: float
    peak_gb: float
    rows: int | None = None
    note: str = ""

    @property
    def rows_per_second(self) -> float | None:
        return self.rows / self.wall_seconds if self.rows and self.wall_seconds else None


def bench_dir() -> Path:
    return Path(os.environ.get("RETENTION_BENCH_DIR", Path.home() / ".cache" / "retention-bench"))


def python() -> str:
    return sys.executable


def retention_cli() -> str:
    return str(Path(sys.executable).parent / "retention")


def pipeline_env(work: Path, landing: Path, truth: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETENTION_")}
    env.update(
        RETENTION_LANDING_DIR=str(landing),
        RETENTION_GROUND_TRUTH_DIR=str(truth),
        RETENTION_WAREHOUSE=str(work / "warehouse.duckdb"),
        RETENTION_EXPORT_DIR=str(work / "exports"),
        RETENTION_DUCKDB_TEMP_DIRECTORY=str(work / "duckdb_tmp"),
        # The BI copy too: the full build publishes it from scratch, the daily run from the full build's.
        RETENTION_SERVING_FILE=str(work / "serving" / "serving.duckdb"),
        RETENTION_SERVING_PARQUET_DIR=str(work / "serving" / "parquet"),
        DAGSTER_HOME=str(work / "dagster_home"),
        # dbt and dagster of this interpreter's environment, whether or not it is activated.
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    # Limits a bench run may set for the pipeline (defaults: the pipeline's own settings).
    for name in ("RETENTION_DUCKDB_MEMORY_LIMIT", "RETENTION_DUCKDB_THREADS", "RETENTION_LOAD_BATCH_ROWS"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def generated(scale: str, folder: Path) -> Stage | None:
    """Generate the scale's landing files unless the cache already holds them; a Stage if it generated."""
    members, activity = SCALES[scale]
    parameters = {"members": members, "activity": activity, "start": str(START), "end": str(END), "seed": SEED}
    marker = folder / "generated.json"
    if marker.exists() and json.loads(marker.read_text()).get("parameters") == parameters:
        return None
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    env = {**os.environ, "RETENTION_GROUND_TRUTH_DIR": str(folder / "ground_truth")}
    command = [retention_cli(), "generate", "--members", str(members), "--activity", str(activity)]
    command += ["--start", str(START), "--end", str(END), "--seed", str(SEED), "--defect-rate", str(DEFECT_RATE)]
    command += ["--out", str(folder / "landing")]
    measured = run_measured(command, env=env, log=folder / "generate.log")
    if measured.returncode != 0:
        raise SystemExit(f"generating {scale} failed; see {folder / 'generate.log'}")
    marker.write_text(json.dumps({"parameters": parameters}))
    return Stage("generate data", measured.wall_seconds, measured.peak_gb, note=_last_line(folder / "generate.log"))


def _last_line(path: Path, contains: str = "wrote") -> str:
    lines = [line.strip() for line in path.read_text().splitlines() if contains in line]
    return lines[-1] if lines else ""


def rows_read(warehouse: Path, first: date, last: date) -> int:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            "SELECT coalesce(sum(rows_read), 0) FROM raw.landed_files WHERE landing_date BETWEEN ? AND ?",
            [first, last],
        ).fetchone()[0]
    finally:
        con.close()


def step_seconds(dagster_home: Path) -> dict[str, float]:
    """Wall seconds of each step of the latest run in the bench's Dagster instance."""
    import dagster as dg

    # Its event log storage finds its folder through DAGSTER_HOME (orchestration/event_log_storage.py).
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        return {
            s.step_key: round(s.end_time - s.start_time, 1)
            for s in instance.get_run_step_stats(run.run_id)
            if s.end_time and s.start_time
        }


def pipeline_stage(name: str, work: Path, env: dict, first: date, last: date) -> tuple[Stage, dict[str, float]]:
    command = [retention_cli(), "run", "--from", str(first), "--through", str(last)]
    log = work / f"{name.replace(' ', '_')}.log"
    measured = run_measured(command, env=env, log=log, disk=work)
    disk = f"disk +{measured.disk_growth_bytes / GB:.1f} GB at its fullest"
    if measured.returncode != 0:
        # Still a result worth printing: how long, how much memory and disk it took to fail (a full disk
        # is one way to fail), and why.
        note = f"failed (exit {measured.returncode}): {_first_error(log)}; {disk}; see {log}"
        return Stage(name, measured.wall_seconds, measured.peak_gb, note=note), step_seconds(work / "dagster_home")
    rows = rows_read(work / "warehouse.duckdb", first, last)
    note = f"{process_peaks(measured)}; {disk}"
    return Stage(name, measured.wall_seconds, measured.peak_gb, rows, note), step_seconds(work / "dagster_home")


def process_peaks(measured: Measured, shown: int = 2) -> str:
    """The largest single processes' peaks (the Dagster run's own process and dbt's): which one holds the
    memory. They need not peak at the same moment, so they may add up to more than the tree's peak."""
    largest = sorted(measured.peak_by_command.items(), key=lambda kv: -kv[1])[:shown]
    return "process peaks: " + ", ".join(f"{name} {rss / GB:.2f} GB" for name, rss in largest)


def _first_error(log: Path) -> str:
    """The first line of the log that says what went wrong (dbt's and DuckDB's errors name it)."""
    markers = ("Error:", "Error in model", "Error in test", "LandingError", "check raw/")
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if any(m in line for m in markers):
            # dbt names the model on one line and gives DuckDB's message on the next.
            detail = lines[i + 1] if "Error in " in line and i + 1 < len(lines) else ""
            return f"{line} {detail}".strip()[:300]
    return "no error line in the log"


PIPELINE_STAGES = ("full build", "daily incremental")


def unfinished(note: str) -> bool:
    """A stage that failed or that the bench stopped (its time and memory are what it took to get there)."""
    return note.startswith(("failed", "stopped"))


def failed(stage: Stage) -> bool:
    return unfinished(stage.note)


def floor_stage(landing: Path, work: Path, as_of: date, memory_limit: str, compare: bool = True) -> tuple[Stage, dict]:
    """The floor's best of two runs, then how many members it agrees with the pipeline's marts on (not
    timed). Best of two: the first run may read the files from disk after the pipeline's runs pushed
    them out of the page cache (measured at medium: 99 s cold, 29 s warm), and the ratios to the floor
    should not flatter the pipeline."""
    from bench.floor import compare_with_marts

    command = [python(), "-m", "bench.floor", str(landing), str(as_of), "--workdir", str(work / "floor")]
    command += ["--memory-limit", memory_limit]
    runs = []
    for attempt in (1, 2):
        log = work / f"floor-{attempt}.log"
        measured = run_measured(command, log=log, cwd=Path(__file__).resolve().parent.parent)
        if measured.returncode != 0:
            raise SystemExit(f"the floor failed; see {log}")
        runs.append(measured)
    floor_db = work / "floor" / "floor.duckdb"
    agreement = compare_with_marts(floor_db, work / "warehouse.duckdb") if compare else {}
    seconds = [round(m.wall_seconds, 1) for m in runs]
    stage = Stage(
        "floor (hand-written DuckDB SQL)",
        min(m.wall_seconds for m in runs),
        max(m.peak_gb for m in runs),
        note=f"best of {seconds[0]} s and {seconds[1]} s",
    )
    return stage, agreement


def pandas_stage(landing: Path, work: Path, as_of: date, limit_gb: float, timeout: float) -> Stage:
    command = [python(), "-m", "bench.pandas_baseline", str(landing), str(as_of)]
    measured: Measured = run_measured(
        command,
        log=work / "pandas.log",
        cwd=Path(__file__).resolve().parent.parent,
        memory_limit_bytes=int(limit_gb * GB),
        timeout_seconds=timeout,
    )
    note = f"stopped: {measured.stopped}" if measured.stopped else ""
    if not measured.stopped and measured.returncode != 0:
        note = f"failed (exit {measured.returncode})"
    return Stage("pandas RFM + BTYD (analyst notebook)", measured.wall_seconds, measured.peak_gb, note=note)


def parse_dbt_project() -> None:
    """dbt's manifest, as `make manifest` writes it: the code location reads it, and a stale one fails
    the run on the first model it does not know."""
    import subprocess

    project = Path(__file__).resolve().parent.parent / "dbt_project"
    dbt = str(Path(sys.executable).parent / "dbt")
    subprocess.run([dbt, "parse", "--quiet", "--profiles-dir", "."], cwd=project, check=True)


def run_scale(scale: str, pandas_limit_gb: float, pandas_timeout: float) -> dict:
    parse_dbt_project()
    folder = bench_dir() / scale
    stages: list[Stage] = []
    if (stage := generated(scale, folder)) is not None:
        stages.append(stage)
    landing, truth, work = folder / "landing", folder / "ground_truth", folder / "run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = pipeline_env(work, landing, truth)
    # The instance a user's `make setup` gives (orchestration/dagster.yaml: its event log storage too).
    (work / "dagster_home").mkdir()
    shutil.copy(project_root() / "orchestration" / "dagster.yaml", work / "dagster_home" / "dagster.yaml")

    last = END
    full, full_steps = pipeline_stage("full build", work, env, START, last - timedelta(days=1))
    daily, daily_steps = Stage("daily incremental", 0.0, 0.0, note="failed: not run, the full build failed"), {}
    if not failed(full):
        daily, daily_steps = pipeline_stage("daily incremental", work, env, last, last)
    # The floor and pandas do not need the pipeline; the agreement with the marts does.
    floor, agreement = floor_stage(
        landing, work, last, env.get("RETENTION_DUCKDB_MEMORY_LIMIT", "4GB"), compare=not failed(daily)
    )
    pandas = pandas_stage(landing, work, last, pandas_limit_gb, pandas_timeout)
    stages += [full, daily, floor, pandas]
    results = {
        "scale": scale,
        "members": SCALES[scale][0],
        "activity": SCALES[scale][1],
        "machine": machine(),
        "date": date.today().isoformat(),
        "stages": [asdict(s) | {"rows_per_second": s.rows_per_second} for s in stages],
        "full_build_steps": full_steps,
        "daily_steps": daily_steps,
        "ratio_full_build_to_floor": None if failed(full) else full.wall_seconds / floor.wall_seconds,
        "floor_agreement": agreement,
        "ratio_daily_to_floor": None if failed(daily) else daily.wall_seconds / floor.wall_seconds,
        "ratio_pandas_to_floor": None if pandas.note else pandas.wall_seconds / floor.wall_seconds,
        "landing_bytes": folder_bytes(landing),
        # What the pipeline keeps after the daily run (the temp spill is gone by then: see the stage notes).
        "warehouse_bytes": folder_bytes(work / "warehouse.duckdb"),
        "serving_bytes": folder_bytes(work / "serving"),
    }
    (folder / "results.json").write_text(json.dumps(results, indent=2))
    return results


def folder_bytes(path: Path) -> int:
    """Disk bytes of the files under `path`, each file once: a BI copy's version hard-links the Parquet
    partitions it did not change from the previous one, and its `current` link is not followed."""
    if path.is_file():
        return path.stat().st_size
    seen: dict[tuple[int, int], int] = {}
    for folder, _, names in os.walk(path):
        for name in names:
            status = os.lstat(os.path.join(folder, name))
            if not stat.S_ISLNK(status.st_mode):
                seen[(status.st_dev, status.st_ino)] = status.st_size
    return sum(seen.values())


def machine() -> str:
    memory = next(
        int(line.split()[1]) * 1024 for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line
    )
    return f"{os.cpu_count()} cores, {memory / 2**30:.0f} GiB, {platform.system()} {platform.machine()}"


def print_results(results: dict, floor_seconds: float | None = None) -> None:
    stages = results["stages"]
    floor = floor_seconds or next(s["wall_seconds"] for s in stages if s["name"].startswith("floor"))
    print(
        f"\n{results['scale']}: {results['members']:,} members (activity {results['activity']:g}), "
        f"{results['landing_bytes'] / 1e9:.1f} GB of landing files; {results['machine']}; {results['date']}"
    )
    if "warehouse_bytes" in results:
        print(
            f"  kept after the daily run: warehouse {results['warehouse_bytes'] / 1e9:.1f} GB, "
            f"BI serving folder {results['serving_bytes'] / 1e9:.1f} GB"
        )
    print(f"  {'stage':<40}{'wall s':>9}{'peak GB':>9}{'rows/s':>11}{'x floor':>9}  note")
    for s in stages:
        rate = f"{s['rows_per_second']:,.0f}" if s["rows_per_second"] else ""
        no_ratio = s["name"].startswith("generate") or unfinished(s["note"])
        ratio = "" if no_ratio else f"{s['wall_seconds'] / floor:.1f}"
        print(f"  {s['name']:<40}{s['wall_seconds']:>9.1f}{s['peak_gb']:>9.2f}{rate:>11}{ratio:>9}  {s['note']}")
    for title, key in (("full build", "full_build_steps"), ("daily incremental", "daily_steps")):
        steps = ", ".join(f"{k} {v:g}" for k, v in sorted(results[key].items(), key=lambda kv: -kv[1]))
        print(f"  {title} steps (s): {steps}")


def print_growth(all_results: list[dict]) -> None:
    """How time and memory grow from scale to scale (the history is 21 months at every scale)."""
    print("\nGrowth across scales")
    print(f"  {'scale':<8}{'members':>11}{'full s':>9}{'full GB':>9}{'daily s':>9}{'daily GB':>10}{'floor s':>9}")
    for r in all_results:
        by = {s["name"]: s for s in r["stages"]}
        full, daily = by["full build"], by["daily incremental"]
        floor = next(s for s in r["stages"] if s["name"].startswith("floor"))
        print(
            f"  {r['scale']:<8}{r['members']:>11,}{full['wall_seconds']:>9.0f}{full['peak_gb']:>9.2f}"
            f"{daily['wall_seconds']:>9.1f}{daily['peak_gb']:>10.2f}{floor['wall_seconds']:>9.0f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("scale", choices=[*SCALES, "all"])
    parser.add_argument("--pandas-memory-limit-gb", type=float, default=12.0)
    parser.add_argument("--pandas-timeout", type=float, default=1800.0, help="seconds")
    parser.add_argument("--report-only", action="store_true", help="print the saved results, run nothing")
    args = parser.parse_args(argv)
    scales = list(SCALES) if args.scale == "all" else [args.scale]
    all_results = []
    for scale in scales:
        saved = bench_dir() / scale / "results.json"
        if args.report_only:
            if not saved.exists():
                print(f"{scale}: no saved results in {saved}")
                continue
            results = json.loads(saved.read_text())
        else:
            results = run_scale(scale, args.pandas_memory_limit_gb, args.pandas_timeout)
        print_results(results)
        all_results.append(results)
    if len(all_results) > 1:
        print_growth(all_results)
    pipeline_failed = any(
        unfinished(stage["note"])
        for results in all_results
        for stage in results["stages"]
        if stage["name"] in PIPELINE_STAGES
    )
    return 1 if pipeline_failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

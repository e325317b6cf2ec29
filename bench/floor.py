"""The benchmark floor (issue 7): bench/floor.sql, one hand-written DuckDB script, run on the landed files.

`run_floor` stages the landing folder (links to every file; GBK/GB18030 CSVs transcoded to UTF-8,
because DuckDB's CSV reader decodes only UTF-8 without the `encodings` extension, and `INSTALL
encodings` downloads it), then runs the script in a fresh DuckDB file. Staging is part of the
floor's wall time. `compare_with_marts` checks the floor's results against a pipeline warehouse.

    python -m bench.floor LANDING AS_OF [--warehouse W] [--pandas]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import yaml

from retention.churn_intent import NONE, score

REPO = Path(__file__).resolve().parent.parent
SQL_FILE = Path(__file__).with_name("floor.sql")
SEEDS_DIR = REPO / "dbt_project" / "seeds"
DBT_PROJECT = REPO / "dbt_project" / "dbt_project.yml"
SOURCES = ("members", "orders", "events", "tickets")
CSV_SUFFIXES = {".csv", ".txt"}
JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}
# dbt vars the script uses (dbt_project.yml); settings come from retention.settings.Settings.
DBT_VARS = (
    "rfm_window_days",
    "tier_window_days",
    "risk_frequency_window_days",
    "risk_frequency_drop_share",
    "risk_frequency_min_previous_orders",
    "risk_no_login_days",
    "risk_text_window_days",
    "risk_overdue_interval_multiple",
    "risk_complaint_open_hours",
    "risk_high_min_flags",
)
SETTINGS = (
    "timezone",
    "max_order_amount",
    "max_paid_level",
    "max_dwell_seconds",
    "earliest_timestamp",
    "future_tolerance_days",
    "earliest_birthday",
)
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_CREATED_TABLE = re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP\s+)?TABLE\s+(\w+)", re.IGNORECASE | re.MULTILINE)


# --------------------------------------------------------------------------------------------------
# Staging: what DuckDB cannot read itself
# --------------------------------------------------------------------------------------------------


def _stage_csv(task: tuple[str, str]) -> bool:
    """Link a UTF-8 CSV, or write a GBK/GB18030 one as UTF-8. True if it was transcoded."""
    source, target = Path(task[0]), Path(task[1])
    data = source.read_bytes()
    try:
        data.decode("utf-8")  # a UTF-8 byte-order mark decodes too; DuckDB skips it
    except UnicodeDecodeError:
        target.write_bytes(data.decode("gb18030").encode("utf-8"))
        return True
    target.symlink_to(source.resolve())
    return False


def stage_files(landing_dir: Path, staged_dir: Path, workers: int = 1) -> dict:
    """Mirror the landed files of SOURCES under `staged_dir` (same relative paths) for floor.sql.

    JSON lines and UTF-8 CSVs become symbolic links; other CSVs are decoded as GB18030 (a superset of
    GBK) and written as UTF-8. `.txt` / `.ndjson` / `.json` get a `.csv` / `.jsonl` suffix added, so
    the script globs two patterns per source; a source without one of the two formats gets an empty
    placeholder file (a glob that matches nothing is an error in DuckDB). Hidden files are skipped;
    any other file type is an error, as in the pipeline's loader.
    """
    landing_dir, staged_dir = Path(landing_dir).resolve(), Path(staged_dir)
    if staged_dir.exists():
        raise FileExistsError(f"{staged_dir} exists; stage into a new folder")
    csv_tasks: list[tuple[str, str]] = []
    json_files = 0
    for source in SOURCES:
        formats = set()
        root = landing_dir / source
        for path in sorted(root.rglob("*")) if root.exists() else []:
            if not path.is_file() or path.name.startswith("."):
                continue
            suffix = path.suffix.lower()
            relative = path.relative_to(landing_dir)
            if suffix in CSV_SUFFIXES:
                target = staged_dir / (relative if suffix == ".csv" else f"{relative}.csv")
                csv_tasks.append((str(path), str(target)))
                formats.add("csv")
            elif suffix in JSON_SUFFIXES:
                target = staged_dir / (relative if suffix == ".jsonl" else f"{relative}.jsonl")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(path)
                json_files += 1
                formats.add("jsonl")
                continue
            else:
                raise ValueError(f"{relative}: unsupported file type {suffix or '(none)'}")
            target.parent.mkdir(parents=True, exist_ok=True)
        for missing in {"csv", "jsonl"} - formats:
            (staged_dir / source).mkdir(parents=True, exist_ok=True)
            (staged_dir / source / f"_none.{missing}").touch()
    if workers > 1 and len(csv_tasks) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            transcoded = sum(pool.map(_stage_csv, csv_tasks, chunksize=max(1, len(csv_tasks) // (4 * workers))))
    else:
        transcoded = sum(map(_stage_csv, csv_tasks))
    return {"csv_files": len(csv_tasks), "transcoded_csv_files": transcoded, "json_files": json_files}


# --------------------------------------------------------------------------------------------------
# Running the script
# --------------------------------------------------------------------------------------------------


def rule_parameters(overrides: dict | None = None) -> dict[str, str]:
    """The dbt vars and pipeline settings floor.sql needs, as the pipeline would use them."""
    from retention.landing.rules import amount_pattern
    from retention.settings import Settings  # read when asked for, like the pipeline

    dbt_vars = yaml.safe_load(DBT_PROJECT.read_text())["vars"]
    if dbt_vars.get("rfm_scoring_method", "bins") != "bins":
        raise ValueError("the floor scores RFM by the bins of seeds/rfm_score_bins.csv only")
    settings = Settings.from_env()
    values = {name: dbt_vars[name] for name in DBT_VARS} | {name: getattr(settings, name) for name in SETTINGS}
    values["amount_pattern"] = amount_pattern(settings.amount_decimals)  # the grammar, not a second copy of it
    values |= overrides or {}
    return {name: str(value) for name, value in values.items()}


def render_sql(parameters: dict[str, str]) -> str:
    """floor.sql with every {placeholder} filled in; an unknown placeholder is an error."""

    def fill(match: re.Match) -> str:
        if match[1] not in parameters:
            raise KeyError(f"floor.sql placeholder {{{match[1]}}} has no value")
        return parameters[match[1]]

    return _PLACEHOLDER.sub(fill, SQL_FILE.read_text())


def run_floor(
    landing_dir: Path,
    as_of: date,
    workdir: Path,
    memory_limit: str = "4GB",
    threads: int = 0,
    overrides: dict | None = None,
) -> dict:
    """Stage the landed files and run floor.sql in a fresh DuckDB file `workdir/floor.duckdb`.

    Returns wall seconds (staging included), the results' row count and the peak resident memory of
    this process so far (run it in a fresh process for the floor's own peak). threads=0: one per core.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    threads = threads or os.cpu_count() or 1
    db_path = workdir / "floor.duckdb"
    staged = workdir / "staged"
    # A fresh start, before the clock runs: removing thousands of links is not the floor's work.
    for stale in (db_path, db_path.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(staged, ignore_errors=True)
    shutil.rmtree(workdir / "duckdb_tmp", ignore_errors=True)
    parameters = rule_parameters(overrides) | {
        "files": str(staged),
        "seeds": str(SEEDS_DIR),
        "as_of": as_of.isoformat(),
    }
    sql = render_sql(parameters)

    started = time.perf_counter()
    staging = stage_files(Path(landing_dir), staged, workers=threads)
    staged_at = time.perf_counter()
    con = duckdb.connect(
        str(db_path),
        config={
            "memory_limit": memory_limit,
            "threads": threads,
            "temp_directory": str(workdir / "duckdb_tmp"),
        },
    )
    steps: dict[str, float] = {}
    try:
        # One statement at a time only to time each table the script builds; the script is the same.
        for statement in con.extract_statements(sql):
            step_started = time.perf_counter()
            con.execute(statement)
            created = _CREATED_TABLE.search(statement.query)
            step = created[1] if created else "settings and macros"
            steps[step] = steps.get(step, 0.0) + time.perf_counter() - step_started
            if step == "tickets":
                step_started = time.perf_counter()
                score_ticket_texts(con)
                steps["churn_intents"] = time.perf_counter() - step_started
        rows = con.execute("SELECT count(*) FROM floor_member_results").fetchone()[0]
    finally:
        con.close()
    finished = time.perf_counter()
    return {
        "as_of": as_of.isoformat(),
        "wall_seconds": round(finished - started, 3),
        "staging_seconds": round(staged_at - started, 3),
        "sql_seconds": round(finished - staged_at, 3),
        "sql_seconds_by_table": {step: round(seconds, 3) for step, seconds in steps.items()},
        "rows": rows,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "memory_limit": memory_limit,
        "threads": threads,
        "floor_db": str(db_path),
        **staging,
    }


# --------------------------------------------------------------------------------------------------
# Agreement with the pipeline's marts
# --------------------------------------------------------------------------------------------------

# Per result: the mart, which floor rows and mart rows to compare, and each compared column's test.
# The BTYD monetary value is a mean (a double on both sides), so it compares to a hundredth of a cent.
_RESULTS: dict[str, tuple[str, str, str, dict[str, str]]] = {
    "rfm": (
        "marts.member_rfm",
        "f.recency_days IS NOT NULL",
        "TRUE",
        {
            "recency_days": "f.recency_days = m.recency_days",
            "frequency": "f.frequency = m.frequency",
            "monetary": "f.monetary = m.monetary",
            "r_score": "f.r_score = m.r_score",
            "f_score": "f.f_score = m.f_score",
            "m_score": "f.m_score = m.m_score",
        },
    ),
    "btyd": (
        "marts.member_btyd_summary",
        "f.btyd_frequency IS NOT NULL",
        "TRUE",
        {
            "frequency": "f.btyd_frequency = m.frequency",
            "recency": "f.btyd_recency = m.recency",
            "T": 'f.btyd_t = m."T"',
            "monetary_value": "abs(f.btyd_monetary_value - m.monetary_value) < 1e-4",
        },
    ),
    "tier": ("marts.dim_members", "TRUE", "TRUE", {"tier": "f.tier = m.tier"}),
    "churn_risk": (
        "marts.member_churn_risk",
        "TRUE",
        "m.as_of_date = getvariable('as_of')",
        {
            name: f"f.{name} = m.{name}"
            for name in (
                "flag_frequency_drop",
                "flag_no_login",
                "flag_churn_text",
                "flag_overdue",
                "flag_open_complaint",
                "risk_level",
            )
        },
    ),
}


def score_ticket_texts(con: duckdb.DuckDBPyConnection) -> None:
    """The temp table churn_intents (content_hash, category) of the distinct texts of `tickets` with churn
    intent, scored by the pipeline's detector (floor.sql's churn_text reads it)."""
    texts = con.execute(
        "SELECT md5(content) AS content_hash, any_value(content) AS content FROM tickets "
        "WHERE content IS NOT NULL GROUP BY 1"
    ).pl()
    scored = texts.select("content_hash", category=score(texts["content"])["category"]).filter(
        pl.col("category") != NONE
    )
    con.register("scored_texts", scored.to_arrow())
    con.execute("CREATE TEMP TABLE churn_intents AS SELECT * FROM scored_texts")
    con.unregister("scored_texts")


def compare_with_marts(floor_db: Path, warehouse_db: Path) -> dict:
    """Members on which the floor and the pipeline's marts agree, per result, for the floor's as-of day.

    The marts key members by member_key (a salted hash); the pipeline's own map from member_id is
    intermediate.int_member_states, so no salt is needed here. Per result: rows on each side, members
    on both, members agreeing on every compared column, and the disagreements per column. The RFM,
    BTYD and tier marts hold one as-of day (the build's); they are compared only if it is the floor's.
    """
    con = duckdb.connect(str(floor_db), read_only=True)
    try:
        warehouse = str(Path(warehouse_db).resolve()).replace("'", "''")
        con.execute(f"ATTACH '{warehouse}' AS wh (READ_ONLY)")
        as_of = con.execute("SELECT any_value(as_of_date) FROM floor_member_results").fetchone()[0]
        built_as_of = con.execute("SELECT as_of_date FROM wh.intermediate.int_as_of_date").fetchone()[0]
        con.execute("SET VARIABLE as_of = ?", [as_of])
        con.execute(
            """CREATE TEMP TABLE keyed AS
            SELECT keys.member_key, results.*
            FROM floor_member_results AS results
            LEFT JOIN (SELECT DISTINCT member_id, member_key FROM wh.intermediate.int_member_states) AS keys
                USING (member_id)"""
        )
        report: dict = {
            "as_of": str(as_of),
            "warehouse_as_of": str(built_as_of),
            "floor_members": con.execute("SELECT count(*) FROM keyed").fetchone()[0],
            "floor_members_without_key": con.execute(
                "SELECT count(*) FILTER (member_key IS NULL) FROM keyed"
            ).fetchone()[0],
        }
        for name, (table, floor_filter, mart_filter, tests) in _RESULTS.items():
            if name != "churn_risk" and built_as_of != as_of:
                report[name] = {"skipped": f"{table} is built as of {built_as_of}, not {as_of}"}
                continue
            columns = [f'"{column}"' for column in tests]
            equal = ", ".join(f'coalesce({test}, FALSE) AS "{column}"' for column, test in tests.items())
            per_column = ", ".join(f"count(*) FILTER (WHERE in_both AND NOT {c})" for c in columns)
            floor_rows, mart_rows, both, agree, *differ = con.execute(
                f"""WITH joined AS (
                    SELECT
                        f.member_key IS NOT NULL AS in_floor,
                        m.member_key IS NOT NULL AS in_marts,
                        f.member_key IS NOT NULL AND m.member_key IS NOT NULL AS in_both,
                        {equal}
                    FROM (SELECT * FROM keyed AS f WHERE {floor_filter}) AS f
                    FULL JOIN (SELECT * FROM wh.{table} AS m WHERE {mart_filter}) AS m USING (member_key)
                )
                SELECT
                    count(*) FILTER (WHERE in_floor),
                    count(*) FILTER (WHERE in_marts),
                    count(*) FILTER (WHERE in_both),
                    count(*) FILTER (WHERE in_both AND {" AND ".join(columns)}),
                    {per_column}
                FROM joined"""
            ).fetchone()
            report[name] = {
                "floor_rows": floor_rows,
                "mart_rows": mart_rows,
                "both": both,
                "agree": agree,
                "only_floor": floor_rows - both,
                "only_marts": mart_rows - both,
                "differ_by_column": {column: n for column, n in zip(tests, differ, strict=True) if n},
            }
        return report
    finally:
        con.close()


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.split("\n\n")[0])
    parser.add_argument("landing", type=Path)
    parser.add_argument("as_of", type=date.fromisoformat)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a folder under the system temp dir")
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--threads", type=int, default=0, help="0 = one per core")
    parser.add_argument("--warehouse", type=Path, help="a pipeline warehouse to compare the results with")
    parser.add_argument("--pandas", action="store_true", help="also run bench/pandas_baseline.py and print the ratio")
    parser.add_argument("--pandas-memory-limit", default="8GB", help="kill the pandas run above this resident memory")
    parser.add_argument("--pandas-timeout", type=float, default=3600.0, help="seconds")
    args = parser.parse_args(argv)

    if args.workdir is None:
        import tempfile

        args.workdir = Path(tempfile.gettempdir()) / f"retention-floor-{os.getpid()}"
    floor = run_floor(args.landing, args.as_of, args.workdir, args.memory_limit, args.threads)
    print(json.dumps({"floor": floor}, indent=2))
    if args.warehouse:
        print(json.dumps({"agreement": compare_with_marts(Path(floor["floor_db"]), args.warehouse)}, indent=2))
    if args.pandas:
        from bench.pandas_baseline import parse_size, run_pandas_subprocess

        baseline = run_pandas_subprocess(
            args.landing, args.as_of, parse_size(args.pandas_memory_limit), args.pandas_timeout
        )
        ratio = (
            round(baseline["wall_seconds"] / floor["wall_seconds"], 2)
            if baseline["status"] == "ok"
            else f"pandas {baseline['status']} after {baseline['wall_seconds']} s"
        )
        print(json.dumps({"pandas": baseline, "pandas_to_floor_ratio": ratio}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

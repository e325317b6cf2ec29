"""The `dbt build` command lines the dbt asset runs, and the day range they build.

The as-of day and the history's first and last days reach dbt as environment variables
(RETENTION_DBT_*), not `--vars`: dbt re-parses the whole project whenever `--vars` change (about 3 s of CPU
per build), while a changed environment variable re-parses only the few files that read it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

NO_UNIT_TESTS = ("--exclude-resource-type", "unit_test")
AS_OF_DATE_ENV = "RETENTION_DBT_AS_OF_DATE"
HISTORY_FROM_ENV = "RETENTION_DBT_HISTORY_FROM"
HISTORY_THROUGH_ENV = "RETENTION_DBT_HISTORY_THROUGH"
DAY_RANGE_ENV = (AS_OF_DATE_ENV, HISTORY_FROM_ENV, HISTORY_THROUGH_ENV)
# dagster-dbt gives every build a target folder of its own (about 11 MB: manifest, compiled SQL, run
# results); two builds a day would pile up 8 GB a year. The newest few are kept to look into.
TARGETS_KEPT = 10


@dataclass(frozen=True)
class DbtBuild:
    args: list[str]
    # The day range, by RETENTION_DBT_* variable; a variable left out is unset for the build.
    env: dict[str, str] = field(default_factory=dict)

    @contextmanager
    def environment(self) -> Iterator[None]:
        """The day range in this process's environment while the dbt subprocess is started (dagster-dbt
        passes os.environ on); whatever was there before comes back afterwards."""
        before = {name: os.environ.get(name) for name in DAY_RANGE_ENV}
        try:
            for name in DAY_RANGE_ENV:
                if name in self.env:
                    os.environ[name] = self.env[name]
                else:
                    os.environ.pop(name, None)
            yield
        finally:
            for name, value in before.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def day_range_env(
    as_of_date: date | None = None, history_from: date | None = None, history_through: date | None = None
) -> dict[str, str]:
    days = {AS_OF_DATE_ENV: as_of_date, HISTORY_FROM_ENV: history_from, HISTORY_THROUGH_ENV: history_through}
    return {name: day.isoformat() for name, day in days.items() if day is not None}


def dbt_build(
    as_of_date: date | None = None,
    full_refresh: bool = False,
    history_from: date | None = None,
    selection: Sequence[str] = (),
) -> DbtBuild:
    """`build` with its selection and full refresh (which recomputes every landed day, so it drops
    history_from), as of `as_of_date` (None: the latest landed day). Never the unit tests: they check the
    models' logic on fixed inputs, not the data, so the test suite runs them, not every run."""
    args = ["build", *NO_UNIT_TESTS, *selection]
    if full_refresh:
        args.append("--full-refresh")
    return DbtBuild(args, day_range_env(as_of_date, None if full_refresh else history_from))


def prune_build_targets(target_dir: Path, op_name: str, keep: int = TARGETS_KEPT) -> list[Path]:
    """Delete all but the `keep` newest target folders of `op_name`'s builds (`<op_name>-<run>-<hash>`);
    return what was deleted. The project's own target files (manifest, partial parse) are never touched."""
    builds = [path for path in target_dir.glob(f"{op_name}-*") if path.is_dir()]
    builds.sort(key=lambda path: path.stat().st_mtime_ns, reverse=True)
    for old in builds[keep:]:
        shutil.rmtree(old, ignore_errors=True)
    return builds[keep:]


def build_folder(invocation) -> Path:
    """Where a dagster-dbt invocation wrote its target files (its path is relative to the dbt project)."""
    path = Path(invocation.target_path)
    return path if path.is_absolute() else Path(invocation.project_dir) / path


PARTIAL_PARSE = "partial_parse.msgpack"


def keep_partial_parse(build_dir: Path, target_dir: Path) -> bool:
    """Make a finished build's parse state the one the next build starts from. dagster-dbt copies
    target/partial_parse.msgpack into each build's folder; the one `make manifest` wrote was parsed with
    another profile (the warehouse path and DuckDB limits a run sets), so without this every build
    re-parsed the whole project ("profile has changed"). Replaced atomically: a reader never sees half."""
    source = build_dir / PARTIAL_PARSE
    if not source.is_file():
        return False
    staging = target_dir / f".{PARTIAL_PARSE}.{os.getpid()}"
    shutil.copyfile(source, staging)
    os.replace(staging, target_dir / PARTIAL_PARSE)
    return True


def finish_build(invocation, op_name: str) -> None:
    """After a dbt asset's build: its parse state becomes the next build's, and old build folders go."""
    build_dir = build_folder(invocation)
    keep_partial_parse(build_dir, build_dir.parent)
    prune_build_targets(build_dir.parent, op_name)

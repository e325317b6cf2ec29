"""The `dbt build` command lines the dbt asset runs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date

NO_UNIT_TESTS = ("--exclude-resource-type", "unit_test")


def dbt_build_args(
    as_of_date: date | None = None,
    full_refresh: bool = False,
    history_from: date | None = None,
    selection: Sequence[str] = (),
) -> list[str]:
    """`build` with its selection, the as-of day and the first history day as vars, full refresh (which
    recomputes every landed day, so it drops history_from). Never the unit tests: they check the models' logic
    on fixed inputs, not the data, so the test suite runs them (tests/test_dbt_unit_tests.py), not every run."""
    args = ["build", *NO_UNIT_TESTS, *selection]
    dbt_vars = {}
    if as_of_date is not None:
        dbt_vars["as_of_date"] = as_of_date.isoformat()
    if history_from is not None and not full_refresh:
        dbt_vars["history_from"] = history_from.isoformat()
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars)]
    if full_refresh:
        args.append("--full-refresh")
    return args

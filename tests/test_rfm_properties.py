"""Properties of member_rfm's scores on random, tie-heavy populations, for both scoring methods.

The real model is compiled once per method (`dbt compile --select member_rfm`); each hypothesis example
then runs that SQL in an in-memory DuckDB holding the tables it reads, under the same database, schema
and table names (taken from the manifest), filled with the example and the real seeds.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retention.settings import project_root

DBT_PROJECT = project_root() / "dbt_project"
SEEDS = DBT_PROJECT / "seeds"
VARS = yaml.safe_load((DBT_PROJECT / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]
WINDOW = int(VARS["rfm_window_days"])
BUCKETS = int(VARS["rfm_score_buckets"])
METHODS = ("bins", "quantiles")
AS_OF = date(2025, 6, 30)

# The tables member_rfm reads, by dbt name. Seeds are loaded from their CSV with the types dbt gives them.
UPSTREAM = {
    "int_as_of_date": "as_of_date DATE",
    "int_members__as_of": "member_id VARCHAR, member_key VARCHAR",
    "int_member_purchase_days": "member_id VARCHAR, purchase_date DATE, orders BIGINT, spend DECIMAL(18, 2)",
    "rfm_segments": "segment VARCHAR, priority INTEGER, r_min INTEGER, r_max INTEGER, f_min INTEGER, "
    "f_max INTEGER, description VARCHAR",
    "rfm_score_bins": "dimension VARCHAR, score INTEGER, min_value DECIMAL(18, 2), max_value DECIMAL(18, 2), "
    "description VARCHAR",
}


def _seed_rows(name: str) -> list[dict]:
    with (SEEDS / f"{name}.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


BINS = [
    (
        r["dimension"],
        int(r["score"]),
        Decimal(r["min_value"]) if r["min_value"] else None,
        Decimal(r["max_value"]) if r["max_value"] else None,
    )
    for r in _seed_rows("rfm_score_bins")
]
SEGMENTS = sorted(_seed_rows("rfm_segments"), key=lambda r: int(r["priority"]))


def _segment(r: int, f: int) -> str | None:
    return next(
        (
            s["segment"]
            for s in SEGMENTS
            if int(s["r_min"]) <= r <= int(s["r_max"]) and int(s["f_min"]) <= f <= int(s["f_max"])
        ),
        None,
    )


def _bin_score(dimension: str, value) -> int:
    """The documented bins rule: the highest score whose threshold the value reaches, else 1."""
    return max(
        (s for d, s, lo, hi in BINS if d == dimension and (lo is None or value >= lo) and (hi is None or value <= hi)),
        default=1,
    )


# --- compiling the model once per method ---------------------------------------------------------


@dataclass(frozen=True)
class CompiledModel:
    sql: str
    relations: dict[str, str]  # dbt name -> relation name in the compiled SQL


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> dict[str, CompiledModel]:
    """`dbt compile --select member_rfm` per method, in parallel, each with its own target and warehouse."""
    root = tmp_path_factory.mktemp("rfm_compile")
    dbt = Path(sys.executable).parent / "dbt"
    runs = {}
    for method in METHODS:
        env = os.environ | {"RETENTION_WAREHOUSE": str(root / method / "warehouse.duckdb")}
        (root / method).mkdir()
        command = [
            str(dbt),
            "compile",
            "--quiet",
            "--profiles-dir",
            ".",
            "--select",
            "member_rfm",
            "--target-path",
            str(root / method / "target"),
            "--log-path",
            str(root / method / "logs"),
            "--vars",
            json.dumps({"rfm_scoring_method": method}),
        ]
        runs[method] = subprocess.Popen(
            command, cwd=DBT_PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
    models = {}
    for method, run in runs.items():
        output, _ = run.communicate(timeout=300)
        assert run.returncode == 0, output.decode(errors="replace")
        nodes = json.loads((root / method / "target" / "manifest.json").read_text(encoding="utf-8"))["nodes"]
        node = nodes["model.retention.member_rfm"]
        relations = {nodes[dep]["name"]: nodes[dep]["relation_name"] for dep in node["depends_on"]["nodes"]}
        assert set(relations) == set(UPSTREAM), f"member_rfm reads {sorted(relations)}; teach this test the new ones"
        models[method] = CompiledModel(node["compiled_code"], relations)
    shutil.rmtree(root, ignore_errors=True)
    return models


@pytest.fixture(scope="module")
def warehouse(compiled):
    """An in-memory DuckDB with every table the compiled model reads, under the names it reads them by."""
    con = duckdb.connect()
    relations = compiled["bins"].relations
    assert all(m.relations == relations for m in compiled.values())
    for name, relation in relations.items():
        database, schema, _ = (part.strip('"') for part in relation.split("."))
        if database not in {row[0] for row in con.execute("select database_name from duckdb_databases()").fetchall()}:
            con.execute(f"ATTACH ':memory:' AS \"{database}\"")
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{database}"."{schema}"')
        con.execute(f"CREATE TABLE {relation} ({UPSTREAM[name]})")
    for seed in ("rfm_segments", "rfm_score_bins"):
        con.execute(
            f"INSERT INTO {relations[seed]} SELECT * FROM read_csv(?, header = true, all_varchar = true)",
            [str(SEEDS / f"{seed}.csv")],
        )
    con.execute(f"INSERT INTO {relations['int_as_of_date']} VALUES (?)", [AS_OF])
    yield con
    con.close()


# --- random populations --------------------------------------------------------------------------

# Few distinct values, so that ties are the rule: the cut-offs of the default bins and their neighbours.
RECENT_DAYS = [0, 10, 30, 31, 90, 91, 180, 181, 300, 360, WINDOW - 1]
LAPSED_DAYS = [WINDOW, WINDOW + 1, 400, 800]
PURCHASE_DAYS = [1] * 8 + [2, 2, 3, 4, 5, 9, 10, 12]  # about half the buyers bought once
DAY_SPENDS = [Decimal(s) for s in ("0", "50", "80", "80", "80", "199.99", "200", "500", "1000", "5000")]


@st.composite
def members(draw, index: int):
    """One member's purchase days as (day offset before the as-of day, spend)."""
    if draw(st.integers(0, 5)) == 0:  # no purchase in the window, maybe several before it
        last = draw(st.sampled_from(LAPSED_DAYS))
        days = [last + i * 30 for i in range(draw(st.integers(1, 3)))]
    else:
        last = draw(st.one_of(st.sampled_from(RECENT_DAYS), st.integers(0, WINDOW - 1)))
        count = min(draw(st.sampled_from(PURCHASE_DAYS)), WINDOW - last)
        step = draw(st.integers(1, (WINDOW - 1 - last) // (count - 1))) if count > 1 else 1
        before_window = [WINDOW + 40 * i for i in range(draw(st.integers(0, 2)))]  # count for nothing
        days = [last + step * i for i in range(count)] + before_window
    return [(f"M{index}", offset, draw(st.sampled_from(DAY_SPENDS))) for offset in days]


@st.composite
def populations(draw):
    size = draw(st.integers(1, 30))
    return [row for i in range(size) for row in draw(members(i))]


def run_model(con, model: CompiledModel, purchase_days) -> list[dict]:
    member_ids = sorted({m for m, _, _ in purchase_days} | {"NEVER_BOUGHT"})
    members = pa.table({"member_id": member_ids, "member_key": [m.lower() for m in member_ids]})
    days = pa.table(
        {
            "member_id": [m for m, _, _ in purchase_days],
            "purchase_date": [AS_OF - timedelta(days=offset) for _, offset, _ in purchase_days],
            "orders": [1] * len(purchase_days),
            "spend": pa.array([s for _, _, s in purchase_days], type=pa.decimal128(18, 2)),
        }
    )
    for name, table in (("int_members__as_of", members), ("int_member_purchase_days", days)):
        con.register("example", table)
        con.execute(f"DELETE FROM {model.relations[name]}")
        con.execute(f"INSERT INTO {model.relations[name]} SELECT * FROM example")
        con.unregister("example")
    cursor = con.execute(model.sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def expected_measures(purchase_days) -> dict[str, tuple[int, int, Decimal]]:
    """member_key -> (recency days, purchase days in the window, spend in the window)."""
    out = {}
    for member in {m for m, _, _ in purchase_days}:
        mine = [(offset, spend) for m, offset, spend in purchase_days if m == member]
        in_window = [spend for offset, spend in mine if offset < WINDOW]
        out[member.lower()] = (min(o for o, _ in mine), len(in_window), sum(in_window, Decimal(0)))
    return out


def expected_quantile_scores(rows) -> dict[str, tuple[int, int, int]]:
    """1 + floor(buckets x share strictly worse): recency among all, frequency/monetary among window buyers."""
    buyers = [r for r in rows if r["frequency"] > 0]

    def score(worse: int, population: int) -> int:
        return 1 + BUCKETS * worse // population

    out = {}
    for r in rows:
        recency = score(sum(o["recency_days"] > r["recency_days"] for o in rows), len(rows))
        if r["frequency"] == 0:
            out[r["member_key"]] = (recency, 1, 1)
        else:
            frequency = score(sum(o["frequency"] < r["frequency"] for o in buyers), len(buyers))
            monetary = score(sum(o["monetary"] < r["monetary"] for o in buyers), len(buyers))
            out[r["member_key"]] = (recency, frequency, monetary)
    return out


# --- the properties ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(purchase_days=populations())
def test_scores_are_monotone_tie_safe_and_zero_purchase_scores_one(compiled, warehouse, method, purchase_days):
    rows = run_model(warehouse, compiled[method], purchase_days)

    # One row per member who ever bought, with the measures the scores are taken from.
    measures = expected_measures(purchase_days)
    assert {r["member_key"]: (r["recency_days"], r["frequency"], r["monetary"]) for r in rows} == measures

    for r in rows:
        assert all(1 <= r[s] <= BUCKETS for s in ("r_score", "f_score", "m_score"))
        assert r["segment"] is not None and r["segment"] == _segment(r["r_score"], r["f_score"])
        assert r["rfm_cell"] == f"{r['r_score']}{r['f_score']}{r['m_score']}"
        if r["frequency"] == 0:  # no purchase in the window
            assert (r["f_score"], r["m_score"]) == (1, 1), r

    # Monotone, and equal values share a score: more recent / more purchase days / more spend never lower.
    for a in rows:
        for b in rows:
            if a["recency_days"] <= b["recency_days"]:
                assert a["r_score"] >= b["r_score"], (a, b)
            if a["frequency"] >= b["frequency"]:
                assert a["f_score"] >= b["f_score"], (a, b)
            if a["monetary"] >= b["monetary"]:
                assert a["m_score"] >= b["m_score"], (a, b)

    # Ties are not pushed up: the scores are the documented rule, which gives ties the lower score.
    if method == "bins":
        expected = {
            r["member_key"]: (
                _bin_score("recency", r["recency_days"]),
                1 if r["frequency"] == 0 else _bin_score("frequency", r["frequency"]),
                1 if r["frequency"] == 0 else _bin_score("monetary", r["monetary"]),
            )
            for r in rows
        }
    else:
        expected = expected_quantile_scores(rows)
        buyers = [r for r in rows if r["frequency"] > 0]
        for dimension, score in (("frequency", "f_score"), ("monetary", "m_score")):
            lowest = min((r[dimension] for r in buyers), default=None)
            assert all(r[score] == 1 for r in buyers if r[dimension] == lowest)
        assert all(r["r_score"] == 1 for r in rows if r["recency_days"] == max(o["recency_days"] for o in rows))
    assert {r["member_key"]: (r["r_score"], r["f_score"], r["m_score"]) for r in rows} == expected


# --- the segment seed against the scores -----------------------------------------------------------


def test_every_score_cell_has_a_segment():
    cells = [(r, f) for r in range(1, BUCKETS + 1) for f in range(1, BUCKETS + 1)]
    assert [cell for cell in cells if _segment(*cell) is None] == []


@pytest.mark.parametrize("method", METHODS)
def test_every_segment_is_reachable(method):
    """With bins a cell needs a (recency, purchase days) pair that can happen: no purchase in the window
    means at least WINDOW days since the last one; k purchase days in it fit in the days since the last one."""
    if method == "quantiles":  # relative: any cell can happen in some population
        cells = {(r, f) for r in range(1, BUCKETS + 1) for f in range(1, BUCKETS + 1)}
    else:
        horizon = int(max(hi for d, _, _, hi in BINS if d == "recency" and hi is not None)) + 2
        most_days = int(max(lo for d, _, lo, _ in BINS if d == "frequency" and lo is not None)) + 1
        cells = {
            (_bin_score("recency", days), 1 if k == 0 else _bin_score("frequency", k))
            for days in range(max(horizon, WINDOW + 1))
            for k in range(most_days + 1)
            if (k == 0 and days >= WINDOW) or (k >= 1 and days < WINDOW and k <= WINDOW - days)
        }
    reachable = {_segment(r, f) for r, f in cells}
    assert {s["segment"] for s in SEGMENTS} - reachable == set()

# Everyday verbs. Needs only python3 (3.11) and make: `setup` installs uv and every pinned package
# into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
# lifetimes (the reference for the BTYD mart) needs pandas 1.x: its own environment, built with uv.
LIFETIMES_VENV := .venv-lifetimes
export DAGSTER_HOME ?= $(CURDIR)/.dagster
# Tools of the venv (dbt, dagster) first on PATH, also for the processes dagster dev starts.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup manifest demo run test snapshot lint ui docs contract check-lifetimes bench bench-coverage bench-churn-intent clean

# Compiled to bytecode at install (about 15 s on 2 cores): where PYTHONDONTWRITEBYTECODE is set, Python never
# caches what it compiles, and every process (each run, each dbt build) compiled its imports again: 6 s for
# Dagster, dbt and Great Expectations together, against 13-15 s without the bytecode.
$(BIN)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]' -c constraints.txt
	touch $@

setup: $(BIN)/.installed $(DAGSTER_HOME)/dagster.yaml

$(DAGSTER_HOME)/dagster.yaml: orchestration/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp orchestration/dagster.yaml $@

# dbt's manifest, which the Dagster code location reads; prepared by a command, never at import.
manifest: setup
	cd dbt_project && ../$(BIN)/dbt parse --quiet --profiles-dir .

demo: manifest
	$(BIN)/retention demo

run: manifest
	$(BIN)/retention run --through $(THROUGH)

# Rebuilt from scratch (--clear) only when its pins change (uv from .venv: an order-only prerequisite).
$(LIFETIMES_VENV)/.installed: scripts/lifetimes-constraints.txt | $(BIN)/.installed
	$(BIN)/uv venv --quiet --clear --python $(BIN)/python $(LIFETIMES_VENV)
	$(BIN)/uv pip install --quiet --python $(LIFETIMES_VENV)/bin/python -r scripts/lifetimes-constraints.txt
	touch $@

# In parallel (pytest-xdist): each worker takes whole test files, the slowest first (tests/conftest.py), and
# gives DuckDB cores / workers threads. TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
test: manifest $(LIFETIMES_VENV)/.installed
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# Rewrite tests/snapshots/asset_graph.txt after a deliberate change to the asset graph; review its diff.
snapshot: manifest
	RETENTION_UPDATE_SNAPSHOTS=1 $(BIN)/python -m pytest -q -p no:xdist tests/test_asset_graph.py

# Style, checked in CI before the tests: ruff on the Python code, sqlfluff (dbt templater, rules in .sqlfluff) on
# the dbt models. The templater compiles the project, so it gets an in-memory warehouse instead of a file.
# All three run, so one pass shows every finding.
lint: setup
	status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/ruff format --check . || status=1; \
	RETENTION_WAREHOUSE=:memory: $(BIN)/sqlfluff lint dbt_project/models || status=1; \
	exit $$status

ui: manifest
	dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

docs: manifest
	cd dbt_project && dbt docs generate --profiles-dir . && dbt docs serve --profiles-dir . --port 8080

contract: setup
	$(BIN)/retention contract

# Cross-check marts.member_btyd_summary against the lifetimes library on the demo warehouse (after
# `make demo`); tests/test_btyd_lifetimes.py does the same on a hand-made fixture.
check-lifetimes: $(LIFETIMES_VENV)/.installed
	$(LIFETIMES_VENV)/bin/python scripts/check_btyd_with_lifetimes.py $${RETENTION_WAREHOUSE:-data/warehouse.duckdb}

# The pipeline at SCALE=small|medium|large (10k / 100k / 1M members, 21 months) or all, against a
# hand-written DuckDB floor; data cached in RETENTION_BENCH_DIR (default ~/.cache/retention-bench).
SCALE ?= small
bench: manifest
	$(BIN)/python -m bench.run_bench $(SCALE)

# The retrospective's lift interval against the simulator's true lift, over SEEDS seeds (each a whole
# campaign timeline on MEMBERS members, a few minutes each); folders in RETENTION_BENCH_DIR/coverage.
SEEDS ?= 20
MEMBERS ?= 5000
bench-coverage: manifest
	$(BIN)/python -m bench.campaign_coverage --seeds $(SEEDS) --members $(MEMBERS)

# The churn-intent detector against the keyword dictionary it replaced, on the dev and held-out sets
# (retention/churn_intent/evaluation): precision, recall, confusion per category and tickets per second.
bench-churn-intent: setup
	$(BIN)/python -m bench.churn_intent

clean:
	rm -rf data .dagster dbt_project/target dbt_project/logs

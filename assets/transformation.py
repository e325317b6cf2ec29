"""dbt models as Dagster assets: staging now, intermediate and marts as they are added.

The dbt project is parsed lazily inside small cached factories, so importing this module has no
side effects; the manifest is prepared by `make manifest` (or, under `dagster dev`, parsed when the code location
loads, with the venv's dbt).
"""

import os
import shutil
import sys
from collections.abc import Mapping
from datetime import date
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets
from dagster_dbt.dbt_project import using_dagster_dev
from packaging import version

from assets.dbt_command import dbt_build, finish_build
from assets.history_chunks import HistoryRequest, build_earlier_chunks
from assets.owners import OWNERS_BY_GROUP, owners
from retention.resources import WAREHOUSE_POOL, RetentionResource
from retention.run_lock import warehouse_lock
from retention.settings import Settings, project_root

# The retrospective comes first: its models live in their own folder, and the staging and intermediate
# models it needs carry its tag, but stay in their layer's group.
DBT_LAYERS = ("staging", "intermediate", "marts", "retrospective")
# Models that read the outreach log: dbt builds them in a second invocation, after the outreach asset.
RETROSPECTIVE_TAG = "retrospective"
OUTREACH_LOG_SOURCE = "outreach_log"
OUTREACH_LOG_ASSET = dg.AssetKey(["outreach", "winback_batches"])


def dbt_project_dir() -> Path:
    return project_root() / "dbt_project"


def dbt_executable() -> str:
    """The dbt installed beside this interpreter, so a venv works without being activated."""
    beside_python = Path(sys.prefix) / "bin" / "dbt"
    return str(beside_python) if beside_python.exists() else (shutil.which("dbt") or "dbt")


def dbt_target_path() -> Path:
    """dbt's target folder: DBT_TARGET_PATH when set (dbt itself and dagster-dbt's build folders follow that
    variable, so the manifest is read where `dbt parse` wrote it), else `target` in the dbt project."""
    return Path(os.environ.get("DBT_TARGET_PATH") or "target")


@cache
def dbt_project() -> DbtProject:
    project = DbtProject(project_dir=dbt_project_dir(), profiles_dir=dbt_project_dir(), target_path=dbt_target_path())
    # `dagster dev` parses the project when the code location loads. dagster-dbt's own preparation
    # (`prepare_if_dev`) runs whatever `dbt` is on PATH, which fails when the venv is not activated
    # (`.venv/bin/dagster dev`); parse with the venv's dbt instead.
    if using_dagster_dev():
        DbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(
            ["parse", "--quiet"], target_path=project.target_path
        ).wait()
    return project


class RetentionDbtTranslator(DagsterDbtTranslator):
    """dbt sources share the asset keys of the ingestion assets that load them (raw/<table>), and
    each model's group is its folder, so the UI shows landing -> raw -> staging -> marts as one graph."""

    def __init__(self):
        # The tables of the outreach log are one asset (see get_asset_key).
        super().__init__(DagsterDbtTranslatorSettings(enable_duplicate_source_asset_keys=True))

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source":
            # Every table of the outreach log is written by the one outreach asset; the other sources are
            # the raw tables the ingestion assets load, under the same keys.
            key = (
                OUTREACH_LOG_ASSET
                if props["source_name"] == OUTREACH_LOG_SOURCE
                else dg.AssetKey([props["schema"], props["name"]])
            )
            return spec.replace_attributes(key=key)
        group = _group(props) or spec.group_name
        return spec.replace_attributes(group_name=group, owners=owners(group) if group in OWNERS_BY_GROUP else [])


def _group(props: Mapping[str, Any]) -> str | None:
    """A model's group is its layer folder; seeds are reference data."""
    layer = next((part for part in props.get("fqn", []) if part in DBT_LAYERS), None)
    if layer:
        return layer
    return "reference_data" if props["resource_type"] == "seed" else None


class DbtBuildConfig(dg.Config):
    """How to run `dbt build` for this materialization."""

    as_of_date: str = ""  # YYYY-MM-DD; empty = the latest landed day
    # YYYY-MM-DD: also compute the risk and KPI history for every day from this one to the as-of day.
    history_from: str = ""
    # Recompute the risk and KPI history for every landed day (replacing the stored history).
    full_refresh: bool = False


PARTITION_TAGS = ("dagster/asset_partition_range_start", "dagster/partition")


def history_start(configured: str, run_tags: Mapping[str, str]) -> date | None:
    """First day of the risk and KPI history to compute: the configured day, else the first landing day
    of the run's partitions (a backfill over a range computes the history of every day in it)."""
    if configured:
        return date.fromisoformat(configured)
    for tag in PARTITION_TAGS:
        if run_tags.get(tag):
            return date.fromisoformat(run_tags[tag])
    return None


@cache
def build_dbt_assets() -> dg.AssetsDefinition:
    project = dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        exclude=f"tag:{RETROSPECTIVE_TAG}",
        dagster_dbt_translator=RetentionDbtTranslator(),
        pool=WAREHOUSE_POOL,
    )
    def retention_dbt_models(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, retention: RetentionResource, config: DbtBuildConfig
    ):
        settings = retention.settings()
        _point_dbt_profile_at(settings)
        as_of = date.fromisoformat(config.as_of_date) if config.as_of_date else None
        history_from = history_start(config.history_from, context.run.tags)
        full_refresh = config.full_refresh
        # dbt writes the warehouse from its own process: hold the writer lock for the whole build.
        with warehouse_lock(settings):
            if not context.is_subset:
                request = HistoryRequest(as_of, history_from, full_refresh)
                last_chunk_from = build_earlier_chunks(dbt, retention, request, context.log.info)
                if last_chunk_from is not None:
                    # The earlier steps refreshed what needed it; the final build adds the last chunk.
                    history_from, full_refresh = last_chunk_from, False
            build = dbt_build(as_of, full_refresh, history_from)
            with build.environment():
                invocation = dbt.cli(build.args, context=context)
            yield from invocation.stream()
        finish_build(invocation, context.op.name)

    return retention_dbt_models


class RetrospectiveBuildConfig(dg.Config):
    """The as-of day the retrospective measures through (empty = the latest landed day)."""

    as_of_date: str = ""


@cache
def build_retrospective_dbt_assets() -> dg.AssetsDefinition:
    """The campaign retrospective (models tagged `retrospective`): built after the outreach asset has logged
    the waves it measures, in the same run."""
    project = dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        select=f"tag:{RETROSPECTIVE_TAG}",
        dagster_dbt_translator=RetentionDbtTranslator(),
        pool=WAREHOUSE_POOL,
    )
    def retention_dbt_retrospective(
        context: dg.AssetExecutionContext,
        dbt: DbtCliResource,
        retention: RetentionResource,
        config: RetrospectiveBuildConfig,
    ):
        settings = retention.settings()
        _point_dbt_profile_at(settings)
        as_of = date.fromisoformat(config.as_of_date) if config.as_of_date else None
        with warehouse_lock(settings):
            build = dbt_build(as_of)
            with build.environment():
                invocation = dbt.cli(build.args, context=context)
            yield from invocation.stream()
        finish_build(invocation, context.op.name)

    return retention_dbt_retrospective


def _point_dbt_profile_at(settings: Settings) -> None:
    """dbt's profile reads the warehouse path from the same setting as every other asset, and its DuckDB
    limits (the profile cannot compute "one thread per core" itself)."""
    os.environ["RETENTION_WAREHOUSE"] = str(settings.warehouse)
    for name, value in settings.duckdb_config().items():
        os.environ[f"RETENTION_DUCKDB_{name.upper()}"] = str(value)


class RetentionDbtCliResource(DbtCliResource):
    """Two start-up costs of dagster-dbt removed, 4-6 s a run:
    - it asks the dbt executable for its version (`dbt --version`, a 3.5 s process start) once per
      resource, so once per run. The dbt beside this interpreter is the dbt-core installed here: its
      version is read in-process instead.
    - before every dbt command it loads the dbt project and profile in-process and opens a dbt adapter
      (1.5-3 s), which only `fetch_row_counts` and `fetch_column_metadata` use. Neither is called here,
      so no adapter is opened."""

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable) != Path(sys.prefix) / "bin" / "dbt":
            return super()._cli_version
        from dbt.version import __version__

        return version.parse(__version__)

    def _initialize_dbt_core_adapter(self, args):
        return None


def dbt_resource() -> DbtCliResource:
    return RetentionDbtCliResource(project_dir=dbt_project(), dbt_executable=dbt_executable())

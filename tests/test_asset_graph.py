"""The asset graph as a reviewed text file: a change to any asset's key, group, kinds, owners or
dependencies, or to the checks on it, shows up in the diff of tests/snapshots/asset_graph.txt.

After a deliberate change: `make snapshot` (RETENTION_UPDATE_SNAPSHOTS=1 on this test), then review the diff.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import dagster as dg

from orchestration.definitions import build_definitions
from retention.settings import Settings

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.txt"


def graph_lines(defs: dg.Definitions) -> list[str]:
    graph = defs.resolve_asset_graph()
    lines = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        lines.append(key.to_user_string())
        lines.append(f"  group: {node.group_name}")
        lines.append(f"  kinds: {', '.join(sorted(node.kinds)) or '-'}")
        lines.append(f"  owners: {', '.join(node.owners) or '-'}")
        lines.append(f"  partitioned: {'daily' if node.partitions_def else 'no'}")
        lines.append(f"  executable: {'yes' if node.is_executable else 'no (external)'}")
        parents = sorted(parent.to_user_string() for parent in node.parent_keys)
        lines.append(f"  deps: {', '.join(parents) or '-'}")
        checks = sorted(check.name for check in node.check_keys)
        lines.append(f"  checks: {', '.join(checks) or '-'}")
    return lines


def test_the_asset_graph_matches_its_reviewed_snapshot(tmp_path):
    settings = Settings.from_env(
        {
            "RETENTION_LANDING_DIR": str(tmp_path / "landing"),
            "RETENTION_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
            "RETENTION_GROUND_TRUTH_DIR": str(tmp_path / "ground_truth"),
        }
    )
    actual = "\n".join(graph_lines(build_definitions(settings))) + "\n"
    if os.environ.get("RETENTION_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(actual, encoding="utf-8")
    expected = SNAPSHOT.read_text(encoding="utf-8")
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True), actual.splitlines(keepends=True), "snapshot", "definitions"
        )
    )
    assert not diff, f"the asset graph changed; if on purpose, run `make snapshot` and review:\n{diff}"

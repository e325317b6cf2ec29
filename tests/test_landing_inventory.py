"""Every file below a source folder is accounted for: loaded, out of range, ignored or refused, and
nothing outside the landing folder is ever read (symbolic links), whatever the files are named."""

from __future__ import annotations

import os
from datetime import date

import dagster as dg
import pytest

from assets.ingestion.raw_assets import build_raw_asset, inventory_listing
from orchestration.partitions import daily_partitions
from orchestration.runner import RANGE_END_TAG, RANGE_START_TAG
from retention.landing.contract import MEMBERS
from retention.landing.files import LandingFileError, discover
from retention.landing.loader import LandingError, load_range
from retention.resources import RetentionResource
from tests.conftest import members_csv

D1, D2 = date(2025, 3, 1), date(2025, 3, 2)
# What a forged log line looks like next to Dagster's own ("<time> - dagster - INFO - <message>").
FAKE = "2025-03-01 23:59:59 +0800 - dagster - INFO - all tickets loaded OK"
SECRET = "root:x:0:0:root:/root:/bin/bash\n"  # the first line of a system file
OUTSIDE_PROBLEM = (
    "symbolic link pointing outside the landing folder (RETENTION_LANDING_DIR); refused and not read: "
    "copy or move the delivery into the landing folder"
)


@pytest.fixture
def outside(tmp_path):
    """A folder next to the landing folder, holding a file that must never be read."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "2025-03-01.csv").write_text(SECRET)
    (folder / "crm.csv").write_text(SECRET)
    return folder


def _link(link, target) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, link)


@pytest.fixture
def every_kind_of_file(settings, landing):
    """Two days of members (03-01, 03-02), one day before them, and names and links of every kind."""
    root = settings.landing_dir
    landing.write("members/2025-02-28/crm.csv", members_csv("M0", day="2025-02-28"))  # out of range
    landing.write("members/2025-03-01/crm.csv", members_csv("M1", "M2"))
    # Just names: the first starts with "." (hidden by the contract's rule), the second loads.
    landing.write("members/2025-03-01/..%2F..%2Fevil.csv", members_csv("M7"))
    landing.write("members/2025-03-01/%2E%2E%2F..%2Fevil.csv", members_csv("M3"))
    landing.write(f"members/2025-03-01/crm\n{FAKE}.csv", members_csv("M4"))  # a newline in the name
    landing.write("members/2025-03-01/.DS_Store", "\x00\x01")
    landing.write(f"members/2025-03-01/.~lock\n{FAKE}#", "")  # hidden, and a forged log line
    # A symbolic link to a file, and one to a folder, both inside the landing folder: followed.
    landing.write("shared/extra.csv", members_csv("M6"))
    _link(root / "members/2025-03-01/linked.csv", "../../shared/extra.csv")
    landing.write("shared/members-0302/crm.csv", members_csv("M5", day="2025-03-02"))
    _link(root / "members/2025-03-02", "../shared/members-0302")


ESCAPED_NEWLINE_NAME = "members/2025-03-01/crm\\n" + FAKE + ".csv"
ESCAPED_LOCK_NAME = "members/2025-03-01/.~lock\\n" + FAKE + "#"
EXPECTED_INVENTORY = {
    "members/2025-02-28/crm.csv": "out_of_range",
    "members/2025-03-01/%2E%2E%2F..%2Fevil.csv": "loaded",
    "members/2025-03-01/..%2F..%2Fevil.csv": "ignored:hidden",
    "members/2025-03-01/.DS_Store": "ignored:hidden",
    f"members/2025-03-01/.~lock\n{FAKE}#": "ignored:hidden",
    "members/2025-03-01/crm.csv": "loaded",
    f"members/2025-03-01/crm\n{FAKE}.csv": "loaded",
    "members/2025-03-01/linked.csv": "loaded",
    "members/2025-03-02/crm.csv": "loaded",
}


def test_every_file_found_is_in_the_inventory_with_its_status(every_kind_of_file, settings, warehouse):
    report = load_range(warehouse, MEMBERS, D1, D2, settings)

    assert report.inventory == EXPECTED_INVENTORY
    assert report.files == 5
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (6, 6, 0)
    rows = warehouse.execute("SELECT member_id, _source_file FROM raw.members ORDER BY member_id").fetchall()
    assert rows == [
        ("M1", "members/2025-03-01/crm.csv"),
        ("M2", "members/2025-03-01/crm.csv"),
        ("M3", "members/2025-03-01/%2E%2E%2F..%2Fevil.csv"),  # the name as delivered, nothing resolved from it
        ("M4", f"members/2025-03-01/crm\n{FAKE}.csv"),  # the data keeps the true name; displays escape it
        ("M5", "members/2025-03-02/crm.csv"),  # through the symbolic link to a folder
        ("M6", "members/2025-03-01/linked.csv"),  # through the symbolic link to a file
    ]


def test_a_dagster_load_shows_the_inventory_and_escapes_names_in_metadata_and_logs(every_kind_of_file, settings, capfd):
    asset = build_raw_asset(MEMBERS, daily_partitions(settings))
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [asset],
        instance=instance,
        resources={"retention": RetentionResource.from_settings(settings)},
        tags={RANGE_START_TAG: "2025-03-01", RANGE_END_TAG: "2025-03-02"},
    )

    assert result.success
    first_day, last_day = result.asset_materializations_for_node(asset.op.name)
    # Each day its own counts (03-01: crm.csv with M1 and M2, the two odd names, the linked file; 03-02:
    # M5 through the linked folder); the run's summary is on its last day only.
    counts = ("files_read", "rows_read", "rows_loaded", "rows_quarantined")
    assert (first_day.partition, *(first_day.metadata[k].value for k in counts)) == ("2025-03-01", 4, 5, 5, 0)
    assert (last_day.partition, *(last_day.metadata[k].value for k in counts)) == ("2025-03-02", 1, 1, 1, 0)
    assert "files_found" not in first_day.metadata and "run_rows_loaded" not in first_day.metadata
    assert (last_day.metadata["run_files_read"].value, last_day.metadata["run_rows_loaded"].value) == (5, 6)
    metadata = last_day.metadata
    assert metadata["files_by_status"].value == {"ignored:hidden": 3, "loaded": 5, "out_of_range": 1}
    # Refused and ignored first, then loaded, then out of range; by path within each ("\n" sorts before ".").
    assert metadata["files_found"].value == {
        "files": [
            {"file": "members/2025-03-01/..%2F..%2Fevil.csv", "status": "ignored:hidden"},
            {"file": "members/2025-03-01/.DS_Store", "status": "ignored:hidden"},
            {"file": ESCAPED_LOCK_NAME, "status": "ignored:hidden"},
            {"file": "members/2025-03-01/%2E%2E%2F..%2Fevil.csv", "status": "loaded"},
            {"file": ESCAPED_NEWLINE_NAME, "status": "loaded"},
            {"file": "members/2025-03-01/crm.csv", "status": "loaded"},
            {"file": "members/2025-03-01/linked.csv", "status": "loaded"},
            {"file": "members/2025-03-02/crm.csv", "status": "loaded"},
            {"file": "members/2025-02-28/crm.csv", "status": "out_of_range"},
        ],
        "not_shown": 0,
    }
    messages = [entry.user_message for entry in instance.all_logs(result.run_id) if entry.user_message]
    summary = [m for m in messages if m.startswith("members 2025-03-01..2025-03-02: ")]
    assert summary == [
        "members 2025-03-01..2025-03-02: 5 files, 6 rows read, 6 loaded, 0 quarantined, in 1 transaction(s); "
        "files found: 3 ignored:hidden, 5 loaded, 1 out_of_range (not loaded: "
        f"members/2025-03-01/..%2F..%2Fevil.csv, members/2025-03-01/.DS_Store, {ESCAPED_LOCK_NAME})"
    ]
    assert not any("\n" + FAKE in m for m in messages)
    # What the console shows: the forged text only ever inside the escaped name, never a line of its own.
    console = capfd.readouterr()
    lines = (console.out + console.err).splitlines()
    assert any(ESCAPED_LOCK_NAME in line for line in lines)
    assert not any(line.startswith(FAKE) for line in lines)


def test_symlink_to_a_file_outside_the_landing_folder_is_refused_unread(settings, landing, warehouse, outside):
    landing.write("members/2025-03-01/crm.csv", members_csv("M1", "M2"))
    load_range(warehouse, MEMBERS, D1, D1, settings)
    _link(settings.landing_dir / "members/2025-03-01/passwd.csv", outside / "crm.csv")
    _link(settings.landing_dir / "members/2025-03-01/relative.csv", "../../../outside/crm.csv")

    with pytest.raises(LandingFileError) as error:
        load_range(warehouse, MEMBERS, D1, D1, settings)

    assert error.value.file == "members/2025-03-01/passwd.csv"  # the first refused file, in path order
    assert error.value.problem == OUTSIDE_PROBLEM
    assert "root:x" not in str(error.value) and str(outside) not in str(error.value)
    assert warehouse.execute("SELECT count(*) FROM raw.members").fetchone()[0] == 2  # nothing changed
    inventory: dict[str, str] = {}
    with pytest.raises(LandingFileError):
        discover(settings.landing_dir, MEMBERS, D1, D1, settings=settings, inventory=inventory)
    assert inventory == {
        "members/2025-03-01/crm.csv": "in_range",
        "members/2025-03-01/passwd.csv": "refused:outside_landing_root",
        "members/2025-03-01/relative.csv": "refused:outside_landing_root",
    }


def test_symlinked_folders_inside_are_followed_and_outside_refused(settings, landing, outside):
    landing.write("shared/0301/crm.csv", members_csv("M1"))
    _link(settings.landing_dir / "members/2025-03-01", "../shared/0301")
    inventory: dict[str, str] = {}
    files = discover(settings.landing_dir, MEMBERS, D1, D2, settings=settings, inventory=inventory)
    assert [(f.relative_path, f.path) for f in files] == [
        ("members/2025-03-01/crm.csv", (settings.landing_dir / "shared/0301/crm.csv").resolve())
    ]
    assert inventory == {"members/2025-03-01/crm.csv": "in_range"}

    # A folder of the outside is refused as a whole: its files are neither listed nor read.
    _link(settings.landing_dir / "members/2025-03-02", outside)
    inventory.clear()
    with pytest.raises(LandingFileError) as error:
        discover(settings.landing_dir, MEMBERS, D1, D2, settings=settings, inventory=inventory)
    assert (error.value.file, error.value.problem) == ("members/2025-03-02", OUTSIDE_PROBLEM)
    assert inventory == {
        "members/2025-03-01/crm.csv": "in_range",
        "members/2025-03-02": "refused:outside_landing_root",
    }


def test_source_folder_that_is_a_link_to_the_outside_is_refused(settings, outside):
    _link(settings.landing_dir / "members", outside)
    with pytest.raises(LandingFileError) as error:
        discover(settings.landing_dir, MEMBERS, D1, D1, settings=settings)
    assert (error.value.file, error.value.problem) == ("members", OUTSIDE_PROBLEM)


def test_links_that_loop_or_lead_nowhere_and_pipes_are_refused_not_skipped(settings, landing):
    landing.write("members/2025-03-01/crm.csv", members_csv("M1"))
    _link(settings.landing_dir / "members/2025-03-01/again", "..")  # members/2025-03-01/again/2025-03-01/...
    _link(settings.landing_dir / "members/2025-03-01/gone.csv", "missing.csv")
    os.mkfifo(settings.landing_dir / "members/2025-03-01/pipe.csv")  # reading it would block forever
    _link(settings.landing_dir / "members/2025-03-01/.#crm.csv", "user@host.1234")  # an editor's lock: hidden

    inventory: dict[str, str] = {}
    with pytest.raises(LandingFileError) as error:
        discover(settings.landing_dir, MEMBERS, D1, D1, settings=settings, inventory=inventory)

    assert (error.value.file, error.value.problem) == (
        "members/2025-03-01/again",
        "symbolic link to a folder it is itself in (a loop); not followed",
    )
    assert inventory == {
        "members/2025-03-01/.#crm.csv": "ignored:hidden",
        "members/2025-03-01/again": "refused:link_loop",
        "members/2025-03-01/crm.csv": "in_range",
        "members/2025-03-01/gone.csv": "refused:broken_link",
        "members/2025-03-01/pipe.csv": "refused:not_a_file",
    }


def test_file_name_forging_a_log_line_is_escaped_in_the_error(settings, landing, warehouse):
    landing.write("members/2025-03-01/crm.csv", members_csv("M1"))
    landing.write(f"members/2025-03-01/crm.xlsx\n{FAKE}", "PK")

    with pytest.raises(LandingFileError) as error:
        load_range(warehouse, MEMBERS, D1, D1, settings)

    assert error.value.file == f"members/2025-03-01/crm.xlsx\\n{FAKE}"
    assert error.value.problem == f"unsupported file type .xlsx\\n{FAKE}; deliver CSV or JSON lines"
    assert "\n" not in str(error.value)


def test_file_name_forging_a_log_line_is_escaped_when_the_file_cannot_be_read(settings, landing, warehouse):
    landing.write("members/2025-03-01/crm.csv", members_csv("M1"))
    landing.write(f"members/2025-03-01/crm\n{FAKE}.csv", "x\n1\n")  # no member_id column

    with pytest.raises(LandingError) as error:
        load_range(warehouse, MEMBERS, D1, D1, settings)

    assert str(error.value).splitlines() == [
        "1 members file(s) could not be read; nothing was loaded or changed for the requested days:",
        f"  - members/2025-03-01/crm\\n{FAKE}.csv: "
        "missing required column(s) member_id, registered_at, updated_at; the header (line 1) has 1 field(s), "
        "recognised: none",
    ]


def test_the_listing_in_metadata_is_bounded_and_says_how_much_is_left_out():
    inventory = {f"orders/2025-03-{d:02d}/pos.csv": "out_of_range" for d in range(1, 11)}
    inventory["orders/2025-03-11/pos.csv"] = "loaded"
    inventory["orders/2025-03-11/.DS_Store"] = "ignored:hidden"

    listing = inventory_listing(inventory, limit=3)

    assert listing == {
        "files": [
            {"file": "orders/2025-03-11/.DS_Store", "status": "ignored:hidden"},
            {"file": "orders/2025-03-11/pos.csv", "status": "loaded"},
            {"file": "orders/2025-03-01/pos.csv", "status": "out_of_range"},
        ],
        "not_shown": 9,
    }


def test_a_refused_file_fails_the_dagster_step_with_one_escaped_line(settings, landing):
    landing.write("members/2025-03-01/crm.csv", members_csv("M1"))
    landing.write(f"members/2025-03-01/notes\n{FAKE}", "")  # no type, no date of its own
    asset = build_raw_asset(MEMBERS, daily_partitions(settings))

    result = dg.materialize(
        [asset],
        instance=dg.DagsterInstance.ephemeral(),
        resources={"retention": RetentionResource.from_settings(settings)},
        partition_key="2025-03-01",
        raise_on_error=False,
    )

    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    cause = failure.event_specific_data.error.cause  # Dagster wraps what the asset raised
    assert cause.message == (
        f"retention.landing.errors.LandingFileError: members/2025-03-01/notes\\n{FAKE}: "
        "unsupported file type (none); deliver CSV or JSON lines\n"
    )


def test_a_hidden_folder_of_old_copies_is_listed_once_and_not_read(settings, landing, warehouse):
    # A sync tool's version folder holds yesterday's copy of the day's file under another name.
    landing.write("members/2025-03-01/crm.csv", members_csv("M1", "M2"))
    landing.write("members/.stversions/2025-03-01/crm~20250301-230000.csv", members_csv("M1", "M9"))

    report = load_range(warehouse, MEMBERS, D1, D1, settings)

    assert report.inventory == {"members/.stversions": "ignored:hidden", "members/2025-03-01/crm.csv": "loaded"}
    assert (report.rows_read, report.rows_loaded) == (2, 2)


def test_a_file_gone_before_it_is_read_is_a_landing_error_naming_its_landing_path(settings, tmp_path):
    from retention.landing.contract import ORDERS
    from retention.landing.files import LandedFile, read_landed_file

    gone = LandedFile(tmp_path / "elsewhere" / "target.csv", "orders/2025-03-01/pos.csv", D1)
    with pytest.raises(LandingFileError) as error:
        read_landed_file(gone, ORDERS)
    assert str(error.value) == "orders/2025-03-01/pos.csv: cannot be read: No such file or directory"


def test_the_preview_in_metadata_escapes_control_characters(settings, landing, warehouse):
    from assets.ingestion.raw_assets import preview_rows
    from retention.landing.contract import ORDERS

    landing.write("members/2025-03-01/crm.csv", members_csv("M1"))
    landing.write(
        "orders/2025-03-01/pos.csv",
        "order_id,member_id,order_time,channel,store_name,gross_amount,status\n"
        "O1,M1,2025-03-01 10:00:00,store,\x1b[2J店\u202e|x,10,paid\n",
    )
    load_range(warehouse, MEMBERS, D1, D1, settings)
    load_range(warehouse, ORDERS, D1, D1, settings)

    preview = preview_rows(warehouse, ORDERS, D1, D1)

    assert "\x1b" not in preview and "\u202e" not in preview
    assert "| \\x1b[2J店\\u202e\\|x |" in preview


def test_a_day_without_files_in_a_loaded_range_shows_zero_counts(settings, landing):
    landing.write("members/2025-03-01/crm.csv", members_csv("M1", "M2"))
    landing.write("members/2025-03-03/crm.csv", members_csv("M3", day="2025-03-03"))
    asset = build_raw_asset(MEMBERS, daily_partitions(settings))
    result = dg.materialize(
        [asset],
        instance=dg.DagsterInstance.ephemeral(),
        resources={"retention": RetentionResource.from_settings(settings)},
        tags={RANGE_START_TAG: "2025-03-01", RANGE_END_TAG: "2025-03-03"},
    )
    events = result.asset_materializations_for_node(asset.op.name)
    shown = [(e.partition, e.metadata["files_read"].value, e.metadata["dagster/row_count"].value) for e in events]
    assert shown == [("2025-03-01", 1, 2), ("2025-03-02", 0, 0), ("2025-03-03", 1, 1)]
    assert {e.metadata["run_days"].value for e in events} == {"2025-03-01..2025-03-03"}
    assert events[-1].metadata["run_rows_loaded"].value == 3

"""The Dagster UI, tested as a person would use it: `dagster dev` on a tiny generated landing (40 members, 10
days), the whole pipeline launched through the API behind the UI's Materialize button, then three pages
opened in headless Chromium once they have finished loading: the asset lineage, the asset raw/orders and
the run. Screenshots (look at them) and DOM dumps go to test-artifacts/ui/ (or $RETENTION_TEST_ARTIFACTS/ui/)."""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from orchestration.jobs import DAILY_REFRESH
from retention.generator import generate
from retention.settings import Settings, project_root
from tests import ui_server
from tests.headless_chromium import Chromium, PageCapture, PageNotReady, chromium_binary

START, END = date(2025, 3, 1), date(2025, 3, 10)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The lineage page with these groups unfolded (the others stay one box each): every stage from the raw
# loads to the BI copy, small enough to read. "global@global:<group>" is how the UI names a group in its URL.
UNFOLDED_GROUPS = ("ingestion", "evaluation", "marts", "outreach", "serving")
LINEAGE = "/asset-groups?expanded=" + ",".join(f"global@global:{group}" for group in UNFOLDED_GROUPS)


@dataclass(frozen=True)
class LaunchedRun:
    ui: ui_server.DagsterUI
    run_id: str
    status: str
    landing: Path
    members_file_values: frozenset[str]  # every name and mobile number of the generated members files


PAGES = ("lineage", "asset_raw_orders", "run")


def artifacts_dir() -> Path:
    root = os.environ.get("RETENTION_TEST_ARTIFACTS") or project_root() / "test-artifacts"
    folder = Path(root) / "ui"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def remove_earlier_artifacts(folder: Path) -> None:
    """This test's files of an earlier session (only those: the folder may be shared), so that what is there
    after a run is that run's."""
    names = [f"{page}{state}.{ext}" for page in PAGES for state in ("", ".not-ready") for ext in ("png", "html", "txt")]
    for name in [*names, "dagster-dev.log"]:
        (folder / name).unlink(missing_ok=True)


def server_env(root: Path, dagster_home: Path) -> dict[str, str]:
    """This shell's environment without its RETENTION_* settings, with the venv first on PATH as `make ui` has
    it. Every setting naming a file or folder under data/ (landing, warehouse, exports, serving copy, alerts
    file, ...) points to the same place under `root`, so the repository's own data is never read or written."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RETENTION_")}
    for setting in fields(Settings):
        default = setting.default
        if isinstance(default, Path) and not default.is_absolute():
            below_data = default.relative_to("data") if default.parts[0] == "data" else default
            env[f"RETENTION_{setting.name.upper()}"] = str(root / below_data)
    env["DAGSTER_HOME"] = str(dagster_home)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def members_file_values(landing: Path) -> frozenset[str]:
    files = sorted((landing / "members").glob("*/*.csv"))
    assert files, f"no members files under {landing}"
    members = pl.read_csv(files, infer_schema=False).select("name", "mobile")
    values = pl.concat([members["name"], members["mobile"]]).drop_nulls().str.strip_chars()
    return frozenset(values.filter(values != "").to_list())


@pytest.fixture(scope="module")
def launched(tmp_path_factory) -> LaunchedRun:
    # Checked first: without a browser there is nothing to look at, so nothing is started.
    if chromium_binary() is None:
        pytest.skip("chromium not installed: apt-get install chromium (CI's .ci/run installs it when run as root)")
    remove_earlier_artifacts(artifacts_dir())
    root = tmp_path_factory.mktemp("ui")
    generate(root / "landing", members=40, start=START, end=END, seed=5, truth_dir=root / "ground_truth")
    dagster_home = root / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(project_root() / "orchestration" / "dagster.yaml", dagster_home / "dagster.yaml")
    ui = ui_server.start_dagster_dev(server_env(root, dagster_home), root / "dagster-dev.log")
    try:
        run_id = ui_server.launch_range(ui, DAILY_REFRESH, START, END)
        status = ui_server.wait_for_run(ui, run_id)
        yield LaunchedRun(ui, run_id, status, root / "landing", members_file_values(root / "landing"))
    finally:
        ui_server.stop(ui)
        shutil.copy(ui.log_file, artifacts_dir() / "dagster-dev.log")
        shutil.rmtree(root, ignore_errors=True)  # CI disks are small: the module's files go at once


@pytest.fixture(scope="module")
def pages(launched: LaunchedRun, tmp_path_factory) -> dict[str, PageCapture]:
    """The three pages once loaded, each saved (<name>.png, .html: the DOM, .txt: the text shown) before any
    test looks at them; a page that never finished loading is saved as <name>.not-ready.*."""
    ui_server.dismiss_community_dialog(launched.ui)
    outcome = "Success" if launched.status == "SUCCESS" else launched.status.title()
    wanted = {
        # The layout is computed in a web worker after the data arrives: wait for the assets' names.
        "lineage": (LINEAGE, ("member_rfm", "winback_batches", "bi_snapshot", "orders"), ("Loading assets",), 2200),
        "asset_raw_orders": ("/assets/raw/orders", ("files_read", f"{START}..{END}"), ("Loading",), None),
        "run": (f"/runs/{launched.run_id}", (outcome, f"RUN_{launched.status}"), (), None),
    }
    folder, captured = artifacts_dir(), {}
    profile = tmp_path_factory.mktemp("chromium-profile")
    with Chromium(chromium_binary(), profile) as browser:
        for name, (path, shows, hides, height) in wanted.items():
            try:
                capture = browser.capture(launched.ui.url + path, shows, hides, height=height)
            except PageNotReady as not_ready:
                save(folder, f"{name}.not-ready", not_ready.capture)
                raise
            save(folder, name, capture)
            captured[name] = capture
    shutil.rmtree(profile, ignore_errors=True)
    assert tuple(captured) == PAGES
    print(f"screenshots and DOM dumps: {folder}")
    return captured


def save(folder: Path, name: str, capture: PageCapture) -> None:
    (folder / f"{name}.png").write_bytes(capture.png)
    (folder / f"{name}.html").write_text(capture.dom, encoding="utf-8")
    (folder / f"{name}.txt").write_text(capture.text, encoding="utf-8")


def test_the_whole_graph_runs_to_success_when_launched_through_the_api(launched):
    errors = "\n".join(ui_server.run_error_events(launched.ui, launched.run_id)) if launched.status != "SUCCESS" else ""
    assert launched.status == "SUCCESS", f"run {launched.run_id} ended {launched.status}:\n{errors}"


def test_the_lineage_shows_every_stage_and_the_groups(pages):
    lines = [line.strip() for line in pages["lineage"].text.splitlines()]
    # Every group in the sidebar, and as a box of the graph when folded (retrospective: one box).
    for group in ("ingestion", "marts", "outreach", "retrospective", "serving", "staging", "intermediate", "landing"):
        assert lines.count(group) >= 2, group
    # The assets of the unfolded groups, each a node of the graph: the raw loads, marts, the win-back
    # batches, the evaluation and the BI copy (long names are cut in the middle, as member_ti…_history).
    drawn = {
        "orders", "members", "events", "tickets", "outreach_feedback",
        "dim_members", "fct_orders", "member_rfm", "member_churn_risk", "member_kpis_daily",
        "winback_batches", "risk_recovery", "bi_snapshot",
    }  # fmt: skip
    assert drawn <= set(lines), sorted(drawn - set(lines))


def test_the_raw_orders_page_shows_the_days_loaded_and_where_it_belongs(pages):
    text = pages["asset_raw_orders"].text
    # Breadcrumb of the key raw/orders; its group, job, sensor and schedule in the definition panel.
    assert re.search(r"Assets\s+raw\s+(raw\s+)?orders\s", text), text[:500]
    for expected in ("ingestion", "daily_refresh", "landing_files_sensor", "At 02:00 AM GMT+8"):
        assert expected in text, expected
    # The latest partition (the run's last day) shows the run's range, its own 2 files and the run's 20:
    # every day delivers a POS file and an online-orders file.
    assert metadata_value(text, "run_days", "files_read") == "2025-03-01..2025-03-10"
    assert metadata_value(text, "files_read", "rows_read") == "2"
    assert metadata_value(text, "run_files_read", "run_rows_read") == "20"


def metadata_value(text: str, key: str, next_key: str) -> str:
    """The value of a row of the asset's metadata table: its last line before the next row's key."""
    row = re.search(rf"\n{key}\s(.*?)\n{next_key}\s", text, re.S)
    assert row, f"no metadata row {key} before {next_key}"
    return [line.strip() for line in row[1].splitlines() if line.strip()][-1]


def test_the_run_page_shows_a_finished_successful_run(launched, pages):
    text = pages["run"].text
    # The header: run id (its first 8 characters), status and job.
    assert re.search(rf"Runs\s+/\s+{launched.run_id[:8]}\s+Success\s+Run of\s+daily_refresh\s", text), text[:500]
    assert "Errored (0)" in text and "No steps have errored" in text
    assert "RUN_SUCCESS" in text


def test_the_screenshots_are_pngs_of_the_whole_window(pages):
    for name, capture in pages.items():
        assert capture.png.startswith(PNG_SIGNATURE), name
        assert png_size(capture.png) == ((1600, 2200) if name == "lineage" else (1600, 1000)), name
        assert (artifacts_dir() / f"{name}.png").read_bytes() == capture.png


def test_a_failed_run_names_the_file_and_the_problem_without_personal_data(launched, pages):
    # After the pages are taken: a members file of the next day without registered_at, holding a name and a
    # mobile. (The landing sensor is off by default: only this launch loads it.)
    day = date(2025, 3, 11)
    broken = launched.landing / "members" / day.isoformat() / "crm.csv"
    broken.parent.mkdir(parents=True)
    broken.write_text(f"member_id,name,mobile,consent_sms,updated_at\nM9,王小明,13912345678,1,{day} 08:00:00\n")
    run_id = ui_server.launch_range(launched.ui, DAILY_REFRESH, day, day)
    assert ui_server.wait_for_run(launched.ui, run_id) == "FAILURE"
    errors = ui_server.run_error_events(launched.ui, run_id)
    problem = (
        "    LandingError:   - members/2025-03-11/crm.csv: missing required column(s) registered_at; the header "
        "(line 1) has 5 field(s), recognised: member_id, name, mobile, consent_sms, updated_at"
    )
    step_failure, run_failure = errors  # the step raw__members, then the run
    assert step_failure.startswith('ExecutionStepFailureEvent raw__members: Execution of step "raw__members" failed.')
    assert problem in step_failure.splitlines()
    assert run_failure.startswith('RunFailureEvent : Execution of run for "daily_refresh" failed.')
    assert problem in run_failure.splitlines()
    everything = "\n".join([*errors, *ui_server.run_event_messages(launched.ui, run_id)])
    assert "王小明" not in everything and "13912345678" not in everything


def png_size(png: bytes) -> tuple[int, int]:
    # The IHDR chunk right after the signature: width, then height, 4 bytes each.
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_no_member_name_or_mobile_reaches_a_page_or_the_run_log(launched, pages):
    assert len(launched.members_file_values) > 40  # 40 members' names and most of their mobiles
    shown = {f"{name} page": capture.dom + capture.text for name, capture in pages.items()}
    shown["run event log"] = "\n".join(ui_server.run_event_messages(launched.ui, launched.run_id))
    for where, text in shown.items():
        leaked = [value for value in launched.members_file_values if re.search(_standalone(value), text)]
        assert leaked == [], f"{len(leaked)} member name(s) or mobile(s) on the {where}"


def _standalone(value: str) -> str:
    # A mobile inside a longer number (a timestamp in milliseconds, an id) is not that mobile.
    return rf"(?<!\d){re.escape(value)}(?!\d)" if value.isdigit() else re.escape(value)


# A page that lays itself out in a web worker, as the asset graph does: the text appears after 1.5 s of the
# worker's real time. (Chromium's --virtual-time-budget freezes the worker's clock: this page never finishes.)
WORKER_PAGE = """<!doctype html><html><body><p id="state">Loading assets…</p><script>
const code = "const end = Date.now() + 1500; while (Date.now() < end) {} postMessage('laid out: member_rfm');";
const worker = new Worker(URL.createObjectURL(new Blob([code], {type: "text/javascript"})));
worker.onmessage = (event) => { document.getElementById("state").textContent = event.data; };
</script></body></html>"""


@pytest.fixture
def browser(tmp_path):
    if chromium_binary() is None:
        pytest.skip("chromium not installed: apt-get install chromium (CI's .ci/run installs it when run as root)")
    with Chromium(chromium_binary(), tmp_path / "profile", height=600) as chromium:
        yield chromium


def test_the_browser_waits_for_what_a_web_worker_draws(browser, tmp_path):
    page = tmp_path / "worker.html"
    page.write_text(WORKER_PAGE, encoding="utf-8")
    capture = browser.capture(page.as_uri(), shows=("laid out",), hides=("Loading",))
    assert capture.text == "laid out: member_rfm"
    assert '<p id="state">laid out: member_rfm</p>' in capture.dom
    assert capture.png.startswith(PNG_SIGNATURE)
    assert png_size(capture.png) == (1600, 600)


def test_a_page_that_never_shows_the_text_fails_saying_what_it_shows(browser, tmp_path):
    page = tmp_path / "spinner.html"
    page.write_text("<!doctype html><p>Loading assets…</p>", encoding="utf-8")
    with pytest.raises(PageNotReady) as not_ready:
        browser.capture(page.as_uri(), shows=("member_rfm",), hides=("Loading",), timeout=2)
    assert str(not_ready.value) == (
        f"{page.as_uri()} did not show ['member_rfm'] / still showed ['Loading'] after 2 s; it shows:\nLoading assets…"
    )
    assert not_ready.value.capture.png.startswith(PNG_SIGNATURE)  # what it showed, to save and look at

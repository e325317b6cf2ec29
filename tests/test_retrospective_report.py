"""The retrospective report rendered from hand-made retrospective tables (tests/retrospective_fixture.py): the
numbers as formatted, Chinese labels, charts that are real PNGs, BI files, weekly pages, and what it says
when the campaign has not run yet. Only aggregates reach the files."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from PIL import Image

from retention.retrospective import html
from retention.retrospective.report import render_campaign_report
from retention.retrospective.tables import REPORT_TABLES
from retention.retrospective.weekly import weekly_markdown
from tests.retrospective_fixture import CAMPAIGN, METHOD, build_retrospective

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DATA_URI = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture
def warehouse_con(tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield con
    con.close()


@pytest.fixture
def rendered(tmp_path: Path, warehouse_con):
    build_retrospective(warehouse_con)
    warnings: list[str] = []
    report = render_campaign_report(warehouse_con, CAMPAIGN, tmp_path / "exports", warn=warnings.append)
    return report, warnings


def _all_text(directory: Path) -> str:
    """Every file written under the campaign's folder, as text (Parquet bytes decoded leniently)."""
    return "\n".join(path.read_bytes().decode("utf-8", "replace") for path in directory.rglob("*") if path.is_file())


def test_number_formats():
    assert html.pct(0.325) == "32.5%"
    assert html.signed_pct(0.125) == "+12.5%"
    assert html.signed_pct(-0.02) == "-2.0%"
    assert html.interval(0.031, 0.184) == "[+3.1%, +18.4%]"
    assert html.interval(-0.25, 0.42) == "[-25.0%, +42.0%]"
    assert html.cny(4567.8) == "¥4,567.80"
    assert html.count(None) == "–"


def test_headline_numbers_lift_interval_and_method(rendered, tmp_path):
    report, _ = rendered
    assert report.report_path == tmp_path / "exports" / "retrospective" / CAMPAIGN / "report.html"
    page = report.report_path.read_text(encoding="utf-8")
    # Treated 130 of 400 (32.5%) against the 25% target; holdout 8 of 40; lift and its interval; the method.
    for expected in ("32.5%", "目标 ≥ 25.0% · 达标", "20.0%", "+12.5%", "[+3.1%, +18.4%]", METHOD):
        assert expected in page, expected
    # 4,567.80 of 60,000 spent (7.6%), 35.14 per member won back.
    for expected in ("¥4,567.80", "预算 ¥60,000.00 的 7.6%", "¥35.14", "共 400 位触达会员 / 首批 440 位"):
        assert expected in page, expected
    assert "数据截至 2025-09-30 · 测量窗口截至 2025-09-29 · 最终结果 (final)" in page
    assert report.headline is not None
    assert report.headline.metadata() == {
        "first_batch_members": 440, "treated_members": 400, "holdout_members": 40, "treated_won_back": 130,
        "treated_rate": 0.325, "holdout_rate": 0.2, "target_rate": 0.25, "lift": 0.125, "lift_ci_low": 0.031,
        "lift_ci_high": 0.184, "budget_cny": 60000.0, "budget_spent": 4567.8, "cost_per_member_won_back": 35.14,
        "is_final": True, "ci_method": METHOD,
    }  # fmt: skip


def test_sections_show_chinese_labels_and_the_campaigns_rows_only(rendered):
    report, warnings = rendered
    page = report.report_path.read_text(encoding="utf-8")
    for label in (
        "挽回率",
        "挽回进度周报",
        "基础",
        "进阶",
        "尊享",
        "电话",
        "短信",
        "推送",
        "转投竞品",
        "专属复购券 满100减30",
    ):
        assert label in page, label
    # Rates table row: basic tier, 20 of 100 treated (20.0%, below target), holdout 1 of 10.
    assert (
        '<tr><td>会员等级</td><td>基础</td><td class="num">100</td><td class="num">20</td>'
        '<td class="num">20.0%</td><td>未达标</td><td class="num">10</td><td class="num">1</td>'
        '<td class="num">10.0%</td></tr>'
    ) in page
    # Phone: 27 of 60 won back (45.0%), 720.00 spent, 26.67 per member won back, lift +11.7% [-25.0%, +42.0%].
    assert (
        '<tr><td>电话</td><td class="num">60</td><td class="num">60</td><td class="num">100.0%</td>'
        '<td class="num">75.0%</td><td class="num">0.0%</td><td class="num">27</td><td class="num">45.0%</td>'
        '<td class="num">¥720.00</td><td class="num">¥26.67</td><td class="num">+11.7% [-25.0%, +42.0%]</td></tr>'
    ) in page
    # Benefits ranked within the tier, basic first; KPI campaign vs before with the change and the target.
    assert page.index("BNF_WB_LOGIN_GIFT") < page.index("BNF_WB_PREMIUM_WEEK") < page.index("BNF_WB_POINTS_GIFT")
    assert (
        '<tr><td>核心会员复购率</td><td class="num">31.0%</td><td class="num">38.0%</td><td class="num">+7.0%</td>'
        "<td>≥ 35.0%</td><td>达标</td></tr>"
    ) in page
    assert "not available yet" not in page
    # The other campaign's rows (rates 99.9%, BNF_OTHER_CAMPAIGN, week 2025-W40) are not shown.
    for other in ("99.9%", "BNF_OTHER_CAMPAIGN", "2025-W40", "十月活动"):
        assert other not in page, other
    assert report.chinese_charts is True
    assert warnings == []


def test_charts_are_embedded_pngs_and_nothing_is_fetched(rendered):
    report, _ = rendered
    page = report.report_path.read_text(encoding="utf-8")
    images = DATA_URI.findall(page)
    assert len(images) == 3  # rates by dimension, lift by channel, weekly trend
    for encoded in images:
        data = base64.b64decode(encoded)
        assert data.startswith(PNG_SIGNATURE)
        image = Image.open(io.BytesIO(data))
        image.verify()
        assert image.format == "PNG" and image.size[0] >= 700
    # Self-contained: no link, script or remote URL a browser would fetch.
    assert not re.search(r"<(link|script)\b|https?://|src=\"(?!data:)", page)
    assert report.weekly_chart_png is not None and report.weekly_chart_png.startswith(PNG_SIGNATURE)


def test_no_member_level_data_reaches_any_file(rendered):
    report, _ = rendered
    written = _all_text(report.directory)
    assert "member_key" not in written
    # The member-level table retrospective.campaign_winback holds this key; it is never read.
    assert "MK-SECRET-0001" not in written


def test_a_member_column_in_an_aggregate_table_is_left_out_with_a_warning(tmp_path, warehouse_con):
    build_retrospective(warehouse_con)
    warehouse_con.execute("ALTER TABLE retrospective.campaign_benefit_usage ADD COLUMN member_key VARCHAR")
    warehouse_con.execute("UPDATE retrospective.campaign_benefit_usage SET member_key = 'MK-LEAK-7'")
    warnings: list[str] = []
    report = render_campaign_report(warehouse_con, CAMPAIGN, tmp_path / "exports", warn=warnings.append)
    assert warnings == ["retrospective report: member-level column(s) left out: campaign_benefit_usage.member_key"]
    written = _all_text(report.directory)
    assert "MK-LEAK-7" not in written and "member_key" not in written
    assert pl.read_parquet(report.directory / "tables" / "campaign_benefit_usage.parquet").columns == [
        "campaign_id", "arm", "tier", "benefit_code", "members_used", "uses", "rank_in_tier",
    ]  # fmt: skip


def test_every_table_as_parquet_and_excel_csv_with_the_campaigns_rows(rendered):
    report, _ = rendered
    tables = report.directory / "tables"
    assert sorted(path.name for path in tables.iterdir()) == sorted(
        f"{table}.{kind}" for table in REPORT_TABLES for kind in ("csv", "parquet")
    )
    # Rows per table for this campaign (the other campaign's row in each table is filtered out).
    expected_rows = {
        "campaign_retrospective_summary": 1, "campaign_lift": 4, "campaign_winback_rates": 26,
        "campaign_channel_comparison": 3, "campaign_benefit_usage": 4, "campaign_weekly_progress": 4,
        "campaign_kpis": 6,
    }  # fmt: skip
    for table, rows in expected_rows.items():
        frame = pl.read_parquet(tables / f"{table}.parquet")
        assert frame.height == rows, table
        assert frame["campaign_id"].unique().to_list() == [CAMPAIGN]
    assert pl.read_parquet(tables / "campaign_channel_comparison.parquet").schema["total_cost"] == pl.Decimal(18, 2)
    csv = (tables / "campaign_channel_comparison.csv").read_bytes()
    assert csv.startswith(b"\xef\xbb\xbf")
    lines = csv[3:].decode("utf-8").split("\r\n")
    assert lines[0].startswith("campaign_id,channel,members_contacted,touches_exported,touches_delivered,")
    assert lines[1] == "winback-2025-08,call,60,60,60,1,45,0.75,0,0,27,0.45,180.00,540.00,720.00,26.67," + (
        f"{0.45 - 2 / 6},-0.25,0.42"
    )
    assert len([line for line in lines if line]) == 4  # header + call, sms, push
    weekly = (tables / "campaign_weekly_progress.csv").read_text(encoding="utf-8-sig").splitlines()
    assert (
        weekly[1]
        == "winback-2025-08,2025-W33,2025-08-11,2025-08-17,600,558,147,15,10,5,40,12,20,0.05,730.00,730.00,60000.00"
    )


def test_one_weekly_page_per_iso_week_with_numbers_to_date(rendered):
    report, _ = rendered
    weekly = report.directory / "weekly"
    assert sorted(path.name for path in weekly.iterdir()) == [
        "2025-W33.html", "2025-W34.html", "2025-W35.html", "2025-W36.html",
    ]  # fmt: skip
    page = (weekly / "2025-W35.html").read_text(encoding="utf-8")
    assert "挽回进度周报 2025-W35" in page and "2025-08-25 – 2025-08-31" in page
    # Touches: 250 this week, 600 + 0 + 250 = 850 to date; coupons 20 this week, 10 + 30 + 20 = 60.
    assert '<tr><td>发送触达</td><td class="num">250</td><td class="num">850</td></tr>' in page
    assert '<tr><td>优惠券核销</td><td class="num">20</td><td class="num">60</td></tr>' in page
    # 104 of 400 won back so far (26.0%); 500.00 this week, 2,430.00 of 60,000 to date (4.0%).
    for expected in ("104", "26.0%", "¥500.00", "¥2,430.00", "预算 ¥60,000.00 的 4.0%"):
        assert expected in page, expected


def test_a_week_the_campaign_no_longer_has_loses_its_page(tmp_path, warehouse_con):
    """A page left by an earlier render (e.g. as of a later day) for a week the tables no longer have is
    removed; other files in the folder are not the report's and stay."""
    weekly = tmp_path / "exports" / "retrospective" / CAMPAIGN / "weekly"
    weekly.mkdir(parents=True)
    (weekly / "2025-W40.html").write_text("old numbers", encoding="utf-8")
    (weekly / "notes.txt").write_text("kept", encoding="utf-8")
    build_retrospective(warehouse_con)
    render_campaign_report(warehouse_con, CAMPAIGN, tmp_path / "exports", warn=lambda _: None)
    assert sorted(path.name for path in weekly.iterdir()) == [
        "2025-W33.html", "2025-W34.html", "2025-W35.html", "2025-W36.html", "notes.txt",
    ]  # fmt: skip


def test_weekly_trend_as_markdown():
    frame = pl.DataFrame(
        {
            "iso_week": ["2025-W34", "2025-W33"],
            "week_start": [date(2025, 8, 18), date(2025, 8, 11)],
            "touches_exported": [0, 600], "touches_delivered": [0, 558], "touches_opened": [0, 147],
            "unsubscribes": [0, 15], "coupons_redeemed": [30, 10], "benefits_redeemed": [12, 5],
            "app_logins": [90, 40], "repurchase_orders": [45, 12], "members_won_back_to_date": [70, 20],
            "win_back_rate_to_date": [0.175, 0.05], "budget_spent_to_date": [1930.0, 730.0],
        }
    )  # fmt: skip
    assert weekly_markdown(frame).splitlines() == [
        "| ISO week | touches | delivered | opened | coupons | benefits | logins | orders | won back to date "
        "| rate to date | spent to date |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        "| 2025-W33 | 600 | 558 | 147 | 10 | 5 | 40 | 12 | 20 | 5.0% | ¥730.00 |",
        "| 2025-W34 | 0 | 0 | 0 | 30 | 12 | 90 | 45 | 70 | 17.5% | ¥1,930.00 |",
    ]


def test_before_the_campaign_runs_the_report_says_not_available_yet(tmp_path, warehouse_con):
    report = render_campaign_report(warehouse_con, CAMPAIGN, tmp_path / "exports", campaign_name="秋季挽回")
    page = report.report_path.read_text(encoding="utf-8")
    assert "活动复盘 · 秋季挽回" in page
    assert page.count("not available yet (not built yet)") == 1 + 6  # the headline and six sections
    assert "campaign_lift: not available yet (not built yet) · 暂无数据" in page
    assert report.headline is None and report.weekly_paths == () and report.table_files == ()
    assert report.missing == dict.fromkeys(REPORT_TABLES, "not built yet")
    assert DATA_URI.findall(page) == []


def test_tables_without_the_campaigns_rows_say_so(tmp_path, warehouse_con):
    build_retrospective(warehouse_con, only=("retrospective.campaign_weekly_progress", "retrospective.campaign_kpis"))
    warehouse_con.execute("DELETE FROM retrospective.campaign_kpis WHERE campaign_id = ?", [CAMPAIGN])
    report = render_campaign_report(warehouse_con, CAMPAIGN, tmp_path / "exports")
    page = report.report_path.read_text(encoding="utf-8")
    assert "campaign_kpis: not available yet (no rows for this campaign yet)" in page
    assert "campaign_lift: not available yet (not built yet)" in page
    assert len(report.weekly_paths) == 4 and len(DATA_URI.findall(page)) == 1  # the weekly trend only
    # BI still gets the empty table's columns.
    assert pl.read_parquet(report.directory / "tables" / "campaign_kpis.parquet").height == 0


def test_without_a_chinese_font_the_charts_fall_back_to_english_and_say_so_once(tmp_path, warehouse_con):
    build_retrospective(warehouse_con)
    warnings: list[str] = []
    report = render_campaign_report(
        warehouse_con, CAMPAIGN, tmp_path / "exports", warn=warnings.append, font_families=("No Such Font Family",)
    )
    assert report.chinese_charts is False
    assert warnings == [
        "retrospective report: no Chinese font found (looked for No Such Font Family); charts use English "
        "labels: install fonts-noto-cjk or fonts-wqy-microhei (Debian/Ubuntu) for Chinese chart labels"
    ]
    page = report.report_path.read_text(encoding="utf-8")
    assert len(DATA_URI.findall(page)) == 3 and "32.5%" in page and "尊享" in page


def test_a_week_that_cannot_name_a_file_is_refused_naming_the_row(tmp_path, warehouse_con):
    build_retrospective(warehouse_con, only=("retrospective.campaign_weekly_progress",))
    warehouse_con.execute(
        "UPDATE retrospective.campaign_weekly_progress SET iso_week = '../W34\n' WHERE iso_week = '2025-W34'"
    )
    with pytest.raises(ValueError) as error:
        render_campaign_report(warehouse_con, CAMPAIGN, tmp_path / "exports")
    assert str(error.value) == (
        "retrospective.campaign_weekly_progress row 2: iso_week '../W34\\n' is not an ISO week like 2025-W34"
    )


def test_a_campaign_id_that_cannot_name_a_folder_is_refused(tmp_path, warehouse_con):
    with pytest.raises(ValueError) as error:
        render_campaign_report(warehouse_con, "../x\x1b", tmp_path / "exports")
    assert str(error.value) == ("campaign id '../x\\x1b' cannot name a file: expected letters, digits, '.', '_', '-'")
    assert not (tmp_path / "exports").exists()


def test_screenshot_in_headless_chromium(rendered, tmp_path):
    """The report as a person sees it; look at the PNG (the path is printed) before calling a change done."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium): no screenshot of the report taken")
    report, _ = rendered
    shot = tmp_path / "report.png"
    subprocess.run(
        [browser, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars", f"--screenshot={shot}",
         "--window-size=1280,4200", report.report_path.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    image = Image.open(shot)
    assert image.size == (1280, 4200)
    # Not a blank page: the screenshot has many colours (text, charts, tables).
    assert len(image.convert("RGB").getcolors(maxcolors=1_000_000)) > 100
    print(f"screenshot: {shot}")

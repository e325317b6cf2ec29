"""A deployment maps its own code spellings in a YAML file: checked line by line when it is read, applied
by the loader like the built-in aliases, and named when unmapped values stop a run.

Real files under tmp_path, real DuckDB loads; expected rows and messages are worked out by hand.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from retention.landing.contract import EVENTS, MEMBERS
from retention.landing.loader import load_range
from retention.landing.vocabulary import VocabularyError, load_vocabulary
from retention.settings import Settings, project_root
from tests.conftest import members_csv

DAY = date(2025, 3, 1)
HEADER = "event_id,member_id,event_time,event_type,platform,page,dwell_seconds\n"
MAPPING = """version: 1
events:
  event_type:
    page_view: [product_view, catalog, home, promo_page]
    add_to_cart: cart
"""


def _vocabulary(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vocabulary.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _problem(tmp_path: Path, text: str) -> str:
    path = _vocabulary(tmp_path, text)
    with pytest.raises(VocabularyError) as raised:
        load_vocabulary(path)
    return str(raised.value).replace(str(path), "FILE")


# ---------------------------------------------------------------- reading the file


def test_the_shipped_file_maps_nothing():
    vocabulary = load_vocabulary(Settings().vocabulary_file)
    assert Settings().vocabulary_file == project_root() / "config" / "vocabulary.yaml"
    assert vocabulary.mappings == {}
    assert vocabulary.applied_to(EVENTS) == EVENTS


def test_mapped_spellings_follow_the_built_in_ones(tmp_path):
    vocabulary = load_vocabulary(_vocabulary(tmp_path, MAPPING))
    assert vocabulary.mappings == {
        ("events", "event_type"): {
            "page_view": ("product_view", "catalog", "home", "promo_page"),
            "add_to_cart": ("cart",),
        }
    }
    codes = vocabulary.applied_to(EVENTS).column("event_type").codes
    assert codes["page_view"] == ("浏览", "pageview", "product_view", "catalog", "home", "promo_page")
    assert codes["add_to_cart"] == ("加购", "cart")
    assert codes["login"] == ("登录",)


def test_values_are_read_as_written_not_as_yaml_types(tmp_path):
    text = "version: 1\norders:\n  status:\n    paid: [1, yes, 2025-03-01]\n"
    vocabulary = load_vocabulary(_vocabulary(tmp_path, text))
    assert vocabulary.mappings == {("orders", "status"): {"paid": ("1", "yes", "2025-03-01")}}


def test_an_unknown_code_names_its_line(tmp_path):
    text = "version: 1\nevents:\n  event_type:\n    view_item: [product_view]\n"
    assert _problem(tmp_path, text) == (
        "vocabulary file FILE, line 4: unknown code `view_item` for events.event_type (codes: login, logout, "
        "page_view, click, search, add_to_cart, benefit_view, benefit_use, coupon_claim, coupon_redeem, "
        "points_redeem, share)"
    )


def test_a_value_mapped_twice_names_both_lines(tmp_path):
    text = MAPPING + "    click: [' Product_View ']\n"
    assert _problem(tmp_path, text) == (
        "vocabulary file FILE, line 6: `Product_View` is mapped twice in events.event_type: "
        "to `page_view` on line 4 and to `click` here"
    )
    again = "version: 1\nevents:\n  event_type:\n    page_view:\n      - home\n      - HOME\n"
    assert _problem(tmp_path, again) == (
        "vocabulary file FILE, line 6: `HOME` is mapped to `page_view` twice in events.event_type (first on line 5)"
    )


def test_a_built_in_spelling_of_another_code_cannot_be_mapped(tmp_path):
    text = "version: 1\nevents:\n  event_type:\n    page_view: [product_view, 登录]\n"
    assert _problem(tmp_path, text) == (
        "vocabulary file FILE, line 4: `登录` already means `login` in events.event_type (a built-in spelling, "
        "retention/landing/contract.py); it cannot also mean `page_view`"
    )
    # The same code's own spelling is harmless: nothing changes.
    same = "version: 1\nevents:\n  event_type:\n    page_view: [浏览, Page_View]\n"
    assert load_vocabulary(_vocabulary(tmp_path, same)).mappings == {
        ("events", "event_type"): {"page_view": ("浏览", "Page_View")}
    }


def test_malformed_yaml_names_the_line_it_breaks_on(tmp_path):
    text = "version: 1\nevents:\n  event_type:\n    page_view: [product_view, catalog\n    click: [tap]\n"
    assert _problem(tmp_path, text) == (
        "vocabulary file FILE, line 5: not valid YAML: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence started on line 4)"
    )
    assert _problem(tmp_path, "version: 1\nevents:\n\tevent_type: {}\n") == (
        "vocabulary file FILE, line 3: not valid YAML: found character '\\t' that cannot start any token"
    )


def test_every_problem_of_the_file_is_listed_by_line(tmp_path):
    text = (
        "version: 1\n"  # 1
        "event:\n"  # 2: unknown source
        "  event_type: {}\n"  # 3
        "events:\n"  # 4
        "  page: {x: [y]}\n"  # 5: not a code column
        "  eventtype: {}\n"  # 6: unknown column
        "  platform:\n"  # 7
        "    app: [android, '-', ~]\n"  # 8: two missing values
        "    web:\n"  # 9
        "      - {h5: pc}\n"  # 10: not a plain value
        "events: {}\n"  # 11: a key twice
    )
    assert _problem(tmp_path, text) == (
        "vocabulary file FILE has 7 problems:\n"
        "  line 2: unknown source `event` (sources: members, orders, events, tickets, outreach_feedback)\n"
        "  line 5: `page` of events is not a code column (code columns: event_type, platform)\n"
        "  line 6: unknown column `eventtype` of events (code columns: event_type, platform)\n"
        "  line 8: `-` is read as a missing value, so it cannot be mapped to `app`\n"
        "  line 8: `~` is read as a missing value, so it cannot be mapped to `app`\n"
        "  line 10: the values mapped to `web` in events.platform must be a list of plain values\n"
        "  line 11: `events` is given twice in the file (first on line 4)"
    )


def test_the_version_is_required(tmp_path):
    assert _problem(tmp_path, "events: {}\n") == "vocabulary file FILE, line 1: `version: 1` is missing"
    assert _problem(tmp_path, "version: 2\n") == (
        "vocabulary file FILE, line 1: version `2` is not one this pipeline reads (version 1)"
    )
    assert _problem(tmp_path, "") == "vocabulary file FILE, line 1: the file is empty; it must start with `version: 1`"


def test_a_missing_file_names_the_setting(tmp_path):
    with pytest.raises(VocabularyError) as raised:
        load_vocabulary(tmp_path / "nowhere.yaml")
    assert str(raised.value) == (
        f"vocabulary file {tmp_path}/nowhere.yaml, the file does not exist (set RETENTION_VOCABULARY_FILE)"
    )


def test_an_offending_value_is_escaped_and_cut(tmp_path):
    escape = "\\e[2J"  # YAML's escape for ESC: with the 80 letters, a value of 84 characters
    text = (
        f'version: 1\nevents:\n  event_type:\n    page_view: ["{escape}{"x" * 80}"]\n'
        f'    click: ["{"Y" * 84}"]\n    search: ["{"y" * 84}"]\n'
    )
    assert _problem(tmp_path, text) == (
        "vocabulary file FILE has 2 problems:\n"
        "  line 4: `\\x1b[2J" + "x" * 56 + "...(+24 chars)` holds a control or invisible character (shown "
        "escaped); it cannot be mapped to `page_view`\n"
        "  line 6: `" + "y" * 60 + "...(+24 chars)` is mapped twice in events.event_type: to `click` on line 5 "
        "and to `search` here"
    )


def test_a_value_holding_a_control_or_invisible_character_names_its_line(tmp_path):
    # A NUL would break the loader's SQL; a tab, a line separator or a zero-width space would never match a
    # delivered value the way it reads (the loader trims spaces only).
    text = (
        'version: 1\nevents:\n  event_type:\n    page_view: ["a\\0b", "cart\\t"]\n'
        '    click: ["x\\u2028y", "\\u200bz"]\n'
    )
    assert _problem(tmp_path, text) == (
        "vocabulary file FILE has 4 problems:\n"
        "  line 4: `a\\x00b` holds a control or invisible character (shown escaped); it cannot be mapped to "
        "`page_view`\n"
        "  line 4: `cart\\t` holds a control or invisible character (shown escaped); it cannot be mapped to "
        "`page_view`\n"
        "  line 5: `x\\u2028y` holds a control or invisible character (shown escaped); it cannot be mapped to "
        "`click`\n"
        "  line 5: `\\u200bz` holds a control or invisible character (shown escaped); it cannot be mapped to "
        "`click`"
    )


def test_values_are_trimmed_as_the_loader_trims_them(tmp_path):
    import duckdb

    from retention.landing.vocabulary import SPACES

    # What DuckDB's trim() removes, over every code point: exactly SPACES.
    points = [chr(c) for c in range(1, 0x110000) if not 0xD800 <= c < 0xE000]
    con = duckdb.connect()
    trimmed = con.execute("SELECT list(c) FROM (SELECT unnest(?) AS c) WHERE trim(c || 'x') = 'x'", [points]).fetchone()
    assert sorted(trimmed[0]) == sorted(SPACES)
    # An ideographic or no-break space is trimmed, so `cart　` and ` cart` are one value.
    text = 'version: 1\nevents:\n  event_type:\n    add_to_cart: ["cart\\u3000", "\\u00a0CART"]\n'
    assert _problem(tmp_path, text) == (
        "vocabulary file FILE, line 4: `CART` is mapped to `add_to_cart` twice in events.event_type (first on line 4)"
    )
    ok = 'version: 1\nevents:\n  event_type:\n    add_to_cart: ["cart\\u3000"]\n'
    assert load_vocabulary(_vocabulary(tmp_path, ok)).mappings == {("events", "event_type"): {"add_to_cart": ("cart",)}}


def test_a_column_named_by_its_alias_names_the_contract_name(tmp_path):
    assert _problem(tmp_path, "version: 1\nmembers:\n  性别:\n    F: [w]\n") == (
        "vocabulary file FILE, line 3: unknown column `性别` of members: write it `gender` (the contract's name; "
        "other spellings name a column in an export only)"
    )


def test_the_definitions_refuse_a_broken_file(settings, tmp_path):
    from orchestration.definitions import build_definitions

    broken = _vocabulary(tmp_path, "version: 1\nevents:\n  event_type:\n    view_item: [product_view]\n")
    with pytest.raises(VocabularyError, match="line 4: unknown code `view_item`"):
        build_definitions(replace(settings, vocabulary_file=broken))


# ---------------------------------------------------------------- loading with it


def _foreign_events(landing) -> None:
    landing.write("members/2025-03-01/crm.csv", members_csv("M1"))
    rows = [
        "E1,M1,2025-03-01 10:00:00,product_view,app,p1,5",
        "E2,M1,2025-03-01 10:01:00, Catalog ,app,p2,5",
        "E3,M1,2025-03-01 10:02:00,cart,app,p3,5",
        "E4,M1,2025-03-01 10:03:00,login,app,,",
        "E5,M1,2025-03-01 10:04:00,wishlist,app,p4,5",
    ]
    landing.write("events/2025-03-01/app.csv", HEADER + "".join(row + "\n" for row in rows))


def _loaded(warehouse) -> list[tuple]:
    return warehouse.execute("SELECT event_id, event_type FROM raw.events ORDER BY event_id").fetchall()


def _quarantined(warehouse) -> list[tuple]:
    return warehouse.execute(
        "SELECT row_number, reason_code, reason_detail FROM raw.quarantine WHERE source = 'events' ORDER BY 1"
    ).fetchall()


def test_without_a_mapping_foreign_names_are_unknown_codes(settings, landing, warehouse):
    _foreign_events(landing)
    load_range(warehouse, MEMBERS, DAY, DAY, settings)
    report = load_range(warehouse, EVENTS, DAY, DAY, settings)
    assert (report.rows_loaded, report.rows_quarantined) == (1, 4)
    assert _loaded(warehouse) == [("E4", "login")]
    assert _quarantined(warehouse) == [
        (1, "unknown_code", 'event_type = "product_view"'),
        (2, "unknown_code", 'event_type = "Catalog"'),
        (3, "unknown_code", 'event_type = "cart"'),
        (5, "unknown_code", 'event_type = "wishlist"'),
    ]


def test_a_mapping_file_loads_them_as_the_contract_codes(settings, landing, warehouse, tmp_path):
    _foreign_events(landing)
    settings = replace(settings, vocabulary_file=_vocabulary(tmp_path, MAPPING))
    load_range(warehouse, MEMBERS, DAY, DAY, settings)
    report = load_range(warehouse, EVENTS, DAY, DAY, settings)
    assert (report.rows_loaded, report.rows_quarantined) == (4, 1)
    assert _loaded(warehouse) == [
        ("E1", "page_view"),
        ("E2", "page_view"),
        ("E3", "add_to_cart"),
        ("E4", "login"),
    ]
    assert _quarantined(warehouse) == [(5, "unknown_code", 'event_type = "wishlist"')]


def test_the_loader_checks_the_file_too(settings, landing, warehouse, tmp_path):
    _foreign_events(landing)
    broken = _vocabulary(tmp_path, "version: 1\nevents:\n  event_type:\n    page_view: [product_view, click]\n")
    with pytest.raises(VocabularyError, match="line 4: `click` already means `click`"):
        load_range(warehouse, EVENTS, DAY, DAY, replace(settings, vocabulary_file=broken))


def test_quotes_backslashes_and_wide_spaces_load_as_mapped(settings, landing, warehouse, tmp_path):
    landing.write("members/2025-03-01/crm.csv", members_csv("M1"))
    rows = ["E1,M1,2025-03-01 10:00:00,it's \\ back,app,p,5", "E2,M1,2025-03-01 10:00:00,cart\u3000,app,p,5"]
    landing.write("events/2025-03-01/app.csv", HEADER + "\n".join(rows) + "\n")
    text = 'version: 1\nevents:\n  event_type:\n    page_view: ["it\'s \\\\ back"]\n    add_to_cart: ["\\u3000cart"]\n'
    settings = replace(settings, vocabulary_file=_vocabulary(tmp_path, text))
    load_range(warehouse, MEMBERS, DAY, DAY, settings)
    report = load_range(warehouse, EVENTS, DAY, DAY, settings)
    assert (report.rows_loaded, report.rows_quarantined) == (2, 0)
    assert _loaded(warehouse) == [("E1", "page_view"), ("E2", "add_to_cart")]


def test_a_value_holding_a_bar_is_kept_whole_in_the_quarantine_detail(settings, landing, warehouse):
    landing.write("members/2025-03-01/crm.csv", members_csv("M1"))
    landing.write("events/2025-03-01/app.csv", HEADER + "E1,M1,2025-03-01 10:00:00,view|item,app,p1,5\n")
    load_range(warehouse, MEMBERS, DAY, DAY, settings)
    load_range(warehouse, EVENTS, DAY, DAY, settings)
    assert _quarantined(warehouse) == [(1, "unknown_code", 'event_type = "view|item"')]


def test_unmapped_values_are_counted_per_column_most_frequent_first(settings, landing, warehouse):
    from retention.landing.unmapped import unmapped_lines, unmapped_values

    landing.write("members/2025-03-01/crm.csv", members_csv("M1", "M2", "M3"))
    rows = [
        "E01,M1,2025-03-01 10:00:00,tap,android,p,5",  # two unknown codes: counts for both columns
        "E02,M2,2025-03-01 10:00:00,tap,android,p,5",
        "E03,M3,2025-03-01 10:00:00,tap,android,p,5",
        *(f"E1{i},M{i},2025-03-01 10:00:00,pinch,app,p,5" for i in (1, 2, 3)),
        # quotes and "; " inside the value
        *(f'E2{i},M{i},2025-03-01 10:00:00,"say ""hi""; bye",app,p,5' for i in (1, 2, 3)),
        *(f"E3{i},M{i},2025-03-01 10:00:00,zoom\x1b[2J,app,p,5" for i in (1, 2, 3)),
        "E41,M1,2025-03-01 10:00:00,swipe,ios,p,5",
        "E42,M2,2025-03-01 10:00:00,swipe,ios,p,5",
        # unknown member and bad dwell time before the code: M404 is not counted, so swipe is held by 2 members
        "E43,M404,2025-03-01 10:00:00,swipe,app,p,-1",
        "E51,M1,2025-03-01 10:00:00,,app,p,5",  # missing, not unknown
    ]
    landing.write("events/2025-03-01/app.csv", HEADER + "\n".join(rows) + "\n")
    # JSON lines may name a column by its alias; the value is trimmed as the loader trims it.
    landing.write(
        "events/2025-03-01/app.jsonl",
        '{"event_id": "J1", "member_id": "M1", "event_time": "2025-03-01 10:00:00", "事件类型": " tap "}\n',
    )
    load_range(warehouse, MEMBERS, DAY, DAY, settings)
    load_range(warehouse, EVENTS, DAY, DAY, settings)

    unmapped = unmapped_values(warehouse, EVENTS, DAY, DAY, per_column=3)
    rare = {"not_shown": "held by fewer than 3 members", "values": 1}
    assert unmapped == {
        "events.event_type": [
            {"value": "tap", "rows": 4},
            {"value": "pinch", "rows": 3},
            {"value": 'say "hi"; bye', "rows": 3},
            {**rare, "rows": 3},
        ],
        "events.platform": [{"value": "android", "rows": 3}, {**rare, "rows": 2}],
    }
    assert unmapped_values(warehouse, EVENTS, date(2025, 3, 2), None) == {}
    every = unmapped_values(warehouse, EVENTS)
    assert every["events.event_type"] == [
        {"value": "tap", "rows": 4},
        {"value": "pinch", "rows": 3},
        {"value": 'say "hi"; bye', "rows": 3},
        {"value": "zoom\\x1b[2J", "rows": 3},
        {**rare, "rows": 3},
    ]
    hint = "rare codes, or names or mobiles in a shifted code column? check the column mapping of the export"
    assert unmapped_lines(every, "config/vocabulary.yaml") == [
        'event_type "tap" 4 rows — map it in config/vocabulary.yaml (events.event_type)',
        'event_type "pinch" 3 rows — map it in config/vocabulary.yaml (events.event_type)',
        'event_type "say "hi"; bye" 3 rows — map it in config/vocabulary.yaml (events.event_type)',
        'event_type "zoom\\x1b[2J" 3 rows — map it in config/vocabulary.yaml (events.event_type)',
        f"event_type: 1 value held by fewer than 3 members, 3 rows, not shown — {hint} (events.event_type)",
        'platform "android" 3 rows — map it in config/vocabulary.yaml (events.platform)',
        f"platform: 1 value held by fewer than 3 members, 2 rows, not shown — {hint} (events.platform)",
    ]


# ---------------------------------------------------------------- through the real pipeline

# A day of a retailer's clickstream: 20 of its 25 events use the app's own names.
CLICKSTREAM = [
    *(["product_view"] * 8),
    *(["catalog"] * 5),
    *(["home"] * 3),
    *(["cart"] * 2),
    *(["promo_page"] * 2),
    *(["login"] * 5),
]


def _clickstream(landing) -> None:
    landing.write("members/2025-03-01/crm.csv", members_csv("M1", "M2", "M3"))
    rows = [
        f"E{i:02d},M{i % 3 + 1},2025-03-01 {10 + i // 60:02d}:{i % 60:02d}:00,{name},app,p{i},5"
        for i, name in enumerate(CLICKSTREAM)
    ]
    landing.write("events/2025-03-01/app.csv", HEADER + "\n".join(rows) + "\n")


def test_a_foreign_clickstream_fails_naming_its_values_then_loads_through_the_file(settings, landing, tmp_path):
    from orchestration.runner import run_pipeline
    from tests.conftest import warehouse_rows

    _clickstream(landing)
    settings = replace(settings, vocabulary_file=_vocabulary(tmp_path, "version: 1\n"))
    file = str(tmp_path / "vocabulary.yaml")

    failed = run_pipeline(settings, DAY, DAY)

    assert not failed.success
    [summary] = [f for f in failed.failures if f.startswith("check raw/events:gx_quarantine_rate failed")]
    assert summary.splitlines()[1:] == [
        "    ERROR expect_column_values_to_be_between on quarantine_rate: 1 unexpected (100.0%)",
        "    worst days by quarantine rate (max 0.05): 2025-03-01 0.8",
        "    top quarantine reasons (raw.quarantine, exact duplicates excluded): unknown_code on event_type 20",
        f'    event_type "product_view" 8 rows — map it in {file} (events.event_type)',
        f'    event_type "catalog" 5 rows — map it in {file} (events.event_type)',
        f'    event_type "home" 3 rows — map it in {file} (events.event_type)',
        # cart and promo_page: 2 rows each, so 2 members at most.
        "    event_type: 2 values held by fewer than 3 members, 4 rows, not shown — rare codes, or names or "
        "mobiles in a shifted code column? check the column mapping of the export (events.event_type)",
        "    rows_validated 1, expectations 2, failed_expectations 1",
    ]

    _vocabulary(tmp_path, MAPPING)
    mapped = run_pipeline(settings, DAY, DAY)

    assert mapped.success, mapped.failures
    assert warehouse_rows(settings, "SELECT count(*) FROM raw.quarantine") == [(0,)]
    assert warehouse_rows(settings, "SELECT event_type, count(*) FROM raw.events GROUP BY ALL ORDER BY ALL") == [
        ("add_to_cart", 2),
        ("login", 5),
        ("page_view", 18),
    ]


# ---------------------------------------------------------------- personal data in a code column

# A shifted export: mobiles, an e-mail address and a name where codes belong. "product_view" and "Home
# Page" are held by three members each, so they are words of the export and are shown; 王小明 is held by
# one member only, the mobile and the e-mail address are never shown.
SHIFTED = [
    *((f"M{i % 3 + 1}", "product_view", "app") for i in range(8)),
    ("M1", "Home Page", "app"),
    ("M2", "Home Page", "app"),
    ("M3", "Home Page", "app"),
    ("M1", "13812345678", "app"),
    ("M2", "zhang.san@example.com", "app"),
    ("M1", "login", "王小明"),
    ("M1", "login", "王小明"),
    *((f"M{i + 1}", "login", "小程序") for i in range(5)),
]
PERSONAL = ("13812345678", "zhang.san@example.com", "zhang.san", "王小明")


def test_values_like_personal_data_are_counted_not_shown_in_metadata_log_and_summary(settings, landing, tmp_path):
    import dagster as dg

    from orchestration.runner import run_pipeline

    landing.write("members/2025-03-01/crm.csv", members_csv("M1", "M2", "M3", "M4", "M5"))
    rows = [f"E{i:02d},{m},2025-03-01 10:{i:02d}:00,{t},{p},p,5" for i, (m, t, p) in enumerate(SHIFTED)]
    landing.write("events/2025-03-01/app.csv", HEADER + "\n".join(rows) + "\n")
    settings = replace(settings, vocabulary_file=_vocabulary(tmp_path, "version: 1\n"))
    file = str(tmp_path / "vocabulary.yaml")
    instance = dg.DagsterInstance.ephemeral()

    failed = run_pipeline(settings, DAY, DAY, instance=instance)

    # 15 of the 20 events are quarantined: 8 + 3 + 1 + 1 unknown event types, 2 unknown platforms.
    record = instance.get_latest_asset_check_evaluation_record(
        dg.AssetCheckKey(dg.AssetKey(["raw", "events"]), "gx_quarantine_rate")
    )
    metadata = record.event.dagster_event.event_specific_data.metadata
    assert metadata["unmapped_values"].value == {
        "events.event_type": [
            {"value": "product_view", "rows": 8},
            {"value": "Home Page", "rows": 3},
            {"not_shown": "like a phone or ID number", "values": 1, "rows": 1},
            {"not_shown": "like an e-mail address", "values": 1, "rows": 1},
        ],
        "events.platform": [{"not_shown": "held by fewer than 3 members", "values": 1, "rows": 2}],
    }
    assert metadata["vocabulary_file"].value == file
    lines = [
        f'event_type "product_view" 8 rows — map it in {file} (events.event_type)',
        f'event_type "Home Page" 3 rows — map it in {file} (events.event_type)',
        "event_type: 1 value like a phone or ID number, 1 row, not shown — a mobile, e-mail or ID number in a "
        "code column? check the column mapping of the export (events.event_type)",
        "event_type: 1 value like an e-mail address, 1 row, not shown — a mobile, e-mail or ID number in a "
        "code column? check the column mapping of the export (events.event_type)",
        "platform: 1 value held by fewer than 3 members, 2 rows, not shown — rare codes, or names or mobiles "
        "in a shifted code column? check the column mapping of the export (events.platform)",
    ]
    messages = [entry.user_message for entry in instance.all_logs(failed.run_id) if entry.user_message]
    warning = "events 2025-03-01..2025-03-01: code values no spelling maps (quarantined as unknown_code):\n  "
    assert [m for m in messages if m.startswith(warning)] == [warning + "\n  ".join(lines)]
    [summary] = [f for f in failed.failures if f.startswith("check raw/events:gx_quarantine_rate failed")]
    assert summary.splitlines()[1:] == [
        "    ERROR expect_column_values_to_be_between on quarantine_rate: 1 unexpected (100.0%)",
        "    worst days by quarantine rate (max 0.05): 2025-03-01 0.75",
        "    top quarantine reasons (raw.quarantine, exact duplicates excluded): unknown_code on event_type 13, "
        "unknown_code on platform 2",
        *(f"    {line}" for line in lines),
        "    rows_validated 1, expectations 2, failed_expectations 1",
    ]
    shown = "\n".join([*messages, *failed.failures, str(metadata["unmapped_values"].value)])
    assert not [value for value in PERSONAL if value in shown]

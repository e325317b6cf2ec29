"""A shifted export puts personal data in a code column; the privacy review's inputs never reach a log line,
the check's metadata, the CLI summary or `retention inspect`.

The rule (retention/landing/unmapped.py): an unmapped value is shown only when at least 3 different members
with valid ids hold it, and never when it holds an at sign or 7 digits however written. Real files under
tmp_path, real loads; the expected lines are worked out by hand.
"""

from __future__ import annotations

import json
from datetime import date

import dagster as dg
import pytest

from retention.landing.contract import EVENTS, MEMBERS
from retention.landing.inspect import inspect_exports
from retention.landing.loader import load_range
from retention.landing.safe_text import printable
from retention.landing.unmapped import unmapped_lines, unmapped_values
from retention.landing.vocabulary import load_vocabulary
from tests.conftest import members_csv

DAY = date(2025, 3, 1)
HEADER = "event_id,member_id,event_time,event_type,platform\n"
RARE = "held by fewer than 3 members"
NUMBER = "like a phone or ID number"
EMAIL = "like an e-mail address"
THREE = ("M1", "M2", "M3")
TIMESTAMPS = ("2025-03-01 10:00:00", "2025-03-01 10:01:00", "2025-03-01 10:02:00")

# (value in event_type, the member id of each row holding it, why it is not shown)
LEAKS = [
    ("王\u3000芳", ("M1",), RARE),  # a full-width space inside a name
    ("zhang wei", ("M1", "M1"), RARE),  # two rows, one member
    ("张三\t", ("M1", "M2"), RARE),  # a trailing tab; two members
    ("阿卜杜拉·买买提", ("M1",), RARE),
    ("王小明先生", ("M1",), RARE),
    ("ZhangSan", ("M1",), RARE),
    ("john smith", ("M1",), RARE),
    ("Smith, John", ("M1",), RARE),
    ("上海市浦东新区XX路88号", ("M1",), RARE),  # an address
    ("wxid_a1b2c3d4e5", ("M1",), RARE),  # WeChat ids
    ("zhangsan_88", ("M1",), RARE),
    ("1990/3/1", ("M1",), RARE),  # a birthday of 6 digits
    # Never shown, however many members hold them.
    ("zhang.san﹫example.com", THREE, EMAIL),  # the small at sign U+FE6B
    ("一三八一二三四五六七八", THREE, NUMBER),  # a mobile in Chinese numerals
    ("１３８\u3000１２３４\u3000５６７８", THREE, NUMBER),  # full-width digits and spaces
    ("138\u200b1234\u200b5678", THREE, NUMBER),  # zero-width spaces between the groups
    # A shifted member_id column: timestamps are no member ids; an unknown member does not count.
    ("赵六六", TIMESTAMPS, RARE),
    ("赵六六", ("M1", "M2", "M404"), RARE),
]


def _csv_row(i: int, member: str, value: str) -> str:
    quoted = '"' + value.replace('"', '""') + '"'
    return f"E{i:02d},{member},2025-03-01 10:00:00,{quoted},app"


def _deliver(landing, leaks) -> None:
    rows = [_csv_row(i, m, v) for i, (v, m) in enumerate((v, m) for v, members, _ in leaks for m in members)]
    landing.write("members/2025-03-01/crm.csv", members_csv(*THREE))
    landing.write("events/2025-03-01/app.csv", HEADER + "\n".join(rows) + "\n")


def _absent(value: str, text: str) -> bool:
    return not [form for form in (value, value.strip(), printable(value)) if form in text]


def _hint(kind: str) -> str:
    if kind == RARE:
        return "rare codes, or names or mobiles in a shifted code column? check the column mapping of the export"
    return "a mobile, e-mail or ID number in a code column? check the column mapping of the export"


@pytest.mark.parametrize(("value", "members", "kind"), LEAKS, ids=[f"leak{i:02d}" for i in range(len(LEAKS))])
def test_a_leak_of_the_review_is_counted_never_shown(settings, landing, warehouse, value, members, kind):
    _deliver(landing, [(value, members, kind)])
    load_range(warehouse, MEMBERS, DAY, DAY, settings)
    load_range(warehouse, EVENTS, DAY, DAY, settings)

    metadata = unmapped_values(warehouse, EVENTS, DAY, DAY)
    rows = f"{len(members)} row" if len(members) == 1 else f"{len(members)} rows"
    assert metadata == {"events.event_type": [{"not_shown": kind, "values": 1, "rows": len(members)}]}
    lines = unmapped_lines(metadata, "config/vocabulary.yaml")
    assert lines == [f"event_type: 1 value {kind}, {rows}, not shown — {_hint(kind)} (events.event_type)"]

    inspected = inspect_exports(settings.landing_dir, settings, load_vocabulary(settings.vocabulary_file))
    text = inspected.describe()
    assert f"    (1 value {kind}, {rows}, not shown)" in text.splitlines()
    assert _absent(value, "\n".join([json.dumps(metadata, ensure_ascii=False), *lines, text]))


def test_timestamps_as_member_ids_count_as_no_member_even_without_the_member_master(tmp_path, settings):
    rows = [_csv_row(i, member, "赵六六") for i, member in enumerate(TIMESTAMPS)]
    (tmp_path / "events/2025-03-01").mkdir(parents=True)
    (tmp_path / "events/2025-03-01/app.csv").write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    text = inspect_exports(tmp_path / "events", settings, load_vocabulary(settings.vocabulary_file)).describe()
    lines = text.splitlines()
    assert "  member ids not checked: no members files inspected beside these" in lines
    assert "    (1 value held by fewer than 3 members, 3 rows, not shown)" in lines
    assert "赵六六" not in text


def test_every_leak_at_once_stays_out_of_the_check_metadata_and_its_summary(settings, landing, warehouse):
    from orchestration.runner import check_failure_summary
    from quality.raw_checks import evaluate_raw_checks

    # The leaks, and a word of the export three members use: it alone is named.
    _deliver(landing, [*LEAKS, ("screenshot", THREE, None)])
    load_range(warehouse, MEMBERS, DAY, DAY, settings)
    load_range(warehouse, EVENTS, DAY, DAY, settings)

    results = evaluate_raw_checks(warehouse, EVENTS, settings, DAY, DAY, dg.AssetKey(["raw", "events"]))

    [rate] = [r for r in results if r.check_name == "gx_quarantine_rate"]
    # 赵六六: 6 rows whose valid members are M1 and M2. Rare: 13 values, 1+2+2+1*9+6 = 20 rows; numbers: 3
    # values of 3 rows; the e-mail address: 3 rows.
    assert rate.metadata["unmapped_values"].value == {
        "events.event_type": [
            {"value": "screenshot", "rows": 3},
            {"not_shown": RARE, "values": 13, "rows": 20},
            {"not_shown": NUMBER, "values": 3, "rows": 9},
            {"not_shown": EMAIL, "values": 1, "rows": 3},
        ]
    }
    summary = check_failure_summary(rate)
    assert 'event_type "screenshot" 3 rows — map it in config/vocabulary.yaml (events.event_type)' in summary
    shown = "\n".join([summary, json.dumps(rate.metadata["unmapped_values"].value, ensure_ascii=False)])
    assert [value for value, _, _ in LEAKS if not _absent(value, shown)] == []

"""`retention inspect PATH` tells, before the first load, what a load would make of a folder of exports.

Hand-written exports under tmp_path; the expected output is worked out by hand from them.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from orchestration.cli import main
from retention.landing.inspect import InspectError, inspect_exports
from retention.landing.vocabulary import load_vocabulary

MEMBERS = (
    "会员号,姓名,手机号,注册时间,更新时间\n"
    "M1,张三,13800000001,2024-01-02 10:00:00,2025-03-01 08:00:00\n"
    "M2,李四,13800000002,2024-01-02 10:00:00,2025-03-01 08:00:00\n"
    "M4,王五,13800000004,2024-01-02 10:00:00,2025-03-01 08:00:00\n"
)
# product_view is held by three members, so it is named; catalog (M1) and the JSON line's cart (M1) are
# held by one member each, so they are only counted: one person's value may be personal data.
EVENTS = (
    "event_id,member_id,event_time,事件类型,platform,page,referrer\n"
    "E1,M1,2025-03-01 10:00:00,product_view,app,p1,x\n"
    "E2,M2,2025-03-01 10:00:00,product_view,app,p1,x\n"
    "E3,M4,2025-03-01 10:00:00,product_view,app,p1,x\n"
    "E4,M2,2025-03-01 10:00:00,登录,APP,p1,x\n"
    "E5,M3,2025-03-01 10:00:00,login,app,p1,x\n"  # M3 is not a member
    "E6,M1,2025-03-01 10:00:00,catalog,,p1,x\n"
)
JSON_LINES = (
    '{"event_id": "J1", "member_id": "M1", "event_time": "2025-03-01 11:00:00", "event_type": "cart", "extra": 1}\n'
    "not json\n"
)


def _write(path: Path, text: str, encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    root = tmp_path / "exports"
    _write(root / "members/members_20250301.csv", MEMBERS, "gb18030")
    _write(root / "events/2025-03-01/app.csv", EVENTS)
    _write(root / "events/2025-03-01/web.jsonl", JSON_LINES)
    _write(root / "events/notes.xlsx", "")
    _write(root / "events/.DS_Store", "")
    return root


def test_a_landing_folder_is_profiled_with_exact_counts(exports, settings):
    inspection = inspect_exports(exports, settings, load_vocabulary(settings.vocabulary_file))
    members, events = inspection.sources
    assert (members.rows_read, members.rows_quarantined) == (3, 0)
    assert members.files[0].encoding == "gb18030"
    assert (events.rows_read, events.rows_quarantined) == (8, 7)
    assert [(r.code, r.column, r.rows, r.first_file, r.first_record) for r in events.reasons] == [
        ("unknown_code", "event_type", 5, "events/2025-03-01/app.csv", 1),
        ("malformed_json", None, 1, "events/2025-03-01/web.jsonl", 2),
        ("unknown_member", "member_id", 1, "events/2025-03-01/app.csv", 5),
    ]
    assert events.unmapped() == {"event_type": ["product_view"]}
    assert inspection.describe() == "\n".join(
        [
            f"Inspecting {exports} against the landing contract, vocabulary config/vocabulary.yaml",
            "",
            "members: 1 file, 3 rows read",
            "  members/members_20250301.csv: gb18030, 3 rows, landing date 2025-03-01",
            "    columns: 会员号 -> member_id, 姓名 -> name, 手机号 -> mobile, 注册时间 -> registered_at, "
            "更新时间 -> updated_at",
            "    not delivered: email, gender, birthday, registration_channel, home_store_id, city, paid_level, "
            "consent_sms, consent_push, consent_phone",
            "  gender: 1 value",
            "    (empty) 3 rows",
            "  registration_channel: 1 value",
            "    (empty) 3 rows",
            "  would be quarantined: 0 of 3 rows (0.0%)",
            "",
            "events: 3 files, 8 rows read",
            "  events/2025-03-01/app.csv: utf-8, 6 rows, landing date 2025-03-01",
            "    columns: event_id, member_id, event_time, 事件类型 -> event_type, platform, page",
            "    not in the contract (ignored): referrer",
            "    not delivered: benefit_code, dwell_seconds",
            "  events/2025-03-01/web.jsonl: utf-8, 2 rows, landing date 2025-03-01",
            "    columns: event_id, member_id, event_time, event_type",
            # One line gives "extra": it may be a value written as a key.
            "    not in the contract (ignored): (1 other key, not shown: a key is shown when it looks like a name, "
            "holds no @ nor 5 digits and 3 lines or more give it)",
            "    not delivered: platform, page, benefit_code, dwell_seconds",
            "  events/notes.xlsx",
            "    not read: unsupported file type; a load refuses it (deliver CSV or JSON lines)",
            "  event_type: 5 values, 3 unmapped",
            '    "product_view" 3 rows unmapped',
            '    "login" 1 row -> login',
            '    "登录" 1 row -> login',
            "    (2 values held by fewer than 3 members, 2 rows, not shown)",
            "  platform: 3 values",
            '    "app" 4 rows -> app',
            "    (empty) 2 rows",
            '    "APP" 1 row -> app',
            "  would be quarantined: 7 of 8 rows (87.5%), by first reason below",
            "    unknown_code on event_type: 5 rows (first: events/2025-03-01/app.csv record 1)",
            "    malformed_json: 1 row (first: events/2025-03-01/web.jsonl record 2)",
            "    unknown_member on member_id: 1 row (first: events/2025-03-01/app.csv record 5)",
            "",
            "Unmapped values, as lines for the vocabulary file (replace <code> by a contract code):",
            "events:",
            "  event_type:",
            '    <code>: ["product_view"]',
            "    # 2 values held by fewer than 3 members, 2 rows, not shown: rare codes, or a shifted column?",
            "To load them, map the 1 unmapped value of events.event_type in config/vocabulary.yaml "
            "(RETENTION_VOCABULARY_FILE; docs/vocabulary.md).",
            "2 unmapped values not shown, as they may be personal data (shaped like a mobile, an ID number or an "
            "e-mail address, or held by fewer than 3 members): check which column the export delivers there "
            "before mapping anything.",
        ]
    )


def test_no_personal_data_reaches_the_output(exports, settings):
    text = inspect_exports(exports, settings, load_vocabulary(settings.vocabulary_file)).describe()
    for personal in ("张三", "李四", "王五", "13800000001", "13800000002", "13800000004"):
        assert personal not in text


def test_with_a_mapping_file_nothing_is_left_to_map(exports, settings, tmp_path):
    mapping = tmp_path / "vocabulary.yaml"
    mapping.write_text(
        "version: 1\nevents:\n  event_type:\n    page_view: [product_view, catalog]\n    add_to_cart: [cart]\n",
        encoding="utf-8",
    )
    settings = replace(settings, vocabulary_file=mapping)
    inspection = inspect_exports(exports, settings, load_vocabulary(mapping))
    events = inspection.sources[1]
    assert events.unmapped() == {}
    [event_types] = [v for v in events.values if v.column == "event_type"]
    assert [(v.value, v.rows, v.code) for v in event_types.top] == [
        ("product_view", 3, "page_view"),
        ("cart", 1, "add_to_cart"),
        ("catalog", 1, "page_view"),
        ("login", 1, "login"),
        ("登录", 1, "login"),
    ]
    assert (events.rows_read, events.rows_quarantined) == (8, 2)
    assert inspection.describe().splitlines()[-1] == f"Every code value is mapped: nothing to add to {mapping}."


def test_one_source_folder_or_one_file_alone(exports, settings):
    vocabulary = load_vocabulary(settings.vocabulary_file)
    folder = inspect_exports(exports / "events", settings, vocabulary)
    assert [s.source for s in folder.sources] == ["events"]
    # Without the member master beside them, member ids are not checked (E5's M3 loads).
    assert (folder.sources[0].rows_read, folder.sources[0].rows_quarantined) == (8, 6)
    assert "  member ids not checked: no members files inspected beside these" in folder.describe().splitlines()

    single = inspect_exports(exports / "events/2025-03-01/app.csv", settings, vocabulary)
    [events] = single.sources
    assert [f.name for f in events.files] == ["events/2025-03-01/app.csv"]
    assert (events.rows_read, events.rows_quarantined) == (6, 4)


def test_a_file_without_a_date_or_a_known_folder(tmp_path, settings):
    vocabulary = load_vocabulary(settings.vocabulary_file)
    loose = tmp_path / "download" / "clicks.csv"
    _write(loose, EVENTS)
    with pytest.raises(InspectError, match="cannot tell which source .* name one with --source"):
        inspect_exports(loose, settings, vocabulary)
    [events] = inspect_exports(loose, settings, vocabulary, source_name="events").sources
    assert events.files[0].notes[0].startswith("no landing date in its path: a load refuses it (checked here as")
    assert (events.rows_read, events.rows_quarantined) == (6, 4)


def test_the_command_line(exports, settings, capsys, monkeypatch, tmp_path):
    assert main(["inspect", str(exports / "events")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-2] == (
        "To load them, map the 1 unmapped value of events.event_type in config/vocabulary.yaml "
        "(RETENTION_VOCABULARY_FILE; docs/vocabulary.md)."
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nevents:\n  event_type:\n    view_item: [x]\n", encoding="utf-8")
    monkeypatch.setenv("RETENTION_VOCABULARY_FILE", str(broken))
    assert main(["inspect", str(exports)]) == 2
    assert capsys.readouterr().err.startswith(f"retention inspect: vocabulary file {broken}, line 4: unknown code")
    monkeypatch.delenv("RETENTION_VOCABULARY_FILE")
    assert main(["inspect", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err == f"retention inspect: {tmp_path}/nowhere does not exist\n"


# ---------------------------------------------------------------- personal data, JSON keys, many values

SHIFTED_MEMBERS = (
    "会员号,姓名,手机号,性别,注册时间,更新时间\n"
    "M1,张三,13800000001,13912345678,2024-01-02 10:00:00,2025-03-01 08:00:00\n"
    "M2,李四,13800000002,女,2024-01-02 10:00:00,2025-03-01 08:00:00\n"
    "M3,王五,13800000003,女,2024-01-02 10:00:00,2025-03-01 08:00:00\n"
    "M4,赵六,13800000004,女,2024-01-02 10:00:00,2025-03-01 08:00:00\n"
)
# M1's members row is quarantined (a mobile as gender), so M1 is no known member: its events do not count
# as a member holding a value. "tap" is held by M2, M3 and M4.
SHIFTED_EVENTS = (
    "event_id,member_id,event_time,event_type,platform\n"
    "E1,M1,2025-03-01 10:00:00,13812345678,app\n"
    "E2,M1,2025-03-01 10:00:00,138 1234 5679,app\n"
    "E3,M2,2025-03-01 10:00:00,zhang.san@example.com,app\n"
    "E4,M1,2025-03-01 10:00:00,login,王小明\n"
    "E5,M2,2025-03-01 10:00:00,tap,app\n"
    "E6,M3,2025-03-01 10:00:00,tap,app\n"
    "E7,M4,2025-03-01 10:00:00,tap,app\n"
)
PERSONAL = (
    *("13912345678", "13812345678", "138 1234 5679", "zhang.san", "example.com"),
    *("王小明", "张三", "李四", "王五", "赵六", "13800000003", "13800000004"),
)


def test_code_values_like_personal_data_are_counted_not_shown(tmp_path, settings, capsys):
    root = tmp_path / "shifted"
    _write(root / "members/2025-03-01/crm.csv", SHIFTED_MEMBERS)
    _write(root / "events/2025-03-01/app.csv", SHIFTED_EVENTS)
    assert main(["inspect", str(root)]) == 0
    out = capsys.readouterr().out
    assert not [value for value in PERSONAL if value in out]
    lines = out.splitlines()
    assert lines[lines.index("  gender: 2 values, 1 unmapped") :][:3] == [
        "  gender: 2 values, 1 unmapped",
        '    "女" 3 rows -> F',
        "    (1 value like a phone or ID number, 1 row, not shown)",
    ]
    assert lines[lines.index("  event_type: 5 values, 4 unmapped") :][:9] == [
        "  event_type: 5 values, 4 unmapped",
        '    "tap" 3 rows unmapped',
        '    "login" 1 row -> login',
        "    (2 values like a phone or ID number, 2 rows, not shown)",
        "    (1 value like an e-mail address, 1 row, not shown)",
        "  platform: 2 values, 1 unmapped",
        '    "app" 6 rows -> app',
        "    (1 value held by fewer than 3 members, 1 row, not shown)",
        "  would be quarantined: 7 of 7 rows (100.0%), by first reason below",
    ]
    assert lines[
        lines.index("Unmapped values, as lines for the vocabulary file (replace <code> by a contract code):") :
    ] == [
        "Unmapped values, as lines for the vocabulary file (replace <code> by a contract code):",
        "members:",
        "  gender:",
        "    # 1 value like a phone or ID number, 1 row, not shown: is a column shifted or mis-named?",
        "events:",
        "  event_type:",
        '    <code>: ["tap"]',
        "    # 2 values like a phone or ID number, 2 rows, not shown: is a column shifted or mis-named?",
        "    # 1 value like an e-mail address, 1 row, not shown: is a column shifted or mis-named?",
        "  platform:",
        "    # 1 value held by fewer than 3 members, 1 row, not shown: rare codes, or a shifted column?",
        "To load them, map the 1 unmapped value of events.event_type in config/vocabulary.yaml "
        "(RETENTION_VOCABULARY_FILE; docs/vocabulary.md).",
        "5 unmapped values not shown, as they may be personal data (shaped like a mobile, an ID number or an "
        "e-mail address, or held by fewer than 3 members): check which column the export delivers there before "
        "mapping anything.",
    ]


def test_json_keys_are_matched_exactly_as_the_loader_reads_them(tmp_path, settings):
    # Three lines give every key; the third also gives a name as a key. Keys outside the contract are shown
    # when they look like names, hold no @ nor 5 digits, and three lines give them; contract names spelled
    # differently are always shown, with the name to write.
    line = (
        '{{"event_id": "J{n}", "member_id": "M1", "event_time": "2025-03-01 10:00:00", "Event_Type": "login", '
        '" platform": "app", "13812345678": "x", "zhang@ex.com": 1, "tel 123-45": 2, "referrer": "y"{more}}}\n'
    )
    lines = [line.format(n=1, more=""), line.format(n=2, more=""), line.format(n=3, more=', "王小明": 3')]
    _write(tmp_path / "events/2025-03-01/web.jsonl", "".join(lines))
    inspection = inspect_exports(tmp_path / "events", settings, load_vocabulary(settings.vocabulary_file))
    [events] = inspection.sources
    [file] = events.files
    assert file.columns == ("event_id", "member_id", "event_time")
    assert file.ignored_columns == (
        "Event_Type (keys are read exactly: write event_type)",
        '" platform" (keys are read exactly: write platform)',
        "referrer",
        "(4 other keys, not shown: a key is shown when it looks like a name, holds no @ nor 5 digits and 3 lines "
        "or more give it)",
    )
    assert file.missing_columns == ("event_type", "platform", "page", "benefit_code", "dwell_seconds")
    assert [(r.code, r.column, r.rows) for r in events.reasons] == [("missing_value", "event_type", 3)]
    text = inspection.describe()
    assert not [key for key in ("13812345678", "zhang@ex.com", "tel 123-45", "王小明") if key in text]


def test_one_unknown_key_is_counted_in_the_singular(tmp_path, settings):
    line = '{"event_id": "J1", "member_id": "M1", "event_time": "2025-03-01 10:00:00", "event_type": "login", "x": 1}\n'
    _write(tmp_path / "events/2025-03-01/web.jsonl", line)
    [events] = inspect_exports(tmp_path / "events", settings, load_vocabulary(settings.vocabulary_file)).sources
    assert events.files[0].ignored_columns == (
        "(1 other key, not shown: a key is shown when it looks like a name, holds no @ nor 5 digits and 3 lines "
        "or more give it)",
    )


def test_source_on_a_landing_folder_reads_that_source_folder_only(exports, settings):
    inspection = inspect_exports(exports, settings, load_vocabulary(settings.vocabulary_file), source_name="events")
    [events] = inspection.sources
    assert [f.name for f in events.files] == [
        "events/2025-03-01/app.csv",
        "events/2025-03-01/web.jsonl",
        "events/notes.xlsx",
    ]
    assert (events.rows_read, events.rows_quarantined) == (8, 6)


def test_each_column_lists_its_20_most_frequent_values(tmp_path, settings):
    # 76 rows: v01 four times, v02..v25 three times each, each value held by members M1, M2 and M3; none mapped.
    names = ["v01", *(f"v{i:02d}" for i in range(1, 26) for _ in range(3))]
    rows = "".join(f"E{i},M{i % 3 + 1},2025-03-01 10:00:00,{name},app\n" for i, name in enumerate(names))
    _write(tmp_path / "events/2025-03-01/app.csv", "event_id,member_id,event_time,event_type,platform\n" + rows)
    text = inspect_exports(tmp_path / "events", settings, load_vocabulary(settings.vocabulary_file)).describe()
    lines = text.splitlines()
    start = lines.index("  event_type: 25 values, 25 unmapped")
    assert lines[start : start + 23] == [
        "  event_type: 25 values, 25 unmapped",
        '    "v01" 4 rows unmapped',
        *(f'    "v{i:02d}" 3 rows unmapped' for i in range(2, 21)),
        "    ... 5 more values, 15 rows",
        "  platform: 1 value",
    ]
    values = ", ".join(f'"v{i:02d}"' for i in range(1, 21))
    assert lines[-4:-1] == [
        "  event_type:",
        f"    <code>: [{values}]",
        "    # and 5 more values, less frequent",
    ]


# Values YAML would read as something else unless quoted; two that differ in case only; a value with a
# tab and one too long to show are left out of the paste line.
TRICKY = ["~", "- x", "? x", "#tag", "a: b", 'say "hi"', "it's", "&anchor", "*star", "!bang", "%pct", "Tap", "tap"]
LEFT_OUT = ["a\tb", "y" * 41]


def test_the_paste_lines_load_as_written(tmp_path, settings):
    cells = [*TRICKY, *LEFT_OUT]
    quoted = ['"' + v.replace('"', '""') + '"' for v in cells]
    # Each value three times, by members M1, M2 and M3: values enough members hold are shown.
    rows = "".join(
        f"E{i},M{i // len(quoted) + 1},2025-03-01 10:00:00,{cell},app\n" for i, cell in enumerate(quoted * 3)
    )
    _write(tmp_path / "events/2025-03-01/app.csv", "event_id,member_id,event_time,event_type,platform\n" + rows)
    before = inspect_exports(tmp_path / "events", settings, load_vocabulary(settings.vocabulary_file))
    lines = before.describe().splitlines()
    start = lines.index("Unmapped values, as lines for the vocabulary file (replace <code> by a contract code):")
    pasted = [line.replace("<code>", "page_view") for line in lines[start + 1 : -1]]
    assert pasted[-1] == "    # 2 values with control characters or over 40 characters"
    mapping = tmp_path / "vocabulary.yaml"
    mapping.write_text("version: 1\n" + "\n".join(pasted) + "\n", encoding="utf-8")

    after = inspect_exports(tmp_path / "events", replace(settings, vocabulary_file=mapping), load_vocabulary(mapping))
    [events] = after.sources
    assert sorted(events.unmapped()["event_type"]) == sorted(LEFT_OUT)
    assert (events.rows_read, events.rows_quarantined) == (45, 6)

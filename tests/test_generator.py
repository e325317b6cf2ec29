"""The demo-data generator: layout, encodings, contract headers, determinism, defects, ground truth."""

from __future__ import annotations

import codecs
import io
import json
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from retention.churn_intent import classify_many
from retention.generator import DEFECT_KINDS, DefectConfig, GenerationSummary, generate
from retention.generator.defects import BAD_DATES, DEFAULT_ROW_WEIGHTS, IMPLAUSIBLE_TIMES, ROW_KINDS
from retention.generator.seasons import day_pattern
from retention.landing.contract import EVENT_TYPES, SOURCES
from retention.landing.loader import load_range
from retention.settings import Settings

START, END = date(2025, 1, 1), date(2025, 3, 1)
MEMBERS = 300
SMALL = {"members": MEMBERS, "start": START, "end": END, "seed": 11}
# File-level defects are rare at their defaults; raise them so a 60-day run shows every kind.
# Rare row kinds raised so that each one appears in a small run.
NOISY = DefectConfig(
    row_weights={**DEFAULT_ROW_WEIGHTS, "absurd_amount": 0.3, "implausible_time": 0.3, "decimal_comma": 0.3},
    file_rates={"resent_file": 0.05, "late_file": 0.15, "empty_file": 0.03, "header_only_file": 0.03},
)
FILE_NAME = re.compile(
    r"^(?P<stem>[a-z_]+)_(?P<day>\d{8})(?:_(?P<tag>resent|late|empty|header_only))?\.(?P<ext>csv|jsonl)$"
)
BAD_DATE_COLUMN = {"orders": "order_time", "events": "event_time", "tickets": "opened_at"}


@dataclass
class Run:
    landing: Path
    truth: Path
    summary: GenerationSummary


@pytest.fixture(scope="module")
def noisy(tmp_path_factory) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("noisy")
    summary = generate(root / "landing", defect_rate=0.02, defects=NOISY, **SMALL)
    yield Run(root / "landing", root / "ground_truth", summary)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("clean")
    summary = generate(root / "landing", defect_rate=0.0, **SMALL)
    yield Run(root / "landing", root / "ground_truth", summary)
    shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------- reading what was written


def landed_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def tag(path: Path) -> str | None:
    return FILE_NAME.match(path.name)["tag"]


def decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gbk")


def alias_map(source: str) -> dict[str, str]:
    return {name.lower(): c.name for c in SOURCES[source].columns for name in c.header_names}


def read_rows(path: Path) -> pl.DataFrame:
    """A landed file as all-text columns with canonical names (empty frame for empty files)."""
    source = path.parent.parent.name
    names = alias_map(source)
    text = decode(path.read_bytes())
    if not text.strip():
        return pl.DataFrame(schema=dict.fromkeys(SOURCES[source].column_names, pl.String))
    if path.suffix == ".jsonl":
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
        return pl.DataFrame(
            [{names[k.lower()]: (None if v is None else str(v)) for k, v in r.items()} for r in records],
            schema=dict.fromkeys(SOURCES[source].column_names, pl.String),
        )
    frame = pl.read_csv(io.StringIO(text), infer_schema=False)
    return frame.rename({h: names[h.lower()] for h in frame.columns})


def read_source(root: Path, source: str) -> pl.DataFrame:
    """All rows of a source with their file and landing day; re-sent copies are left out."""
    frames = []
    for path in landed_files(root / source):
        if tag(path) == "resent":
            continue
        frames.append(read_rows(path).with_columns(_file=pl.lit(path.name), _day=pl.lit(path.parent.name)))
    return pl.concat(frames, how="diagonal")


DECIMAL_COMMA = re.compile(r"^\d+,\d{2}$")


def amount(text: str | None) -> float | None:
    """The amount a text stands for; None where it is missing or written with a decimal comma ("12,50")."""
    return None if text is None or DECIMAL_COMMA.match(text) else float(text.replace(",", ""))


def parse_time(text: str) -> datetime:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            pass
    raise ValueError(text)


def member_number(member_id: str) -> int:
    return int(member_id[1:])


def defect_log(run: Run) -> pl.DataFrame:
    return pl.read_csv(run.truth / "defects.csv", schema_overrides={"landing_date": pl.String})


# ---------------------------------------------------------------- layout, formats, determinism


def test_same_arguments_give_byte_identical_files(noisy: Run, tmp_path: Path):
    again = generate(tmp_path / "landing", defect_rate=0.02, defects=NOISY, **SMALL)
    for first_root, second_root in ((noisy.landing, tmp_path / "landing"), (noisy.truth, again.truth_dir)):
        first, second = landed_files(first_root), landed_files(second_root)
        assert [p.relative_to(first_root) for p in first] == [p.relative_to(second_root) for p in second]
        for a, b in zip(first, second, strict=True):
            assert a.read_bytes() == b.read_bytes(), a


def test_another_seed_gives_other_data(noisy: Run, tmp_path: Path):
    generate(tmp_path / "landing", **{**SMALL, "seed": 12}, defect_rate=0.02, defects=NOISY)
    day = "2025-02-01"
    assert (noisy.landing / "events" / day / "events_20250201.jsonl").read_bytes() != (
        tmp_path / "landing" / "events" / day / "events_20250201.jsonl"
    ).read_bytes()


def test_layout_is_source_day_folder_file(noisy: Run):
    days = {(START.toordinal() + i) for i in range(END.toordinal() - START.toordinal() + 1)}
    for path in landed_files(noisy.landing):
        source, folder, name = path.relative_to(noisy.landing).parts
        assert source in SOURCES
        match = FILE_NAME.match(name)
        assert match, name
        assert date.fromisoformat(folder).toordinal() in days
        assert match["day"] == folder.replace("-", "")
    for source in ("members", "orders", "events", "tickets", "outreach_feedback"):
        folders = {p.name for p in (noisy.landing / source).iterdir()}
        assert len(folders) == len(days), source
    assert [p.name for p in (noisy.landing / "members").rglob("members_full_*")] == ["members_full_20250101.csv"]


def test_ground_truth_lies_outside_the_landing_folder(noisy: Run):
    personas = pl.read_csv(noisy.truth / "member_personas.csv", infer_schema=False)
    assert noisy.truth == noisy.landing.parent / "ground_truth"
    assert not any(p.name in ("member_personas.csv", "defects.csv") for p in landed_files(noisy.landing))
    assert personas.columns == ["member_id", "persona", "change_date", "drifts_away"]
    drifting = {p for p, d in personas.select("persona", "drifts_away").unique().rows() if d == "true"}
    assert drifting == {"declining", "churned", "switching"}
    assert personas.height == MEMBERS and personas["member_id"].n_unique() == MEMBERS
    assert dict(Counter(personas["persona"])) == {k: v for k, v in noisy.summary.members_per_persona.items() if v}
    with_change = personas.filter(pl.col("change_date").is_not_null())
    assert set(with_change["persona"]) == {"declining", "churned", "switching"}
    assert all(START <= date.fromisoformat(d) <= END for d in with_change["change_date"])


def test_truth_dir_inside_landing_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="truth_dir"):
        generate(tmp_path / "landing", truth_dir=tmp_path / "landing" / "truth", **SMALL)


def test_pos_orders_are_gbk_with_chinese_headers(noisy: Run):
    orders = (
        "订单号",
        "会员号",
        "下单时间",
        "渠道",
        "门店编号",
        "门店名称",
        "城市",
        "订单金额",
        "优惠金额",
        "优惠券",
        "订单状态",
        "退款金额",
        "更新时间",
    )
    pos_files = [p for p in (noisy.landing / "orders").rglob("pos_orders_*.csv") if p.stat().st_size]
    assert pos_files
    for path in pos_files:
        data = path.read_bytes()
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        text = data.decode("gbk")
        assert tuple(text.splitlines()[0].split(",")) == orders
    sample = read_rows(pos_files[10])
    assert set(sample["channel"]) == {"门店"}
    assert set(sample["status"]) <= {"已支付", "已退款", "部分退款"}
    assert any(re.fullmatch(r"\d{4}/\d{1,2}/\d{1,2} \d{2}:\d{2}:\d{2}", t) for t in sample["order_time"])
    grouped = pl.col("gross_amount").str.contains(",") & ~pl.col("gross_amount").str.contains(DECIMAL_COMMA.pattern)
    thousands = read_source(noisy.landing, "orders").filter(grouped)  # not the planted decimal commas
    assert thousands.height and all(re.fullmatch(r"-?\d{1,3}(,\d{3})+\.\d{2}", a) for a in thousands["gross_amount"])


def test_online_orders_and_events_are_json_lines_with_numbers_and_iso_times(clean: Run):
    line = (clean.landing / "orders" / "2025-02-01" / "online_orders_20250201.jsonl").read_text("utf-8").splitlines()[0]
    record = json.loads(line)
    assert isinstance(record["gross_amount"], float) and isinstance(record["discount_amount"], float)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", record["order_time"])
    assert record["channel"] in ("online", "app", "mini_program")
    event = json.loads(
        (clean.landing / "events" / "2025-02-01" / "events_20250201.jsonl").read_text("utf-8").splitlines()[0]
    )
    assert isinstance(event["dwell_seconds"], int)


def test_tickets_start_with_a_byte_order_mark(noisy: Run):
    tickets = [p for p in (noisy.landing / "tickets").rglob("*.csv") if p.stat().st_size]
    assert tickets and all(p.read_bytes().startswith(codecs.BOM_UTF8) for p in tickets)


def test_every_header_maps_to_contract_columns(noisy: Run):
    for path in landed_files(noisy.landing):
        source = path.relative_to(noisy.landing).parts[0]
        text = decode(path.read_bytes())
        if not text:
            continue
        if path.suffix == ".jsonl":
            headers = list(json.loads(text.splitlines()[0]))
        else:
            headers = pl.read_csv(io.StringIO(text), infer_schema=False, n_rows=0).columns
        names = alias_map(source)
        assert all(h.lower() in names for h in headers), (path, headers)
        canonical = {names[h.lower()] for h in headers}
        assert {c.name for c in SOURCES[source].columns if c.required} <= canonical, path
        assert len(canonical) == len(headers), path


def test_outreach_feedback_is_a_header_only_file_every_day(noisy: Run):
    files = landed_files(noisy.landing / "outreach_feedback")
    assert len(files) == END.toordinal() - START.toordinal() + 1
    assert {p.read_text("utf-8") for p in files} == {",".join(SOURCES["outreach_feedback"].column_names) + "\n"}


def test_summary_matches_the_files_on_disk(noisy: Run):
    files, rows = Counter(), Counter()
    for path in landed_files(noisy.landing):
        source = path.relative_to(noisy.landing).parts[0]
        files[source] += 1
        rows[source] += read_rows(path).height
    assert noisy.summary.files_per_source == dict(files)
    assert noisy.summary.rows_per_source == dict(rows)
    assert sum(noisy.summary.members_per_persona.values()) == MEMBERS
    assert set(noisy.summary.defects) == set(DEFECT_KINDS)


# ---------------------------------------------------------------- clean data


def test_zero_defect_rate_gives_clean_data(clean: Run):
    assert defect_log(clean).height == 0
    assert all(n == 0 for n in clean.summary.defects.values())
    assert not [p for p in landed_files(clean.landing) if tag(p)]
    members = read_source(clean.landing, "members")
    known = set(members["member_id"])
    orders = read_source(clean.landing, "orders")
    for column in ("gross_amount", "discount_amount", "refund_amount"):
        values = [amount(v) for v in orders[column] if v is not None]
        assert min(values) >= 0 and max(values) < 1_000_000
    for gross, discount, refund in orders.select("gross_amount", "discount_amount", "refund_amount").rows():
        assert round(amount(gross) - amount(discount), 2) >= (amount(refund) or 0) and amount(discount) <= amount(gross)
    for source in ("orders", "events", "tickets"):
        frame = orders if source == "orders" else read_source(clean.landing, source)
        assert set(frame["member_id"]) <= known, source
        for value in frame[BAD_DATE_COLUMN[source]]:
            parse_time(value)
        # No exact duplicate rows inside a landing day.
        assert frame.drop("_file").is_duplicated().sum() == 0, source
    events = read_source(clean.landing, "events")
    assert set(events["event_type"]) <= set(EVENT_TYPES)


def test_ids_are_unique_in_clean_data(clean: Run):
    members = read_source(clean.landing, "members")
    snapshot = members.filter(pl.col("_file").str.starts_with("members_full"))
    assert snapshot["member_id"].is_unique().all()
    assert members.select("member_id", "updated_at").is_unique().all()
    assert all(re.fullmatch(r"M\d{8}", m) for m in members["member_id"])

    events = read_source(clean.landing, "events")
    assert events["event_id"].is_unique().all()

    # About 1 in 40 members gave no mobile number (7.5 of 300 expected): outreach must skip SMS and calls.
    no_mobile = snapshot.filter(pl.col("mobile").fill_null("") == "").height
    assert 2 <= no_mobile <= 16

    orders = read_source(clean.landing, "orders")
    assert orders.select("order_id", "updated_at").is_unique().all()
    paid = orders.filter(pl.col("status").is_in(["paid", "已支付"]))
    assert paid["order_id"].is_unique().all()
    # Every status change re-delivers an order first delivered as paid.
    assert set(orders["order_id"]) == set(paid["order_id"])
    assert all(o[1:9] == parse_time(t).strftime("%Y%m%d") for o, t in paid.select("order_id", "order_time").rows())

    tickets = read_source(clean.landing, "tickets")
    assert tickets.select("ticket_id", "updated_at").is_unique().all()
    assert all(re.fullmatch(r"T\d{14}", t) for t in tickets["ticket_id"])


def test_refunds_are_later_status_changes_of_earlier_orders(clean: Run):
    orders = read_source(clean.landing, "orders")
    paid = orders.filter(pl.col("status").is_in(["paid", "已支付"]))
    refunds = orders.filter(~pl.col("status").is_in(["paid", "已支付"]))
    assert set(refunds["status"]) <= {"refunded", "partially_refunded", "已退款", "部分退款"}
    assert 0.01 < refunds.height / paid.height < 0.06
    first = dict(paid.select("order_id", "_day").rows())
    for order_id, day, updated_at, refund in refunds.select("order_id", "_day", "updated_at", "refund_amount").rows():
        delay = (date.fromisoformat(day) - date.fromisoformat(first[order_id])).days
        assert 1 <= delay <= 14
        assert parse_time(updated_at).date() == date.fromisoformat(day)
        assert amount(refund) > 0


def test_sessions_start_with_a_login(clean: Run):
    events = read_source(clean.landing, "events").sort("event_time", "event_id")
    first = events.group_by("member_id", "_day", maintain_order=True).first()
    assert set(first["event_type"]) == {"login"}


def test_tickets_are_resolved_later_and_some_complaints_stay_open(tmp_path: Path):
    generate(tmp_path / "landing", members=2000, start=START, end=END, seed=3, defect_rate=0)
    tickets = read_source(tmp_path / "landing", "tickets")
    long_open = tickets.filter(pl.col("status") == "处理中")
    assert long_open.height and long_open["ticket_type"].unique().to_list() == ["投诉"]
    resolved = tickets.filter(pl.col("status").is_in(["已解决", "已关闭"]))
    assert resolved.height and resolved["satisfaction"].is_not_null().all()
    for ticket_id, opened, closed in resolved.select("ticket_id", "opened_at", "closed_at").rows():
        days = (parse_time(closed) - parse_time(opened)).total_seconds() / 86_400
        assert days >= 20 if ticket_id in set(long_open["ticket_id"]) else 0 < days <= 6


# ---------------------------------------------------------------- personas


def test_churned_members_stop_at_their_change_date(clean: Run):
    personas = pl.read_csv(clean.truth / "member_personas.csv", infer_schema=False)
    churned = dict(personas.filter(pl.col("persona") == "churned").select("member_id", "change_date").rows())
    orders = read_source(clean.landing, "orders").filter(pl.col("status").is_in(["paid", "已支付"]))
    events = read_source(clean.landing, "events")
    for frame, column in ((orders, "order_time"), (events, "event_time")):
        late = [
            m
            for m, t in frame.select("member_id", column).rows()
            if m in churned and parse_time(t).date() >= date.fromisoformat(churned[m])
        ]
        assert late == []


@pytest.mark.parametrize(
    ("persona", "intents"),
    [
        # Switching and declining members write their theme after their change, ordinary text before.
        ("switching", {"competitor", "none"}),
        ("declining", {"no_longer_needed", "none"}),
        # Loyal members never say they leave, though their texts name other brands or "don't need" a receipt.
        ("loyal", {"none"}),
    ],
)
def test_ticket_text_follows_persona(tmp_path: Path, persona: str, intents: set[str]):
    generate(
        tmp_path / "landing",
        members=300,
        start=START,
        end=date(2025, 5, 1),
        seed=5,
        defect_rate=0,
        persona_shares={persona: 1.0},
    )
    content = read_source(tmp_path / "landing", "tickets")["content"].to_list()
    assert content
    assert {verdict.category for verdict in classify_many(content)} == intents


def test_seasons_and_weekdays():
    ordinary_tuesday = day_pattern(date(2024, 9, 10))
    assert day_pattern(date(2024, 11, 11)).online > 2.5 * ordinary_tuesday.online
    assert day_pattern(date(2025, 6, 18)).online > 2 * day_pattern(date(2025, 6, 24)).online
    assert day_pattern(date(2024, 9, 14)).store > 1.4 * ordinary_tuesday.store  # Saturday
    assert day_pattern(date(2025, 1, 30)).store < 0.6 * day_pattern(date(2025, 1, 16)).store  # Spring Festival week


# ---------------------------------------------------------------- defects


def found_row_defects(path: Path, source: str) -> Counter:
    """Count what is actually wrong in a file, independently of the generator's bookkeeping."""
    rows = read_rows(path)
    found = Counter()
    found["duplicate_row"] = rows.height - rows.unique().height
    if source in BAD_DATE_COLUMN:
        found["bad_date"] = rows[BAD_DATE_COLUMN[source]].is_in(BAD_DATES).sum()
    if source in ("orders", "events"):
        found["unknown_member"] = sum(member_number(m) > MEMBERS for m in rows["member_id"])
    if source == "orders":
        gross = [amount(a) for a in rows["gross_amount"]]
        found["negative_amount"] = sum(a is not None and a < 0 for a in gross)
        found["absurd_amount"] = sum(a is not None and a > 1_000_000 for a in gross)
        found["decimal_comma"] = sum(a is not None and DECIMAL_COMMA.match(a) is not None for a in rows["gross_amount"])
        found["implausible_time"] = rows["order_time"].is_in(IMPLAUSIBLE_TIMES).sum()
    if source == "events":
        found["unknown_event_type"] = (~rows["event_type"].is_in(list(EVENT_TYPES))).sum()
    return +found


def test_every_defect_kind_appears_when_enabled(noisy: Run):
    assert all(noisy.summary.defects[kind] > 0 for kind in DEFECT_KINDS), noisy.summary.defects


def test_row_defects_found_in_files_match_the_log(noisy: Run):
    log = defect_log(noisy)
    logged: dict[str, Counter] = {}
    for file, kind, count in log.select("file", "kind", "count").rows():
        logged.setdefault(file, Counter())[kind] += count
    for path in landed_files(noisy.landing):
        if tag(path) in ("resent", "empty", "header_only"):
            continue
        relative = path.relative_to(noisy.landing).as_posix()
        expected = Counter({k: v for k, v in logged.get(relative, Counter()).items() if k in ROW_KINDS})
        assert found_row_defects(path, relative.split("/")[0]) == expected, relative
    totals = log.group_by("kind").agg(pl.col("count").sum())
    assert dict(totals.rows()) == {k: v for k, v in noisy.summary.defects.items() if v}


def test_file_defects_are_what_their_names_say(noisy: Run):
    log = defect_log(noisy)
    by_kind = {
        kind: set(log.filter(pl.col("kind") == kind)["file"])
        for kind in ("resent_file", "late_file", "empty_file", "header_only_file")
    }
    files = {
        tag_name: [p for p in landed_files(noisy.landing) if tag(p) == tag_name]
        for tag_name in ("resent", "late", "empty", "header_only")
    }
    relative = {name: {p.relative_to(noisy.landing).as_posix() for p in paths} for name, paths in files.items()}
    assert (
        relative["resent"] == by_kind["resent_file"]
        and len(by_kind["resent_file"]) == noisy.summary.defects["resent_file"]
    )
    assert relative["late"] == by_kind["late_file"] and len(by_kind["late_file"]) == noisy.summary.defects["late_file"]
    assert relative["empty"] == by_kind["empty_file"] and relative["header_only"] == by_kind["header_only_file"]

    for path in files["resent"]:
        main = path.with_name(path.name.replace("_resent", ""))
        assert path.read_bytes() == main.read_bytes()
    for path in files["late"]:
        main = path.with_name(path.name.replace("_late", ""))
        late_ids = set(read_rows(path)["order_id"])
        assert late_ids and not late_ids & set(read_rows(main)["order_id"])
    assert all(p.stat().st_size == 0 for p in files["empty"])
    for path in files["header_only"]:
        assert len(decode(path.read_bytes()).splitlines()) == 1


def test_ids_are_unique_apart_from_deliberate_duplicates(noisy: Run):
    events = read_source(noisy.landing, "events").drop("_file").unique()
    assert events["event_id"].is_unique().all()
    orders = read_source(noisy.landing, "orders").drop("_file").unique()
    assert orders.select("order_id", "updated_at").is_unique().all()


# ---------------------------------------------------------------- through the real loader


REASON_OF_KIND = {
    "duplicate_row": "duplicate_row",
    "bad_date": "bad_timestamp",
    "negative_amount": "negative_amount",
    "absurd_amount": "absurd_amount",
    "unknown_member": "unknown_member",
    "unknown_event_type": "unknown_code",
    "implausible_time": "implausible_timestamp",
    "decimal_comma": "bad_number",
}


def load_everything(run: Run) -> dict[str, Counter]:
    settings = Settings(landing_dir=run.landing)
    con = duckdb.connect()
    reasons = {}
    for source in ("members", "orders", "events", "tickets", "outreach_feedback"):
        report = load_range(con, SOURCES[source], START, END, settings)
        reasons[source] = +Counter(report.reasons)
    con.close()
    return reasons


def test_clean_data_loads_without_quarantine(clean: Run):
    assert load_everything(clean) == {
        s: Counter() for s in ("members", "orders", "events", "tickets", "outreach_feedback")
    }


def test_loader_quarantines_exactly_the_planted_defects(noisy: Run):
    log = defect_log(noisy)
    expected = {s: Counter() for s in ("members", "orders", "events", "tickets", "outreach_feedback")}
    for source, kind, count in log.select("source", "kind", "count").rows():
        if kind in REASON_OF_KIND:
            expected[source][REASON_OF_KIND[kind]] += count
    # A re-sent copy repeats the original's corrupted rows (same reason) and duplicates all others.
    for file in log.filter(pl.col("kind") == "resent_file")["file"]:
        source, original = file.split("/")[0], file.replace("_resent", "")
        corrupted = log.filter((pl.col("file") == original) & (pl.col("kind") != "duplicate_row"))
        for kind, count in corrupted.select("kind", "count").rows():
            expected[source][REASON_OF_KIND[kind]] += count
        expected[source]["duplicate_row"] += read_rows(noisy.landing / file).height - corrupted["count"].sum()
    assert load_everything(noisy) == {s: +c for s, c in expected.items()}

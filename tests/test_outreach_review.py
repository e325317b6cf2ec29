"""The staff review file of a win-back campaign: Excel's ways of saving a CSV are read, every row that
cannot be applied for sure is reported by line, and what staff typed as reason or reviewer never shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from retention.outreach.review import (
    ReviewEntry,
    ReviewFile,
    ReviewFileError,
    ReviewOutcome,
    ReviewProblem,
    apply_review,
    describe_problems,
    load_review,
)

# Member keys: SHA-256 of "M1".."M5", written out.
K1 = "2d214ca69b86c255be416d42cca977a59b34a7492873105522c35015fab806f0"
K2 = "0892a10ece1f933ee98f5d554601b28f8437801d1aa1b77799e4035ddcb6950c"
K3 = "67629a19d082ed3a6a50d4e4ff97d02f6208b8706aeef961e0d6a438604211df"
K4 = "449a900ec53efd69a2257a22fea51a952f82eb4039b6d44626393f215aabe9c1"
K5 = "25efb20dfe4953e14dbef1bc5ac6bd7ea8dc659c582e4118260b50508c8f5f25"
WAVES = ("wave_1", "wave_2")
HEADER = "member_key,action,reason,reviewer,wave_id\n"
COLUMNS = "member_key (会员标识), action (操作), reason (原因), and optionally reviewer (审核人), wave_id"


def _write(tmp_path: Path, content: str | bytes, name: str = "review.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def _problems(review: ReviewFile) -> list[tuple[int, str]]:
    return [(p.line, p.problem) for p in review.problems]


# ---------------------------------------------------------------- reading Excel's files


def test_a_clean_file_gives_its_entries_with_their_lines(tmp_path):
    path = _write(
        tmp_path,
        HEADER
        + f"{K1},exclude,会员投诉处理中,王芳,\n"
        + f"{K2},exclude,要求不要电话联系,王芳,wave_1\n"
        + f"{K3},include,高价值会员人工纳入,,\n",
    )
    review = load_review(path, WAVES)
    assert review == ReviewFile(
        path,
        (
            ReviewEntry(2, K1, "exclude", "会员投诉处理中", "王芳", None),
            ReviewEntry(3, K2, "exclude", "要求不要电话联系", "王芳", "wave_1"),
            ReviewEntry(4, K3, "include", "高价值会员人工纳入", None, None),
        ),
        (),
    )
    assert apply_review(review, "wave_1", {K1, K2, K3}) == ReviewOutcome(
        excluded=frozenset({K1, K2}), included=frozenset({K3}), unknown_keys=()
    )
    assert describe_problems(review) == []


def test_bom_crlf_blank_lines_comments_and_trailing_spaces_are_excel_not_problems(tmp_path):
    text = (
        "# 2025年3月 挽回活动 审核\r\n"  # line 1
        " Member_Key , ACTION ,Reason \r\n"  # line 2: the header, spaced and capitalised
        "\r\n"  # line 3
        f"{K1.upper()} , Exclude , 投诉处理中  \r\n"  # line 4: an upper-case key
        '# 说明,"注意 这一行是注释\r\n'  # line 5: a quote in a comment opens no field
        ",,\r\n"  # line 6: a row of empty cells
        "   \r\n"  # line 7
        f"{K2},INCLUDE,VIP 回访 \r\n"  # line 8
    )
    path = _write(tmp_path, b"\xef\xbb\xbf" + text.encode("utf-8"))
    review = load_review(path, WAVES)
    assert review.entries == (
        ReviewEntry(4, K1, "exclude", "投诉处理中", None, None),
        ReviewEntry(8, K2, "include", "VIP 回访", None, None),
    )
    assert review.problems == ()


def test_a_gb18030_file_with_chinese_headers_and_actions(tmp_path):
    text = f"会员标识,操作,原因,审核人\r\n{K1},排除,会员投诉未结案,李主管\r\n{K2},纳入,高价值会员,李主管\r\n"
    path = _write(tmp_path, text.encode("gb18030"))
    review = load_review(path, WAVES)
    assert review.entries == (
        ReviewEntry(2, K1, "exclude", "会员投诉未结案", "李主管", None),
        ReviewEntry(3, K2, "include", "高价值会员", "李主管", None),
    )
    assert review.problems == ()


def test_a_quoted_reason_may_span_lines_and_later_lines_keep_their_numbers(tmp_path):
    path = _write(
        tmp_path,
        HEADER + f'{K1},exclude,"投诉中\n等待结案",,\n' + f"{K2},exclude,不要电话,,\n",
    )
    review = load_review(path, WAVES)
    assert review.entries == (
        ReviewEntry(2, K1, "exclude", "投诉中\n等待结案", None, None),
        ReviewEntry(4, K2, "exclude", "不要电话", None, None),
    )


def test_a_missing_file_is_no_review_and_a_header_alone_is_an_empty_one(tmp_path):
    missing = tmp_path / "no_such_review.csv"
    assert load_review(missing, WAVES) == ReviewFile(missing, (), ())
    header_only = _write(tmp_path, "member_key,action,reason\r\n")
    assert load_review(header_only, WAVES) == ReviewFile(header_only, (), ())
    empty = _write(tmp_path, "", name="empty.csv")
    assert load_review(empty, WAVES) == ReviewFile(empty, (), ())


# ---------------------------------------------------------------- rows that are skipped and reported


def test_each_row_problem_is_reported_on_its_line_and_the_row_skipped(tmp_path):
    path = _write(
        tmp_path,
        HEADER
        + ",exclude,投诉,,\n"  # 2
        + "13812345678,exclude,投诉,,\n"  # 3: a phone number typed as the key
        + f"{K1},drop,投诉,,\n"  # 4
        + f"{K2},exclude,   ,,\n"  # 5
        + f"{K3},exclude,{'长' * 201},,\n"  # 6
        + f"{K4},exclude,投诉,,wave_9\n"  # 7
        + f"{K5},exclude,投诉\n"  # 8
        + f"{K5},include,人工纳入,,\n"  # 9: fine
        + f"{K1[:-1]}g,exclude,投诉,,\n"  # 10: 64 characters, one not hex
        + ",,投诉,,\n"  # 11: two problems
        + f"{K2},exclude,{'长' * 200},,Wave_2\n"  # 12: fine: 200 characters, the wave in other case
        + f"{K3},dr\x1bop,投诉,,\n"  # 13
        + f"{K4},{'x' * 50},投诉,,\n"  # 14
        + f"{K4},exclude,投诉,,,\n",  # 15: a trailing comma too many
    )
    review = load_review(path, WAVES)
    assert _problems(review) == [
        (2, "member_key is empty"),
        (3, "member_key is not a 64-character hex SHA-256 key (11 characters; not shown)"),
        (4, 'action "drop" is not exclude/include (排除/纳入)'),
        (5, "reason is empty; say why the member is excluded or included"),
        (6, "reason has 201 characters, at most 200 are allowed"),
        (7, 'wave_id "wave_9" is not a wave of this campaign (wave_1, wave_2); leave it empty for all'),
        (8, "line 8 has 3 fields, the header has 5"),
        (10, "member_key is not a 64-character hex SHA-256 key (64 characters; not shown)"),
        (11, "member_key is empty"),
        (11, "action is empty; expected exclude/include (排除/纳入)"),
        (13, 'action "dr\\x1bop" is not exclude/include (排除/纳入)'),
        (14, f'action "{"x" * 40}...(+10 chars)" is not exclude/include (排除/纳入)'),
        (15, "line 15 has 6 fields, the header has 5"),
    ]
    assert review.entries == (
        ReviewEntry(9, K5, "include", "人工纳入", None, None),
        ReviewEntry(12, K2, "exclude", "长" * 200, None, "wave_2"),
    )


def test_rows_joined_by_a_quote_left_open_are_reported_not_read_as_one_long_reason(tmp_path):
    # The quote opened on line 2 closes on line 4: csv reads lines 2-4 as one row of 5 fields whose reason
    # holds the rows of K2 and K3.
    path = _write(
        tmp_path,
        HEADER
        + f'{K1},exclude,"投诉,,\n'
        + f"{K2},exclude,不要电话,,\n"
        + f'{K3},exclude,结案",,\n'
        + f"{K4},include,ok,,\n",
    )
    review = load_review(path, WAVES)
    assert _problems(review) == [
        (
            2,
            "a quote opened on line 2 is closed only on line 4, joining the rows of lines 2-4 into one; "
            "none of them is applied: close the quote on line 2",
        )
    ]
    assert review.entries == (ReviewEntry(5, K4, "include", "ok", None, None),)


def test_a_record_over_several_lines_with_the_wrong_field_count_names_its_lines(tmp_path):
    path = _write(tmp_path, HEADER + f'{K1},exclude,"投诉\n处理中",\n')
    assert _problems(load_review(path, WAVES)) == [
        (2, "the record on lines 2-3 has 4 fields, the header has 5 (a quote joins these lines: is one left open?)")
    ]


def test_conflicting_actions_report_every_row_and_apply_none(tmp_path):
    path = _write(
        tmp_path,
        HEADER
        + f"{K1},exclude,投诉,,\n"  # 2
        + f"{K2},exclude,不要电话,,\n"  # 3
        + f"{K1},include,高价值,,\n"  # 4: conflicts with line 2
        + f"{K3},exclude,投诉,,wave_1\n"  # 5
        + f"{K3},纳入,高价值,,wave_1\n"  # 6: conflicts with lines 5 and 7, for wave_1 only
        + f"{K3},排除,投诉,,wave_1\n"  # 7
        + f"{K3},include,高价值,,\n",  # 8: all waves: another scope, no conflict
    )
    review = load_review(path, WAVES)
    k1 = (
        "member_key 2d214ca69b86… has conflicting actions on lines 2 and 4 (exclude and include); "
        "none of them is applied"
    )
    k3 = (
        "member_key 67629a19d082… has conflicting actions for wave_1 on lines 5, 6 and 7 (exclude and include); "
        "none of them is applied"
    )
    assert _problems(review) == [(2, k1), (4, k1), (5, k3), (6, k3), (7, k3)]
    assert review.entries == (
        ReviewEntry(3, K2, "exclude", "不要电话", None, None),
        ReviewEntry(8, K3, "include", "高价值", None, None),
    )
    assert apply_review(review, "wave_1", {K1, K2, K3}) == ReviewOutcome(
        excluded=frozenset({K2}), included=frozenset({K3}), unknown_keys=()
    )


def test_the_same_action_twice_keeps_the_first_row_and_reports_the_second(tmp_path):
    path = _write(
        tmp_path,
        HEADER + f"{K1},exclude,投诉,王芳,\n" + f"{K2},include,高价值,,\n" + f"{K1.upper()},排除,再次确认,李明,\n",
    )
    review = load_review(path, WAVES)
    assert _problems(review) == [
        (4, "member_key 2d214ca69b86… is listed again (first on line 2, same action); this line is ignored")
    ]
    assert review.entries == (
        ReviewEntry(2, K1, "exclude", "投诉", "王芳", None),
        ReviewEntry(3, K2, "include", "高价值", None, None),
    )


# ---------------------------------------------------------------- applying the review to a wave


def test_wave_scoped_entries_apply_only_to_their_wave_and_narrow_campaign_wide_ones(tmp_path):
    path = _write(
        tmp_path,
        HEADER
        + f"{K1},exclude,投诉,,\n"  # every wave
        + f"{K2},exclude,本周出差,,wave_1\n"
        + f"{K3},include,高价值,,wave_2\n"
        + f"{K1},include,投诉已结案,,wave_2\n",  # wave_2 overrides the campaign-wide exclusion
    )
    review = load_review(path, WAVES)
    assert review.problems == ()
    known = {K1, K2, K3, K4}
    assert apply_review(review, "wave_1", known) == ReviewOutcome(frozenset({K1, K2}), frozenset(), ())
    assert apply_review(review, "wave_2", known) == ReviewOutcome(frozenset(), frozenset({K1, K3}), ())


def test_keys_of_no_known_member_are_reported_and_not_applied(tmp_path):
    path = _write(
        tmp_path,
        HEADER + f"{K1},exclude,投诉,,\n" + f"{K4},exclude,不要电话,,\n" + f"{K5},include,高价值,,wave_1\n",
    )
    review = load_review(path, WAVES)
    outcome = apply_review(review, "wave_1", [K1, K2, K3])  # any collection, here a list
    assert outcome == ReviewOutcome(
        excluded=frozenset({K1}),
        included=frozenset(),
        unknown_keys=(
            ReviewEntry(3, K4, "exclude", "不要电话", None, None),
            ReviewEntry(4, K5, "include", "高价值", None, "wave_1"),
        ),
    )
    # In wave_2 the wave_1 entry does not apply, so it is not reported either.
    assert apply_review(review, "wave_2", [K1]).unknown_keys == (ReviewEntry(3, K4, "exclude", "不要电话", None, None),)


# ---------------------------------------------------------------- files that cannot be read at all


def test_a_header_without_member_key_names_the_missing_column(tmp_path):
    path = _write(tmp_path, "key,action,reason,reviewer\n" + f"{K1},exclude,投诉,\n")
    with pytest.raises(ReviewFileError) as caught:
        load_review(path, WAVES)
    assert str(caught.value) == (
        f"review file {path}: the header (line 1) has no column member_key (会员标识); "
        f"recognised: action, reason, reviewer. Columns: {COLUMNS}"
    )


def test_a_first_line_of_data_is_not_taken_for_a_header(tmp_path):
    path = _write(tmp_path, f"{K1},exclude,张三 13812345678 投诉\n")
    with pytest.raises(ReviewFileError) as caught:
        load_review(path, WAVES)
    assert str(caught.value) == (
        f"review file {path}: line 1 does not look like a header: field(s) 1, 2, 3 hold values such as member "
        f"keys, actions or phone numbers (not shown); the first line must name the columns: {COLUMNS}"
    )


def test_two_columns_meaning_the_same_are_refused(tmp_path):
    path = _write(tmp_path, "# 审核\nmember_key,action,reason,会员标识\n")
    with pytest.raises(ReviewFileError) as caught:
        load_review(path, WAVES)
    assert (
        str(caught.value)
        == f"review file {path}: the header (line 2) has two columns meaning member_key: fields 1 and 4"
    )


def test_undecodable_bytes_name_the_offset(tmp_path):
    # 25 bytes of header, then 64 + 9 bytes of key and action: the bad byte is at offset 98.
    path = _write(tmp_path, b"member_key,action,reason\n" + K1.encode() + b",exclude,\xff\xfe\n")
    with pytest.raises(ReviewFileError) as caught:
        load_review(path, WAVES)
    assert str(caught.value) == (
        f"review file {path}: is neither UTF-8 (byte 98 is not) nor GBK/GB18030 (byte 98 is not); "
        'save it as "CSV UTF-8"'
    )


def test_a_bom_then_bytes_that_are_not_utf8_and_a_utf16_file_are_refused(tmp_path):
    bom = _write(tmp_path, b"\xef\xbb\xbfmember_key,action,reason\n\xc4\xe3\n", name="bom.csv")
    with pytest.raises(
        ReviewFileError, match=r"bom\.csv: starts with a UTF-8 byte-order mark but byte 28 is not UTF-8$"
    ):
        load_review(bom, WAVES)
    utf16 = _write(tmp_path, "member_key,action,reason\n".encode("utf-16"), name="utf16.csv")
    with pytest.raises(ReviewFileError, match=r"utf16\.csv: is UTF-16"):
        load_review(utf16, WAVES)


def test_a_quote_never_closed_would_swallow_the_rest_of_the_file(tmp_path):
    path = _write(tmp_path, HEADER + f"{K1},exclude,投诉,,\n" + f'{K2},exclude,"不要电话,,\n' + f"{K3},exclude,x,,\n")
    with pytest.raises(ReviewFileError) as caught:
        load_review(path, WAVES)
    assert str(caught.value) == f"review file {path}: a quote opened on line 3 is never closed: the file ends inside it"


# ---------------------------------------------------------------- what problems show


def test_describe_problems_names_the_file_and_line_and_caps_the_list(tmp_path):
    rows = "".join(f"{K1},drop{n},投诉,,\n" for n in range(1, 5))  # lines 2-5
    review = load_review(_write(tmp_path, HEADER + rows, name="review\n2025-03.csv"), WAVES)
    assert describe_problems(review, limit=2) == [
        'review file review\\n2025-03.csv line 2: action "drop1" is not exclude/include (排除/纳入)',
        'review file review\\n2025-03.csv line 3: action "drop2" is not exclude/include (排除/纳入)',
        "… and 2 more",
    ]
    assert len(describe_problems(review)) == 4


def test_no_problem_repeats_a_reason_a_reviewer_or_a_mistyped_key(tmp_path):
    # Excel quotes a cell holding a comma; quoted, the reason is one field.
    reason = "张三 手机13812345678 在门店与店长争执, 要求赔偿, 升级到区域经理处理中, 暂不联系. " * 5  # 255 characters
    reviewer = "李四 13900001111 运营专员 上海区"
    short = f'"{reason[:150]}"'
    path = _write(
        tmp_path,
        HEADER
        + f'{K1},exclude,"{reason}",{reviewer},\n'  # 2: reason too long
        + f"{K2},drop,{short},{reviewer},\n"  # 3: bad action
        + f"13812345678,exclude,{short},{reviewer},\n"  # 4: a phone number as the key
        + f"{K3},exclude,{short},{reviewer}\n"  # 5: a field short
        + f"{K4},exclude,{short},{reviewer},\n"  # 6
        + f"{K4},include,{short},{reviewer},\n"  # 7: conflicts with 6
        + f"{K5},exclude,{short},{reviewer},\n"  # 8
        + f"{K5},exclude,{short},{reviewer},\n"  # 9: duplicate of 8
        + f"{K5},exclude,{short},{reviewer},13812345678\n"  # 10: a phone number as the wave
        + f"{K1},13812345678,{short},{reviewer},\n",  # 11: and as the action
    )
    review = load_review(path, WAVES)
    assert [p.line for p in review.problems] == [2, 3, 4, 5, 6, 7, 9, 10, 11]
    shown = [p.problem for p in review.problems] + describe_problems(review)
    for text in shown:
        for secret in ("13812345678", "13900001111", "张三", "李四", "争执", reason[:20], reviewer):
            assert secret not in text, (secret, text)
    assert review.problems[-2:] == (
        ReviewProblem(
            10, "wave_id (not shown) is not a wave of this campaign (wave_1, wave_2); leave it empty for all"
        ),
        ReviewProblem(11, "action (not shown) is not exclude/include (排除/纳入)"),
    )

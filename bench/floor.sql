-- The floor (issue 7): member-level retention results straight from the landed files, in one DuckDB
-- script with no orchestration. Per member known at the end of the as-of day: RFM with bin scores,
-- the BTYD (lifetimes) summary, the tier and the five churn-risk flags with the risk level - the
-- rules of the marts member_rfm, member_btyd_summary, dim_members (member_tier_history) and
-- member_churn_risk, written the short way: only the as-of day, only the latest known version of
-- each record, no history.
--
-- Placeholders in braces are filled in by bench/floor.py (run_floor):
--   {files}     the landing folder as staged by floor.stage_files: the same relative paths, every file
--               a link to the landed one except GBK/GB18030 CSVs, transcoded to UTF-8 (DuckDB's CSV
--               reader takes UTF-8 only without the `encodings` extension, which INSTALL downloads).
--               That step is part of the floor's measured time.
--   {seeds}     dbt_project/seeds: score bins, tiers and code spellings are data.
--   {as_of}     the as-of day, YYYY-MM-DD.
--   {timezone}, {max_order_amount}, {max_paid_level}, {max_dwell_seconds}, {earliest_timestamp},
--   {future_tolerance_days}, {earliest_birthday}: pipeline settings.
--   {amount_pattern}: the amount grammar for RETENTION_AMOUNT_DECIMALS (rules.amount_pattern).
--   the rest:   the dbt vars of the same name (dbt_project/dbt_project.yml).
--
-- Simplifications against the pipeline (bench/floor.py compare_with_marts measures the agreement):
--   * Quarantine is reduced to its effect: a row is dropped if a value does not parse, a required one
--     is missing, an amount or number is out of range or inconsistent, or its member id is not in the
--     member master. Exact duplicates need no step, as only the latest version of a record is kept.
--   * Versions are ordered by recorded time, landing day and file, not by row within a file.
--   * Of the events only logins are read, and only the last login time per member is kept, so an
--     event delivered twice needs no de-duplication.
--   * JSON-lines keys must be the canonical English names (CSV headers may be any alias).
--   * Ticket text is matched against the keywords without first redacting phone numbers / e-mails.
--   * A file the pipeline would reject whole (truncated, two headers for one column, missing
--     required column) is not detected.

SET TimeZone = '{timezone}';

-- ------------------------------------------------------------------------------------------------
-- Values as the landing contract accepts them (retention/landing/rules.py).
-- ------------------------------------------------------------------------------------------------

-- Trimmed text; NULL for the usual spellings of "nothing". (list_contains, not IN: DuckDB plans an
-- IN list as a join, which costs more than the whole parse on a short value.)
CREATE OR REPLACE TEMP MACRO txt(v) AS CASE
    WHEN strlen(trim(v)) <= 4 AND list_contains(['', 'null', 'none', 'na', 'n/a', '-'], lower(trim(v)))
        THEN NULL
    ELSE trim(v)
END;

-- Local wall-clock time in any accepted layout; a value carrying a UTC offset is converted. As in the
-- loader, DuckDB's own cast comes first (ISO-like values, fast). The list of formats comes last: a
-- failed format costs as much as a parse, so a value is tried only against the formats sharing its
-- separator (a value without 'T', '/', '年' or '-' can match no format that has one). The offset
-- test is a regular expression, so a cheap test of the last six characters goes before it.
CREATE OR REPLACE TEMP MACRO has_offset(v) AS
    (right(v, 1) = 'Z' OR contains(right(v, 6), '+') OR contains(right(v, 6), '-'))
    AND regexp_matches(v, '(Z|[+-]\d{2}:?\d{2})$');
CREATE OR REPLACE TEMP MACRO ts(v) AS CASE
    WHEN has_offset(v)
        THEN try_cast(regexp_replace(v, '\s+(Z|[+-]\d{2}:?\d{2})$', '\1') AS TIMESTAMPTZ) AT TIME ZONE '{timezone}'
    ELSE coalesce(
        CASE WHEN left(v, 1) BETWEEN '0' AND '9' THEN try_cast(v AS TIMESTAMP) END,
        CASE
            WHEN contains(v, 'T') THEN try_strptime(v, ['%Y-%m-%dT%H:%M:%S', '%Y-%m-%dT%H:%M:%S.%f'])
            WHEN contains(v, '/') THEN try_strptime(v, ['%Y/%m/%d %H:%M:%S', '%Y/%m/%d %H:%M', '%Y/%m/%d'])
            WHEN contains(v, '年')
                THEN try_strptime(v, ['%Y年%m月%d日 %H:%M:%S', '%Y年%m月%d日 %H:%M', '%Y年%m月%d日'])
            WHEN contains(v, '-')
                THEN try_strptime(v, ['%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M:%S.%f', '%Y-%m-%d %H:%M', '%Y-%m-%d'])
            ELSE try_strptime(v, ['%Y%m%d%H%M%S', '%Y%m%d'])
        END
    )
END;

CREATE OR REPLACE TEMP MACRO day(v) AS coalesce(
    CASE WHEN left(v, 1) BETWEEN '0' AND '9' THEN try_cast(v AS DATE) END,
    CAST(try_strptime(v, ['%Y-%m-%d', '%Y/%m/%d', '%Y%m%d', '%Y年%m月%d日']) AS DATE)
);

-- Plausible times: from the earliest setting to the end of the landing day plus the tolerance;
-- birthdays from theirs to the landing day. Outside, the row is quarantined by the pipeline.
CREATE OR REPLACE TEMP MACRO implausible(t, landing) AS
    coalesce(t < TIMESTAMP '{earliest_timestamp}' OR t >= CAST(landing + {future_tolerance_days} + 1 AS TIMESTAMP), FALSE);
CREATE OR REPLACE TEMP MACRO implausible_day(d, landing) AS
    coalesce(d < DATE '{earliest_birthday}' OR d > landing, FALSE);

-- CNY amounts: 1234.5, 1,234.50, ¥1234.50, ￥1,234.50; nothing else ("12,50", "1e3", "12.345").
CREATE OR REPLACE TEMP MACRO amount(v) AS CASE WHEN regexp_full_match(v, '{amount_pattern}')
    THEN try_cast(regexp_replace(v, '[¥￥,\s]', '', 'g') AS DECIMAL(18, 2)) END;

-- Whole numbers only ("3.0" is 3, "3.5" does not parse).
CREATE OR REPLACE TEMP MACRO whole(v) AS
    CASE WHEN isfinite(try_cast(v AS DOUBLE)) AND try_cast(v AS DOUBLE) = floor(try_cast(v AS DOUBLE))
        THEN try_cast(try_cast(v AS DOUBLE) AS BIGINT) END;

CREATE OR REPLACE TEMP MACRO bool(v) AS CASE
    WHEN list_contains(['1', 'true', 't', 'y', 'yes', '是', '同意'], lower(v)) THEN TRUE
    WHEN list_contains(['0', 'false', 'f', 'n', 'no', '否', '拒绝'], lower(v)) THEN FALSE
END;

-- A value that is there but does not parse: the row is quarantined by the pipeline, dropped here.
CREATE OR REPLACE TEMP MACRO unparsed(v, parsed) AS v IS NOT NULL AND parsed IS NULL;

-- Codes (channel, status, type ...) by their accepted spellings, from the contract's own seed:
-- getvariable('codes')['orders.status']['已退款'] = 'refunded'.
SET VARIABLE codes = (
    SELECT map_from_entries(list({'key': field, 'value': spellings}))
    FROM (
        SELECT
            source || '.' || column_name AS field,
            map_from_entries(list(DISTINCT {'key': lower(trim(spelling)), 'value': code})) AS spellings
        FROM (
            SELECT source, column_name, code,
                unnest([code] || coalesce(string_split(accepted_spellings, ' / '), [])) AS spelling
            FROM read_csv('{seeds}/contract_codes.csv', all_varchar = true)
        )
        GROUP BY ALL
    )
);
CREATE OR REPLACE TEMP MACRO code(field, v) AS getvariable('codes')[field][lower(v)];

-- The spellings of the login event type as one case-insensitive pattern, spaces around allowed as
-- trim() removes them: on tens of millions of events it costs a third of trim + lower + lookup.
SET VARIABLE login_pattern = (
    SELECT '\p{Zs}*(?i:' || string_agg(regexp_escape(spelling.key), '|') || ')\p{Zs}*'
    FROM (SELECT unnest(map_entries(getvariable('codes')['events.event_type'])) AS spelling)
    WHERE spelling.value = 'login'
);

-- CSV headers may be the canonical name or an alias, in any letter case. Each read adds an empty
-- `_none` column so that coalesce(*COLUMNS(...)) has a column even when no file uses any of the names.
CREATE OR REPLACE TEMP MACRO header_is(c, names) AS c = '_none' OR list_contains(names, lower(trim(c)));

-- Every staged file below the landing folder (e.g. 'orders/2025-03-05/pos_orders_20250305.csv': the
-- versions of a record delivered on one day are ordered by it) and its landing day: the first date
-- in its path below the source folder, as a folder or in the file name (NULL if there is none).
-- Once per file here, joined to the rows by file name: a regular expression per row costs seconds.
CREATE OR REPLACE TEMP MACRO date_part_in_path(file, part) AS nullif(regexp_extract(
    substr(file, strpos(file, '/') + 1),
    '(?:^|[^0-9])((?:19|2[0-9])[0-9]{2})[-_]?(0[1-9]|1[0-2])[-_]?(0[1-9]|[12][0-9]|3[01])(?:[^0-9]|$)',
    part
), '')::INT;
CREATE TEMP TABLE landed_files AS
SELECT
    filename,
    source_file,
    make_date(
        date_part_in_path(source_file, 1), date_part_in_path(source_file, 2), date_part_in_path(source_file, 3)
    ) AS landing_date
FROM (SELECT file AS filename, substr(file, length('{files}') + 2) AS source_file FROM glob('{files}/**/*'));

-- Every CSV of a source as text, one column per distinct header, plus the empty `_none` column.
CREATE OR REPLACE TEMP MACRO csv_files(pattern) AS TABLE
    SELECT *, NULL::VARCHAR AS _none
    FROM read_csv(pattern, all_varchar = true, union_by_name = true, filename = true, header = true,
        delim = ',', quote = '"', escape = '"');

-- ------------------------------------------------------------------------------------------------
-- Each source in two steps: first every delivered row with its values parsed and `rejected` if the
-- loader would quarantine it for a value of its own (missing where required, not parseable, out of
-- range, inconsistent); then, of the other rows of known members, the version of each record current
-- on the as-of day. Two tables rather than one query, so that each value is parsed once: a filter on
-- a parsed value, pushed below the parsing by the optimizer, would parse it a second time.
-- ------------------------------------------------------------------------------------------------

-- Members: every member id the master has delivered by the as-of day (a fact of any other id is
-- quarantined by the loader as unknown_member, so such a version must not replace a good one), and
-- whether the member is known at the end of the day: delivered, recorded and registered by then.
-- Their latest known state (by updated_at, landing day, file) gives the paid level, for the tier.
CREATE TEMP TABLE member_rows AS
WITH delivered AS (
    SELECT
        filename,
        coalesce(*COLUMNS(c -> header_is(c, ['member_id', '会员号', '会员编号', '会员id']))) AS member_id,
        coalesce(*COLUMNS(c -> header_is(c, ['gender', '性别']))) AS gender,
        coalesce(*COLUMNS(c -> header_is(c, ['birthday', '生日', '出生日期']))) AS birthday,
        coalesce(*COLUMNS(c -> header_is(c, ['registered_at', '注册时间']))) AS registered_at,
        coalesce(*COLUMNS(c -> header_is(c, ['registration_channel', '注册渠道']))) AS registration_channel,
        coalesce(*COLUMNS(c -> header_is(c, ['paid_level', '付费等级']))) AS paid_level,
        coalesce(*COLUMNS(c -> header_is(c, ['consent_sms', '短信授权']))) AS consent_sms,
        coalesce(*COLUMNS(c -> header_is(c, ['consent_push', '推送授权']))) AS consent_push,
        coalesce(*COLUMNS(c -> header_is(c, ['consent_phone', '电话授权']))) AS consent_phone,
        coalesce(*COLUMNS(c -> header_is(c, ['updated_at', '更新时间']))) AS updated_at
    FROM csv_files('{files}/members/**/*.csv')
    UNION ALL BY NAME
    SELECT *
    FROM read_json('{files}/members/**/*.jsonl', format = 'newline_delimited', ignore_errors = true,
        filename = true, columns = {
            member_id: 'VARCHAR', gender: 'VARCHAR', birthday: 'VARCHAR', registered_at: 'VARCHAR',
            registration_channel: 'VARCHAR', paid_level: 'VARCHAR', consent_sms: 'VARCHAR',
            consent_push: 'VARCHAR', consent_phone: 'VARCHAR', updated_at: 'VARCHAR'
        })
)

SELECT
    source_file,
    landing_date,
    member_id,
    ts(registered_at) AS registered_at,
    ts(updated_at) AS updated_at,
    whole(paid_level) AS paid_level,
    member_id IS NULL OR ts(registered_at) IS NULL OR ts(updated_at) IS NULL
    OR unparsed(gender, code('members.gender', gender))
    OR unparsed(birthday, day(birthday)) OR implausible_day(day(birthday), landing_date)
    OR implausible(ts(registered_at), landing_date) OR implausible(ts(updated_at), landing_date)
    OR unparsed(registration_channel, code('members.registration_channel', registration_channel))
    OR unparsed(paid_level, whole(paid_level))
    OR NOT coalesce(whole(paid_level) BETWEEN 0 AND {max_paid_level}, TRUE)
    OR unparsed(consent_sms, bool(consent_sms))
    OR unparsed(consent_push, bool(consent_push))
    OR unparsed(consent_phone, bool(consent_phone)) AS rejected
FROM (
    SELECT source_file, landing_date, txt(COLUMNS(delivered.* EXCLUDE (filename)))
    FROM delivered
    INNER JOIN landed_files USING (filename)
    WHERE landing_date <= DATE '{as_of}'
);

CREATE TEMP TABLE members AS
SELECT
    member_id,
    bool_or(greatest(landing_date, updated_at::DATE, registered_at::DATE) <= DATE '{as_of}') AS is_known,
    arg_max(coalesce(paid_level, 0), (updated_at, landing_date, source_file)) FILTER (
        WHERE greatest(landing_date, updated_at::DATE, registered_at::DATE) <= DATE '{as_of}'
    ) AS paid_level
FROM member_rows
WHERE NOT rejected
GROUP BY member_id;

-- Orders: each order's latest version known at the end of the as-of day (a refund or cancellation is
-- the same order_id delivered again). A delivery without updated_at counts as recorded on its
-- landing day, or at order_time if later.
CREATE TEMP TABLE order_rows AS
WITH delivered AS (
    SELECT
        filename,
        coalesce(*COLUMNS(c -> header_is(c, ['order_id', '订单号', '订单编号']))) AS order_id,
        coalesce(*COLUMNS(c -> header_is(c, ['member_id', '会员号', '会员编号']))) AS member_id,
        coalesce(*COLUMNS(c -> header_is(c, ['order_time', '下单时间', '交易时间']))) AS order_time,
        coalesce(*COLUMNS(c -> header_is(c, ['channel', '渠道', '销售渠道']))) AS channel,
        coalesce(*COLUMNS(c -> header_is(c, ['gross_amount', '订单金额', '应付金额']))) AS gross_amount,
        coalesce(*COLUMNS(c -> header_is(c, ['discount_amount', '优惠金额']))) AS discount_amount,
        coalesce(*COLUMNS(c -> header_is(c, ['status', '订单状态', '状态']))) AS status,
        coalesce(*COLUMNS(c -> header_is(c, ['refund_amount', '退款金额']))) AS refund_amount,
        coalesce(*COLUMNS(c -> header_is(c, ['updated_at', '更新时间']))) AS updated_at
    FROM csv_files('{files}/orders/**/*.csv')
    UNION ALL BY NAME
    SELECT *
    FROM read_json('{files}/orders/**/*.jsonl', format = 'newline_delimited', ignore_errors = true,
        filename = true, columns = {
            order_id: 'VARCHAR', member_id: 'VARCHAR', order_time: 'VARCHAR', channel: 'VARCHAR',
            gross_amount: 'VARCHAR', discount_amount: 'VARCHAR', status: 'VARCHAR',
            refund_amount: 'VARCHAR', updated_at: 'VARCHAR'
        })
)

SELECT
    source_file,
    landing_date,
    order_id,
    member_id,
    ts(order_time) AS ordered_at,
    amount(gross_amount) AS gross_amount,
    amount(discount_amount) AS discount_amount,
    code('orders.status', status) AS status,
    amount(refund_amount) AS refund_amount,
    ts(updated_at) AS updated_at,
    order_id IS NULL OR member_id IS NULL OR ts(order_time) IS NULL OR code('orders.channel', channel) IS NULL
    OR amount(gross_amount) IS NULL OR code('orders.status', status) IS NULL
    OR unparsed(discount_amount, amount(discount_amount))
    OR unparsed(refund_amount, amount(refund_amount))
    OR unparsed(updated_at, ts(updated_at))
    OR implausible(ts(order_time), landing_date) OR implausible(ts(updated_at), landing_date)
    OR least(amount(gross_amount), amount(discount_amount), amount(refund_amount)) < 0
    OR greatest(amount(gross_amount), amount(discount_amount), amount(refund_amount)) > {max_order_amount}
    OR coalesce(amount(discount_amount), 0) > amount(gross_amount)
    OR coalesce(amount(refund_amount), 0) > amount(gross_amount) - coalesce(amount(discount_amount), 0)
        AS rejected
FROM (
    SELECT source_file, landing_date, txt(COLUMNS(delivered.* EXCLUDE (filename)))
    FROM delivered
    INNER JOIN landed_files USING (filename)
    WHERE landing_date <= DATE '{as_of}'
);

CREATE TEMP TABLE orders AS
WITH versions AS (
    SELECT
        order_id,
        member_id,
        ordered_at,
        status,
        gross_amount - coalesce(discount_amount, 0) AS net_amount,
        coalesce(refund_amount, 0) AS refund_amount,
        coalesce(updated_at, greatest(ordered_at, landing_date::TIMESTAMP)) AS status_at,
        landing_date,
        source_file
    FROM order_rows
    WHERE NOT rejected AND member_id IN (SELECT member_id FROM members)
)

SELECT
    order_id,
    member_id,
    ordered_at,
    -- A purchase: not cancelled, not refunded in full (a zero-amount order is one, as in lifetimes);
    -- its spend is net of refunds, never negative.
    status NOT IN ('refunded', 'cancelled') AND (net_amount = 0 OR refund_amount < net_amount) AS is_purchase,
    CASE WHEN status IN ('refunded', 'cancelled') THEN 0 ELSE greatest(net_amount - refund_amount, 0) END AS net_spend
FROM versions
WHERE greatest(landing_date, status_at::DATE, ordered_at::DATE) <= DATE '{as_of}'
QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY status_at DESC, landing_date DESC, source_file DESC) = 1;

-- A purchase day: a calendar day with at least one purchase (lifetimes' daily periods).
CREATE TEMP TABLE purchase_days AS
SELECT member_id, ordered_at::DATE AS purchase_date, sum(net_spend) AS spend
FROM orders
WHERE is_purchase
GROUP BY ALL;

-- Logins: only the last login known by the end of the as-of day matters (flag no_login), so the
-- events are cut down to logins before anything else is parsed.
CREATE TEMP TABLE login_rows AS
WITH delivered AS (
    SELECT
        filename,
        coalesce(*COLUMNS(c -> header_is(c, ['event_id', '事件id', '事件编号']))) AS event_id,
        coalesce(*COLUMNS(c -> header_is(c, ['member_id', '会员号', '会员编号']))) AS member_id,
        coalesce(*COLUMNS(c -> header_is(c, ['event_time', '事件时间', '时间']))) AS event_time,
        coalesce(*COLUMNS(c -> header_is(c, ['event_type', '事件类型']))) AS event_type,
        coalesce(*COLUMNS(c -> header_is(c, ['platform', '平台']))) AS platform,
        coalesce(*COLUMNS(c -> header_is(c, ['dwell_seconds', '停留时长']))) AS dwell_seconds
    FROM csv_files('{files}/events/**/*.csv')
    UNION ALL BY NAME
    SELECT *
    FROM read_json('{files}/events/**/*.jsonl', format = 'newline_delimited', ignore_errors = true,
        filename = true, columns = {
            event_id: 'VARCHAR', member_id: 'VARCHAR', event_time: 'VARCHAR', event_type: 'VARCHAR',
            platform: 'VARCHAR', dwell_seconds: 'VARCHAR'
        })
)

SELECT
    landing_date,
    member_id,
    ts(event_time) AS event_time,
    event_id IS NULL OR member_id IS NULL OR ts(event_time) IS NULL OR implausible(ts(event_time), landing_date)
    OR unparsed(platform, code('events.platform', platform))
    OR unparsed(dwell_seconds, whole(dwell_seconds))
    OR NOT coalesce(whole(dwell_seconds) BETWEEN 0 AND {max_dwell_seconds}, TRUE) AS rejected
FROM (
    SELECT landing_date, txt(COLUMNS(delivered.* EXCLUDE (filename)))
    FROM delivered
    INNER JOIN landed_files USING (filename)
    WHERE regexp_full_match(delivered.event_type, getvariable('login_pattern')) AND landing_date <= DATE '{as_of}'
);

CREATE TEMP TABLE last_logins AS
SELECT member_id, max(event_time) AS last_login_at
FROM login_rows
WHERE
    NOT rejected AND member_id IN (SELECT member_id FROM members)
    AND greatest(landing_date, event_time::DATE) <= DATE '{as_of}'
GROUP BY member_id;

-- Tickets: each ticket's latest version known at the end of the as-of day, as one whole row (a
-- reopened ticket has no closed_at; an escalated consultation is a complaint).
CREATE TEMP TABLE ticket_rows AS
WITH delivered AS (
    SELECT
        filename,
        coalesce(*COLUMNS(c -> header_is(c, ['ticket_id', '工单号', '工单编号']))) AS ticket_id,
        coalesce(*COLUMNS(c -> header_is(c, ['member_id', '会员号', '会员编号']))) AS member_id,
        coalesce(*COLUMNS(c -> header_is(c, ['opened_at', '创建时间', '开始时间']))) AS opened_at,
        coalesce(*COLUMNS(c -> header_is(c, ['closed_at', '关闭时间', '解决时间']))) AS closed_at,
        coalesce(*COLUMNS(c -> header_is(c, ['ticket_type', '工单类型', '类型']))) AS ticket_type,
        coalesce(*COLUMNS(c -> header_is(c, ['status', '状态', '工单状态']))) AS status,
        coalesce(*COLUMNS(c -> header_is(c, ['content', '内容', '描述']))) AS content,
        coalesce(*COLUMNS(c -> header_is(c, ['satisfaction', '满意度']))) AS satisfaction,
        coalesce(*COLUMNS(c -> header_is(c, ['updated_at', '更新时间']))) AS updated_at
    FROM csv_files('{files}/tickets/**/*.csv')
    UNION ALL BY NAME
    SELECT *
    FROM read_json('{files}/tickets/**/*.jsonl', format = 'newline_delimited', ignore_errors = true,
        filename = true, columns = {
            ticket_id: 'VARCHAR', member_id: 'VARCHAR', opened_at: 'VARCHAR', closed_at: 'VARCHAR',
            ticket_type: 'VARCHAR', status: 'VARCHAR', content: 'VARCHAR', satisfaction: 'VARCHAR',
            updated_at: 'VARCHAR'
        })
)

SELECT
    source_file,
    landing_date,
    ticket_id,
    member_id,
    ts(opened_at) AS opened_at,
    code('tickets.ticket_type', ticket_type) AS ticket_type,
    code('tickets.status', status) AS status,
    content,
    ts(updated_at) AS updated_at,
    ticket_id IS NULL OR member_id IS NULL OR ts(opened_at) IS NULL
    OR code('tickets.ticket_type', ticket_type) IS NULL OR code('tickets.status', status) IS NULL
    OR unparsed(closed_at, ts(closed_at))
    OR unparsed(satisfaction, whole(satisfaction))
    OR NOT coalesce(whole(satisfaction) BETWEEN 1 AND 5, TRUE)  -- the contract's range
    OR unparsed(updated_at, ts(updated_at))
    OR implausible(ts(opened_at), landing_date) OR implausible(ts(closed_at), landing_date)
    OR implausible(ts(updated_at), landing_date)
    OR coalesce(ts(closed_at) < ts(opened_at), FALSE) AS rejected
FROM (
    SELECT source_file, landing_date, txt(COLUMNS(delivered.* EXCLUDE (filename)))
    FROM delivered
    INNER JOIN landed_files USING (filename)
    WHERE landing_date <= DATE '{as_of}'
);

CREATE TEMP TABLE tickets AS
WITH versions AS (
    SELECT
        ticket_id,
        member_id,
        opened_at,
        ticket_type,
        status,
        content,
        coalesce(updated_at, greatest(opened_at, landing_date::TIMESTAMP)) AS status_at,
        landing_date,
        source_file
    FROM ticket_rows
    WHERE NOT rejected AND member_id IN (SELECT member_id FROM members)
)

SELECT * EXCLUDE (status_at, landing_date, source_file)
FROM versions
WHERE greatest(landing_date, status_at::DATE, opened_at::DATE) <= DATE '{as_of}'
QUALIFY row_number() OVER (PARTITION BY ticket_id ORDER BY status_at DESC, landing_date DESC, source_file DESC) = 1;

-- ------------------------------------------------------------------------------------------------
-- Rules kept as data: RFM score cut-offs, tiers.
-- ------------------------------------------------------------------------------------------------
CREATE TEMP TABLE score_bins AS
SELECT dimension, score, min_value, max_value
FROM read_csv('{seeds}/rfm_score_bins.csv', types = {'min_value': 'DECIMAL(18, 2)', 'max_value': 'DECIMAL(18, 2)'});

CREATE TEMP TABLE tiers AS
SELECT tier, tier_name_zh, tier_rank, min_trailing_spend, min_paid_level
FROM read_csv('{seeds}/tiers.csv');

-- Churn intent of each distinct ticket text: floor.py scores the texts of `tickets` with the pipeline's
-- detector (retention/churn_intent) into the temp table churn_intents (content_hash, category) right
-- after `tickets` is built; the detector is Python, not SQL, in the floor as in the pipeline.

-- ------------------------------------------------------------------------------------------------
-- The results: one row per member known at the end of the as-of day. RFM and BTYD columns are NULL
-- for members without a purchase day.
-- ------------------------------------------------------------------------------------------------
CREATE OR REPLACE TABLE floor_member_results AS
WITH buyers AS (
    SELECT
        member_id,
        min(purchase_date) AS first_purchase_date,
        max(purchase_date) AS last_purchase_date,
        count(*) AS purchase_days,
        -- BTYD monetary value is the mean spend of the repeat days: all days but the first.
        sum(spend) - arg_min(spend, purchase_date) AS repeat_spend,
        count(*) FILTER (WHERE purchase_date > DATE '{as_of}' - {rfm_window_days}) AS frequency,
        coalesce(sum(spend) FILTER (WHERE purchase_date > DATE '{as_of}' - {rfm_window_days}), 0) AS monetary,
        coalesce(sum(spend) FILTER (WHERE purchase_date > DATE '{as_of}' - {tier_window_days}), 0) AS tier_spend,
        count(*) FILTER (
            WHERE purchase_date > DATE '{as_of}' - {risk_frequency_window_days}
        ) AS purchase_days_recent,
        count(*) FILTER (
            WHERE purchase_date > DATE '{as_of}' - 2 * {risk_frequency_window_days}
            AND purchase_date <= DATE '{as_of}' - {risk_frequency_window_days}
        ) AS purchase_days_previous
    FROM purchase_days
    GROUP BY member_id
),

measured AS (
    SELECT
        members.member_id,
        members.paid_level,
        buyers.* EXCLUDE (member_id),
        date_diff('day', buyers.last_purchase_date, DATE '{as_of}') AS recency_days,
        last_logins.last_login_at
    FROM members
    LEFT JOIN buyers USING (member_id)
    LEFT JOIN last_logins USING (member_id)
    WHERE members.is_known
),

-- A ticket opened within the text window whose current text names a competitor or "no longer needed".
churn_text AS (
    SELECT DISTINCT tickets.member_id
    FROM tickets
    INNER JOIN churn_intents ON churn_intents.content_hash = md5(tickets.content)
    WHERE date_diff('day', tickets.opened_at::DATE, DATE '{as_of}') < {risk_text_window_days}
),

-- A complaint still not resolved or closed, open longer than allowed at the end of the as-of day.
open_complaints AS (
    SELECT DISTINCT member_id
    FROM tickets
    WHERE
        ticket_type = 'complaint' AND status NOT IN ('resolved', 'closed')
        AND date_diff('hour', opened_at, DATE '{as_of}' + INTERVAL 1 DAY) > {risk_complaint_open_hours}
),

flagged AS (
    SELECT
        measured.*,
        -- Too few purchase days before (a drop from 1 to 0 is noise) or no purchase at all: no flag.
        coalesce(
            purchase_days_previous >= {risk_frequency_min_previous_orders}
            AND purchase_days_recent <= (1 - {risk_frequency_drop_share}) * purchase_days_previous,
            FALSE
        ) AS flag_frequency_drop,
        -- Members who never logged in are not flagged.
        coalesce(date_diff('day', last_login_at::DATE, DATE '{as_of}') >= {risk_no_login_days}, FALSE) AS flag_no_login,
        member_id IN (SELECT member_id FROM churn_text) AS flag_churn_text,
        -- Days since the last purchase above the multiple of the mean gap between purchase days.
        coalesce(
            purchase_days >= 2
            AND recency_days > {risk_overdue_interval_multiple}
            * date_diff('day', first_purchase_date, last_purchase_date) / (purchase_days - 1),
            FALSE
        ) AS flag_overdue,
        member_id IN (SELECT member_id FROM open_complaints) AS flag_open_complaint
    FROM measured
),

scored AS (
    SELECT
        *,
        coalesce((
            SELECT max(b.score) FROM score_bins AS b
            WHERE b.dimension = 'recency' AND (b.min_value IS NULL OR recency_days >= b.min_value)
                AND (b.max_value IS NULL OR recency_days <= b.max_value)
        ), 1) AS r_bin,
        coalesce((
            SELECT max(b.score) FROM score_bins AS b
            WHERE b.dimension = 'frequency' AND (b.min_value IS NULL OR frequency >= b.min_value)
                AND (b.max_value IS NULL OR frequency <= b.max_value)
        ), 1) AS f_bin,
        coalesce((
            SELECT max(b.score) FROM score_bins AS b
            WHERE b.dimension = 'monetary' AND (b.min_value IS NULL OR monetary >= b.min_value)
                AND (b.max_value IS NULL OR monetary <= b.max_value)
        ), 1) AS m_bin,
        -- The highest tier whose trailing net spend or paid level the member reaches.
        (
            SELECT arg_max(t.tier, t.tier_rank) FROM tiers AS t
            WHERE coalesce(tier_spend, 0) >= t.min_trailing_spend OR paid_level >= t.min_paid_level
        ) AS tier,
        flag_frequency_drop::INT + flag_no_login::INT + flag_churn_text::INT + flag_overdue::INT
        + flag_open_complaint::INT AS flag_count
    FROM flagged
)

SELECT
    scored.member_id,
    DATE '{as_of}' AS as_of_date,
    -- RFM (member_rfm)
    recency_days,
    frequency,
    monetary,
    CASE WHEN purchase_days > 0 THEN r_bin END::INT AS r_score,
    CASE WHEN purchase_days > 0 THEN (CASE WHEN frequency = 0 THEN 1 ELSE f_bin END) END::INT AS f_score,
    CASE WHEN purchase_days > 0 THEN (CASE WHEN frequency = 0 THEN 1 ELSE m_bin END) END::INT AS m_score,
    -- BTYD summary in the lifetimes convention (member_btyd_summary)
    purchase_days - 1 AS btyd_frequency,
    date_diff('day', first_purchase_date, last_purchase_date) AS btyd_recency,
    date_diff('day', first_purchase_date, DATE '{as_of}') AS btyd_t,
    CASE WHEN purchase_days > 1 THEN repeat_spend / (purchase_days - 1) WHEN purchase_days = 1 THEN 0 END
        AS btyd_monetary_value,
    -- Tier (dim_members / member_tier_history)
    scored.tier,
    tiers.tier_name_zh,
    coalesce(tier_spend, 0) AS trailing_spend,
    paid_level,
    -- Churn risk (member_churn_risk)
    flag_frequency_drop,
    flag_no_login,
    flag_churn_text,
    flag_overdue,
    flag_open_complaint,
    flag_count,
    CASE
        WHEN flag_count >= {risk_high_min_flags} THEN 'high'
        WHEN flag_count >= 1 THEN 'medium'
        ELSE 'low'
    END AS risk_level
FROM scored
LEFT JOIN tiers USING (tier)
ORDER BY scored.member_id;

{{ config(materialized='incremental', unique_key=['as_of_date', 'member_key'], incremental_strategy='delete+insert', on_schema_change='append_new_columns') }}
-- Churn-risk flags (流失风险筛选) per member and as-of day, each with its evidence. Each run adds
-- (or replaces) the rows of its as-of day, so the table is the risk history: who was high-risk on
-- any past day. Any past day can be computed on demand with --vars '{as_of_date: YYYY-MM-DD}'.
{% set as_of = as_of_date() %}
{% set as_of_end = as_of ~ " + interval 1 day" %}
with activity as (
    select * from {{ ref('int_member_activity') }}
),

intervals as (
    select member_id, avg(gap_days) as mean_interval_days
    from (
        select
            member_id,
            date_diff('day', lag(purchase_date) over (partition by member_id order by purchase_date), purchase_date) as gap_days
        from {{ ref('int_member_purchase_days') }}
    )
    where gap_days is not null
    group by member_id
),

churn_text as (
    select t.member_id, t.ticket_id, k.keyword, k.category
    from {{ ref('int_tickets__as_of') }} as t
    inner join {{ ref('int_ticket_churn_keywords') }} as k using (ticket_id)
    where date_diff('day', cast(t.opened_at as date), {{ as_of }}) < {{ var('risk_text_window_days') }}
    qualify row_number() over (partition by t.member_id order by t.opened_at desc, t.ticket_id) = 1
),

open_complaints as (
    select member_id, ticket_id, date_diff('hour', opened_at, {{ as_of_end }}) as open_hours
    from {{ ref('int_tickets__as_of') }}
    where ticket_type = 'complaint'
      and status not in ('resolved', 'closed')
      and date_diff('hour', opened_at, {{ as_of_end }}) > {{ var('risk_complaint_open_hours') }}
    qualify row_number() over (partition by member_id order by opened_at, ticket_id) = 1
),

flagged as (
    select
        a.member_key,
        a.orders_recent as orders_last_window,
        a.orders_before as orders_previous_window,
        a.orders_before >= {{ var('risk_frequency_min_previous_orders') }}
            and a.orders_recent <= (1 - {{ var('risk_frequency_drop_share') }}) * a.orders_before as flag_frequency_drop,
        a.last_login_at,
        a.last_login_at is not null
            and date_diff('day', cast(a.last_login_at as date), {{ as_of }}) >= {{ var('risk_no_login_days') }} as flag_no_login,
        churn_text.ticket_id as churn_text_ticket_id,
        churn_text.keyword as churn_text_keyword,
        churn_text.category as churn_text_category,
        churn_text.ticket_id is not null as flag_churn_text,
        intervals.mean_interval_days,
        date_diff('day', a.last_purchase_date, {{ as_of }}) as days_since_last_purchase,
        intervals.mean_interval_days is not null
            and date_diff('day', a.last_purchase_date, {{ as_of }})
                > {{ var('risk_overdue_interval_multiple') }} * intervals.mean_interval_days as flag_overdue,
        open_complaints.ticket_id as open_complaint_ticket_id,
        open_complaints.open_hours as open_complaint_hours,
        open_complaints.ticket_id is not null as flag_open_complaint
    from activity as a
    left join intervals using (member_id)
    left join churn_text using (member_id)
    left join open_complaints using (member_id)
),

counted as (
    select
        *,
        flag_frequency_drop::int + flag_no_login::int + flag_churn_text::int + flag_overdue::int
            + flag_open_complaint::int as flag_count,
        list_filter([
            case when flag_frequency_drop then 'frequency_drop' end,
            case when flag_no_login then 'no_login' end,
            case when flag_churn_text then churn_text_category end,
            case when flag_overdue then 'overdue' end,
            case when flag_open_complaint then 'open_complaint' end
        ], reason -> reason is not null) as reasons
    from flagged
)

select
    {{ as_of }} as as_of_date,
    *,
    case
        when flag_count >= {{ var('risk_high_min_flags') }} then 'high'
        when flag_count >= 1 then 'medium'
        else 'low'
    end as risk_level
from counted

{{ config(
    materialized='incremental',
    unique_key='as_of_date',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
) }}
-- Churn-risk flags (流失风险筛选) per member and as-of day, each with its evidence. A run computes
-- every day of int_as_of_dates (a range run: each day of its range) and replaces those whole days,
-- so the table is the risk history: who was high-risk on any past day, as known on that day.
with days as (
    select as_of_date from {{ ref('int_as_of_dates') }}
),

members as (
    select state.*
    from {{ ref('int_member_state_daily') }} as state
    inner join days using (as_of_date)
),

-- The latest ticket in the window whose text (as known that day) carries churn intent: a later ticket
-- without intent does not hide it.
churn_text as (
    select
        d.as_of_date,
        t.member_id,
        t.ticket_id,
        i.evidence,
        i.category
    from days as d
    inner join {{ ref('int_ticket_states') }} as t
        on {{ known_on('t', 'd.as_of_date') }}
            and date_diff('day', cast(t.opened_at as date), d.as_of_date) < {{ var('risk_text_window_days') }}
    inner join {{ ref('int_ticket_churn_intent') }} as i using (ticket_id, known_from)
    qualify row_number() over (partition by d.as_of_date, t.member_id order by t.opened_at desc, t.ticket_id asc) = 1
),

open_complaints as (
    select
        d.as_of_date,
        t.member_id,
        t.ticket_id,
        date_diff('hour', t.opened_at, d.as_of_date + interval 1 day) as open_hours
    from days as d
    inner join {{ ref('int_ticket_states') }} as t
        on {{ known_on('t', 'd.as_of_date') }}
            and t.ticket_type = 'complaint'
            and t.status not in ('resolved', 'closed')
            and date_diff('hour', t.opened_at, d.as_of_date + interval 1 day) > {{ var('risk_complaint_open_hours') }}
    qualify row_number() over (partition by d.as_of_date, t.member_id order by t.opened_at, t.ticket_id) = 1
),

flagged as (
    select
        m.as_of_date,
        m.member_key,
        m.purchase_days_risk_recent as purchase_days_last_window,
        m.purchase_days_risk_previous as purchase_days_previous_window,
        m.purchase_days_risk_previous >= {{ var('risk_frequency_min_previous_orders') }}
        and m.purchase_days_risk_recent
        <= (1 - {{ var('risk_frequency_drop_share') }}) * m.purchase_days_risk_previous as flag_frequency_drop,
        m.last_login_at,
        m.last_login_at is not null
        and date_diff('day', cast(m.last_login_at as date), m.as_of_date) >= {{ var('risk_no_login_days') }}
            as flag_no_login,
        churn_text.ticket_id as churn_text_ticket_id,
        churn_text.evidence as churn_text_evidence,
        churn_text.category as churn_text_category,
        churn_text.ticket_id is not null as flag_churn_text,
        m.mean_purchase_interval_days as mean_interval_days,
        date_diff('day', m.last_purchase_date, m.as_of_date) as days_since_last_purchase,
        m.mean_purchase_interval_days is not null
        and date_diff('day', m.last_purchase_date, m.as_of_date)
        > {{ var('risk_overdue_interval_multiple') }} * m.mean_purchase_interval_days as flag_overdue,
        open_complaints.ticket_id as open_complaint_ticket_id,
        open_complaints.open_hours as open_complaint_hours,
        open_complaints.ticket_id is not null as flag_open_complaint,
        -- The member's standing on the day, so a campaign can select and rank the list as of any wave date.
        m.tier,
        m.is_high_value,
        m.spend_tier_window as spend_12m,
        m.value_segment,
        m.lifecycle_stage,
        m.last_interaction_date,
        m.days_inactive
    from members as m
    left join churn_text using (as_of_date, member_id)
    left join open_complaints using (as_of_date, member_id)
),

counted as (
    select
        *,
        cast(flag_frequency_drop as int) + cast(flag_no_login as int) + cast(flag_churn_text as int) + cast(flag_overdue as int)
        + cast(flag_open_complaint as int) as flag_count,
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
    *,
    case
        when flag_count >= {{ var('risk_high_min_flags') }} then 'high'
        when flag_count >= 1 then 'medium'
        else 'low'
    end as risk_level
from counted

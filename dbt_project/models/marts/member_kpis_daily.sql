{{ config(
    materialized='incremental',
    unique_key='as_of_date',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
) }}
-- Membership KPIs of the plans, one row per as-of day of int_as_of_dates (each run replaces its
-- days). Each rate is stored with its numerator and denominator; a period rate compares a member's
-- state at the start of the period (as known then) with what is known at its end, the as-of day.
{% set wake = var('kpi_wake_up_days') %}
{% set repurchase = var('kpi_repurchase_period_days') %}
{% set churn = var('kpi_churn_period_days') %}
with days as (
    select as_of_date from {{ ref('int_as_of_dates') }}
),

states as (
    select * from {{ ref('int_member_state_daily') }}
),

at_end as (
    select states.* from states inner join days using (as_of_date)
),

-- Each member known at the end of a day, beside its state at the start of each KPI period.
periods as (
    select
        e.as_of_date,
        e.member_id,
        e.tier_rank,
        e.lifecycle_stage,
        e.last_interaction_date,
        e.purchase_days_repurchase_period,
        wake_start.value_segment as segment_at_wake_up_start,
        wake_start.tier_rank as tier_rank_at_wake_up_start,
        repurchase_start.value_segment as segment_at_repurchase_start,
        churn_start.lifecycle_stage as lifecycle_at_churn_start
    from at_end as e
    left join states as wake_start
        on e.member_id = wake_start.member_id and wake_start.as_of_date = e.as_of_date - {{ wake }}
    left join states as repurchase_start
        on e.member_id = repurchase_start.member_id and repurchase_start.as_of_date = e.as_of_date - {{ repurchase }}
    left join states as churn_start
        on e.member_id = churn_start.member_id and churn_start.as_of_date = e.as_of_date - {{ churn }}
),

period_counts as (
    select
        as_of_date,
        count(*) filter (where segment_at_repurchase_start = 'core') as core_members_at_period_start,
        count(*) filter (
            where segment_at_repurchase_start = 'core' and purchase_days_repurchase_period >= 1
        ) as core_members_repurchased,
        count(*) filter (where segment_at_wake_up_start = 'dormant') as dormant_members_at_period_start,
        count(*) filter (
            where segment_at_wake_up_start = 'dormant' and last_interaction_date > as_of_date - {{ wake }}
        ) as dormant_members_woken,
        count(*) filter (where lifecycle_at_churn_start in ('new', 'active')) as active_members_at_period_start,
        count(*) filter (
            where lifecycle_at_churn_start in ('new', 'active') and lifecycle_stage = 'churned'
        ) as active_members_churned,
        count(*) filter (where tier_rank > tier_rank_at_wake_up_start) as tier_upgrades,
        count(*) filter (where tier_rank < tier_rank_at_wake_up_start) as tier_downgrades
    from periods
    group by as_of_date
),

spend_ranked as (
    select
        as_of_date,
        spend_tier_window,
        row_number() over (partition by as_of_date order by spend_tier_window desc, member_key asc) as spend_rank,
        count(*) over (partition by as_of_date) as members
    from at_end
),

top_share as (
    select
        as_of_date,
        sum(spend_tier_window) filter (where spend_rank <= ceil({{ var('kpi_top_member_share') }} * members))
        / nullif(sum(spend_tier_window), 0) as top_member_revenue_share
    from spend_ranked
    group by as_of_date
),

risk as (
    select
        as_of_date,
        count(*) filter (where risk_level = 'high') as high_risk_members
    from {{ ref('member_churn_risk') }}
    where as_of_date in (select as_of_date from days)
    group by as_of_date
),

point_counts as (
    select
        as_of_date,
        count(*) as members,
        count(*) filter (where tier = 'basic') as members_basic,
        count(*) filter (where tier = 'advanced') as members_advanced,
        count(*) filter (where tier = 'premium') as members_premium,
        count(*) filter (where value_segment = 'core') as members_core,
        count(*) filter (where value_segment = 'active') as members_active_segment,
        count(*) filter (where value_segment = 'dormant') as members_dormant_segment,
        count(*) filter (where value_segment = 'other') as members_other_segment,
        count(*) filter (where lifecycle_stage = 'new') as lifecycle_new,
        count(*) filter (where lifecycle_stage = 'active') as lifecycle_active,
        count(*) filter (where lifecycle_stage = 'dormant') as lifecycle_dormant,
        count(*) filter (where lifecycle_stage = 'churned') as lifecycle_churned,
        count(*) filter (where is_high_value) as members_high_value,
        count(*) filter (where lifecycle_stage in ('new', 'active')) as active_members,
        count(*) filter (where purchase_days_tier_window >= 1) as buyers_12m,
        count(*) filter (where purchase_days_tier_window >= 2) as repeat_buyers_12m,
        sum(spend_tier_window) as revenue_12m
    from at_end
    group by as_of_date
)

select
    p.as_of_date,
    p.members,
    p.members_basic,
    p.members_advanced,
    p.members_premium,
    p.members_core,
    p.members_active_segment,
    p.members_dormant_segment,
    p.members_other_segment,
    p.lifecycle_new,
    p.lifecycle_active,
    p.lifecycle_dormant,
    p.lifecycle_churned,
    p.members_high_value,
    p.active_members,
    p.active_members / nullif(p.members, 0) as active_rate,
    p.buyers_12m,
    p.repeat_buyers_12m,
    p.repeat_buyers_12m / nullif(p.buyers_12m, 0) as repurchase_rate,
    c.core_members_at_period_start,
    c.core_members_repurchased,
    c.core_members_repurchased / nullif(c.core_members_at_period_start, 0) as core_repurchase_rate,
    c.dormant_members_at_period_start,
    c.dormant_members_woken,
    c.dormant_members_woken / nullif(c.dormant_members_at_period_start, 0) as dormant_wake_up_rate,
    c.active_members_at_period_start,
    c.active_members_churned,
    c.active_members_churned / nullif(c.active_members_at_period_start, 0) as churn_rate,
    p.revenue_12m,
    t.top_member_revenue_share,
    c.tier_upgrades,
    c.tier_downgrades,
    coalesce(r.high_risk_members, 0) as high_risk_members
from point_counts as p
left join period_counts as c using (as_of_date)
left join top_share as t using (as_of_date)
left join risk as r using (as_of_date)

{{ config(materialized='incremental', unique_key=['as_of_date'], incremental_strategy='delete+insert', on_schema_change='append_new_columns') }}
-- Membership KPIs of the plans, one row per as-of day (each run adds or replaces its day).
{% set as_of = as_of_date() %}
{% set wake = var('kpi_wake_up_days') %}
with members as (
    select * from {{ ref('dim_members') }}
),

interaction_days as (
    select member_id, purchase_date as interaction_date from {{ ref('int_member_purchase_days') }}
    union
    select member_id, cast(occurred_at as date) from {{ ref('int_member_events__as_of') }}
),

-- Dormant wake-up: dormant at the start of the look-back (no interaction in the dormant window
-- before it), and interacting again within it.
wake_up as (
    select
        member_id,
        max(interaction_date) filter (where interaction_date <= {{ as_of }} - {{ wake }}) as last_before,
        bool_or(interaction_date > {{ as_of }} - {{ wake }}) as came_back
    from interaction_days
    group by member_id
),

was_dormant as (
    select m.member_id, coalesce(w.came_back, false) as came_back
    from {{ ref('int_members__as_of') }} as m
    left join wake_up as w using (member_id)
    where cast(m.registered_at as date) <= {{ as_of }} - {{ wake }} - {{ var('segment_dormant_days') }}
      and (w.last_before is null or w.last_before <= {{ as_of }} - {{ wake }} - {{ var('segment_dormant_days') }})
),

spend_ranked as (
    select
        spend_12m,
        row_number() over (order by spend_12m desc, member_key) as spend_rank,
        count(*) over () as members
    from members
),

tier_changes as (
    select
        count(*) filter (where change_type = 'upgrade') as tier_upgrades,
        count(*) filter (where change_type = 'downgrade') as tier_downgrades
    from {{ ref('member_tier_history') }}
    where valid_from > {{ as_of }} - {{ wake }}
),

risk as (
    select count(*) filter (where risk_level = 'high') as high_risk_members
    from {{ ref('member_churn_risk') }}
    where as_of_date = {{ as_of }}
)

select
    {{ as_of }} as as_of_date,
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
    count(*) filter (where lifecycle_stage in ('new', 'active')) / nullif(count(*), 0) as active_rate,
    count(*) filter (where orders_12m >= 2) / nullif(count(*) filter (where orders_12m >= 1), 0) as repurchase_rate,
    count(*) filter (where value_segment = 'core' and orders_12m >= 2)
        / nullif(count(*) filter (where value_segment = 'core'), 0) as core_repurchase_rate,
    count(*) filter (where lifecycle_stage = 'churned') / nullif(count(*), 0) as churn_rate,
    (select count(*) filter (where came_back) / nullif(count(*), 0) from was_dormant) as dormant_wake_up_rate,
    sum(spend_12m) as revenue_12m,
    (select sum(spend_12m) filter (where spend_rank <= ceil({{ var('kpi_top_member_share') }} * members)) / nullif(sum(spend_12m), 0)
        from spend_ranked) as top_member_revenue_share,
    (select tier_upgrades from tier_changes) as tier_upgrades,
    (select tier_downgrades from tier_changes) as tier_downgrades,
    (select high_risk_members from risk) as high_risk_members
from members

-- One row per member known at the end of the as-of day: registration facts, consent, tier, value
-- segment (分层), lifecycle stage and high-value flag. No name, mobile, e-mail or birthday.
{% set as_of = as_of_date() %}
with activity as (
    select * from {{ ref('int_member_activity') }}
),

current_tier as (
    select member_key, tier, tier_name_zh, valid_from as tier_since
    from {{ ref('member_tier_history') }}
    where is_current
),

classified as (
    select
        activity.*,
        date_diff('day', activity.last_interaction_date, {{ as_of }}) as days_since_interaction,
        case
            when activity.last_interaction_date is null
                or date_diff('day', activity.last_interaction_date, {{ as_of }}) >= {{ var('segment_dormant_days') }}
                then 'dormant'
            when activity.spend_12m >= {{ var('segment_core_min_spend') }}
                and activity.interactions_per_month >= {{ var('segment_core_min_interactions_per_month') }}
                then 'core'
            when activity.spend_12m >= {{ var('segment_active_min_spend') }}
                and activity.spend_12m < {{ var('segment_core_min_spend') }}
                and activity.interactions_per_month >= {{ var('segment_active_min_interactions_per_month') }}
                then 'active'
            else 'other'
        end as value_segment,
        case
            when date_diff('day', cast(activity.registered_at as date), {{ as_of }}) < {{ var('lifecycle_new_days') }} then 'new'
            when activity.last_interaction_date is not null
                and date_diff('day', activity.last_interaction_date, {{ as_of }}) < {{ var('lifecycle_dormant_days') }}
                then 'active'
            when activity.last_interaction_date is not null
                and date_diff('day', activity.last_interaction_date, {{ as_of }}) < {{ var('lifecycle_churned_days') }}
                then 'dormant'
            else 'churned'
        end as lifecycle_stage
    from activity
)

select
    m.member_key,
    m.gender,
    m.birth_month,
    m.registered_at,
    m.registration_channel,
    m.home_store_id,
    m.city,
    m.paid_level,
    m.consent_sms,
    m.consent_push,
    m.consent_phone,
    t.tier,
    t.tier_name_zh,
    t.tier_since,
    c.spend_12m,
    c.orders_12m,
    c.first_purchase_date,
    c.last_purchase_date,
    c.last_interaction_date,
    c.days_since_interaction,
    c.interactions_per_month,
    c.spend_12m >= {{ var('high_value_min_spend') }} as is_high_value,
    c.value_segment,
    c.lifecycle_stage,
    r.segment as rfm_segment,
    {{ as_of }} as as_of_date
from {{ ref('int_members__as_of') }} as m
inner join classified as c using (member_id)
left join current_tier as t on t.member_key = m.member_key
left join {{ ref('member_rfm') }} as r on r.member_key = m.member_key

-- One row per member known at the end of the as-of day: registration facts, consent, tier, value
-- segment (分层), lifecycle stage and high-value flag. No name, mobile, e-mail or birthday.
with current_tier as (
    select
        member_key,
        tier,
        tier_name_zh,
        valid_from as tier_since
    from {{ ref('member_tier_history') }}
    where is_current
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
    a.spend_tier_window as spend_12m,
    a.orders_tier_window as orders_12m,
    a.purchase_days_tier_window as purchase_days_12m,
    a.first_purchase_date,
    a.last_purchase_date,
    a.last_interaction_date,
    a.days_inactive,
    a.tenure_days,
    a.interactions_per_month,
    a.is_high_value,
    a.value_segment,
    a.lifecycle_stage,
    r.segment as rfm_segment,
    a.as_of_date
from {{ ref('int_members__as_of') }} as m
inner join {{ ref('int_member_activity') }} as a using (member_id)
left join current_tier as t on m.member_key = t.member_key
left join {{ ref('member_rfm') }} as r on m.member_key = r.member_key

-- Per member and evaluation day: the brief's classifications as known at the end of that day - tier
-- (seeds/tiers.csv), value segment (分层), lifecycle stage, high value - and the mean interval
-- between purchase days that the overdue flag compares with.
with measures as (
    select
        *,
        date_diff('day', cast(registered_at as date), as_of_date) + 1 as tenure_days,
        -- Days without any interaction, counted from registration for members who never interacted.
        date_diff('day', greatest(last_interaction_date, cast(registered_at as date)), as_of_date) as days_inactive
    from {{ ref('int_member_measures_daily') }}
),

tiered as (
    select
        measures.as_of_date,
        measures.member_id,
        max(tiers.tier_rank) as tier_rank
    from measures
    inner join {{ ref('tiers') }} as tiers
        on {{ reaches_tier('measures.spend_tier_window', 'measures.paid_level') }}
    group by all
),

rated as (
    select
        measures.*,
        tiered.tier_rank,
        -- Interactions per 30 days over the segment window, or over the tenure of a newer member.
        measures.interaction_days_recent * 30.0
        / least({{ var('segment_window_days') }}, measures.tenure_days) as interactions_per_month,
        -- The mean gap between consecutive purchase days is (last - first) / (days - 1).
        case
            when measures.purchase_days_all_time >= 2
                then date_diff('day', measures.first_purchase_date, measures.last_purchase_date)
                    / (measures.purchase_days_all_time - 1)
        end as mean_purchase_interval_days
    from measures
    left join tiered using (as_of_date, member_id)
)

select
    rated.*,
    tiers.tier,
    rated.spend_tier_window >= {{ var('high_value_min_spend') }} as is_high_value,
    case
        when rated.days_inactive >= {{ var('segment_dormant_days') }} then 'dormant'
        when rated.spend_tier_window >= {{ var('segment_core_min_spend') }}
            and rated.interactions_per_month >= {{ var('segment_core_min_interactions_per_month') }}
            then 'core'
        when rated.spend_tier_window >= {{ var('segment_active_min_spend') }}
            and rated.spend_tier_window < {{ var('segment_core_min_spend') }}
            and rated.interactions_per_month >= {{ var('segment_active_min_interactions_per_month') }}
            then 'active'
        else 'other'
    end as value_segment,
    case
        when rated.tenure_days <= {{ var('lifecycle_new_days') }} then 'new'
        when rated.days_inactive < {{ var('lifecycle_dormant_days') }} then 'active'
        when rated.days_inactive < {{ var('lifecycle_churned_days') }} then 'dormant'
        else 'churned'
    end as lifecycle_stage
from rated
left join {{ ref('tiers') }} as tiers on rated.tier_rank = tiers.tier_rank

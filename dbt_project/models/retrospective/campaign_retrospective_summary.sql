-- The retrospective's headline, one row per campaign: the first batch's final result, its lift over the
-- holdout with the interval, the target, and what the campaign has spent (every exported touch at its channel's
-- unit cost plus every redemption at the offer's face value).
with as_of as (
    select as_of_date from {{ ref('int_as_of_date') }}
),

overall as (
    select * from {{ ref('campaign_lift') }}
    where scope = 'first_batch' and dimension = 'overall'
),

spend as (
    select
        campaign_id,
        sum(cost) as spent
    from (
        select
            campaign_id,
            unit_cost as cost
        from {{ ref('int_campaign_touch_outcomes') }}
        union all
        select
            campaign_id,
            face_value as cost
        from {{ ref('int_campaign_redemptions') }}
    )
    group by all
),

target as (
    select target from {{ ref('retrospective_targets') }}
    where kpi = 'win_back_rate'
)

select
    c.campaign_id,
    c.campaign_name,
    a.as_of_date,
    c.measurement_end,
    a.as_of_date >= c.measurement_end as is_final,
    coalesce(o.treated_members + o.holdout_members, 0) as first_batch_members,
    coalesce(o.treated_members, 0) as treated_members,
    coalesce(o.holdout_members, 0) as holdout_members,
    coalesce(o.treated_won_back, 0) as treated_won_back,
    o.treated_rate,
    o.holdout_rate,
    o.lift,
    o.lift_ci_low,
    o.lift_ci_high,
    o.ci_method,
    t.target as target_rate,
    o.treated_rate >= t.target as meets_target,
    c.budget_cny,
    cast(coalesce(s.spent, 0) as decimal(18, 2)) as budget_spent,
    cast(s.spent / nullif(o.treated_won_back, 0) as decimal(18, 2)) as cost_per_member_won_back
from {{ ref('stg_outreach_log__campaigns') }} as c
cross join as_of as a
left join overall as o on c.campaign_id = o.campaign_id
left join spend as s on c.campaign_id = s.campaign_id
left join target as t on true

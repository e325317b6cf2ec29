-- Win-back rates per arm, overall and by reason, tier, channel, channel group and offer: for the first batch
-- (final window) and for each wave (its own window). A member with two reasons (or channels) counts in each.
-- Treated rows are compared with the win_back_rate target (seed retrospective_targets).
with members as (
    select
        campaign_id,
        'first_batch' as scope,
        arm,
        member_key,
        won_back,
        reasons,
        tier,
        channels,
        channel_group,
        offer_id
    from {{ ref('campaign_winback') }}
    union all
    select
        campaign_id,
        wave_id as scope,
        arm,
        member_key,
        won_back,
        reasons,
        tier,
        channels,
        channel_group,
        offer_id
    from {{ ref('campaign_winback_waves') }}
),

by_dimension as (
    select
        campaign_id,
        scope,
        arm,
        member_key,
        won_back,
        'overall' as dimension,
        'all' as dimension_value
    from members
    union all
    select
        campaign_id,
        scope,
        arm,
        member_key,
        won_back,
        'reason' as dimension,
        unnest(reasons) as dimension_value
    from members
    union all
    select
        campaign_id,
        scope,
        arm,
        member_key,
        won_back,
        'tier' as dimension,
        tier as dimension_value
    from members
    union all
    select
        campaign_id,
        scope,
        arm,
        member_key,
        won_back,
        'channel' as dimension,
        unnest(channels) as dimension_value
    from members
    union all
    select
        campaign_id,
        scope,
        arm,
        member_key,
        won_back,
        'channel_group' as dimension,
        channel_group as dimension_value
    from members
    union all
    select
        campaign_id,
        scope,
        arm,
        member_key,
        won_back,
        'offer' as dimension,
        offer_id as dimension_value
    from members
),

rates as (
    select
        campaign_id,
        scope,
        dimension,
        dimension_value,
        arm,
        count(distinct member_key) as members,
        count(distinct member_key) filter (where won_back) as won_back
    from by_dimension
    group by all
),

target as (
    select target from {{ ref('retrospective_targets') }}
    where kpi = 'win_back_rate'
)

select
    r.campaign_id,
    r.scope,
    r.dimension,
    r.dimension_value,
    r.arm,
    r.members,
    r.won_back,
    r.won_back / nullif(r.members, 0) as win_back_rate,
    t.target as target_rate,
    case when r.arm = 'treated' then r.won_back / nullif(r.members, 0) >= t.target end as meets_target
from rates as r
left join target as t on true

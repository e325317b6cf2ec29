-- Phone vs SMS vs push on the first batch: per channel, the treated members whose first-wave channels include it,
-- their touches on that channel (all waves) and feedback, their win-back, and what reaching them cost: the
-- channel's touches at its unit cost plus their redemptions, each member's split equally over their first-wave
-- channels. The lift is campaign_lift's (first batch, dimension channel).
with members as (
    select
        campaign_id,
        member_key,
        won_back,
        unnest(channels) as channel,
        len(channels) as channel_count
    from {{ ref('campaign_winback') }}
    where arm = 'treated'
),

redemption_cost as (
    select
        campaign_id,
        member_key,
        sum(face_value) as cost
    from {{ ref('int_campaign_redemptions') }}
    group by all
),

per_member as (
    select
        m.campaign_id,
        m.channel,
        m.member_key,
        m.won_back,
        coalesce(r.cost, 0) / m.channel_count as redemption_cost
    from members as m
    left join redemption_cost as r on m.campaign_id = r.campaign_id and m.member_key = r.member_key
),

touches as (
    select
        m.campaign_id,
        m.channel,
        count(t.touch_id) as touches_exported,
        count(t.delivered_on) as touches_delivered,
        count(t.opened_on) as touches_opened,
        count(t.unsubscribed_on) as unsubscribes,
        coalesce(sum(t.unit_cost), 0) as touch_cost
    from members as m
    left join {{ ref('int_campaign_touch_outcomes') }} as t
        on m.campaign_id = t.campaign_id and m.member_key = t.member_key and m.channel = t.channel
    group by all
),

reached as (
    select
        campaign_id,
        channel,
        count(*) as members_contacted,
        count(*) filter (where won_back) as members_won_back,
        sum(redemption_cost) as redemption_cost
    from per_member
    group by all
)

select
    r.campaign_id,
    r.channel,
    r.members_contacted,
    t.touches_exported,
    t.touches_delivered,
    t.touches_delivered / nullif(t.touches_exported, 0) as delivery_rate,
    t.touches_opened,
    t.touches_opened / nullif(t.touches_exported, 0) as open_rate,
    t.unsubscribes,
    t.unsubscribes / nullif(t.touches_exported, 0) as unsubscribe_rate,
    r.members_won_back,
    r.members_won_back / nullif(r.members_contacted, 0) as conversion_rate,
    cast(t.touch_cost as decimal(18, 2)) as touch_cost,
    cast(r.redemption_cost as decimal(18, 2)) as redemption_cost,
    cast(t.touch_cost + r.redemption_cost as decimal(18, 2)) as total_cost,
    cast((t.touch_cost + r.redemption_cost) / nullif(r.members_won_back, 0) as decimal(18, 2))
        as cost_per_member_won_back,
    l.lift,
    l.lift_ci_low,
    l.lift_ci_high
from reached as r
inner join touches as t on r.campaign_id = t.campaign_id and r.channel = t.channel
left join {{ ref('campaign_lift') }} as l
    on
        r.campaign_id = l.campaign_id
        and l.scope = 'first_batch'
        and l.dimension = 'channel'
        and r.channel = l.dimension_value

-- The retrospective's headline list (首批挽回结果): the first wave's treated and holdout members, each won
-- back or not in one fixed window for all (first wave date, least(measurement_end, as of)], whatever later
-- waves did (intention-to-treat). A holdout member is never contacted: no touches, no offers redeemed.
with first_batch as (
    select * from {{ ref('int_campaign_winback_windows') }}
    where scope = 'first_batch'
),

targeted as (
    select
        campaign_id,
        member_key,
        count(*)::integer as waves_targeted
    from {{ ref('stg_outreach_log__targets') }}
    where outcome in ('treated', 'holdout')
    group by all
),

touches as (
    select
        campaign_id,
        member_key,
        count(*) as touches_exported,
        count(delivered_on) as touches_delivered,
        count(opened_on) as touches_opened,
        count(unsubscribed_on) > 0 as unsubscribed
    from {{ ref('int_campaign_touch_outcomes') }}
    group by all
),

redeemed as (
    select
        campaign_id,
        member_key,
        count(*)::integer as offers_redeemed
    from {{ ref('int_campaign_redemptions') }}
    group by all
)

select
    f.campaign_id,
    f.batch_id,
    f.member_key,
    f.arm,
    m.offer_id,
    m.channels,
    m.channel_group,
    m.tier,
    m.is_high_value,
    m.reasons,
    m.priority_band,
    g.waves_targeted,
    f.window_start,
    f.window_end,
    f.won_back,
    f.won_back_on,
    f.won_back_by,
    coalesce(t.touches_exported, 0) as touches_exported,
    coalesce(t.touches_delivered, 0) as touches_delivered,
    coalesce(t.touches_opened, 0) as touches_opened,
    coalesce(t.unsubscribed, false) as unsubscribed,
    coalesce(r.offers_redeemed, 0) as offers_redeemed
from first_batch as f
inner join {{ ref('int_campaign_wave_members') }} as m on f.batch_id = m.batch_id and f.member_key = m.member_key
inner join targeted as g on f.campaign_id = g.campaign_id and f.member_key = g.member_key
left join touches as t on f.campaign_id = t.campaign_id and f.member_key = t.member_key
left join redeemed as r on f.campaign_id = r.campaign_id and f.member_key = r.member_key

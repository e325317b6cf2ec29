-- The weekly progress report (挽回进度周报), one row per ISO week from the first wave's week through the week of
-- least(window_end, as of). Each count falls in the week its day falls in: touches by send date, deliveries,
-- opens and unsubscribes by the day the feedback says they happened, redemptions by the day redeemed. Logins and
-- repurchase orders are those of contacted (treated) members after their first touch; holdout members never
-- count. Spend = touches exported x channel unit cost + redemptions x offer face value.
with as_of as (
    select as_of_date from {{ ref('int_as_of_date') }}
),

campaigns as (
    select * from {{ ref('stg_outreach_log__campaigns') }}
),

week_starts as (
    select
        c.campaign_id,
        c.budget_cny,
        unnest(generate_series(
            date_trunc('week', c.first_wave_date), date_trunc('week', least(c.window_end, a.as_of_date)), interval 7 day
        )) as week_start
    from campaigns as c
    cross join as_of as a
),

weeks as (
    select
        campaign_id,
        budget_cny,
        cast(week_start as date) as week_start,
        cast(week_start as date) + 6 as week_end
    from week_starts
),

touches as (
    select * from {{ ref('int_campaign_touch_outcomes') }}
),

first_touch as (
    select
        campaign_id,
        member_key,
        min(send_date) as first_touch_on
    from touches
    group by all
),

days as (
    select
        campaign_id,
        send_date as day,
        'exported' as measure,
        unit_cost as cost
    from touches
    union all
    select
        campaign_id,
        delivered_on as day,
        'delivered' as measure,
        0 as cost
    from touches
    where delivered_on is not null
    union all
    select
        campaign_id,
        opened_on as day,
        'opened' as measure,
        0 as cost
    from touches
    where opened_on is not null
    union all
    select
        campaign_id,
        unsubscribed_on as day,
        'unsubscribed' as measure,
        0 as cost
    from touches
    where unsubscribed_on is not null
    union all
    select
        campaign_id,
        redeemed_on as day,
        redeemed_as as measure,
        face_value as cost
    from {{ ref('int_campaign_redemptions') }}
    union all
    select
        f.campaign_id,
        e.event_date as day,
        'login' as measure,
        0 as cost
    from {{ ref('fct_member_events') }} as e
    inner join first_touch as f on e.member_key = f.member_key and e.event_date > f.first_touch_on
    where e.event_type = 'login'
    union all
    select
        f.campaign_id,
        o.order_date as day,
        'repurchase' as measure,
        0 as cost
    from {{ ref('fct_orders') }} as o
    inner join first_touch as f on o.member_key = f.member_key and o.order_date > f.first_touch_on
    where o.is_purchase
),

weekly as (
    select
        w.campaign_id,
        w.week_start,
        count(d.day) filter (where d.measure = 'exported') as touches_exported,
        count(d.day) filter (where d.measure = 'delivered') as touches_delivered,
        count(d.day) filter (where d.measure = 'opened') as touches_opened,
        count(d.day) filter (where d.measure = 'unsubscribed') as unsubscribes,
        count(d.day) filter (where d.measure = 'coupon') as coupons_redeemed,
        count(d.day) filter (where d.measure = 'benefit') as benefits_redeemed,
        count(d.day) filter (where d.measure = 'login') as app_logins,
        count(d.day) filter (where d.measure = 'repurchase') as repurchase_orders,
        coalesce(sum(d.cost), 0) as spent
    from weeks as w
    left join days as d on w.campaign_id = d.campaign_id and d.day between w.week_start and w.week_end
    group by all
),

first_batch as (
    select
        w.campaign_id,
        w.week_start,
        count(*) filter (where b.won_back_on <= w.week_end) as members_won_back_to_date,
        count(*) as treated_members
    from weeks as w
    inner join {{ ref('campaign_winback') }} as b on w.campaign_id = b.campaign_id and b.arm = 'treated'
    group by all
)

select
    w.campaign_id,
    strftime(w.week_start, '%G-W%V') as iso_week,
    w.week_start,
    w.week_end,
    k.touches_exported,
    k.touches_delivered,
    k.touches_opened,
    k.unsubscribes,
    k.coupons_redeemed,
    k.benefits_redeemed,
    k.app_logins,
    k.repurchase_orders,
    coalesce(f.members_won_back_to_date, 0) as members_won_back_to_date,
    f.members_won_back_to_date / nullif(f.treated_members, 0) as win_back_rate_to_date,
    cast(k.spent as decimal(18, 2)) as budget_spent_week,
    cast(sum(k.spent) over (partition by w.campaign_id order by w.week_start) as decimal(18, 2)) as budget_spent_to_date,
    w.budget_cny
from weeks as w
inner join weekly as k on w.campaign_id = k.campaign_id and w.week_start = k.week_start
left join first_batch as f on w.campaign_id = f.campaign_id and w.week_start = f.week_start

{{ config(tags=['retrospective']) }}
-- Offers redeemed, at most one per member and offer: a treated member's first purchase carrying the offer's
-- coupon_code, or first benefit_use event carrying its benefit_code, after the first touch that gave them
-- the offer and by least(campaign window end, as of). The campaign pays its face value once.
with given as (
    select
        campaign_id,
        member_key,
        offer_id,
        min(send_date) as first_touch_on
    from {{ ref('stg_outreach_log__touches') }}
    where status = 'exported'
    group by all
),

offers as (
    select
        g.campaign_id,
        g.member_key,
        g.offer_id,
        g.first_touch_on,
        o.coupon_code,
        o.benefit_code,
        o.face_value,
        least(c.window_end, (select a.as_of_date from {{ ref('int_as_of_date') }} as a)) as counted_until
    from given as g
    inner join {{ ref('stg_outreach_log__offers') }} as o on g.campaign_id = o.campaign_id and g.offer_id = o.offer_id
    inner join {{ ref('stg_outreach_log__campaigns') }} as c on g.campaign_id = c.campaign_id
),

uses as (
    select
        member_key,
        order_date as used_on,
        coupon_code,
        cast(null as varchar) as benefit_code
    from {{ ref('fct_orders') }}
    where is_purchase and coupon_code is not null
    union all
    select
        member_key,
        event_date as used_on,
        cast(null as varchar) as coupon_code,
        benefit_code
    from {{ ref('fct_member_events') }}
    where event_type = 'benefit_use' and benefit_code is not null
)

select
    o.campaign_id,
    o.member_key,
    o.offer_id,
    case when o.coupon_code is not null then 'coupon' else 'benefit' end as redeemed_as,
    o.face_value,
    min(u.used_on) as redeemed_on
from offers as o
inner join uses as u
    on
        o.member_key = u.member_key
        and (o.coupon_code = u.coupon_code or o.benefit_code = u.benefit_code)
        and o.first_touch_on < u.used_on
        and o.counted_until >= u.used_on
group by all

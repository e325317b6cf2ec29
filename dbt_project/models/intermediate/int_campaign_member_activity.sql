{{ config(tags=['retrospective']) }}
-- The success events of the retrospective (挽回成功), for the members any wave targeted (treated or holdout),
-- from the first wave's date on: purchases (fct_orders.is_purchase) and the app's login and benefit_use
-- events, one row per member, day and kind (several on one day decide nothing more).
with targeted as (
    select distinct member_key
    from {{ ref('stg_outreach_log__targets') }}
    where outcome in ('treated', 'holdout')
),

since as (
    select min(first_wave_date) as first_day from {{ ref('stg_outreach_log__campaigns') }}
),

activity as (
    select
        o.member_key,
        o.order_date as activity_date,
        'purchase' as activity
    from {{ ref('fct_orders') }} as o
    where o.is_purchase
    union all
    select
        e.member_key,
        e.event_date as activity_date,
        e.event_type as activity
    from {{ ref('fct_member_events') }} as e
    where e.event_type in ('login', 'benefit_use')
)

select distinct
    a.member_key,
    a.activity_date,
    a.activity
from activity as a
inner join targeted as t on a.member_key = t.member_key
cross join since as s
where a.activity_date >= s.first_day

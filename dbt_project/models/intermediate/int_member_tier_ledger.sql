-- Changes to each member's trailing net spend, dated: a sale adds its net amount on its day and
-- takes it away when it leaves the window; a refund or cancellation takes away what it refunds on
-- the day it is recorded (and gives it back when the sale leaves the window). A running sum over
-- this ledger is the trailing-window spend on any day, without a row per member and day.
{% set window = var('tier_window_days') %}
with sales as (
    select
        order_id,
        member_id,
        cast(ordered_at as date) as order_date,
        net_amount
    from {{ ref('int_orders__as_of') }}
),

-- Every version of the orders that refund anything, with what they refund so far: the steps between
-- versions are taken per order, and an order none of whose versions refunds anything has none (most
-- orders: they skip the sort).
refund_versions as (
    select
        *,
        case
            when status in ('refunded', 'cancelled') then gross_amount - discount_amount
            else least(refund_amount, gross_amount - discount_amount)
        end as refunded_so_far
    from {{ ref('stg_commerce__orders') }}
    where {{ known_as_of('landing_date', 'status_at') }}
),

refunding_orders as (
    select distinct order_id
    from refund_versions
    where refunded_so_far <> 0
),

refund_steps as (
    select
        sales.member_id,
        sales.order_date,
        cast(s.status_at as date) as refund_date,
        refunded_so_far - coalesce(lag(refunded_so_far) over (
            partition by s.order_id order by s.status_at, s.landing_date, s.source_file, s.source_row_number
        ), 0) as refunded_now
    from refund_versions as s
    inner join refunding_orders using (order_id)
    inner join sales using (order_id)
),

ledger as (
    select
        member_id,
        order_date as change_date,
        net_amount as delta
    from sales
    union all
    select
        member_id,
        order_date + {{ window }},
        -net_amount
    from sales
    union all
    select
        member_id,
        refund_date,
        -refunded_now
    from refund_steps
    where refunded_now <> 0 and refund_date < order_date + {{ window }}
    union all
    select
        member_id,
        order_date + {{ window }},
        refunded_now
    from refund_steps
    where refunded_now <> 0 and refund_date < order_date + {{ window }}
)

select
    member_id,
    change_date,
    sum(delta) as delta
from ledger
where change_date <= {{ as_of_date() }}
group by all

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

refund_steps as (
    select
        sales.member_id,
        sales.order_date,
        cast(s.status_at as date) as refund_date,
        refunded_so_far - coalesce(lag(refunded_so_far) over (
            partition by s.order_id order by s.status_at, s.landing_date, s.source_file, s.source_row_number
        ), 0) as refunded_now
    from (
        select
            *,
            case
                when status in ('refunded', 'cancelled') then gross_amount - discount_amount
                else least(refund_amount, gross_amount - discount_amount)
            end as refunded_so_far
        from {{ ref('stg_commerce__orders') }}
        where {{ known_as_of('landing_date', 'status_at') }}
    ) as s
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
